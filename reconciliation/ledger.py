"""The reconciliation state file (SQLite): held orders and payments, tickets, repair actions, audit log.

One file, because a run changes all four together: a transaction per run means a crash leaves
the state of the run before it, never half a run. Every change a person or a rule makes is an
``audit`` row saying who and why; nothing is ever deleted.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from kernel.errors import StateError

__all__ = ["Ledger"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS held (
    provider TEXT NOT NULL, order_id TEXT NOT NULL, held_on TEXT NOT NULL, row TEXT NOT NULL,
    resolved_on TEXT, outcome TEXT, PRIMARY KEY (provider, order_id));
CREATE TABLE IF NOT EXISTS held_payments (
    provider TEXT NOT NULL, order_id TEXT NOT NULL, held_on TEXT NOT NULL, row TEXT NOT NULL,
    resolved_on TEXT, outcome TEXT, PRIMARY KEY (provider, order_id));
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, day TEXT NOT NULL, provider TEXT NOT NULL,
    order_id TEXT NOT NULL, provider_txn_id TEXT, class TEXT NOT NULL, risk TEXT NOT NULL,
    amount INTEGER NOT NULL, currency TEXT NOT NULL, sla_due TEXT NOT NULL, assignee TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open', detail TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tickets_status ON tickets (status, class);
CREATE TABLE IF NOT EXISTS actions (
    key TEXT PRIMARY KEY, action TEXT NOT NULL, detail TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, who TEXT NOT NULL, why TEXT NOT NULL,
    action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL);
"""


def now_text() -> str:
    """The current UTC time as stored: ISO 8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Ledger:
    """The state file, opened (and created with its schema) at ``path``."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        if not create and not path.is_file():
            raise StateError(
                f"{path}: no reconciliation state file there; pass the --db that reconcile wrote"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.executescript(_SCHEMA)
        except (sqlite3.DatabaseError, OSError) as err:
            raise StateError(f"cannot use {path} as the reconciliation state file: {err}") from None

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All changes inside commit together, or none does."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def audit(
        self, who: str, why: str, action: str, subject: str, detail: dict[str, Any] | None = None
    ) -> None:
        """Record one change: who made it, why, what it was and to what."""
        self.audit_each(who, why, action, [(subject, detail)])

    def audit_each(
        self, who: str, why: str, action: str, changes: Iterable[tuple[str, dict[str, Any] | None]]
    ) -> None:
        """Record one change per ``(subject, detail)``, all made by ``who`` for the same reason."""
        at = now_text()
        self.db.executemany(
            "INSERT INTO audit (at, who, why, action, subject, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (
                (at, who, why, action, subject, json.dumps(detail or {}, ensure_ascii=False, default=str))
                for subject, detail in changes
            ),
        )

    def audit_log(self, subject: str | None = None) -> list[sqlite3.Row]:
        """Audit rows, oldest first; only those about ``subject`` if given."""
        if subject is None:
            return self.db.execute("SELECT * FROM audit ORDER BY id").fetchall()
        return self.db.execute("SELECT * FROM audit WHERE subject = ? ORDER BY id", (subject,)).fetchall()
