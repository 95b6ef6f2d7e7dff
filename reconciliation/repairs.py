"""Auto-repair rules: the differences a rule may settle without a person, each exactly once.

* provider paid, we did not (``fulfil_provider_paid``): an order-update event that marks the order
  paid, for the order service to consume;
* duplicate payment (``refund_duplicates``): a refund proposal for every payment after the first;
* an amount difference smaller than ``write_off_below``: written off.

An action is keyed by day, provider, order and class in the ``actions`` table, so a second run
over the same inputs writes nothing again; the difference still shows how it was settled. Every
new action is audited with who ran it and the rule that fired.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO, Any, Final

from kernel.reconciliation import Repairs
from reconciliation.fields import format_minor
from reconciliation.judge import Difference
from reconciliation.ledger import Ledger, now_text

__all__ = ["WRITE_OFF_CLASSES", "apply_repairs"]

#: Classes whose difference is an amount a write-off can settle.
WRITE_OFF_CLASSES: Final = frozenset({"amount_over", "amount_under", "refund_mismatch"})


def _event(diff: Difference, rules: Repairs) -> tuple[str, str, dict[str, Any]] | None:
    """(action, why, event) the rules take for ``diff``, or None."""
    theirs = diff.theirs or {}
    base = {
        "order_id": diff.order_id,
        "class": diff.klass,
        "day": diff.day.isoformat(),
        "provider": diff.provider,
        "currency": diff.currency,
        "key": diff.key,
    }
    if diff.klass == "provider_paid_ours_unpaid" and rules.fulfil_provider_paid:
        paid_at = datetime.fromtimestamp(theirs["at_ms"] / 1000, UTC).isoformat()
        event = {
            "type": "order_update",
            "status": "paid",
            "provider_txn_id": diff.provider_txn_id,
            "paid_at": paid_at,
            "amount": format_minor(theirs["amount"], diff.currency),
        }
        return "fulfil", "rule fulfil_provider_paid: the provider's bill shows the payment", {**base, **event}
    if diff.klass == "duplicate_payment" and rules.refund_duplicates:
        event = {
            "type": "refund_proposal",
            "refund_txns": theirs["txns"][1:],
            "amount": format_minor(diff.amount_delta, diff.currency),
        }
        return (
            "refund_proposal",
            "rule refund_duplicates: one order, several provider successes",
            {**base, **event},
        )
    limit = rules.write_off_below
    if (
        diff.klass in WRITE_OFF_CLASSES
        and limit > 0
        and Decimal(format_minor(abs(diff.amount_delta), diff.currency)) < limit
    ):
        event = {"type": "write_off", "amount": format_minor(diff.amount_delta, diff.currency)}
        return "write_off", f"rule write_off_below: difference under {limit}", {**base, **event}
    return None


def apply_repairs(
    ledger: Ledger, diffs: Iterable[Difference], rules: Repairs, who: str, out: IO[bytes]
) -> Counter[str]:
    """Apply the rules to final differences; new events go to ``out``. Counts new/repeat per action."""
    counts: Counter[str] = Counter()
    for diff in diffs:
        if not diff.final:
            continue
        found = _event(diff, rules)
        if found is None:
            continue
        action, why, event = found
        new = ledger.db.execute(
            "INSERT OR IGNORE INTO actions (key, action, detail, at) VALUES (?, ?, ?, ?)",
            (diff.key, action, json.dumps(event, ensure_ascii=False), now_text()),
        ).rowcount
        diff.resolution = action
        if new:
            out.write(json.dumps(event, ensure_ascii=False).encode() + b"\n")
            ledger.audit(who, why, action, diff.key, event)
        counts[f"{action}.{'new' if new else 'repeat'}"] += 1
    return counts
