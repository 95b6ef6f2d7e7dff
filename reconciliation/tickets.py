"""Tickets: every final difference no rule resolved, owned by finance, ops or cs until closed.

A ticket is keyed by day, provider, order and class, so re-running a day finds the tickets it
opened before instead of opening twins. Assigning, resolving and writing off change a ticket's
row and add an audit row naming who did it and why.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final

from kernel.errors import PayPulseError
from kernel.reconciliation import Policy
from reconciliation.fields import format_minor
from reconciliation.judge import Difference
from reconciliation.ledger import Ledger, now_text

__all__ = [
    "EXPORT_COLUMNS",
    "STATUSES",
    "LiveTickets",
    "TicketError",
    "assign",
    "export_csv",
    "find",
    "get",
    "open_tickets",
    "resolve",
    "write_off",
    "write_off_matching",
]

STATUSES: Final = ("open", "resolved", "written_off")
_KEYS_PER_QUERY: Final = 500  # under SQLite's limit of bound parameters
EXPORT_COLUMNS: Final = (
    "id",
    "day",
    "provider",
    "order_id",
    "provider_txn_id",
    "class",
    "risk",
    "amount",
    "currency",
    "sla_due",
    "assignee",
    "status",
    "created_at",
    "updated_at",
)


class TicketError(PayPulseError):
    """A ticket command cannot be carried out: an unknown id, or a ticket already closed."""


def open_tickets(ledger: Ledger, diffs: Sequence[Difference], policy: Policy, who: str) -> None:
    """Give each of ``diffs`` its ticket: opened (and audited) the first time, found again after that.

    One statement for all the inserts and one for all the audit rows: a day has tens of thousands
    of differences, and three statements each took seconds. Called inside a transaction, where ids
    only grow, so the tickets this call opened are those above the largest id before it.
    """
    if not diffs:
        return
    stamp = now_text()
    (before,) = ledger.db.execute("SELECT coalesce(max(id), 0) FROM tickets").fetchone()
    ledger.db.executemany(
        "INSERT OR IGNORE INTO tickets (key, day, provider, order_id, provider_txn_id, class, risk, amount,"
        f" currency, sla_due, assignee, detail, created_at, updated_at) VALUES ({', '.join('?' * 14)})",
        (_ticket_row(diff, policy, stamp) for diff in diffs),
    )
    opened = dict(ledger.db.execute("SELECT key, id FROM tickets WHERE id > ? ORDER BY id", (before,)))
    ids = opened | _ids(ledger, {diff.key for diff in diffs} - opened.keys())
    for diff in diffs:
        diff.ticket_id = ids[diff.key]
    ledger.audit_each(
        who,
        "reconciliation found a difference",
        "open",
        ((f"ticket:{ticket_id}", {"key": key}) for key, ticket_id in opened.items()),
    )


def _ticket_row(diff: Difference, policy: Policy, stamp: str) -> tuple[object, ...]:
    """The tickets row of ``diff``, opened at ``stamp``."""
    amount = abs(diff.amount_delta) or (diff.ours or diff.theirs or {}).get("amount", 0)
    due = diff.day + timedelta(days=policy.ticket_sla_days.get(diff.risk, 3))
    detail = json.dumps({"ours": diff.ours, "theirs": diff.theirs, "action": diff.action}, default=str)
    return (
        diff.key,
        diff.day.isoformat(),
        diff.provider,
        diff.order_id,
        diff.provider_txn_id,
        diff.klass,
        diff.risk,
        amount,
        diff.currency,
        due.isoformat(),
        policy.assignee(diff.klass),
        detail,
        stamp,
        stamp,
    )


def _ids(ledger: Ledger, keys: set[str]) -> dict[str, int]:
    """The ids of tickets opened before, by key (a day run again), a few hundred keys a query."""
    found: dict[str, int] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), _KEYS_PER_QUERY):
        chunk = ordered[start : start + _KEYS_PER_QUERY]
        query = f"SELECT key, id FROM tickets WHERE key IN ({', '.join('?' * len(chunk))})"
        found.update(ledger.db.execute(query, chunk).fetchall())
    return found


class LiveTickets:
    """Tickets for the differences live reconciliation finds while the stream runs.

    The state file opens on first use, by the thread that writes (SQLite connections stay in
    their thread). A difference found again (a run restarted from a snapshot, the same events
    replayed) finds its ticket by key instead of opening a second one.
    """

    def __init__(self, path: Path, policy: Policy, who: str = "paypulse live reconciliation") -> None:
        self.path = path
        self.policy = policy
        self.who = who
        self._ledger: Ledger | None = None

    @classmethod
    def from_policy(cls, policy: Policy) -> LiveTickets | None:
        """The ticket sink live reconciliation needs, if ``reconciliation.realtime`` is enabled."""
        return cls(policy.realtime.tickets, policy) if policy.realtime.enabled else None

    def write(self, diffs: Sequence[Difference]) -> None:
        """Ticket ``diffs`` in one transaction; each gets its ``ticket_id``."""
        if not diffs:
            return
        if self._ledger is None:
            self._ledger = Ledger(self.path)
        with self._ledger.transaction():
            open_tickets(self._ledger, diffs, self.policy, self.who)

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None


def get(ledger: Ledger, ticket_id: int) -> dict[str, Any]:
    """One ticket with its audit trail; TicketError if there is none with that id."""
    row = ledger.db.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
    if row is None:
        raise TicketError(f"no ticket {ticket_id} in {ledger.path}")
    ticket = dict(row)
    ticket["detail"] = json.loads(ticket["detail"])
    ticket["history"] = [dict(a) for a in ledger.audit_log(f"ticket:{ticket_id}")]
    return ticket


def find(
    ledger: Ledger,
    *,
    status: str | None = "open",
    klass: str | None = None,
    assignee: str | None = None,
    max_amount: int | None = None,
) -> list[dict[str, Any]]:
    """Tickets matching every filter given, oldest first."""
    where, args = [], []
    for column, value in (("status", status), ("class", klass), ("assignee", assignee)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if max_amount is not None:
        where.append("amount <= ?")
        args.append(max_amount)
    sql = "SELECT * FROM tickets" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    return [dict(r) for r in ledger.db.execute(sql, args).fetchall()]


def _change(ledger: Ledger, ids: Sequence[int], who: str, why: str, action: str, **columns: str) -> list[int]:
    """Apply ``columns`` to open tickets ``ids`` in one transaction, auditing each; the ids changed."""
    with ledger.transaction():
        for ticket_id in ids:
            ticket = get(ledger, ticket_id)
            if ticket["status"] != "open" and action != "assign":
                raise TicketError(f"ticket {ticket_id} is already {ticket['status']}; nothing changed")
            sets = ", ".join(f"{c} = ?" for c in columns)
            ledger.db.execute(
                f"UPDATE tickets SET {sets}, updated_at = ? WHERE id = ?",
                (*columns.values(), now_text(), ticket_id),
            )
            ledger.audit(who, why, action, f"ticket:{ticket_id}", columns)
    return list(ids)


def assign(ledger: Ledger, ids: Sequence[int], to: str, who: str, why: str) -> list[int]:
    return _change(ledger, ids, who, why, "assign", assignee=to)


def resolve(ledger: Ledger, ids: Sequence[int], who: str, why: str) -> list[int]:
    return _change(ledger, ids, who, why, "resolve", status="resolved")


def write_off(ledger: Ledger, ids: Sequence[int], who: str, why: str) -> list[int]:
    return _change(ledger, ids, who, why, "write_off", status="written_off")


def write_off_matching(ledger: Ledger, klass: str, max_amount: Decimal, who: str, why: str) -> list[int]:
    """Write off every open ticket of ``klass`` whose amount is at most ``max_amount`` (major unit)."""
    ids = [
        t["id"]
        for t in find(ledger, klass=klass)
        if Decimal(format_minor(t["amount"], t["currency"])) <= max_amount
    ]
    return write_off(ledger, ids, who, why)


def export_csv(tickets: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Write tickets as CSV for finance (amounts in the major unit); the number written."""
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for t in tickets:
        values = dict(t, amount=format_minor(t["amount"], t["currency"]))
        writer.writerow([values[c] for c in EXPORT_COLUMNS])
        count += 1
    return count
