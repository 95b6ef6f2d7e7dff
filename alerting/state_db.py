"""The on-call state file: one SQLite database for silences, acknowledgements, escalations, the
alert board, the operator audit log, the routes' alert groups and each target's pace
(``alerting.state``).

Why one file apart from the outbox: the outbox is the delivery queue the dispatcher owns, with a
schema version of its own; what operators decide (a silence, an acknowledgement) is read by the
engine's process, the CLI and the status page alike. Every store here shares one
:class:`StateDB`: one connection guarded by a lock, each write a short ``BEGIN IMMEDIATE``
transaction committed with ``synchronous=FULL``, so a decision survives a crash the moment the
command that made it returns, and another process (``paypulse ack`` while ``paypulse run`` runs)
sees it at its next read.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from kernel.errors import StateError

__all__ = ["StateDB"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS silences (
    id          TEXT PRIMARY KEY,
    matchers    TEXT NOT NULL,
    starts_at   REAL NOT NULL,
    ends_at     REAL NOT NULL,
    created_by  TEXT NOT NULL,
    comment     TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS acks (
    alert_id    TEXT PRIMARY KEY,
    by          TEXT NOT NULL,
    via         TEXT NOT NULL,
    at          REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS escalations (
    alert_id    TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    alert_json  TEXT NOT NULL,
    opened_at   REAL NOT NULL,
    levels_done INTEGER NOT NULL DEFAULT 0,
    closed      TEXT
);
CREATE TABLE IF NOT EXISTS board (
    fingerprint TEXT PRIMARY KEY,
    alert_id    TEXT NOT NULL,
    status      TEXT NOT NULL,
    alert_json  TEXT NOT NULL,
    routes      TEXT NOT NULL,
    silenced_by TEXT,
    changed_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
    route         TEXT NOT NULL,
    key           TEXT NOT NULL,
    next_flush_at REAL NOT NULL,
    PRIMARY KEY (route, key)
);
CREATE TABLE IF NOT EXISTS grouped (
    route       TEXT NOT NULL,
    key         TEXT NOT NULL,
    incident    TEXT NOT NULL,
    status      TEXT NOT NULL,
    alert_json  TEXT NOT NULL,
    PRIMARY KEY (route, key, incident)
);
CREATE TABLE IF NOT EXISTS paced (
    target      TEXT NOT NULL,
    sent_at     REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS paced_target ON paced (target, sent_at);
CREATE TABLE IF NOT EXISTS paused (
    target      TEXT PRIMARY KEY,
    until       REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          REAL NOT NULL,
    by          TEXT NOT NULL,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL
);
"""


class StateDB:
    """The on-call state file, shared by its stores and safe across threads and processes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as err:
            raise StateError(
                f"on-call state {path} cannot be opened as SQLite: {err}; check alerting.state"
            ) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> StateDB:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One committed transaction; rolled back if the block raises."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()
