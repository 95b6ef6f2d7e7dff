"""One reconciliation run: read both files, join, judge, hold, repair, ticket and report.

The order of the steps is the design. Files are read (bad rows to ``rejects.jsonl``) before the
state file is touched, so a file that cannot be read changes nothing. All state changes of a run
(holds, releases, repair actions, tickets, audit rows) commit in one transaction.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from kernel.differences import CLASSES
from kernel.events import CURRENCY_DECIMALS
from kernel.reconciliation import Policy
from reconciliation.fields import format_minor
from reconciliation.holding import held_before, hold, release
from reconciliation.judge import Difference, judge_row
from reconciliation.ledger import Ledger
from reconciliation.matching import HELD_COLUMNS, DayTotals, Window, join_day
from reconciliation.orders import ORDER_COLUMNS, read_orders
from reconciliation.orderscan import scan_orders
from reconciliation.rejects import RejectLog
from reconciliation.repairs import apply_repairs
from reconciliation.report import write_differences
from reconciliation.statements import STATEMENT_COLUMNS, StatementInfo, layout_for, read_statement
from reconciliation.statementscan import scan_statement
from reconciliation.tickets import open_tickets

__all__ = ["Run", "reconcile", "window_of"]


@dataclass(frozen=True, slots=True)
class Run:
    """What to reconcile and where the results go."""

    provider: str
    statement: Path
    orders: Path
    day: date
    out: Path
    state: Path
    who: str


def window_of(day: date, zone: ZoneInfo, cutoff: timedelta) -> Window:
    """The bill day ``day`` in ``zone`` as epoch milliseconds, with its cut-off stretch.

    >>> w = window_of(date(2024, 5, 1), ZoneInfo("Asia/Shanghai"), timedelta(minutes=15))
    >>> (w.end_ms - w.start_ms) // 3_600_000, (w.end_ms - w.cutoff_ms) // 60_000
    (24, 15)
    """
    start = datetime.combine(day, time(), zone)
    end = datetime.combine(day + timedelta(days=1), time(), zone)
    return Window(
        int(start.timestamp() * 1000), int(end.timestamp() * 1000), int((end - cutoff).timestamp() * 1000)
    )


def reconcile(run: Run, policy: Policy) -> dict[str, Any]:
    """Reconcile ``run.day``; write the outputs into ``run.out`` and return the summary."""
    zone = ZoneInfo(policy.time_zone)
    run.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".work-", dir=run.out))
    try:
        (info, statement_rejects), (order_rows, order_rejects) = _read_both(run, policy, work)
        with (run.out / "rejects.jsonl").open("wb") as rejects_file:
            for part in ("statement", "orders"):
                with (work / f"rejects-{part}.jsonl").open("rb") as chunk:
                    shutil.copyfileobj(chunk, rejects_file)
            rejects = RejectLog(rejects_file, statement_rejects + order_rejects)
            window = window_of(run.day, zone, policy.cutoff)
            ledger = Ledger(run.state)
            try:
                held = held_before(ledger, run.provider, run.day)
                held_payments = held_before(ledger, run.provider, run.day, "held_payments")
                rate = policy.fee_rates.get(run.provider)
                rows, totals = join_day(work, held, held_payments, window, rate, policy.fee_tolerance)
                for line, order_id in totals.duplicate_orders:
                    detail = f"order {order_id} repeats an earlier row"
                    rejects.add("orders", run.orders, line, "duplicate_order", detail, "")
                diffs = [
                    d for r in rows for d in judge_row(r, run.day, run.provider, window, policy.hold_days)
                ]
                repairs = _record(ledger, run, policy, rows, diffs)
            finally:
                ledger.close()
        write_differences(diffs, run.out, zone)
        summary = _summary(run, info, order_rows, totals, diffs, repairs, rejects.summary())
        (run.out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
        return summary
    finally:
        shutil.rmtree(work, ignore_errors=True)


_Read = tuple[Any, Counter[tuple[str, str]]]  # what one side's reader returned, and its reject counts


def _read_both(run: Run, policy: Policy, work: Path) -> tuple[_Read, _Read]:
    """Normalise both files into ``work`` at once, one process each: reading is most of a run.

    Each side writes its own rejects file; an error in either (a file that is not what was asked
    for) is raised here, the statement's first.
    """
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("fork")) as pool:
        statement = pool.submit(_read_side, "statement", run, policy, work)
        orders = pool.submit(_read_side, "orders", run, policy, work)
        return statement.result(), orders.result()


def _read_side(side: str, run: Run, policy: Policy, work: Path) -> _Read:
    """Normalise one side into ``work/<side>.csv``: (what was read, reject counts).

    Rows DuckDB can check in bulk go to ``work/<side>-scanned.parquet``
    (:mod:`reconciliation.orderscan`, :mod:`reconciliation.statementscan`).
    """
    columns = STATEMENT_COLUMNS if side == "statement" else ORDER_COLUMNS
    with (work / f"{side}.csv").open("w", newline="") as out, \
         (work / f"rejects-{side}.jsonl").open("wb") as rejects_file:  # fmt: skip
        out.write(",".join(columns) + "\n")
        rejects = RejectLog(rejects_file)
        if side == "statement":
            layout = layout_for(run.provider, policy.generic)
            read: Any = scan_statement(run.statement, layout, policy, work, out, rejects)
            if read is None:
                read = read_statement(run.statement, layout, policy, out, rejects)
        else:
            read = scan_orders(run.orders, policy.time_zone, work, out, rejects)
            if read is None:
                read = read_orders(run.orders, policy.time_zone, out, rejects)
    return read, rejects.counts


def _record(
    ledger: Ledger, run: Run, policy: Policy, rows: list[dict[str, Any]], diffs: list[Difference]
) -> Counter[str]:
    """Change the state file for this run in one transaction: holds, repairs, tickets."""
    with ledger.transaction(), (run.out / "repairs.jsonl").open("wb") as repairs_file:
        _keep_holds(ledger, run, rows, diffs)
        repairs = apply_repairs(ledger, diffs, policy.repairs, run.who, repairs_file)
        open_tickets(ledger, [d for d in diffs if d.final and d.resolution is None], policy, run.who)
    return repairs


@dataclass(frozen=True, slots=True)
class _Side:
    """One side's holding pool, and the joined row's columns that say where its row stands."""

    pool: str
    present: str  # set when this side has the order
    other: str  # set when the other side has it
    held_on: str  # the day this side's row was held, if it was
    missing: str  # the class once the other side never showed it
    stored: Callable[[dict[str, Any]], list[Any]]  # the row as the pool keeps it


_SIDES: Final = (
    _Side(
        pool="held",
        present="order_id",
        other="n",
        held_on="held_on",
        missing="ours_paid_provider_missing",
        stored=lambda r: [r[c] for c in HELD_COLUMNS[:-1]],
    ),
    _Side(
        pool="held_payments",
        present="n",
        other="order_id",
        held_on="p_held_on",
        missing="provider_only",
        stored=lambda r: [  # as a statement row (STATEMENT_COLUMNS without the line)
            r["key"],
            r["txn"],
            "payment",
            r["p_amount"],
            r["p_currency"],
            str(r["fee"]),
            r["p_at_ms"],
        ],
    ),
)


def _keep_holds(ledger: Ledger, run: Run, rows: list[dict[str, Any]], diffs: list[Difference]) -> None:
    """Hold today's transient rows; release earlier holds the other side matched or the SLA ended.

    Our paid orders wait in ``held`` for a later bill, the provider's payments in ``held_payments``
    for a later export.
    """
    waiting = {d.order_id for d in diffs if not d.final}
    final = {(d.order_id, d.klass) for d in diffs if d.final}
    for side in _SIDES:
        mine = [r for r in rows if r[side.present] is not None]
        hold(
            ledger,
            run.provider,
            run.day,
            (
                (r["key"], side.stored(r))
                for r in mine
                if r["key"] in waiting and not r[side.held_on] and not r[side.other]
            ),
            side.pool,
        )
        release(
            ledger,
            run.provider,
            run.day,
            [
                (r["key"], "matched" if r[side.other] else "missing")
                for r in mine
                if r[side.held_on] and (r[side.other] or (r["key"], side.missing) in final)
            ],
            side.pool,
        )


def _major(minor: Decimal | None, currency: str) -> str | None:
    """Exact minor units (a fee may be a fraction of a fen) as a major-unit decimal string."""
    if minor is None:
        return None
    return f"{minor.scaleb(-CURRENCY_DECIMALS.get(currency, 2)).normalize():f}"


def _summary(
    run: Run,
    info: StatementInfo,
    order_rows: int,
    totals: DayTotals,
    diffs: list[Difference],
    repairs: Counter[str],
    rejects: dict[str, dict[str, int]],
) -> dict[str, Any]:
    """summary.json: counts and amounts per class, the matched totals, fees, rejects and repairs.

    Amounts are in the bill's currency: a provider settles a merchant account in one.
    """
    currency = next((d.currency for d in diffs), "CNY")
    by_class: dict[str, dict[str, Any]] = {
        k: {"count": 0, "amount": 0, "risk": s.risk} for k, s in CLASSES.items()
    }
    transient = {"count": 0, "amount": 0}
    for diff in diffs:
        bucket = by_class[diff.klass] if diff.final else transient
        bucket["count"] += 1
        bucket["amount"] += abs(diff.amount_delta)
    for bucket in (*by_class.values(), transient):
        bucket["amount"] = format_minor(bucket["amount"], currency)
    statement = asdict(info)
    statement.pop("header")
    return {
        "day": run.day.isoformat(),
        "provider": run.provider,
        "files": {"statement": str(run.statement), "orders": str(run.orders), "state": str(run.state)},
        "statement": statement,
        "orders": {"rows": order_rows},
        "rejects": rejects,
        "rejected_rows": sum(n for by_reason in rejects.values() for n in by_reason.values()),
        "matched": {
            "count": totals.matched,
            "ours": format_minor(totals.matched_ours, currency),
            "theirs": format_minor(totals.matched_theirs, currency),
        },
        "provider_totals": {
            "payments": totals.payments,
            "payments_amount": format_minor(totals.payments_amount, currency),
            "refunds": totals.refunds,
            "refunds_amount": format_minor(totals.refunds_amount, currency),
            "refunds_without_order": totals.refunds_without_order,
        },
        "fees": {
            "charged": f"{totals.fees.normalize():f}",
            "expected": _major(totals.expected_fees, currency),
        },
        "differences": by_class,
        "final": sum(d.final for d in diffs),
        "transient": transient,
        "repairs": dict(sorted(repairs.items())),
        "tickets": len({d.ticket_id for d in diffs if d.ticket_id is not None}),
        "currency": currency,
    }
