"""Options and helpers the commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paypulse.settings import Settings, load_settings

__all__ = ["ConfigOption", "settings_with"]

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML settings file; PAYPULSE_* environment variables override it."),
]


def settings_with(config: Path | None, **sections: dict) -> Settings:
    """Load settings, then replace fields of the named sections (``alerting={"log": path}``)."""
    settings = load_settings(config)
    update = {}
    for name, fields in sections.items():
        fields = {k: v for k, v in fields.items() if v is not None}
        if not fields:
            continue
        section = getattr(settings, name)
        if isinstance(section, Path):  # a top-level field, e.g. dead_letter={"dead_letter": path}
            update.update(fields)
        else:
            update[name] = section.model_copy(update=fields)
    return settings.model_copy(update=update)
