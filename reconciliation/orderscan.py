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

from pathlib import Path
from typing import IO, Final
from zoneinfo import ZoneInfo

from reconciliation.bulk import (
    BLANK,
    ID,
    TIME,
    decimals_sql,
    fixed_offset_ms,
    lines_table,
    minor_sql,
    ms_sql,
    python_lines,
    run_script,
)
from reconciliation.orders import (
    ORDER_COLUMNS,
    ORDER_FIELDS,
    ORDER_STATUSES,
    PAID_STATUSES,
    write_json_orders,
)
from reconciliation.rejects import RejectLog

__all__ = ["SCANNED", "scan_orders"]

#: The orders that passed in SQL, normalised, beside ``orders.csv`` in the work directory: Parquet,
#: which the join reads several times faster than CSV.
SCANNED: Final = "orders-scanned.parquet"
_STRING: Final = r'"[^"\\\x00-\x1f]*"'
_VALUE: Final = f"(?:{_STRING}|null)"
_PAIR: Final = rf'"[A-Za-z0-9_]+"[ \t]*:[ \t]*{_VALUE}[ \t]*'
#: A flat JSON object of plain strings and nulls: msgspec reads it, and its keys are found by regex.
_PLAIN_OBJECT: Final = rf"[ \t]*\{{[ \t]*{_PAIR}(?:,[ \t]*{_PAIR})*\}}[ \t]*"
_AMOUNT: Final = "[0-9]{1,15}(\\.[0-9]*)?"


def _scan_sql(local_ms: int | None) -> str:
    """The steps that check every line and keep the plainly valid ones, normalised, as ``normalised``."""
    schema = "{" + ", ".join(f'"{name}": "VARCHAR"' for name in ORDER_FIELDS) + "}"
    statuses = ", ".join(f"'{s}'" for s in ORDER_STATUSES)
    paid = ", ".join(f"'{s}'" for s in PAID_STATUSES)
    v = {name: f"coalesce({name}, '')" for name in ORDER_FIELDS}
    # One of our keys twice: msgspec keeps the last, DuckDB the first, so Python reads the line.
    # In a plain object "key" followed by a colon is a key, never part of a value.
    repeated = "|".join(f'"{name}"[ \\t]*:.*"{name}"[ \\t]*:' for name in ORDER_FIELDS)
    return f"""
CREATE TEMP TABLE plain AS
    SELECT line, unnest(r)
    FROM (SELECT rowid + 1 AS line, from_json(raw, '{schema}') AS r FROM lines
          WHERE regexp_full_match(raw, '{_PLAIN_OBJECT}') AND NOT regexp_matches(raw, '{repeated}'));
CREATE TEMP TABLE typed AS  -- the values once: a filter and a projection over a CTE computed each twice
    SELECT line, order_id, merchant_id, channel, {minor_sql("amount")} AS amount, currency, status,
           {ms_sql(v["created_at"], local_ms)} AS created_ms,
           CASE WHEN {v["paid_at"]} <> '' THEN {ms_sql(v["paid_at"], local_ms)} END AS paid_ms,
           nullif({v["provider_txn_id"]}, '') AS provider_txn_id,
           CASE WHEN {v["refund_amount"]} = '' THEN 0 ELSE {minor_sql("refund_amount")} END AS refund,
           {v["paid_at"]} = '' AS unpaid
    FROM plain JOIN cur ON cur.code = currency
    WHERE regexp_full_match({v["order_id"]}, '{ID}')
      AND regexp_full_match({v["merchant_id"]}, '{ID}')
      AND regexp_full_match({v["channel"]}, '{ID}')
      AND regexp_full_match({v["amount"]}, '{_AMOUNT}') AND {decimals_sql(v["amount"])}
      AND status IN ({statuses})
      AND regexp_full_match({v["created_at"]}, '{TIME}')
      AND (status NOT IN ({paid}) OR {v["paid_at"]} <> '')
      AND ({v["paid_at"]} = '' OR regexp_full_match({v["paid_at"]}, '{TIME}'))
      AND ({v["provider_txn_id"]} = '' OR regexp_full_match({v["provider_txn_id"]}, '{ID}'))
      AND ({v["refund_amount"]} = '' OR (regexp_full_match({v["refund_amount"]}, '{_AMOUNT}')
           AND {decimals_sql(v["refund_amount"])}));
CREATE TEMP TABLE normalised AS
SELECT {", ".join(ORDER_COLUMNS)} FROM typed
WHERE created_ms IS NOT NULL AND amount > 0 AND refund <= amount AND (unpaid OR paid_ms IS NOT NULL)
"""


#: Lines that are neither blank (Python skips them) nor taken in SQL, in file order.
_LEFT_TO_PYTHON: Final = f"""
SELECT rowid + 1 AS line, raw FROM lines
WHERE raw IS NOT NULL AND NOT regexp_full_match(raw, '{BLANK}')
  AND rowid + 1 NOT IN (SELECT line FROM normalised)
ORDER BY line
"""


def scan_orders(path: Path, time_zone: str, work: Path, out: IO[str], rejects: RejectLog) -> int | None:
    """Read a JSON Lines order export: fast lines to ``work/SCANNED``, the others through ``out``.

    Returns the rows read (rejects included), or None when the file is not one DuckDB can split
    like Python (the caller then reads it with :func:`reconciliation.orders.read_orders`).
    """
    with lines_table(path, work, "orders") as con:
        if con is None:
            return None
        first = con.execute(
            f"SELECT regexp_matches(raw, '^{BLANK}[{{]') FROM lines"
            f" WHERE raw IS NOT NULL AND NOT regexp_full_match(raw, '{BLANK}') ORDER BY rowid LIMIT 1"
        ).fetchone()
        if first is None or not first[0]:
            return None
        zone = ZoneInfo(time_zone)
        run_script(con, _scan_sql(fixed_offset_ms(zone)), {})
        con.execute("COPY normalised TO ? (FORMAT parquet)", [str(work / SCANNED)])
        fast = con.execute("SELECT count(*) FROM normalised").fetchone()
        slow = write_json_orders(path, python_lines(con.execute(_LEFT_TO_PYTHON)), zone, out, rejects)
    assert fast
    return fast[0] + slow
