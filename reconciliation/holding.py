"""The holding pool: paid orders waiting for a later bill before they count as missing.

An order paid in the last minutes of the bill day, or after it by the provider's clock, is often
on the next day's bill. It is held here with its row, matched against each later statement, and
released as ``matched`` or ``missing`` (final) once the SLA passes. The other way round, a payment
on the bill near midnight whose order our export puts on the next day is held as the provider's
row and matched against the next day's orders. Re-running a day gives the
same answer: the pool is read as it stood before that day.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, Final

from reconciliation.ledger import Ledger

__all__ = ["POOLS", "held_before", "hold", "release"]

#: The two pools: our paid orders the bill does not show yet, and the provider's payments near
#: midnight whose order is in the next day's export (``held_payments``, STATEMENT_COLUMNS rows).
POOLS: Final = ("held", "held_payments")


def held_before(ledger: Ledger, provider: str, day: date, pool: str = "held") -> list[tuple[Any, ...]]:
    """Rows held on an earlier day and not yet released before ``day``, with the day they were held."""
    assert pool in POOLS, pool
    rows = ledger.db.execute(
        f"SELECT row, held_on FROM {pool} WHERE provider = ? AND held_on < ?"
        " AND (resolved_on IS NULL OR resolved_on >= ?)",
        (provider, day.isoformat(), day.isoformat()),
    ).fetchall()
    return [(*json.loads(r["row"]), r["held_on"]) for r in rows]


def hold(
    ledger: Ledger, provider: str, day: date, rows: Iterable[tuple[str, Sequence[Any]]], pool: str = "held"
) -> None:
    """Hold ``(order_id, row)`` pairs from ``day``; an order already held keeps its first day and state."""
    assert pool in POOLS, pool
    ledger.db.executemany(
        f"INSERT OR IGNORE INTO {pool} (provider, order_id, held_on, row) VALUES (?, ?, ?, ?)",
        [(provider, order_id, day.isoformat(), json.dumps(list(row))) for order_id, row in rows],
    )


def release(
    ledger: Ledger, provider: str, day: date, outcomes: Sequence[tuple[str, str]], pool: str = "held"
) -> None:
    """Release held rows on ``day``: ``(order_id, "matched" | "missing")`` each."""
    assert pool in POOLS, pool
    ledger.db.executemany(
        f"UPDATE {pool} SET resolved_on = ?, outcome = ? WHERE provider = ? AND order_id = ?",
        [(day.isoformat(), outcome, provider, order_id) for order_id, outcome in outcomes],
    )
