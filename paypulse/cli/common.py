"""Options and helpers the commands share."""

from __future__ import annotations

import os
from operator import attrgetter
from pathlib import Path
from typing import Annotated, Final

import typer

from kernel.errors import ConfigError
from kernel.settings import Settings, load_settings

__all__ = ["OUTPUT_FIELDS", "ConfigOption", "check_writable", "settings_with"]

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML settings file; PAYPULSE_* environment variables override it."),
]

#: Settings naming a file PayPulse writes; the SQLite ones also need their directory (journals).
OUTPUT_FIELDS: Final = ("dead_letter", "alerting.log", "alerting.outbox", "alerting.state", "statuspage.db")
_SQLITE_FIELDS: Final = frozenset({"alerting.outbox", "alerting.state", "statuspage.db"})


def settings_with(config: Path | None, **sections: dict) -> Settings:
    """Load settings, then replace fields of the named sections (``alerting={"log": path}``).

    Command-line options beat the file and the environment; messages about them say
    ``from the command line``.
    """
    settings = load_settings(config)
    update = {}
    given = []
    for name, fields in sections.items():
        fields = {k: v for k, v in fields.items() if v is not None}
        if not fields:
            continue
        section = getattr(settings, name)
        if isinstance(section, Path):  # a top-level field, e.g. dead_letter={"dead_letter": path}
            update.update(fields)
            given += list(fields)
        else:
            update[name] = section.model_copy(update=fields)
            given += [f"{name}.{key}" for key in fields]
    return settings.model_copy(update=update).with_origin("from the command line", *given)


def check_writable(settings: Settings, *fields: str) -> None:
    """Create the directories of the output files and make sure each can be written, at start-up.

    Without this an unwritable dead-letter path shows up only at the first bad line, deep in
    the dataflow. ``fields`` defaults to every output (:data:`OUTPUT_FIELDS`); a command that
    writes fewer names its own. Raises :class:`ConfigError` naming the field, the path and
    where it was set.
    """
    for field in fields or OUTPUT_FIELDS:
        path = Path(attrgetter(field)(settings))
        problem = _unwritable(path, directory=field in _SQLITE_FIELDS)
        if problem:
            raise ConfigError.from_validation(
                [{"loc": tuple(field.split(".")), "input": str(path),
                  "msg": f"cannot write there: {problem}; choose a path in a writable directory"}],
                settings.origin(field),
            )  # fmt: skip


def _unwritable(path: Path, *, directory: bool) -> str | None:
    """Why ``path`` cannot be written (after creating its directory), or None if it can."""
    for ancestor in path.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                return f"{ancestor} is a file, not a directory"
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return f"cannot create directory {err.filename or path.parent} ({err.strerror})"
    if path.is_dir():
        return "it is a directory"
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is not writable"
    if (directory or not path.exists()) and not os.access(path.parent, os.W_OK | os.X_OK):
        return f"directory {path.parent} is not writable"
    return None
