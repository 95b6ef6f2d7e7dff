"""Where the banner's state lives: one SQLite file, so a restart shows users exactly what they saw.

The store knows plain data only (a JSON snapshot and transition rows); :mod:`statuspage.banner`
gives them meaning. One connection serves every thread (``check_same_thread=False`` behind a
lock), because the dataflow thread writes while the web server thread reads. Writes run in
``BEGIN IMMEDIATE`` transactions and :meth:`BannerStore.changed_elsewhere` reads SQLite's
``data_version``, so a second process on the same file (``paypulse statuspage`` beside ``paypulse run``)
sees every change without polling the tables.

>>> store = BannerStore(":memory:", keep=2)
>>> with store.transaction():
...     store.save({"v": 1}, [{"at": t, "on": True, "channel": "alipay", "source": "auto",
...                            "reason": "alert_firing", "detail": ""} for t in (1.0, 2.0, 3.0)], 3.0)
>>> [row["at"] for row in store.history(10)], store.load()
([3.0, 2.0], {'v': 1})
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from paypulse.errors import StateError

__all__ = ["BannerStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS banner (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    snapshot TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS transitions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    turned_on INTEGER NOT NULL,
    channel TEXT,
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""


class BannerStore:
    """The banner snapshot plus the last ``keep`` transitions, in one SQLite file.

    ``path`` may be ``":memory:"`` for doctests; any other path gets its parent folder created.
    """

    def __init__(self, path: Path | str, keep: int = 100) -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1 transitions (got {keep})")
        self.path = path
        self.keep = keep
        self._lock = threading.RLock()
        self._seen_version: int | None = None
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(
                str(path), timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as err:
            raise StateError(f"banner store {path} cannot be opened as SQLite: {err}") from None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> BannerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the write lock across read-modify-write, so two writers cannot lose an update."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            self._seen_version = self._data_version()

    def changed_elsewhere(self) -> bool:
        """True the first time, and whenever another connection has committed since the last call."""
        with self._lock:
            version = self._data_version()
            changed = version != self._seen_version
            self._seen_version = version
            return changed

    def load(self) -> dict[str, Any] | None:
        """The last saved snapshot, or None for a new file."""
        with self._lock:
            row = self._conn.execute("SELECT snapshot FROM banner WHERE id = 1").fetchone()
        if row is None:
            return None
        try:
            snapshot = json.loads(row[0])
        except json.JSONDecodeError as err:
            raise StateError(f"banner store {self.path} holds a corrupt snapshot: {err}") from None
        if not isinstance(snapshot, dict):
            raise StateError(f"banner store {self.path} holds a snapshot that is not an object")
        return snapshot

    def save(
        self, snapshot: dict[str, Any], transitions: Iterable[dict[str, Any]], updated_at: float
    ) -> None:
        """Replace the snapshot, append transitions and drop all but the newest ``keep``.

        Call inside :meth:`transaction`, so the snapshot and its transitions land together.
        """
        with self._lock:
            self._conn.execute(
                "INSERT INTO banner (id, snapshot, updated_at) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET "
                "snapshot = excluded.snapshot, updated_at = excluded.updated_at",
                (json.dumps(snapshot, sort_keys=True), updated_at),
            )
            self._conn.executemany(
                "INSERT INTO transitions (at, turned_on, channel, source, reason, detail) "
                "VALUES (:at, :on, :channel, :source, :reason, :detail)",
                list(transitions),
            )
            self._conn.execute(
                "DELETE FROM transitions WHERE seq <= (SELECT MAX(seq) FROM transitions) - ?", (self.keep,)
            )

    def history(self, limit: int) -> list[dict[str, Any]]:
        """Newest transition first, at most ``limit`` of them."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT at, turned_on, channel, source, reason, detail FROM transitions "
                "ORDER BY seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            {
                "at": at,
                "on": bool(on),
                "channel": channel,
                "source": source,
                "reason": reason,
                "detail": detail,
            }
            for at, on, channel, source, reason, detail in rows
        ]

    def _data_version(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
