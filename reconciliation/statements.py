"""Provider statements in their published layouts, read into one row shape.

* ``wechat``: WeChat Pay's trade bill (交易账单, ``/v3/bill/tradebill``). A header row starting
  ``交易时间,公众账号ID,商户号``, detail rows whose every cell starts with a backtick, then a summary
  header ``总交易单数,应结订单总金额,...`` and one summary row. ``交易状态`` SUCCESS is a payment,
  REFUND a refund (its amount is ``退款金额``); fees (``手续费``) have five decimals.
* ``alipay``: Alipay's business detail (业务明细) CSV, GBK. ``#支付宝业务明细查询``, ``#账号：[...]``
  and date lines, a header row starting ``支付宝交易号,商户订单号,业务类型``, detail rows whose cells
  end in a tab, ``#-----业务明细列表结束-----``, then ``#交易合计：N笔...`` summary lines. ``业务类型``
  交易 is a payment, 退款 a refund (negative amounts); the fee is ``服务费（元）``.
* ``generic``: any CSV with a header, its columns named in ``[reconciliation.generic]``.

Each row becomes ``(line, order_id, provider_txn_id, kind, amount_minor, currency, fee, at_ms)``
in a plain CSV the batch join reads; a row that cannot be read becomes a reject. A file whose
footer is missing, or whose summary counts another number of rows, is read all the same and
flagged: a ``truncated`` or ``summary_mismatch`` reject and ``complete: false`` in the summary.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final
from zoneinfo import ZoneInfo

from kernel.errors import InputFileError
from kernel.reconciliation import GenericColumns, Policy
from reconciliation.fields import (
    RowError,
    clean,
    parse_amount,
    parse_currency,
    parse_fee,
    parse_id,
    parse_time,
    split_cells,
)
from reconciliation.rejects import RejectLog
from reconciliation.textfile import Line, open_lines

__all__ = [
    "STATEMENT_COLUMNS",
    "Layout",
    "StatementInfo",
    "check_footer",
    "find_header",
    "layout_for",
    "read_statement",
    "write_detail",
]

#: The columns of the normalised statement CSV, in order.
STATEMENT_COLUMNS: Final = (
    "line",
    "order_id",
    "provider_txn_id",
    "kind",
    "amount",
    "currency",
    "fee",
    "at_ms",
)
_PREAMBLE_LINES: Final = 20  # a header further down than this is not the layout asked for
_ALIPAY_TOTALS: Final = re.compile(r"#(?:交易|退款)合计：(\d+)笔")


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a provider's statement keeps each field, and how its detail block starts and ends."""

    provider: str
    title: str  # named in messages: "not a WeChat Pay trade bill (交易账单)"
    header_start: str  # the first cell of the header row
    columns: Mapping[str, tuple[str, ...]]  # our field -> header names it may have, first found wins
    payment_values: frozenset[str]
    refund_values: frozenset[str]
    refund_amount: tuple[str, ...] = ()  # where a refund row keeps its amount, if not in "amount"
    currency: str = "CNY"  # for a layout without a currency column
    minor_units: bool = False
    delimiter: str = ","
    footer_start: str = ""  # how the line after the detail rows starts; "" for a file without one
    footer_padded: bool = False  # whether that line's cells are padded like the detail rows'
    expected_rows: Callable[[list[str]], int | None] | None = None  # from the footer; None: no footer

    def ends_detail(self, text: str) -> bool:
        """Whether ``text`` is the line that ends the detail rows (the footer's first line)."""
        return bool(self.footer_start) and (clean(text) if self.footer_padded else text).startswith(
            self.footer_start
        )

    def needs(self) -> tuple[str, ...]:
        """Fields every statement of this layout must have a column for."""
        return ("order_id", "provider_txn_id", "kind", "amount", "time")


def _wechat_rows(footer: list[str]) -> int | None:
    """Detail rows a WeChat Pay bill says it holds: the first cell of its summary row."""
    if not footer or not clean(footer[0].split(",")[0]).startswith("总交易单数"):
        return None
    values = footer[1].split(",") if len(footer) > 1 else []
    count = clean(values[0]) if values else ""
    return int(count) if count.isdigit() else None


def _alipay_rows(footer: list[str]) -> int | None:
    """Detail rows an Alipay file says it holds: its trade and refund totals (交易合计, 退款合计)."""
    counts = [int(m.group(1)) for text in footer if (m := _ALIPAY_TOTALS.match(text))]
    return sum(counts) if counts else None


WECHAT: Final = Layout(
    provider="wechat",
    title="WeChat Pay trade bill (交易账单)",
    header_start="交易时间",
    columns={
        "order_id": ("商户订单号",),
        "provider_txn_id": ("微信订单号",),
        "kind": ("交易状态",),
        "amount": ("订单金额", "总金额", "应结订单金额"),
        "currency": ("货币种类",),
        "fee": ("手续费",),
        "time": ("交易时间",),
    },
    payment_values=frozenset({"SUCCESS"}),
    refund_values=frozenset({"REFUND"}),
    refund_amount=("退款金额", "申请退款金额"),
    footer_start="总交易单数",
    footer_padded=True,
    expected_rows=_wechat_rows,
)

ALIPAY: Final = Layout(
    provider="alipay",
    title="Alipay business detail (业务明细) CSV",
    header_start="支付宝交易号",
    columns={
        "order_id": ("商户订单号",),
        "provider_txn_id": ("支付宝交易号",),
        "kind": ("业务类型",),
        "amount": ("订单金额（元）", "订单金额(元)"),
        "fee": ("服务费（元）", "服务费(元)", "手续费（元）"),
        "time": ("完成时间",),
    },
    payment_values=frozenset({"交易"}),
    refund_values=frozenset({"退款"}),
    footer_start="#",
    expected_rows=_alipay_rows,
)


def layout_for(provider: str, generic: GenericColumns) -> Layout:
    """The layout of ``provider``'s statements; ``generic`` maps the columns of a generic CSV."""
    if provider == "wechat":
        return WECHAT
    if provider == "alipay":
        return ALIPAY
    columns = {
        "order_id": generic.order_id,
        "provider_txn_id": generic.provider_txn_id,
        "kind": generic.kind,
        "amount": generic.amount,
        "currency": generic.currency,
        "fee": generic.fee,
        "time": generic.time,
    }
    return Layout(
        provider="generic",
        title="statement CSV with the columns of [reconciliation.generic]",
        header_start="",
        columns={name: (header,) for name, header in columns.items() if header},
        payment_values=frozenset(generic.payment_values),
        refund_values=frozenset(generic.refund_values),
        minor_units=generic.amount_unit == "minor",
        delimiter=generic.delimiter,
    )


@dataclass(slots=True)
class StatementInfo:
    """What was read from a statement, for summary.json."""

    layout: str
    rows: int = 0  # detail rows, rejected ones included
    payments: int = 0
    refunds: int = 0
    other: int = 0  # rows of other kinds (WeChat's REVOKED, ...): read, not matched
    expected_rows: int | None = None
    complete: bool = True
    header: list[str] = field(default_factory=list)


def read_statement(
    path: Path, layout: Layout, policy: Policy, out: IO[str], rejects: RejectLog
) -> StatementInfo:
    """Write ``path``'s detail rows to ``out`` as normalised CSV; rejects go to ``rejects``.

    Raises :class:`InputFileError` when the file is missing, unreadable or has no header row of
    ``layout`` (a bill of another provider, an order export passed by mistake).
    """
    what = f"a {layout.title}"
    lines = open_lines(path, what)
    info = StatementInfo(layout.title)
    index, _ = find_header(path, lines, layout, what, info)
    footer = write_detail(path, layout, index, ZoneInfo(policy.time_zone), lines, info, out, rejects)
    check_footer(path, layout, footer, info, rejects)
    return info


def write_detail(
    path: Path,
    layout: Layout,
    index: Mapping[str, int],
    zone: ZoneInfo,
    lines: Iterator[Line],
    info: StatementInfo,
    out: IO[str],
    rejects: RejectLog,
) -> list[str]:
    """Write detail ``lines`` to ``out`` as normalised CSV, counting them in ``info``; the footer lines."""
    writer = csv.writer(out, lineterminator="\n")
    footer: list[str] = []
    for line in lines:
        if line.text is None:
            rejects.add(
                "statement", path, line.number, "bad_encoding", "line is not in the file's encoding", line.raw
            )
            info.rows += 1
            continue
        if not line.text.strip():
            continue
        if layout.ends_detail(line.text):
            footer = [line.text, *(rest.text or "" for _, rest in zip(range(10), lines, strict=False))]
            break
        info.rows += 1
        try:
            cells = split_cells(line.text, layout.delimiter)
            if len(cells) < len(info.header):
                raise RowError("bad_columns", f"{len(cells)} cells where the header has {len(info.header)}")
            row = _row(cells, index, layout, zone)
        except RowError as err:
            rejects.add("statement", path, line.number, err.reason, err.detail, line.text)
            continue
        except csv.Error as err:
            rejects.add("statement", path, line.number, "bad_columns", str(err), line.text)
            continue
        if row is None:
            info.other += 1
            continue
        info.payments += row[2] == "payment"
        info.refunds += row[2] == "refund"
        writer.writerow((line.number, *row))
    return footer


def find_header(
    path: Path, lines: Iterator[Line], layout: Layout, what: str, info: StatementInfo
) -> tuple[dict[str, int], int]:
    """Read up to the header row: the column index of each field we use, and the row's line number."""
    first = None
    for _, line in zip(range(_PREAMBLE_LINES), lines, strict=False):
        text = (line.text or "").strip()
        if first is None and text:
            first = text
        if not text or text.startswith("#"):
            continue
        cells = [clean(cell) for cell in split_cells(text, layout.delimiter)]
        if layout.header_start and cells[0] != layout.header_start:
            continue
        missing = [
            f"{name} ({' or '.join(layout.columns.get(name, ('unset',)))})"
            for name in layout.needs()
            if not any(header in cells for header in layout.columns.get(name, ()))
        ]
        if missing:
            raise InputFileError(path, f"not {what}: its header has no column for {', '.join(missing)}")
        info.header = cells
        index = {}
        for name, headers in (*layout.columns.items(), ("refund_amount", layout.refund_amount)):
            found = [cells.index(h) for h in headers if h in cells]
            if found:
                index[name] = found[0]
        return index, line.number
    if first is None:
        raise InputFileError(path, f"the file is empty; expected {what}")
    start = f"a header row starting {layout.header_start}" if layout.header_start else "a header row"
    raise InputFileError(path, f"not {what}: expected {start} (the file starts {first[:60]!r})")


def _row(
    cells: list[str], index: Mapping[str, int], layout: Layout, zone: ZoneInfo
) -> tuple[object, ...] | None:
    """One detail row as normalised values; None for a row of a kind we do not match."""
    cell = {name: clean(cells[i]) for name, i in index.items()}
    kind_value = cell["kind"]
    if kind_value in layout.payment_values:
        kind = "payment"
    elif kind_value in layout.refund_values:
        kind = "refund"
    else:
        return None
    order_id = parse_id(cell["order_id"], "order_id")
    txn = parse_id(cell["provider_txn_id"], "provider_txn_id")
    currency = parse_currency(cell["currency"]) if "currency" in cell else layout.currency
    amount_field = "refund_amount" if kind == "refund" and "refund_amount" in cell else "amount"
    amount = parse_amount(cell[amount_field], currency, amount_field, minor=layout.minor_units)
    if kind == "payment" and amount <= 0:
        raise RowError("bad_amount", f"a payment of {cell[amount_field]!r}: payments are positive")
    amount = abs(amount)  # Alipay books refunds as negative amounts
    fee = parse_fee(cell.get("fee", ""))
    at_ms = parse_time(cell["time"], zone, "time")
    return order_id, txn, kind, amount, currency, str(fee), at_ms


def check_footer(
    path: Path, layout: Layout, footer: list[str], info: StatementInfo, rejects: RejectLog
) -> None:
    """Flag a statement cut short (no footer) or whose footer counts other rows."""
    if layout.expected_rows is None:
        return
    info.expected_rows = layout.expected_rows(footer)
    if info.expected_rows is None:
        info.complete = False
        rejects.add(
            "statement",
            path,
            0,
            "truncated",
            f"no summary after the detail rows of the {layout.title}; the file may be cut short",
            "",
        )
    elif info.expected_rows != info.rows:
        info.complete = False
        rejects.add(
            "statement",
            path,
            0,
            "summary_mismatch",
            f"the summary counts {info.expected_rows} rows, the file has {info.rows}",
            "",
        )
