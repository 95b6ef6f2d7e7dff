"""The holding pool: paid orders waiting for a later bill before they count as missing.

An order paid in the last minutes of the bill day, or after it by the provider's clock, is often
on the next day's bill. It is held here with its row, matched against each later statement, and
released as ``matched`` or ``missing`` (final) once the SLA passes. Re-running a day gives the
same answer: the pool is read as it stood before that day.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from reconciliation.ledger import Ledger
from reconciliation.matching import HELD_COLUMNS

__all__ = ["held_before", "hold", "release"]


def held_before(ledger: Ledger, provider: str, day: date) -> list[tuple[Any, ...]]:
    """Orders held on an earlier day and not yet released before ``day``, as HELD_COLUMNS rows."""
    rows = ledger.db.execute(
        "SELECT row, held_on FROM held WHERE provider = ? AND held_on < ?"
        " AND (resolved_on IS NULL OR resolved_on >= ?)",
        (provider, day.isoformat(), day.isoformat()),
    ).fetchall()
    return [(*json.loads(r["row"]), r["held_on"]) for r in rows]


def hold(ledger: Ledger, provider: str, day: date, rows: Iterable[dict[str, Any]]) -> None:
    """Hold these orders from ``day``; an order already held keeps its first day and state."""
    ledger.db.executemany(
        "INSERT OR IGNORE INTO held (provider, order_id, held_on, row) VALUES (?, ?, ?, ?)",
        [
            (provider, r["order_id"], day.isoformat(), json.dumps([r[c] for c in HELD_COLUMNS[:-1]]))
            for r in rows
        ],
    )


def release(ledger: Ledger, provider: str, day: date, outcomes: Sequence[tuple[str, str]]) -> None:
    """Release held orders on ``day``: ``(order_id, "matched" | "missing")`` each."""
    ledger.db.executemany(
        "UPDATE held SET resolved_on = ?, outcome = ? WHERE provider = ? AND order_id = ?",
        [(day.isoformat(), outcome, provider, order_id) for order_id, outcome in outcomes],
    )
