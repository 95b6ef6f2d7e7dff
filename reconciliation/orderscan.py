"""The order export read by DuckDB: every plainly valid JSON line checked in SQL, the rest in Python.

Reading a million orders one Python object at a time is most of a run, so DuckDB reads the lines
and checks them in bulk. A line takes this fast lane only when it is a flat object of plain
strings (no escapes, no numbers, no repeated key) whose fields all pass checks *stricter* than
:func:`reconciliation.orders.read_orders`'s: ASCII identifiers, amounts with at most the
currency's decimals, times to the second with an offset (or in a zone with one fixed offset).
Every other line, the valid and the bad, goes through the Python reader, so rejects keep their
exact reasons and details and a line the SQL is unsure of is judged the same as before. A file
DuckDB cannot split into the same lines as Python (not UTF-8, a BOM, a NUL or \\x01 byte, a line
DuckDB refuses) is read by Python whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from kernel.events import CURRENCY_DECIMALS
from reconciliation.orders import (
    ORDER_COLUMNS,
    ORDER_FIELDS,
    ORDER_STATUSES,
    PAID_STATUSES,
    write_json_orders,
)
from reconciliation.rejects import RejectLog
from reconciliation.textfile import Line, sniff_encoding

if TYPE_CHECKING:
    import duckdb

__all__ = ["SCANNED", "scan_orders"]

#: The normalised CSV of the orders that passed in SQL, beside ``orders.csv`` in the work directory.
SCANNED: Final = "orders-scanned.csv"
#: DuckDB's memory while scanning; past it, it spills to the work directory.
_MEMORY_LIMIT: Final = "384MB"
_BATCH: Final = 10_000
_CHUNK: Final = 1 << 22
_STRING: Final = r'"[^"\\\x00-\x1f]*"'
_VALUE: Final = f"(?:{_STRING}|null)"
_PAIR: Final = rf'"[A-Za-z0-9_]+"[ \t]*:[ \t]*{_VALUE}[ \t]*'
#: A flat JSON object of plain strings and nulls: msgspec reads it, and its keys are found by regex.
_PLAIN_OBJECT: Final = rf"[ \t]*\{{[ \t]*{_PAIR}(?:,[ \t]*{_PAIR})*\}}[ \t]*"
_ID: Final = "[!#-\\[\\]-~]{1,64}"  # printable ASCII without space, quote or backslash
_AMOUNT: Final = "[0-9]{1,15}(\\.[0-9]*)?"
_TIME: Final = (
    "20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    "(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?"
)


def fixed_offset_ms(zone: ZoneInfo) -> int | None:
    """The zone's UTC offset in ms if it is the same all through 2000-2099, else None.

    >>> fixed_offset_ms(ZoneInfo("Asia/Shanghai")), fixed_offset_ms(ZoneInfo("Europe/Berlin"))
    (28800000, None)
    """
    offsets = {
        datetime(year, month, 1, tzinfo=zone).utcoffset() for year in range(2000, 2100) for month in (1, 7)
    }
    if len(offsets) != 1:
        return None
    (offset,) = offsets
    return None if offset is None else int(offset.total_seconds() * 1000)


def _line_count(path: Path) -> tuple[int, str] | None:
    """Python's count of lines in ``path`` and the line end to tell DuckDB, if it may split it alike.

    That is UTF-8 without a BOM, NUL or \\x01 byte. DuckDB's count of lines is checked against
    this one: told ``\\r\\n`` it also breaks lines at a lone carriage return, and told so for a
    file without any it lost a line of a million, so it is told only when the file has one.
    """
    try:
        handle = path.open("rb")
    except OSError:  # the Python reader names the problem
        return None
    with handle:
        if sniff_encoding(handle.read(_CHUNK)) != "utf-8":
            return None
        handle.seek(0)
        lines, last, returns = 0, b"", False
        while chunk := handle.read(_CHUNK):
            if b"\x00" in chunk or b"\x01" in chunk:
                return None
            lines += chunk.count(b"\n")
            returns = returns or b"\r" in chunk
            last = chunk[-1:]
    return None if not last else (lines + (last != b"\n"), "\\r\\n" if returns else "\\n")


def _ms(text: str, local_ms: int | None) -> str:
    """SQL for epoch ms of a checked ``_TIME`` text; NULL for a local time without a fixed offset."""
    local = "NULL" if local_ms is None else str(local_ms)
    offset = (
        f"CASE WHEN length({text}) = 19 THEN {local} WHEN right({text}, 1) = 'Z' THEN 0"
        f" ELSE (CASE WHEN substr({text}, 20, 1) = '-' THEN -1 ELSE 1 END)"
        f" * (substr({text}, 21, 2)::BIGINT * 60 + substr({text}, 24, 2)::BIGINT) * 60000 END"
    )
    return f"epoch_ms(try_cast(replace(substr({text}, 1, 19), 'T', ' ') AS TIMESTAMP)) - ({offset})"


def _minor(text: str) -> str:
    """SQL for a checked ``_AMOUNT`` text in minor units of the row's currency (``scale`` = 10^decimals)."""
    return (
        f"split_part({text}, '.', 1)::BIGINT * scale"
        f" + coalesce(try_cast(rpad(split_part({text}, '.', 2), decimals, '0') AS BIGINT), 0)"
    )


def _scan_sql(local_ms: int | None) -> str:
    """The query that checks every line and keeps the plainly valid ones, normalised."""
    schema = "{" + ", ".join(f'"{name}": "VARCHAR"' for name in ORDER_FIELDS) + "}"
    statuses = ", ".join(f"'{s}'" for s in ORDER_STATUSES)
    paid = ", ".join(f"'{s}'" for s in PAID_STATUSES)
    v = {name: f"coalesce(r.{name}, '')" for name in ORDER_FIELDS}
    decimals = "length(split_part({}, '.', 2)) <= decimals"
    # Each of our keys at most once (msgspec keeps the last of repeated keys, DuckDB the first). In
    # a plain object the text "key" with its quotes is that key or a value equal to it: a line
    # counted twice for a value is merely left to Python.
    once = " AND ".join(
        f"length(raw) - length(replace(raw, '\"{n}\"', '')) <= {len(n) + 2}" for n in ORDER_FIELDS
    )
    return f"""
CREATE TABLE normalised AS
WITH plain AS MATERIALIZED (
    SELECT rowid + 1 AS line, from_json(raw, '{schema}') AS r
    FROM lines WHERE regexp_full_match(raw, '{_PLAIN_OBJECT}') AND {once}
), typed AS MATERIALIZED (
    SELECT line, r, cur.decimals, cur.scale,
           {_ms(v["created_at"], local_ms)} AS created_ms,
           CASE WHEN {v["paid_at"]} <> '' THEN {_ms(v["paid_at"], local_ms)} END AS paid_ms
    FROM plain JOIN cur ON cur.code = r.currency
), valid AS (
    SELECT * FROM typed
    WHERE regexp_full_match({v["order_id"]}, '{_ID}')
      AND regexp_full_match({v["merchant_id"]}, '{_ID}')
      AND regexp_full_match({v["channel"]}, '{_ID}')
      AND regexp_full_match({v["amount"]}, '{_AMOUNT}') AND {decimals.format(v["amount"])}
      AND r.status IN ({statuses})
      AND regexp_full_match({v["created_at"]}, '{_TIME}') AND created_ms IS NOT NULL
      AND (r.status NOT IN ({paid}) OR {v["paid_at"]} <> '')
      AND ({v["paid_at"]} = '' OR (regexp_full_match({v["paid_at"]}, '{_TIME}') AND paid_ms IS NOT NULL))
      AND ({v["provider_txn_id"]} = '' OR regexp_full_match({v["provider_txn_id"]}, '{_ID}'))
      AND ({v["refund_amount"]} = '' OR (regexp_full_match({v["refund_amount"]}, '{_AMOUNT}')
           AND {decimals.format(v["refund_amount"])}))
), normalised AS (
    SELECT line, r.order_id, r.merchant_id, r.channel, {_minor("r.amount")} AS amount, r.currency,
           r.status, created_ms, paid_ms, nullif({v["provider_txn_id"]}, '') AS provider_txn_id,
           CASE WHEN {v["refund_amount"]} = '' THEN 0 ELSE {_minor("r.refund_amount")} END AS refund
    FROM valid
)
SELECT {", ".join(ORDER_COLUMNS)} FROM normalised WHERE amount > 0 AND refund <= amount
"""


#: Lines that are neither blank (Python skips them) nor taken in SQL, in file order.
_LEFT_TO_PYTHON: Final = """
SELECT rowid + 1 AS line, raw FROM lines
WHERE raw IS NOT NULL AND NOT regexp_full_match(raw, '[ \\t\\r\\x0b\\x0c]*')
  AND rowid + 1 NOT IN (SELECT line FROM normalised)
ORDER BY line
"""


def scan_orders(path: Path, time_zone: str, work: Path, out: IO[str], rejects: RejectLog) -> int | None:
    """Read a JSON Lines order export: fast lines to ``work/SCANNED``, the others through ``out``.

    Returns the rows read (rejects included), or None when the file is not one DuckDB can split
    like Python (the caller then reads it with :func:`reconciliation.orders.read_orders`).
    """
    split = _line_count(path)
    if split is None:
        return None
    expected, line_end = split
    import duckdb  # here: only a run that reads orders needs it

    zone = ZoneInfo(time_zone)
    con = duckdb.connect(str(work / "orders-scan.duckdb"))
    try:
        con.execute(f"SET temp_directory = '{work / 'spill-orders'}'")
        con.execute(f"SET memory_limit = '{_MEMORY_LIMIT}'")
        con.execute("SET enable_progress_bar = false")
        con.execute(
            "CREATE TABLE lines AS SELECT raw FROM read_csv(?, columns = {'raw': 'VARCHAR'}, header = false,"
            " auto_detect = false, delim = '\x01', quote = '', escape = '', comment = '', new_line = ?,"
            " skip = 0, strict_mode = false, ignore_errors = true, store_rejects = true)",
            [str(path), line_end],
        )
        counts = con.execute(
            "SELECT (SELECT count(*) FROM reject_errors), (SELECT count(*) FROM lines)"
        ).fetchone()
        first = con.execute(
            "SELECT regexp_matches(raw, '^[ \\t\\r\\x0b\\x0c]*[{]') FROM lines"
            " WHERE raw IS NOT NULL AND NOT regexp_full_match(raw, '[ \\t\\r\\x0b\\x0c]*')"
            " ORDER BY rowid LIMIT 1"
        ).fetchone()
        if counts != (0, expected) or first is None or not first[0]:
            return None
        scales = ", ".join(f"('{c}', {d}, {10**d})" for c, d in CURRENCY_DECIMALS.items())
        con.execute(f"CREATE TABLE cur AS SELECT * FROM (VALUES {scales}) AS t(code, decimals, scale)")
        con.execute(_scan_sql(fixed_offset_ms(zone)))
        con.execute("COPY normalised TO ? (HEADER, DELIMITER ',')", [str(work / SCANNED)])
        fast = con.execute("SELECT count(*) FROM normalised").fetchone()
        slow = write_json_orders(path, _lines(con.execute(_LEFT_TO_PYTHON)), zone, out, rejects)
    finally:
        con.close()
    assert fast
    return fast[0] + slow


def _lines(cursor: duckdb.DuckDBPyConnection) -> Iterator[Line]:
    """The lines left to Python, as the Python reader's lines (trailing CRs stripped as it does)."""
    while batch := cursor.fetchmany(_BATCH):
        for number, text in batch:
            raw = text.encode().rstrip(b"\r\n")
            yield Line(number, raw.decode(), raw)
