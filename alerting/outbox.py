"""The durable outbox: every notification is a SQLite row before anyone tries to send it.

Why a table and not a queue in memory: a page that is lost because the process restarted in the
middle of an incident is the worst failure an alerting system can have. So
:meth:`Outbox.enqueue` commits (``synchronous=FULL``) before it returns, the dispatcher only
reads due rows, and a restart with the same file simply carries on. Delivery is at least once:
a crash between a successful send and :meth:`Outbox.mark_delivered` sends that row again.

Each row is one (route, target URL, alert change). Its life::

    pending --ok--------------------------------------> delivered
       |  \\--retryable failure, attempts < max--> pending (next_attempt_at = now + backoff)
       |\\----retryable failure, attempts == max----> parked, held --the target works again--> pending
       \\----4xx / bad URL-------------------------> parked --requeue()--> pending

A row parked because its target stayed down (*held*) keeps its place in the target's queue:
nothing newer goes to that target before it (:meth:`Outbox.queues`), and once a delivery to the
target succeeds (:meth:`Outbox.revive`) the held rows go again, oldest first, so a resolved
notice never reaches a target before its firing one. A row parked for a permanent reason (a
revoked token, a 4xx) waits for an operator and holds nothing back.

Rows written together for one group's message (:meth:`Outbox.enqueue_batch`) share a ``batch``;
the dispatcher sends a target's consecutive rows of a batch as one message.

The same file keeps the dedup state (:class:`NotifiedState`, the last change sent per route and
fingerprint), written in the same transaction as the rows, so a restart neither repeats nor
forgets a page. Targets are stored as :func:`alerting.routing.target_key` hashes, never as URLs.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from kernel.alerts import Alert
from kernel.clock import Clock
from kernel.errors import StateError

__all__ = [
    "STATES",
    "NotifiedState",
    "Outbox",
    "OutboxRow",
    "RowState",
    "backoff_delay",
]

RowState = Literal["pending", "delivered", "parked"]
STATES: Final = ("pending", "delivered", "parked")
_SCHEMA_VERSION: Final = 3
_MAX_ERROR: Final = 500  # characters of the last error kept per row

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    route           TEXT NOT NULL,
    target          TEXT NOT NULL,
    reason          TEXT NOT NULL,
    alert_id        TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    alert_status    TEXT NOT NULL,
    alert_json      TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    delivered_at    REAL,
    held            INTEGER NOT NULL DEFAULT 0,
    batch           TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS notified (
    route        TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    alert_id     TEXT NOT NULL,
    status       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    sent_at      REAL NOT NULL,
    PRIMARY KEY (route, fingerprint)
);
"""


def backoff_delay(attempts: int, base: float, cap: float) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: ``base`` doubling, at most ``cap``.

    Doubling spreads retries so a receiver that is down for an hour sees a dozen calls, not
    thousands; the cap keeps the wait short enough that recovery is noticed quickly.

    >>> [backoff_delay(n, base=5, cap=60) for n in range(1, 7)]
    [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    return float(min(cap, base * 2 ** min(attempts - 1, 62)))


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One delivery as stored: what to send, to which target, and how it went so far."""

    id: int
    route: str
    target: str
    reason: str
    alert: Alert
    state: RowState
    attempts: int
    last_error: str | None
    created_at: float
    next_attempt_at: float
    delivered_at: float | None
    held: bool = False  # parked after its last attempt, until the target works again
    batch: str | None = None  # rows of one group's message share it (Outbox.enqueue_batch)


@dataclass(frozen=True, slots=True)
class NotifiedState:
    """The last alert change enqueued for one (route, fingerprint): the input of the dedup decision."""

    alert_id: str
    status: str
    started_at: str
    sent_at: float


class Outbox:
    """Notifications waiting for, in, or done with delivery, in one SQLite file.

    Safe to share between the engine thread (which enqueues) and the dispatcher thread (which
    delivers): one connection guarded by a lock, each call one short transaction.
    """

    def __init__(self, path: Path | str, clock: Clock) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as err:
            raise StateError(f"outbox {path} cannot be opened as SQLite: {err}") from None
        if version == 1:  # a file from before held rows: same rows, one more column
            self._db.execute("ALTER TABLE deliveries ADD COLUMN held INTEGER NOT NULL DEFAULT 0")
            version = 2
        if version == 2:  # a file from before grouped messages: no row is in a batch
            self._db.execute("ALTER TABLE deliveries ADD COLUMN batch TEXT")
            version = 0
        if version == 0:
            self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        elif version != _SCHEMA_VERSION:
            raise StateError(
                f"outbox {path} has schema version {version}; this release reads {_SCHEMA_VERSION}"
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing ------------------------------------------------------------------------------

    def enqueue(self, route: str, targets: Sequence[str], alert: Alert, reason: str) -> list[int]:
        """Store one row per target and remember the change as notified, in one committed transaction."""
        return self._insert(route, targets, [(alert, reason)], None)[alert.id]

    def enqueue_batch(
        self, route: str, targets: Sequence[str], changes: Sequence[tuple[Alert, str]]
    ) -> dict[str, list[int]]:
        """Store a group's changes as one batch per target (one message: the dispatcher sends a
        target's consecutive rows of one batch together) and remember each as notified, in one
        committed transaction. Returns the row ids by alert id."""
        return self._insert(route, targets, changes, uuid.uuid4().hex)

    def _insert(
        self, route: str, targets: Sequence[str], changes: Sequence[tuple[Alert, str]], batch: str | None
    ) -> dict[str, list[int]]:
        if not targets:
            raise ValueError(f"route {route!r} has no targets")
        now = self._clock.now()
        ids: dict[str, list[int]] = {alert.id: [] for alert, _ in changes}
        with self._lock, self._tx():
            for target in targets:  # a target's rows of one batch are consecutive, in order
                for alert, reason in changes:
                    cur = self._db.execute(
                        "INSERT INTO deliveries (route, target, reason, alert_id, fingerprint, alert_status,"
                        " alert_json, created_at, next_attempt_at, batch)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (route, target, reason, alert.id, alert.fingerprint, alert.status,
                         json.dumps(alert.to_json(), sort_keys=True), now, now, batch),
                    )  # fmt: skip
                    ids[alert.id].append(int(cur.lastrowid or 0))
            for alert, _ in changes:
                self._db.execute(
                    "INSERT INTO notified (route, fingerprint, alert_id, status, started_at, sent_at)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (route, fingerprint) DO UPDATE SET"
                    " alert_id = excluded.alert_id, status = excluded.status,"
                    " started_at = excluded.started_at, sent_at = excluded.sent_at",
                    (route, alert.fingerprint, alert.id, alert.status, alert.started_at.isoformat(), now),
                )
        return ids

    def mark_delivered(self, row_id: int) -> None:
        now = self._clock.now()
        with self._lock, self._tx():
            self._db.execute(
                "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, delivered_at = ?,"
                " last_error = NULL WHERE id = ?",
                (now, row_id),
            )

    def mark_failed(
        self, row_id: int, error: str, *, retryable: bool, max_attempts: int, base: float, cap: float
    ) -> RowState:
        """Count a failed attempt; reschedule with back-off, or park. Returns the row's new state."""
        now = self._clock.now()
        with self._lock, self._tx():
            found = self._db.execute("SELECT attempts FROM deliveries WHERE id = ?", (row_id,)).fetchone()
            if found is None:
                raise StateError(f"outbox row {row_id} does not exist")
            attempts = int(found[0]) + 1
            state: RowState = "pending" if retryable and attempts < max_attempts else "parked"
            # a held row is tried again when a newer row for its target is due, or after ``cap``
            next_at = now + backoff_delay(attempts, base, cap) if retryable else now
            self._db.execute(
                "UPDATE deliveries SET state = ?, attempts = ?, last_error = ?, next_attempt_at = ?, held = ?"
                " WHERE id = ?",
                (state, attempts, error[:_MAX_ERROR], next_at, int(retryable and state == "parked"), row_id),
            )
        return state

    def park(self, row_id: int, error: str) -> None:
        """Park without counting an attempt (e.g. the target is no longer configured)."""
        with self._lock, self._tx():
            self._db.execute(
                "UPDATE deliveries SET state = 'parked', held = 0, last_error = ? WHERE id = ?",
                (error[:_MAX_ERROR], row_id),
            )

    def revive(self, target: str) -> int:
        """The target works again: its held rows go again from scratch. Returns how many."""
        now = self._clock.now()
        with self._lock, self._tx():
            cur = self._db.execute(
                "UPDATE deliveries SET state = 'pending', attempts = 0, held = 0, next_attempt_at = ?"
                " WHERE target = ? AND state = 'parked' AND held = 1",
                (now, target),
            )
        return cur.rowcount

    def drop(self, ids: Iterable[int]) -> int:
        """Give up on parked or pending rows for good (an operator's decision). Returns how many."""
        wanted = [int(i) for i in ids]
        with self._lock, self._tx():
            changed = 0
            for row_id in wanted:
                cur = self._db.execute(
                    "DELETE FROM deliveries WHERE id = ? AND state IN ('parked', 'pending')", (row_id,)
                )
                changed += cur.rowcount
        return changed

    def requeue(self, ids: Iterable[int]) -> int:
        """Send parked rows again from scratch (attempts reset). Returns how many rows were requeued.

        Only parked rows move: requeueing a delivered row would page people twice.
        """
        now = self._clock.now()
        wanted = [int(i) for i in ids]
        with self._lock, self._tx():
            changed = 0
            for row_id in wanted:
                cur = self._db.execute(
                    "UPDATE deliveries SET state = 'pending', attempts = 0, held = 0, next_attempt_at = ?"
                    " WHERE id = ? AND state = 'parked'",
                    (now, row_id),
                )
                changed += cur.rowcount
        return changed

    def prune_delivered(self, older_than: float) -> int:
        """Forget delivered rows finished before ``older_than`` (epoch seconds); keeps the file bounded."""
        with self._lock, self._tx():
            cur = self._db.execute(
                "DELETE FROM deliveries WHERE state = 'delivered' AND delivered_at < ?", (older_than,)
            )
        return cur.rowcount

    # -- reading ------------------------------------------------------------------------------

    def due(self, limit: int = 100) -> list[OutboxRow]:
        """Pending rows whose time has come, oldest first."""
        return self._select(
            "WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
            (self._clock.now(), limit),
        )

    def queues(self, limit: int = 100) -> dict[str, list[OutboxRow]]:
        """What may go now, per target, in creation order: each target's due pending rows up to the
        first that is not due, or its oldest held row alone (a probe) when that or a newer row is due.

        A target's rows go strictly in creation order, so a row waiting out its back-off, or held,
        keeps every newer row for its target waiting too.
        """
        now = self._clock.now()
        with self._lock:
            live = self._db.execute(
                "SELECT id, target, state, next_attempt_at FROM deliveries"
                " WHERE state = 'pending' OR (state = 'parked' AND held = 1) ORDER BY id"
            ).fetchall()
        by_target: dict[str, list[tuple[int, str, float]]] = {}
        for row_id, target, state, next_at in live:
            by_target.setdefault(target, []).append((row_id, state, next_at))
        chosen: list[int] = []
        for rows in by_target.values():
            ready: list[int] = []
            for i, (row_id, state, next_at) in enumerate(rows):
                if state == "parked":
                    newer_due = any(s == "pending" and t <= now for _, s, t in rows[i + 1 :])
                    if next_at <= now or newer_due:
                        ready.append(row_id)
                    break
                if next_at > now or len(ready) >= limit:
                    break
                ready.append(row_id)
            chosen += ready
        out: dict[str, list[OutboxRow]] = {}
        for row in self._select(f"WHERE id IN ({','.join('?' * len(chosen))}) ORDER BY id", tuple(chosen)):
            out.setdefault(row.target, []).append(row)
        return out

    def rows(self, state: RowState | None = None) -> list[OutboxRow]:
        """Every row, or every row in ``state``, by id."""
        if state is None:
            return self._select("ORDER BY id", ())
        return self._select("WHERE state = ? ORDER BY id", (state,))

    def parked(self) -> list[OutboxRow]:
        return self.rows("parked")

    def get(self, row_id: int) -> OutboxRow:
        found = self._select("WHERE id = ?", (row_id,))
        if not found:
            raise StateError(f"outbox row {row_id} does not exist")
        return found[0]

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows per state per route: ``{"pending": {"oncall": 2}, ...}``, for gauges."""
        out: dict[str, dict[str, int]] = {state: {} for state in STATES}
        with self._lock:
            for state, route, n in self._db.execute(
                "SELECT state, route, COUNT(*) FROM deliveries GROUP BY state, route"
            ):
                out.setdefault(state, {})[route] = int(n)
        return out

    def last_notified(self, route: str, fingerprint: str) -> NotifiedState | None:
        with self._lock:
            found = self._db.execute(
                "SELECT alert_id, status, started_at, sent_at FROM notified"
                " WHERE route = ? AND fingerprint = ?",
                (route, fingerprint),
            ).fetchone()
        return None if found is None else NotifiedState(found[0], found[1], found[2], float(found[3]))

    # -- internals ----------------------------------------------------------------------------

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)

    def _select(self, where: str, params: tuple[Any, ...]) -> list[OutboxRow]:
        sql = (
            "SELECT id, route, target, reason, alert_json, state, attempts, last_error, created_at,"
            f" next_attempt_at, delivered_at, held, batch FROM deliveries {where}"
        )
        with self._lock:
            found = self._db.execute(sql, params).fetchall()
        rows: list[OutboxRow] = []
        for values in found:
            try:
                rows.append(_row(values))
            except StateError as err:
                # One unreadable row must not block every row behind it: park it with the reason.
                self.park(values[0], str(err))
        return rows


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` when the block raises."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


def _row(values: tuple[Any, ...]) -> OutboxRow:
    row_id, route, target, reason, alert_json, state, attempts, last_error, created, next_at = values[:10]
    done, held, batch = values[10:]
    try:
        alert = Alert.from_json(json.loads(alert_json))
    except (ValueError, KeyError, TypeError) as err:
        raise StateError(f"outbox row {row_id} holds an alert this release cannot read: {err}") from None
    return OutboxRow(
        id=row_id,
        route=route,
        target=target,
        reason=reason,
        alert=alert,
        state=state,
        attempts=attempts,
        last_error=last_error,
        created_at=created,
        next_attempt_at=next_at,
        delivered_at=done,
        held=bool(held),
        batch=batch,
    )
