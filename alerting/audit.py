"""The operator audit log: who did what, and when, for every command that changes on-call state.

An acknowledgement, a silence, a requeued or dropped notification each change what people get
paged for, so each leaves a row (who, what, when, and the details as JSON) in the on-call state
file, written in the same transaction as the change itself: a change without its record, or a
record of a change that did not happen, cannot be left behind.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from alerting.state_db import StateDB

__all__ = ["Audit", "AuditRecord", "record"]


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: float
    by: str
    action: str  # "silence.add", "silence.expire", "ack", "outbox.requeue", "outbox.drop"
    detail: dict[str, Any]


def record(db: sqlite3.Connection, at: float, by: str, action: str, **detail: Any) -> None:
    """Write one record inside the caller's transaction (:meth:`StateDB.write`)."""
    db.execute(
        "INSERT INTO audit (at, by, action, detail) VALUES (?, ?, ?, ?)",
        (at, by, action, json.dumps(detail, sort_keys=True, ensure_ascii=False)),
    )


class Audit:
    """Reads the audit log, and records actions whose change lives in another file (the outbox)."""

    def __init__(self, db: StateDB) -> None:
        self._db = db

    def record(self, at: float, by: str, action: str, **detail: Any) -> None:
        with self._db.write() as tx:
            record(tx, at, by, action, **detail)

    def latest(self, limit: int = 50) -> list[AuditRecord]:
        rows = self._db.read(
            "SELECT id, at, by, action, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [AuditRecord(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]
