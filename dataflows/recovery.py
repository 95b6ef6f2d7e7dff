"""Crash recovery for ``paypulse run``: Bytewax's recovery store, with an alert log written once.

Bytewax snapshots every stateful step (the engine, the partition merge) and every source's read
position at the end of each epoch (``recovery.snapshot_every``). After a crash it resumes from the
last complete epoch: the input read since is read again and its outputs are produced again.
Notifications need nothing more, since the fan-out remembers the last change it sent per route and
alert, so a change produced twice is a duplicate there. The alert log needs one thing: a run's log
must read as if the run never stopped. The engine numbers its alert changes (the count is in its
snapshot), and :class:`~engine.outputs.Outputs` writes each number once: on resume, the lines
written since the store was created say how many changes the log already holds.

A store belongs to one input and one alert log. It records both, and a run reading another input
refuses it rather than resume one stream's state on another.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bytewax.recovery import RecoveryConfig, init_db_dir

from kernel.errors import ConfigError
from kernel.settings import Settings

__all__ = ["Store", "open_store"]

_MARKER = "paypulse.json"  # what the store is for, next to Bytewax's partitions
_VERSION = 1


@dataclass(frozen=True)
class Store:
    """An open recovery store: how to hand it to Bytewax, and where the last run left off."""

    dir: Path
    config: RecoveryConfig
    epoch_interval: timedelta
    resumed: bool  # False: created by this run
    alerts_logged: int  # alert changes already in the alert log since the store was created


def open_store(settings: Settings, reads: str, *, fresh: bool = False) -> Store:
    """Open (or create) the store in ``recovery.dir`` for a run that ``reads`` (its input, in words).

    ``fresh`` discards what is there: the run starts from the beginning of its input.
    """
    folder = settings.recovery.dir
    log = settings.alerting.log.resolve()
    marker = folder / _MARKER
    if fresh and folder.exists():
        shutil.rmtree(folder)
    if marker.exists():
        kept = _read_marker(marker, settings)
        if kept.get("reads") != reads or kept.get("alert_log") != str(log):
            raise ConfigError(
                f"recovery.dir = '{folder}' ({settings.origin('recovery.dir')}) holds the state of a run "
                f"that read {kept.get('reads')} into {kept.get('alert_log')}; this run reads {reads} into "
                f"{log}: pass --fresh to start over, or set recovery.dir to another folder"
            )
        logged = _settle_log(log, int(kept.get("alert_log_start", 0)))
        return Store(folder, _config(folder), settings.recovery.snapshot_every, True, logged)
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(
            f"recovery.dir = '{folder}' ({settings.origin('recovery.dir')}) is not empty and holds no "
            "PayPulse state: choose an empty or new folder"
        )
    folder.mkdir(parents=True, exist_ok=True)
    init_db_dir(folder, 1)
    start = log.stat().st_size if log.exists() else 0
    kept = {"v": _VERSION, "reads": reads, "alert_log": str(log), "alert_log_start": start,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
    marker.write_text(json.dumps(kept, indent=1))
    return Store(folder, _config(folder), settings.recovery.snapshot_every, False, 0)


def _config(folder: Path) -> RecoveryConfig:
    # snapshots no longer needed are deleted at once: nothing copies them to archival storage
    return RecoveryConfig(folder, backup_interval=timedelta(0))


def _read_marker(marker: Path, settings: Settings) -> dict:
    try:
        kept = json.loads(marker.read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"recovery state {marker} cannot be read ({err}); pass --fresh to start over"
        ) from None
    if not isinstance(kept, dict) or kept.get("v") != _VERSION:
        raise ConfigError(f"recovery state {marker} is not from this release; pass --fresh to start over")
    return kept


def _settle_log(log: Path, start: int) -> int:
    """The complete lines of ``log`` after byte ``start``; a last line cut short by a crash goes.

    >>> import tempfile; path = Path(tempfile.mkdtemp()) / "alerts.jsonl"
    >>> _ = path.write_bytes(b'{"old":1}\\n{"a":1}\\n{"b":2}\\n{"c"')
    >>> _settle_log(path, start=10), path.read_bytes()
    (2, b'{"old":1}\\n{"a":1}\\n{"b":2}\\n')
    """
    if not log.exists() or log.stat().st_size < start:  # removed or replaced: nothing of ours in it
        return 0
    with log.open("r+b") as f:
        f.seek(start)
        tail = f.read()
        complete = tail.rfind(b"\n") + 1
        if complete < len(tail):
            f.truncate(start + complete)
    return tail[:complete].count(b"\n")
