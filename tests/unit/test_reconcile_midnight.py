"""A payment billed just after midnight whose order our export puts on the next day is held, not
reported as provider_only, and matched against the next day's export, or final once the SLA ends."""

from __future__ import annotations

import json
import tomllib
from datetime import date
from pathlib import Path

from reconciliation import Ledger, Policy, Run, reconcile

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reconciliation"
ACQUIRER = Policy(**tomllib.loads((FIXTURES / "acquirer.toml").read_text())["reconciliation"])
HEADER = "txn_ref,merchant_ref,type,amount_minor,ccy,fee,booked_at\n"
ORDER = (
    '{"order_id": "%s", "merchant_id": "M1", "channel": "c", "amount": "%s", "currency": "CNY",'
    ' "status": "paid", "created_at": "%s", "paid_at": "%s", "provider_txn_id": "%s"}\n'
)


def day(tmp_path: Path, on: date, bill: list[str], orders: list[tuple[str, str, str, str]]) -> list[dict]:
    """Reconcile one generic bill day; its differences."""
    statement, export = tmp_path / f"bill-{on}.csv", tmp_path / f"orders-{on}.jsonl"
    statement.write_text(HEADER + "".join(line + "\n" for line in bill))
    export.write_text("".join(ORDER % (oid, amount, at, at, txn) for oid, amount, at, txn in orders))
    out = tmp_path / f"out-{on}"
    reconcile(Run("generic", statement, export, on, out, tmp_path / "state.sqlite3", "test"), ACQUIRER)
    return [json.loads(x) for x in (out / "differences.jsonl").read_text().splitlines()]


def test_a_payment_billed_after_midnight_waits_for_the_next_export(tmp_path: Path) -> None:
    first = day(
        tmp_path,
        date(2024, 5, 1),
        [
            "UP1,O1,PAY,1000,CNY,0.06,2024-05-01T12:00:00+08:00",
            "UP2,O2,PAY,1500,CNY,0.09,2024-05-02T00:00:20+08:00",  # our clock: 00:00:25, tomorrow
            "UP3,O3,PAY,900,CNY,0.05,2024-05-01T13:00:00+08:00",  # no order on any day
        ],
        [("O1", "10.00", "2024-05-01T12:00:00+08:00", "UP1")],
    )
    assert [(d["order_id"], d["class"], d["state"], d["held_until"]) for d in first] == [
        ("O2", "provider_only", "transient", "2024-05-02"),
        ("O3", "provider_only", "final", None),
    ]
    second = day(
        tmp_path,
        date(2024, 5, 2),
        ["UP4,O4,PAY,700,CNY,0.04,2024-05-02T09:00:00+08:00"],
        [
            ("O2", "15.00", "2024-05-02T00:00:25+08:00", "UP2"),
            ("O4", "7.00", "2024-05-02T09:00:00+08:00", "UP4"),
        ],
    )
    assert second == []
    held = Ledger(tmp_path / "state.sqlite3").db.execute("SELECT * FROM held_payments").fetchall()
    assert [(r["order_id"], r["held_on"], r["resolved_on"], r["outcome"]) for r in held] == [
        ("O2", "2024-05-01", "2024-05-02", "matched")
    ]


def test_a_held_payment_whose_order_never_comes_is_provider_only_after_the_sla(tmp_path: Path) -> None:
    day(tmp_path, date(2024, 5, 1), ["UP2,O2,PAY,1500,CNY,0.09,2024-05-01T23:55:00+08:00"], [])
    second = day(tmp_path, date(2024, 5, 2), [], [])
    assert [(d["order_id"], d["class"], d["state"]) for d in second] == [("O2", "provider_only", "final")]
    assert second[0]["ticket_id"] is not None
