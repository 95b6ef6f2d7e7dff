"""A statement's fast lane in DuckDB reads every detail row as the Python reader does: the same
normalised rows, the same rejects and the same footer check, whichever rows it leaves to Python."""

from __future__ import annotations

import csv
import io
import tomllib
from pathlib import Path

import pytest

from kernel.reconciliation import Policy
from reconciliation.rejects import RejectLog
from reconciliation.statements import layout_for, read_statement
from reconciliation.statementscan import SCANNED, scan_statement
from tests.fixtures.scanned import scanned_rows

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reconciliation"
ACQUIRER = Policy(**tomllib.loads((FIXTURES / "acquirer.toml").read_text())["reconciliation"])
WECHAT_ROW = (
    "`{at},`wx2421b1c4370ec43b,`1900000109,`0,`,`{txn},`{order},`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,"
    "`{kind},`CMB_DEBIT,`CNY,`{amount},`0.00,`0,`0,`{refund},`0.00,`,`,`会员月卡,`,`{fee},`0.60%,`{amount},`0.00,`"
)


def wechat(
    order: str,
    amount: str = "10.00",
    kind: str = "SUCCESS",
    fee: str = "0.06000",
    at: str = "2024-05-01 10:00:00",
    refund: str = "0.00",
) -> str:
    return WECHAT_ROW.format(
        at=at, txn=f"42{order}", order=order, kind=kind, amount=amount, fee=fee, refund=refund
    )


def _tricky_wechat(tmp_path: Path) -> Path:
    """The WeChat Pay sample with rows each reader might take differently, and a wrong footer."""
    lines = (FIXTURES / "wechat-tradebill-2024-05-01.csv").read_bytes().decode().split("\r\n")
    footer = next(i for i, text in enumerate(lines) if text.startswith("总交易单数"))
    lines[footer:footer] = [
        wechat("P1"),
        wechat("P2", kind="REVOKED"),  # read, not matched
        wechat("P3", amount="-5.00"),  # a negative payment
        wechat("P4", amount="5.001"),  # more decimals than CNY has
        wechat("P5", kind="REFUND", amount="0.00", refund="3.50", fee="-0.02100"),
        wechat("P6", fee="0.0000001"),  # a fee finer than six decimals
        wechat("P7", at="2024-05-01T10:00:00.5"),  # a fraction of a second
        wechat("P8").replace("会员月卡", '"会员,月卡"'),  # a comma in quotes after the padding: one cell more
        "",
        wechat("P9")[:60],  # cut short
        wechat("Q1", at="2024-02-30 10:00:00"),
        wechat("订单"),  # not ASCII
        wechat("Q2").replace("`Q2", "`\ufeffQ2\ufeff"),  # padding the fast lane leaves to Python
        wechat("Q3", kind="\ufeffSUCCESS"),
        wechat("Q4", amount="12"),  # no decimals
        wechat("Q5", amount="12."),  # a point without decimals
    ]
    path = tmp_path / "wechat.csv"
    path.write_bytes("\r\n".join(lines).encode())
    return path


def _read(path: Path, provider: str, policy: Policy, work: Path, *, fast: bool) -> tuple[list, bytes, object]:
    work.mkdir()
    out, rejected = io.StringIO(), io.BytesIO()
    layout = layout_for(provider, policy.generic)
    if fast:
        info = scan_statement(path, layout, policy, work, out, RejectLog(rejected))
    else:
        info = read_statement(path, layout, policy, out, RejectLog(rejected))
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    if fast:
        rows += scanned_rows(work / SCANNED)
    rows = [[*row[:6], str(float(row[6])), row[7]] for row in rows]  # the join reads the fee as a number
    return sorted(rows, key=lambda row: int(row[0])), rejected.getvalue(), info


@pytest.mark.parametrize(
    ("provider", "policy", "name"),
    [("wechat", Policy(), None), ("generic", ACQUIRER, "acquirer-2024-05-01.csv")],
)
def test_the_fast_lane_reads_each_row_as_the_python_reader(
    tmp_path: Path, provider: str, policy: Policy, name: str | None
) -> None:
    path = _tricky_wechat(tmp_path) if name is None else FIXTURES / name
    slow = _read(path, provider, policy, tmp_path / "slow", fast=False)
    fast = _read(path, provider, policy, tmp_path / "fast", fast=True)
    assert fast == slow
    assert len(scanned_rows(tmp_path / "fast" / SCANNED)) > 2


def test_the_tricky_rows_are_rejects_or_kept_as_before(tmp_path: Path) -> None:
    rows, rejected, info = _read(_tricky_wechat(tmp_path), "wechat", Policy(), tmp_path / "fast", fast=True)
    orders = [row[1] for row in rows]
    assert {"P1", "P5", "P6", "P7", "订单"} <= set(orders) and "P2" not in orders
    reasons = [line.split(b'"reason":"')[1].split(b'"')[0].decode() for line in rejected.splitlines()]
    assert reasons == ["bad_amount"] * 3 + ["bad_columns", "bad_timestamp", "summary_mismatch"]
    assert info.other == 1
