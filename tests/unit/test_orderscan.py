"""The order export's fast lane in DuckDB reads every line exactly as the Python reader does: the
same normalised rows and the same rejects, whichever lines it takes and whichever it leaves."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from reconciliation.orders import read_orders
from reconciliation.orderscan import SCANNED, scan_orders
from reconciliation.rejects import RejectLog
from tests.fixtures.scanned import scanned_rows

ORDER = (
    '{"order_id": "%s", "merchant_id": "M01", "channel": "wechat_jsapi", "amount": %s, "currency": "%s",'
    ' "status": "%s", "created_at": "%s", "paid_at": "%s", "provider_txn_id": "T1"%s}'
)


def order(
    oid: str,
    amount: str = '"12.30"',
    currency: str = "CNY",
    status: str = "paid",
    created: str = "2024-05-01T10:00:00+08:00",
    paid: str = "2024-05-01T10:00:05+08:00",
    extra: str = "",
) -> str:
    return ORDER % (oid, amount, currency, status, created, paid, extra)


LINES = [
    order("A1"),  # plain: the fast lane
    order("A2", created="2024-05-01 10:00:00", paid="2024-05-01T02:00:05Z"),  # local time, UTC
    order("A3", amount="12.3"),  # a JSON number
    order("A4", currency="cny"),  # lower case
    order("A5", amount='"12.345"'),  # more decimals than CNY has
    order("A6", amount='"0.00"'),  # not positive
    order("A7", paid="2024-05-01T10:00:05.250+08:00"),  # a fraction of a second
    order("A8", created="2024-02-30T10:00:00+08:00"),  # no such day
    order("A9", status="refunded", extra=', "refund_amount": "20.00"'),  # refund above the amount
    order("B1", status="refunded", extra=', "refund_amount": "2.5"'),
    order("B2", status="paid", paid=""),  # paid without paid_at
    order("B3", status="created", paid=""),
    order("B4", extra=', "order_id": "B4-again"'),  # a repeated key: the last one counts
    order("B5\\u00e9"),  # an escape
    order(" B6 "),  # padded
    order("商户"),  # not ASCII
    order("B7", extra=', "note": null'),
    order("B8", amount='"1,299.00"'),
    order("B9", created="1999-12-31T23:59:59+08:00"),
    order("C1", amount='"5."', currency="JPY"),
    order("C5", amount='"12"'),  # no decimals
    order("C6", amount='"1.250"', currency="KWD", extra=', "refund_amount": "0.5"'),  # three decimals
    "",
    "   \t",
    "[1, 2]",
    '{"order_id": "C2", "amount": NaN}',
    "{bad json",
    order("C3") + "\r",
    order("C4", paid="2024-05-01T10:00:05+23:59"),
]


def _read(tmp_path: Path, *, fast: bool, zone: str = "Asia/Shanghai") -> tuple[list[list[str]], bytes]:
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join(LINES) + "\n")
    work = tmp_path / ("fast" if fast else "slow")
    work.mkdir()
    out, rejected = io.StringIO(), io.BytesIO()
    rejects = RejectLog(rejected)
    count = scan_orders(path, zone, work, out, rejects) if fast else read_orders(path, zone, out, rejects)
    assert count == len([x for x in LINES if x.strip()])
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    if fast:
        rows += scanned_rows(work / SCANNED)
    return sorted(rows, key=lambda row: int(row[0])), rejected.getvalue()


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin"])
def test_the_fast_lane_reads_each_line_as_the_python_reader(tmp_path: Path, zone: str) -> None:
    slow_rows, slow_rejects = _read(tmp_path, fast=False, zone=zone)
    fast_rows, fast_rejects = _read(tmp_path, fast=True, zone=zone)
    assert fast_rows == slow_rows
    assert fast_rejects == slow_rejects
    assert len(slow_rows) == 18 and slow_rejects.count(b"\n") == 9


def test_the_fast_lane_takes_the_plain_lines(tmp_path: Path) -> None:
    _read(tmp_path, fast=True)
    scanned = [row[1] for row in scanned_rows(tmp_path / "fast" / SCANNED)]
    assert sorted(scanned) == ["A1", "A2", "B1", "B3", "B7", "C1", "C3", "C4", "C5", "C6"]


def test_a_file_duckdb_would_split_otherwise_is_left_to_python(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    path.write_bytes(order("A1").encode() + b"\n" + "订单".encode("gbk") + b"\n")
    assert scan_orders(path, "Asia/Shanghai", tmp_path, io.StringIO(), RejectLog(io.BytesIO())) is None
    path.write_bytes(b"\xef\xbb\xbf" + order("A1").encode() + b"\n")
    assert scan_orders(path, "Asia/Shanghai", tmp_path, io.StringIO(), RejectLog(io.BytesIO())) is None
