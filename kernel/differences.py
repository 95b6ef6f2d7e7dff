"""The difference classes: one spec per class, with its risk, suggested action and default owner.

A class name is public: it is in ``differences.jsonl``, ticket rows, ``--class`` options and the
simulator's labels, so this table is the only place one is declared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["CLASSES", "ClassSpec", "Risk"]

Risk = Literal["high", "medium", "low"]


@dataclass(frozen=True, slots=True)
class ClassSpec:
    """How a difference class is judged and who acts on it."""

    risk: Risk
    action: str  # what a person should do, shown in every output
    owner: str  # default assignee: finance, ops or cs


CLASSES: Final[dict[str, ClassSpec]] = {
    "provider_paid_ours_unpaid": ClassSpec(
        "high", "payer was charged but the order is not paid here: mark it paid and fulfil it", "ops"
    ),
    "ours_paid_provider_missing": ClassSpec(
        "high",
        "order fulfilled without money: query the provider's order API; reverse it if unpaid",
        "finance",
    ),
    "provider_only": ClassSpec(
        "medium", "money with no order: find the order in other systems or refund the payer", "ops"
    ),
    "amount_over": ClassSpec("medium", "payer charged more than the order: refund the difference", "cs"),
    "amount_under": ClassSpec(
        "high", "received less than the order: check discounts and amount tampering", "finance"
    ),
    "duplicate_payment": ClassSpec("high", "payer paid twice: refund the extra payment", "cs"),
    "refund_mismatch": ClassSpec("medium", "refunded amounts differ: check the refund records", "finance"),
    "fee_mismatch": ClassSpec(
        "low", "fee differs from the contracted rate: raise it with the provider", "finance"
    ),
    "currency_mismatch": ClassSpec(
        "high", "settled in another currency: check the order's currency and the FX settlement", "finance"
    ),
}
