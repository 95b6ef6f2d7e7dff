"""Statements in each published layout and order exports read into the same differences; hostile
rows (bad amounts, wrong encodings, cut-off files) become rejects, and a wrong file one clear error."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import date
from pathlib import Path

import pytest

from kernel.errors import InputFileError
from reconciliation import Policy, Run, reconcile

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reconciliation"
DAY = date(2024, 5, 1)
STATEMENTS = {
    "wechat": FIXTURES / "wechat-tradebill-2024-05-01.csv",
    "alipay": FIXTURES / "alipay-detail-2024-05-01.csv",
    "generic": FIXTURES / "acquirer-2024-05-01.csv",
}
ACQUIRER = Policy(**tomllib.loads((FIXTURES / "acquirer.toml").read_text())["reconciliation"])
EXPECTED = {
    ("O1002", "amount_over"),
    ("O1003", "provider_paid_ours_unpaid"),
    ("O1004", "ours_paid_provider_missing"),
    ("O1006", "duplicate_payment"),
    ("O1007", "refund_mismatch"),
    ("O9999", "provider_only"),
}


def run(tmp_path: Path, provider: str, statement: Path, orders: Path, policy: Policy | None = None) -> dict:
    policy = policy or (ACQUIRER if provider == "generic" else Policy())
    out = tmp_path / "out"
    summary = reconcile(
        Run(provider, statement, orders, DAY, out, tmp_path / "state.sqlite3", "test"), policy
    )
    summary["diffs"] = [json.loads(x) for x in (out / "differences.jsonl").read_text().splitlines()]
    summary["rejected"] = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    return summary


@pytest.mark.parametrize("provider", list(STATEMENTS))
@pytest.mark.parametrize("orders", ["orders-2024-05-01.jsonl", "orders-2024-05-01.csv"])
def test_each_layout_gives_the_same_differences(tmp_path: Path, provider: str, orders: str) -> None:
    summary = run(tmp_path, provider, STATEMENTS[provider], FIXTURES / orders)
    final = {(d["order_id"], d["class"]) for d in summary["diffs"] if d["state"] == "final"}
    assert final == EXPECTED
    assert [(d["order_id"], d["held_until"]) for d in summary["diffs"] if d["state"] == "transient"] == [
        ("O1005", "2024-05-02")
    ]
    assert summary["statement"]["complete"] and summary["statement"]["rows"] == 8
    assert summary["matched"] == {"count": 5, "ours": "205.00", "theirs": "210.00"}


def test_bad_order_rows_are_rejected_with_their_reason(tmp_path: Path) -> None:
    summary = run(tmp_path, "wechat", STATEMENTS["wechat"], FIXTURES / "orders-2024-05-01.jsonl")
    assert [(r["line"], r["reason"]) for r in summary["rejected"]] == [(9, "bad_amount"), (10, "bad_json")]
    assert summary["rejects"] == {"orders": {"bad_amount": 1, "bad_json": 1}}


def test_the_finance_csv_has_a_bom_and_one_row_per_difference(tmp_path: Path) -> None:
    summary = run(tmp_path, "alipay", STATEMENTS["alipay"], FIXTURES / "orders-2024-05-01.jsonl")
    data = (tmp_path / "out" / "differences.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert len(data.decode("utf-8-sig").splitlines()) == 1 + len(summary["diffs"])


def test_fee_rate_finds_fees_off_the_rate(tmp_path: Path) -> None:
    policy = Policy(fee_rates={"alipay": "0.004"})  # the bill charges 0.6%
    summary = run(tmp_path, "alipay", STATEMENTS["alipay"], FIXTURES / "orders-2024-05-01.jsonl", policy)
    assert summary["differences"]["fee_mismatch"]["count"] >= 4


def _hostile_orders(tmp_path: Path) -> Path:
    good = (
        '{"order_id":"O%d","merchant_id":"M","channel":"c","amount":"%s","currency":"%s","status":"paid",'
        '"created_at":"2024-05-01T10:00:00+08:00","paid_at":"2024-05-01T10:00:01+08:00"}'
    )
    lines = [
        (good % (1, "1.00", "CNY"))
        .replace('"M"', '"商户甲"')
        .encode(),  # UTF-8, so the GBK line is the odd one
        (good % (2, "-5", "CNY")).encode(),
        (good % (3, "0.001", "CNY")).encode(),
        (good % (4, "NaN", "CNY")).encode(),
        (good % (5, "1.00", "RMB")).encode(),
        "订单".encode("gbk"),
        b"[1, 2]",
        b'{"order_id": "O6"}',
        (good % (7, "1.00", "CNY")).encode()[:40],
    ]
    path = tmp_path / "orders.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_hostile_order_rows_become_rejects_not_crashes(tmp_path: Path) -> None:
    summary = run(tmp_path, "wechat", STATEMENTS["wechat"], _hostile_orders(tmp_path))
    reasons = [r["reason"] for r in summary["rejected"]]
    assert reasons == [
        "bad_amount",
        "bad_amount",
        "bad_amount",
        "bad_currency",
        "bad_encoding",
        "not_object",
        "missing_field",
        "bad_json",
    ]
    assert summary["orders"]["rows"] == 9


def test_a_gbk_line_in_a_utf8_bill_and_a_bad_amount_are_rejects(tmp_path: Path) -> None:
    lines = STATEMENTS["wechat"].read_bytes().split(b"\r\n")
    lines[2] = lines[2].replace(b"`55.00", b"`5x.00")
    lines[5] = lines[5].replace(b"`10.00", b"`-10.00")
    lines[3] = "`2024-05-01 11:02:45,`坏行".encode("gbk")
    bill = tmp_path / "bill.csv"
    bill.write_bytes(b"\r\n".join(lines))
    summary = run(tmp_path, "wechat", bill, FIXTURES / "orders-2024-05-01.jsonl")
    statement = [(r["line"], r["reason"]) for r in summary["rejected"] if r["source"] == "statement"]
    assert statement == [(3, "bad_amount"), (4, "bad_encoding"), (6, "bad_amount")]
    assert summary["statement"]["complete"]  # the summary still counts 8 rows


@pytest.mark.parametrize("provider", ["wechat", "alipay"])
def test_a_bill_cut_short_is_read_and_flagged_incomplete(tmp_path: Path, provider: str) -> None:
    data = STATEMENTS[provider].read_bytes()
    bill = tmp_path / "cut.csv"
    bill.write_bytes(data[: len(data) * 2 // 3])  # ends mid-row, no footer
    summary = run(tmp_path, provider, bill, FIXTURES / "orders-2024-05-01.jsonl")
    assert not summary["statement"]["complete"]
    reasons = {r["reason"] for r in summary["rejected"] if r["source"] == "statement"}
    assert "truncated" in reasons


@pytest.mark.parametrize(
    ("provider", "statement", "message"),
    [
        (
            "wechat",
            "alipay-detail-2024-05-01.csv",
            "not a WeChat Pay trade bill (交易账单): expected a header row",
        ),
        ("alipay", "wechat-tradebill-2024-05-01.csv", "not a Alipay business detail"),
        ("generic", "wechat-tradebill-2024-05-01.csv", "its header has no column for order_id (order_id)"),
        ("wechat", "nope.csv", "no such file; expected a WeChat Pay trade bill"),
    ],
)
def test_a_wrong_or_missing_statement_is_one_error_naming_the_file(
    tmp_path: Path, provider: str, statement: str, message: str
) -> None:
    with pytest.raises(InputFileError, match=re.escape(message)) as err:
        run(tmp_path, provider, FIXTURES / statement, FIXTURES / "orders-2024-05-01.jsonl", Policy())
    assert str(err.value).startswith(str(FIXTURES / statement))
    assert not (tmp_path / "state.sqlite3").exists()  # nothing was changed


def test_a_binary_file_is_not_an_order_export(tmp_path: Path) -> None:
    orders = tmp_path / "orders.zip"
    orders.write_bytes(b"PK\x03\x04\x00\x00\x00")
    with pytest.raises(InputFileError, match="not UTF-8 or GBK text; expected an order export"):
        run(tmp_path, "wechat", STATEMENTS["wechat"], orders)


def test_a_refund_of_an_order_missing_from_the_export_is_a_refund_mismatch(tmp_path: Path) -> None:
    bill = tmp_path / "acquirer.csv"
    refund = "UP0100R,O0100,REFUND,350,CNY,0.00,2024-05-01T17:00:00+08:00\n"
    bill.write_text(STATEMENTS["generic"].read_text() + refund)
    summary = run(tmp_path, "generic", bill, FIXTURES / "orders-2024-05-01.jsonl")
    found = {(d["order_id"], d["class"]) for d in summary["diffs"] if d["state"] == "final"}
    assert found == EXPECTED | {("O0100", "refund_mismatch")}
    (orphan,) = [d for d in summary["diffs"] if d["order_id"] == "O0100"]
    assert orphan["ours"] is None and orphan["provider_txn_id"] == "UP0100R"
    assert orphan["theirs"]["refunded"] == "3.50" and orphan["amount_delta"] == "3.50"
    assert orphan["theirs"]["reason"] == "refund of an order that is not in this day's order export"
    assert orphan["ticket_id"] is not None
    assert summary["provider_totals"]["refunds_without_order"] == 1
