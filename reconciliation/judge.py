"""Judging one joined row: which difference classes it shows, how risky, and what to do.

Pure functions of a row from :func:`reconciliation.matching.join_day`, the bill day and the
policy, so every rule is tested without a file or a database. An order paid in the last
``cutoff`` of the day (or after it) that the provider does not show yet is *transient*: it is
held for the next day's bill and becomes a final ``ours_paid_provider_missing`` only once
``hold_days`` have passed without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from kernel.differences import CLASSES, Risk
from reconciliation.matching import Window
from reconciliation.orders import PAID_STATUSES

__all__ = ["Difference", "judge_row"]


@dataclass(slots=True)
class Difference:
    """One difference between our books and the provider's, for one order and class."""

    day: date
    provider: str
    order_id: str
    provider_txn_id: str | None
    klass: str
    ours: dict[str, Any] | None
    theirs: dict[str, Any] | None
    amount_delta: int  # theirs - ours, minor units of ``currency``
    currency: str
    final: bool = True  # False: held, waiting for a later bill
    held_until: date | None = None
    ticket_id: int | None = None
    resolution: str | None = None  # set when a repair rule handled it
    notes: list[str] = field(default_factory=list)
    review: bool = False  # found on the stream but not confirmed by the provider: a person checks it

    @property
    def key(self) -> str:
        """Identity for idempotence: the same inputs give the same key on every run."""
        return f"{self.day.isoformat()}|{self.provider}|{self.order_id}|{self.klass}"

    @property
    def risk(self) -> Risk:
        return CLASSES[self.klass].risk if self.final else "low"

    @property
    def action(self) -> str:
        if not self.final:
            return f"held: expected on a later bill; counts as missing from {self.held_until}"
        if self.review:
            return f"to review, the provider has not confirmed it: {CLASSES[self.klass].action}"
        return CLASSES[self.klass].action


def _ours(row: dict[str, Any]) -> dict[str, Any] | None:
    if row["order_id"] is None:
        return None
    return {
        k: row[k]
        for k in (
            "amount",
            "currency",
            "status",
            "paid_ms",
            "provider_txn_id",
            "refund",
            "merchant_id",
            "channel",
            "held_on",
        )
    }


def _theirs(row: dict[str, Any]) -> dict[str, Any] | None:
    if row["n"] is None:
        return None
    return {
        "amount": row["p_amount"],
        "currency": row["p_currency"],
        "at_ms": row["p_at_ms"],
        "payments": row["n"],
        "txns": row["txns"].split(" "),
        "fee": row["fee"],
        "refunded": row["refunded"],
    }


def judge_row(
    row: dict[str, Any], day: date, provider: str, window: Window, hold_days: int
) -> list[Difference]:
    """The differences one joined row shows; several classes may apply to one order."""
    ours, theirs = _ours(row), _theirs(row)

    def diff(klass: str, delta: int = 0, **extra: Any) -> Difference:
        currency = (theirs or ours or {})["currency"]
        return Difference(
            day,
            provider,
            row["key"],
            row["txn"] or row["provider_txn_id"] or None,
            klass,
            ours,
            theirs,
            delta,
            currency,
            **extra,
        )

    if ours is None and theirs is None:
        return [_orphan_refund(row, day, provider)]
    if ours is None:
        return [_provider_only(diff, row, day, window, hold_days)]
    if theirs is None:
        if row["status"] not in PAID_STATUSES:
            return []
        return [_missing(diff, row, day, window, hold_days)]
    if row["status"] not in PAID_STATUSES:
        return [diff("provider_paid_ours_unpaid", row["p_amount"])]
    found = []
    if row["n"] > 1:
        found.append(diff("duplicate_payment", row["p_amount"] * (row["n"] - 1)))
    if row["p_currency"] != row["currency"]:
        found.append(diff("currency_mismatch", 0))
    elif row["p_amount"] != row["amount"]:
        delta = row["p_amount"] - row["amount"]
        found.append(diff("amount_over" if delta > 0 else "amount_under", delta))
    if row["fee_bad"]:
        found.append(diff("fee_mismatch", 0))
    if row["refunded"] != row["refund"]:
        found.append(diff("refund_mismatch", row["refunded"] - row["refund"]))
    return found


def _provider_only(
    diff: Callable[..., Difference], row: dict[str, Any], day: date, window: Window, hold_days: int
) -> Difference:
    """A payment with no order of ours: held when billed near midnight, as the order may be in the
    next day's export (our clock put it past midnight), then final once ``hold_days`` have passed."""
    held_on = date.fromisoformat(row["p_held_on"]) if row["p_held_on"] else None
    if held_on is None and (row["n"] > 1 or row["p_at_ms"] < window.cutoff_ms):
        return diff("provider_only", row["p_amount"])
    until = (held_on or day) + timedelta(days=hold_days)
    return diff("provider_only", row["p_amount"], final=until <= day, held_until=until)


def _orphan_refund(row: dict[str, Any], day: date, provider: str) -> Difference:
    """A refund of an order that is neither in the day's export nor paid on the day's bill.

    The export holds every order whose state changed on the day, so a refund there is one our
    books do not know of (or an order refunded after an export that was cut short): money left
    and nobody here recorded why. A person checks it against the order's own day.
    """
    txns = row["refund_txns"].split(" ")
    theirs = {
        "currency": row["r_currency"],
        "refunded": row["refunded"],
        "refunds": row["refund_rows"],
        "txns": txns,
        "reason": "refund of an order that is not in this day's order export",
    }
    return Difference(
        day,
        provider,
        row["key"],
        txns[0],
        "refund_mismatch",
        None,
        theirs,
        row["refunded"],  # theirs - ours: our books show no refund
        row["r_currency"],
    )


def _missing(
    diff: Callable[..., Difference], row: dict[str, Any], day: date, window: Window, hold_days: int
) -> Difference:
    """Our paid order the provider does not show: held while it may still come, then final."""
    held_on = date.fromisoformat(row["held_on"]) if row["held_on"] else None
    if held_on is None and row["paid_ms"] < window.cutoff_ms:
        return diff("ours_paid_provider_missing", -row["amount"])
    until = (held_on or day) + timedelta(days=hold_days)
    final = until <= day
    return diff("ours_paid_provider_missing", -row["amount"], final=final, held_until=until)
