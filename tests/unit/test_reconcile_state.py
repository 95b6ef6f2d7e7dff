"""The state file: re-running a day opens no twin tickets and repeats no repair; tickets change
only through audited commands; write-offs by id or by class and amount."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from kernel.errors import StateError
from reconciliation import Ledger, Policy, Repairs, Run, reconcile
from reconciliation.tickets import TicketError, assign, find, get, resolve, write_off, write_off_matching

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reconciliation"
DAY = date(2024, 5, 1)
REPAIRING = Policy(
    repairs=Repairs(fulfil_provider_paid=True, refund_duplicates=True, write_off_below=Decimal("2.00")),
    assignees={"provider_only": "ops-night"},
)


def run(tmp_path: Path, policy: Policy, out: str = "out") -> tuple[dict, list[dict], list[dict]]:
    state = tmp_path / "state.sqlite3"
    summary = reconcile(
        Run(
            "wechat",
            FIXTURES / "wechat-tradebill-2024-05-01.csv",
            FIXTURES / "orders-2024-05-01.jsonl",
            DAY,
            tmp_path / out,
            state,
            "alice",
        ),
        policy,
    )
    diffs = [json.loads(x) for x in (tmp_path / out / "differences.jsonl").read_text().splitlines()]
    repairs = [json.loads(x) for x in (tmp_path / out / "repairs.jsonl").read_text().splitlines()]
    return summary, diffs, repairs


def test_rerunning_a_day_opens_no_twin_tickets(tmp_path: Path) -> None:
    _, first, _ = run(tmp_path, Policy())
    _, second, _ = run(tmp_path, Policy(), out="again")
    ids = [d["ticket_id"] for d in first if d["state"] == "final"]
    assert len(ids) == 6 and all(ids)
    assert [d["ticket_id"] for d in second if d["state"] == "final"] == ids
    ledger = Ledger(tmp_path / "state.sqlite3")
    assert len(find(ledger, status=None)) == 6
    assert [a["action"] for a in ledger.audit_log()] == ["open"] * 6


def test_repairs_act_once_and_settle_their_differences_without_tickets(tmp_path: Path) -> None:
    summary, diffs, repairs = run(tmp_path, REPAIRING)
    by_class = {d["class"]: d for d in diffs if d["state"] == "final"}
    assert [(r["type"], r["order_id"]) for r in repairs] == [
        ("order_update", "O1003"),
        ("refund_proposal", "O1006"),
        ("write_off", "O1007"),  # refunds differ by 1.00, under the 2.00 limit
    ]
    assert repairs[0]["status"] == "paid" and repairs[0]["amount"] == "20.00"
    assert repairs[1]["refund_txns"] == ["4200002219202405010000000007"] and repairs[1]["amount"] == "10.00"
    assert by_class["provider_paid_ours_unpaid"]["resolution"] == "fulfil"
    assert by_class["provider_paid_ours_unpaid"]["ticket_id"] is None
    assert by_class["amount_over"]["ticket_id"] is not None  # 5.00 is over the write-off limit
    assert summary["repairs"] == {"fulfil.new": 1, "refund_proposal.new": 1, "write_off.new": 1}

    summary, diffs_again, repairs_again = run(tmp_path, REPAIRING, out="again")
    assert repairs_again == []
    assert summary["repairs"] == {"fulfil.repeat": 1, "refund_proposal.repeat": 1, "write_off.repeat": 1}
    assert [d["resolution"] for d in diffs_again] == [d["resolution"] for d in diffs]
    audit = Ledger(tmp_path / "state.sqlite3").audit_log()
    assert sorted(a["action"] for a in audit if a["action"] != "open") == [
        "fulfil",
        "refund_proposal",
        "write_off",
    ]
    assert {a["who"] for a in audit} == {"alice"}


def test_tickets_go_to_the_configured_owner_with_an_sla_by_risk(tmp_path: Path) -> None:
    run(tmp_path, REPAIRING)
    ledger = Ledger(tmp_path / "state.sqlite3")
    owners = {(t["class"], t["assignee"], t["sla_due"]) for t in find(ledger)}
    assert owners == {
        ("amount_over", "cs", "2024-05-04"),
        ("ours_paid_provider_missing", "finance", "2024-05-02"),
        ("provider_only", "ops-night", "2024-05-04"),
    }


def test_every_ticket_change_is_audited_with_who_and_why(tmp_path: Path) -> None:
    run(tmp_path, Policy())
    ledger = Ledger(tmp_path / "state.sqlite3")
    first, second = (int(t["id"]) for t in find(ledger)[:2])
    assign(ledger, [first], "bob", "carol", "bob knows this merchant")
    resolve(ledger, [first], "bob", "refunded the payer by hand")
    with pytest.raises(TicketError, match=f"ticket {first} is already resolved; nothing changed"):
        write_off(ledger, [second, first], "bob", "tidy up")
    assert get(ledger, second)["status"] == "open"  # the batch failed as a whole
    history = [(h["who"], h["why"], h["action"]) for h in get(ledger, first)["history"]]
    assert history[1:] == [
        ("carol", "bob knows this merchant", "assign"),
        ("bob", "refunded the payer by hand", "resolve"),
    ]
    with pytest.raises(TicketError, match="no ticket 999"):
        get(ledger, 999)


def test_write_off_by_class_and_amount_takes_only_small_open_tickets(tmp_path: Path) -> None:
    run(tmp_path, Policy())
    ledger = Ledger(tmp_path / "state.sqlite3")
    assert write_off_matching(ledger, "amount_over", Decimal("4.99"), "dave", "small") == []
    done = write_off_matching(ledger, "amount_over", Decimal("5.00"), "dave", "under 5 yuan")
    assert [t["status"] for t in find(ledger, status=None) if t["id"] in done] == ["written_off"]
    assert find(ledger, klass="amount_over") == []


def test_a_state_file_that_is_not_sqlite_is_a_state_error(tmp_path: Path) -> None:
    bad = tmp_path / "state.sqlite3"
    bad.write_text("not a database, just text " * 100)
    with pytest.raises(StateError, match=r"cannot use .* as the reconciliation state file"):
        Ledger(bad)
    with pytest.raises(StateError, match="no reconciliation state file there"):
        Ledger(tmp_path / "missing.sqlite3", create=False)
