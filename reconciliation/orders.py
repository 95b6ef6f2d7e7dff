"""Our side of a day: the order export, JSON Lines or CSV, read into one row shape.

One row per order: ``order_id``, ``merchant_id``, ``channel``, ``amount``, ``currency``, ``status``
(created | paid | failed | closed | refunded), ``created_at``, and optionally ``paid_at``,
``provider_txn_id`` and ``refund_amount``. Amounts are decimal strings or numbers in the major unit;
times are ISO 8601, local time in the policy's zone when they carry no offset. A row that cannot be
read becomes a reject (``bad_json``, ``missing_field``, ``bad_amount``, ...) and the run goes on.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from itertools import chain
from pathlib import Path
from typing import IO, Any, Final
from zoneinfo import ZoneInfo

import msgspec

from kernel.errors import InputFileError
from reconciliation.fields import RowError, parse_amount, parse_currency, parse_id, parse_time, split_cells
from reconciliation.rejects import RejectLog
from reconciliation.textfile import Line, open_lines

__all__ = [
    "ORDER_COLUMNS",
    "ORDER_FIELDS",
    "ORDER_STATUSES",
    "PAID_STATUSES",
    "read_orders",
    "write_json_orders",
]

#: Fields of an order row, as the export names them.
ORDER_FIELDS: Final = (
    "order_id",
    "merchant_id",
    "channel",
    "amount",
    "currency",
    "status",
    "created_at",
    "paid_at",
    "provider_txn_id",
    "refund_amount",
)
ORDER_STATUSES: Final = ("created", "paid", "failed", "closed", "refunded")
#: Statuses that mean the payer's money reached us (a refunded order was paid first).
PAID_STATUSES: Final = ("paid", "refunded")
#: The columns of the normalised order CSV, in order.
ORDER_COLUMNS: Final = (
    "line",
    "order_id",
    "merchant_id",
    "channel",
    "amount",
    "currency",
    "status",
    "created_ms",
    "paid_ms",
    "provider_txn_id",
    "refund",
)
_WHAT: Final = "an order export: JSON Lines or CSV with order_id, amount, currency, status, created_at, ..."
_DECODE: Final = msgspec.json.Decoder(float_hook=Decimal).decode


def read_orders(path: Path, time_zone: str, out: IO[str], rejects: RejectLog) -> int:
    """Write ``path``'s orders to ``out`` as normalised CSV; return the rows read (rejects included)."""
    lines = open_lines(path, _WHAT)
    return _write(path, _records(path, lines, rejects), ZoneInfo(time_zone), out, rejects)


def write_json_orders(
    path: Path, lines: Iterable[Line], zone: ZoneInfo, out: IO[str], rejects: RejectLog
) -> int:
    """Write non-blank JSON ``lines`` of ``path`` to ``out`` as normalised CSV; return how many were read."""
    return _write(path, _json_records(path, lines, rejects), zone, out, rejects)


def _write(
    path: Path,
    records: Iterable[tuple[int, Mapping[str, Any] | None]],
    zone: ZoneInfo,
    out: IO[str],
    rejects: RejectLog,
) -> int:
    writer = csv.writer(out, lineterminator="\n")
    count = 0
    for number, record in records:
        count += 1
        if record is None:
            continue
        try:
            writer.writerow((number, *_order(record, zone)))
        except RowError as err:
            rejects.add("orders", path, number, err.reason, err.detail, _raw(record))
    return count


def _records(
    path: Path, lines: Iterator[Line], rejects: RejectLog
) -> Iterator[tuple[int, Mapping[str, Any] | None]]:
    """(line number, fields) per row; None after a row already rejected for its shape."""
    first = next((line for line in lines if line.raw.strip()), None)
    if first is None:  # a day without orders
        return
    if first.raw.lstrip().startswith(b"{"):
        yield from _json_records(path, (line for line in chain([first], lines) if line.raw.strip()), rejects)
        return
    header = split_cells(first.text or "")
    if "order_id" not in header or "amount" not in header:
        raise InputFileError(path, f"not {_WHAT} (its first line is {(first.text or '')[:60]!r})")
    for line in lines:
        if not line.raw.strip():
            continue
        if line.text is None:
            rejects.add(
                "orders", path, line.number, "bad_encoding", "line is not in the file's encoding", line.raw
            )
            yield line.number, None
            continue
        cells = split_cells(line.text)
        if len(cells) != len(header):
            rejects.add(
                "orders",
                path,
                line.number,
                "bad_columns",
                f"{len(cells)} cells where the header has {len(header)}",
                line.text,
            )
            yield line.number, None
            continue
        yield line.number, dict(zip(header, cells, strict=True))


def _json_records(
    path: Path, lines: Iterable[Line], rejects: RejectLog
) -> Iterator[tuple[int, Mapping[str, Any] | None]]:
    for line in lines:
        yield line.number, _json_record(path, line, rejects)


def _json_record(path: Path, line: Line, rejects: RejectLog) -> Mapping[str, Any] | None:
    try:
        record = _DECODE(line.raw)
    except msgspec.DecodeError as err:
        reason = "bad_encoding" if line.text is None else "bad_json"
        rejects.add("orders", path, line.number, reason, str(err), line.raw)
        return None
    if not isinstance(record, dict):
        rejects.add("orders", path, line.number, "not_object", "a line must be one JSON object", line.raw)
        return None
    return record


def _text(record: Mapping[str, Any], name: str) -> str:
    value = record.get(name)
    if type(value) is str:  # the common case first: this runs ten times a row
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise RowError(
            "missing_field" if value == "" else "bad_amount" if "amount" in name else "bad_id",
            f"{name} is a {type(value).__name__}, not text",
        )
    return str(value).strip()


def _order(record: Mapping[str, Any], zone: ZoneInfo) -> tuple[object, ...]:
    """One order as normalised values, or RowError naming the first bad field."""
    order_id = parse_id(_text(record, "order_id"), "order_id")
    merchant = parse_id(_text(record, "merchant_id"), "merchant_id")
    channel = parse_id(_text(record, "channel"), "channel")
    currency = parse_currency(_text(record, "currency") or "")
    amount = parse_amount(_text(record, "amount"), currency)
    if amount <= 0:
        raise RowError("bad_amount", f"amount {record.get('amount')!r} is not positive")
    status = _text(record, "status")
    if status not in ORDER_STATUSES:
        raise RowError("bad_status", f"status {status!r} is not one of {', '.join(ORDER_STATUSES)}")
    created = parse_time(_text(record, "created_at"), zone, "created_at")
    paid_text = _text(record, "paid_at")
    if status in PAID_STATUSES and not paid_text:
        raise RowError("missing_field", f"a {status} order needs paid_at")
    paid = parse_time(paid_text, zone, "paid_at") if paid_text else None
    txn = parse_id(_text(record, "provider_txn_id"), "provider_txn_id", required=False)
    refund_text = _text(record, "refund_amount")
    refund = parse_amount(refund_text, currency, "refund_amount") if refund_text else 0
    if not 0 <= refund <= amount:
        raise RowError("bad_amount", f"refund_amount {refund_text!r} is not between 0 and the amount")
    return order_id, merchant, channel, amount, currency, status, created, paid, txn, refund


def _raw(record: Mapping[str, Any]) -> str:
    return msgspec.json.encode({k: str(v) for k, v in record.items()}).decode()
