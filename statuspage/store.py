"""Where the status page's state lives: one SQLite file, so a restart shows users exactly what they saw.

The store knows plain data only (a JSON snapshot, transition rows, incidents and their updates);
:mod:`statuspage.banner` and :mod:`statuspage.incidents` give them meaning. One connection serves
every thread (``check_same_thread=False`` behind a lock), because the dataflow thread writes while
the web server thread reads. Writes run in ``BEGIN IMMEDIATE`` transactions and
:meth:`BannerStore.changed_elsewhere` reads SQLite's ``data_version``, so a second process on the
same file (``paypulse statuspage`` beside ``paypulse run``) sees every change without polling the
tables. ``PRAGMA user_version`` numbers the schema, and an older file is migrated when opened.

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

from kernel.errors import StateError

__all__ = ["SCHEMA_VERSION", "BannerStore"]

#: Schema steps, applied in order to a file whose ``PRAGMA user_version`` is below their number.
#: Files written before versions were kept have version 0 and the tables of step 1, which
#: ``IF NOT EXISTS`` leaves alone. A step is never edited once released; add the next one.
_MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE IF NOT EXISTS banner (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                snapshot TEXT NOT NULL,
                updated_at REAL NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS transitions (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                at REAL NOT NULL,
                turned_on INTEGER NOT NULL,
                channel TEXT,
                source TEXT NOT NULL,
                reason TEXT NOT NULL,
                detail TEXT NOT NULL
            )""",
        ),
    ),
    (
        2,
        (
            """CREATE TABLE incidents (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                title TEXT NOT NULL,
                channels TEXT NOT NULL,
                state TEXT NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                resolved_at REAL
            )""",
            """CREATE TABLE incident_updates (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                incident_id INTEGER NOT NULL REFERENCES incidents (id),
                state TEXT NOT NULL,
                message TEXT NOT NULL,
                at REAL NOT NULL,
                by TEXT NOT NULL
            )""",
            "CREATE INDEX incident_updates_by_incident ON incident_updates (incident_id, id)",
        ),
    ),
)
#: The schema version this code writes; a file with a higher one came from a newer PayPulse.
SCHEMA_VERSION = _MIGRATIONS[-1][0]


class BannerStore:
    """The banner snapshot plus the last ``keep`` transitions, and every incident, in one SQLite file.

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
        except sqlite3.Error as err:
            raise StateError(f"banner store {path} cannot be opened as SQLite: {err}") from None
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._migrate()
        except (sqlite3.DatabaseError, StateError) as err:
            self._conn.close()
            if isinstance(err, StateError):
                raise
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
        """Hold the write lock across read-modify-write, so two writers cannot lose an update.

        For the banner, which has read every change before it writes: afterwards
        :meth:`changed_elsewhere` counts from here.
        """
        with self.writing():
            yield
            self._seen_version = self._data_version()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """A write transaction that leaves :meth:`changed_elsewhere` alone.

        Incidents are written through it: they share the connection, and marking the file as
        seen after them would hide a banner change another process made in the meantime.
        """
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

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

    # -- incidents ---------------------------------------------------------------------------

    def add_incident(self, title: dict[str, str], channels: list[str], state: str, at: float) -> int:
        """Insert an incident without updates and return its id; call inside :meth:`writing`."""
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO incidents (title, channels, state, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (_dump(title), _dump(channels), state, at, at),
            )
            return int(cursor.lastrowid or 0)

    def add_incident_update(
        self, incident_id: int, state: str, message: dict[str, str], at: float, by: str
    ) -> None:
        """Append an update and move the incident to its state; call inside :meth:`writing`."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO incident_updates (incident_id, state, message, at, by) VALUES (?, ?, ?, ?, ?)",
                (incident_id, state, _dump(message), at, by),
            )
            self._conn.execute(
                "UPDATE incidents SET state = ?, updated_at = ?, "
                "resolved_at = CASE WHEN ? = 'resolved' THEN ? ELSE NULL END WHERE id = ?",
                (state, at, state, at, incident_id),
            )

    def incident(self, incident_id: int) -> dict[str, Any] | None:
        """One incident with its updates (newest first), or None."""
        rows = self.incidents(limit=1, incident_id=incident_id)
        return rows[0] if rows else None

    def incidents(self, limit: int, *, incident_id: int | None = None) -> list[dict[str, Any]]:
        """At most ``limit`` incidents, unresolved first, then by their latest update, newest first.

        Each carries ``updates``, newest first.
        """
        where, params = ("WHERE id = ?", (incident_id, limit)) if incident_id is not None else ("", (limit,))
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, title, channels, state, created_at, updated_at, resolved_at FROM incidents "
                f"{where} ORDER BY resolved_at IS NOT NULL, updated_at DESC, id DESC LIMIT ?",
                params,
            ).fetchall()
            ids = [row[0] for row in rows]
            updates = self._conn.execute(
                "SELECT id, incident_id, state, message, at, by FROM incident_updates "
                f"WHERE incident_id IN ({', '.join('?' * len(ids))}) ORDER BY id DESC",
                ids,
            ).fetchall()
        by_incident: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        for uid, iid, state, message, at, by in updates:
            by_incident[iid].append(
                {"id": uid, "state": state, "message": self._parse(message), "at": at, "by": by}
            )
        return [
            {
                "id": iid,
                "title": self._parse(title),
                "channels": self._parse(channels),
                "state": state,
                "created_at": created_at,
                "updated_at": updated_at,
                "resolved_at": resolved_at,
                "updates": by_incident[iid],
            }
            for iid, title, channels, state, created_at, updated_at, resolved_at in rows
        ]

    # -- inside ------------------------------------------------------------------------------

    def _migrate(self) -> None:
        """Bring the file's schema up to :data:`SCHEMA_VERSION`, in one transaction.

        Two processes opening an old file at once both wait for the write lock, and the second
        finds the work done.
        """
        with self.writing():
            version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StateError(
                    f"banner store {self.path} has schema version {version}, newer than this "
                    f"PayPulse reads ({SCHEMA_VERSION}); upgrade PayPulse or point statuspage.db elsewhere"
                )
            for step, statements in _MIGRATIONS:
                if step > version:
                    for statement in statements:
                        self._conn.execute(statement)
            if version < SCHEMA_VERSION:
                self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _parse(self, text: str) -> Any:
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise StateError(f"banner store {self.path} holds a corrupt incident row: {err}") from None

    def _data_version(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
