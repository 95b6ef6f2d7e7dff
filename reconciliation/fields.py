"""Reading one field of one row: money as integer minor units, times as epoch milliseconds.

Every parser raises :class:`RowError` with a reason from :data:`REASONS`; the caller turns it
into a reject line and goes on with the next row. Money never passes through a float: ``"0.1"``
is 10 fen exactly, and an amount with more decimals than its currency has is refused rather than
rounded, because a rounded amount would hide the very difference reconciliation looks for.
"""

from __future__ import annotations

import csv
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Final
from zoneinfo import ZoneInfo

from kernel.events import CURRENCY_DECIMALS

__all__ = [
    "PADDING",
    "REASONS",
    "RowError",
    "clean",
    "format_minor",
    "parse_amount",
    "parse_currency",
    "parse_fee",
    "parse_id",
    "parse_time",
    "split_cells",
]

#: Every reason a row can be rejected for; the set is closed so summaries can count by it.
REASONS: Final = (
    "bad_encoding",
    "bad_json",
    "not_object",
    "bad_columns",
    "missing_field",
    "bad_id",
    "bad_amount",
    "bad_currency",
    "bad_timestamp",
    "bad_status",
    "duplicate_order",
    "truncated",
    "summary_mismatch",
)
_AMOUNT: Final = re.compile(r"([+-]?)(\d{1,15})(?:\.(\d*))?")
_MAX_ID: Final = 64
#: Statement cells are padded so spreadsheets show them as text: WeChat Pay puts a backtick
#: before each value, Alipay a tab after it.
PADDING: Final = "`\t \ufeff"


class RowError(ValueError):
    """One field of one row is unusable; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def clean(cell: str) -> str:
    """A statement cell without its spreadsheet padding.

    >>> clean("`4200000925202101284997714292"), clean("2019091622001458860515315453\\t")
    ('4200000925202101284997714292', '2019091622001458860515315453')
    """
    return cell.strip(PADDING)


def split_cells(text: str, delimiter: str = ",") -> list[str]:
    """The cells of one CSV line. One line at a time, so a stray quote cannot swallow the rows after it.

    A line without a quote splits on the delimiter, as the csv module would, only faster; the
    published bills quote nothing, so that is nearly every line.

    >>> split_cells("`a,`b,"), split_cells('x,"1,299.00",y')
    (['`a', '`b', ''], ['x', '1,299.00', 'y'])
    """
    if '"' not in text:
        return text.split(delimiter)
    return next(csv.reader([text], delimiter=delimiter))


def parse_id(text: str, field: str, *, required: bool = True) -> str:
    """An identifier: at most 64 characters, no spaces or control characters.

    >>> parse_id("ORD-1", "order_id"), parse_id("", "provider_txn_id", required=False)
    ('ORD-1', '')
    >>> parse_id("a b", "order_id")
    Traceback (most recent call last):
    ...
    reconciliation.fields.RowError: bad_id: order_id 'a b' has spaces or control characters
    """
    if not text:
        if required:
            raise RowError("missing_field", f"{field} is empty")
        return text
    if len(text) > _MAX_ID:
        raise RowError("bad_id", f"{field} is longer than {_MAX_ID} characters")
    if not text.isprintable() or " " in text:
        raise RowError("bad_id", f"{field} {text!r} has spaces or control characters")
    return text


def parse_currency(text: str) -> str:
    """An ISO 4217 code, upper-cased.

    >>> parse_currency("cny")
    'CNY'
    >>> parse_currency("RMB")
    Traceback (most recent call last):
    ...
    reconciliation.fields.RowError: bad_currency: 'RMB' is not an ISO 4217 currency code
    """
    code = text.strip().upper()
    if code not in CURRENCY_DECIMALS:
        raise RowError("bad_currency", f"{text!r} is not an ISO 4217 currency code")
    return code


def parse_amount(text: str, currency: str, field: str = "amount", *, minor: bool = False) -> int:
    """An amount in ``currency``'s minor units (fen for CNY), sign kept.

    ``minor=True`` reads a count of minor units (``"1234"``), as some acquirers write them.

    >>> parse_amount("12.34", "CNY"), parse_amount("-0.01", "CNY"), parse_amount("1,299.02", "CNY")
    (1234, -1, 129902)
    >>> parse_amount("500", "JPY"), parse_amount("1234", "CNY", minor=True)
    (500, 1234)
    >>> parse_amount("0.015", "CNY")
    Traceback (most recent call last):
    ...
    reconciliation.fields.RowError: bad_amount: amount '0.015' has more decimals than CNY's 2
    >>> parse_amount("1e3", "CNY")
    Traceback (most recent call last):
    ...
    reconciliation.fields.RowError: bad_amount: amount '1e3' is not a decimal number
    """
    match = _AMOUNT.fullmatch(text.strip().replace(",", ""))
    if not match:
        what = "empty" if not text.strip() else "not a decimal number"
        raise RowError("missing_field" if not text.strip() else "bad_amount", f"{field} {text!r} is {what}")
    sign, whole, fraction = match.groups()
    decimals = 0 if minor else CURRENCY_DECIMALS[currency]
    fraction = fraction or ""
    if len(fraction.rstrip("0")) > decimals:
        raise RowError("bad_amount", f"{field} {text!r} has more decimals than {currency}'s {decimals}")
    value = int(whole) * 10**decimals + int((fraction[:decimals] or "0").ljust(decimals, "0"))
    return -value if sign == "-" else value


def parse_fee(text: str) -> Decimal:
    """A fee in the major unit, exact to the provider's precision (WeChat Pay bills 5 decimals).

    >>> parse_fee("0.00006"), parse_fee(""), parse_fee("-0.06")
    (Decimal('0.00006'), Decimal('0'), Decimal('0.06'))
    """
    if not text.strip():
        return Decimal(0)
    try:
        fee = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise RowError("bad_amount", f"fee {text!r} is not a decimal number") from None
    if not fee.is_finite() or abs(fee) >= 10**12:
        raise RowError("bad_amount", f"fee {text!r} is not a plausible fee")
    return abs(fee)  # Alipay books the service fee as a negative number


def parse_time(text: str, zone: ZoneInfo, field: str) -> int:
    """Epoch milliseconds of an ISO 8601 time; one without an offset is local time in ``zone``.

    >>> shanghai = ZoneInfo("Asia/Shanghai")
    >>> parse_time("2024-05-01 08:00:00", shanghai, "t") == parse_time("2024-05-01T00:00:00Z", shanghai, "t")
    True
    >>> parse_time("yesterday", shanghai, "paid_at")
    Traceback (most recent call last):
    ...
    reconciliation.fields.RowError: bad_timestamp: paid_at 'yesterday' is not an ISO 8601 time
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        what = "empty" if not text.strip() else "not an ISO 8601 time"
        raise RowError(
            "missing_field" if not text.strip() else "bad_timestamp", f"{field} {text!r} is {what}"
        ) from None
    if not 2000 <= moment.year < 2100:
        raise RowError("bad_timestamp", f"{field} {text!r} is outside 2000-2099")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return int(moment.timestamp() * 1000)


def format_minor(amount: int, currency: str) -> str:
    """Minor units as a major-unit decimal string, for people and finance files.

    >>> format_minor(1234, "CNY"), format_minor(-5, "CNY"), format_minor(500, "JPY")
    ('12.34', '-0.05', '500')
    """
    decimals = CURRENCY_DECIMALS.get(currency, 2)
    if not decimals:
        return str(amount)
    whole, part = divmod(abs(amount), 10**decimals)  # integers: a run formats ~100,000 amounts
    return f"{'-' if amount < 0 else ''}{whole}.{part:0{decimals}d}"
