"""The batch join: a day's orders (and orders held from earlier days) against the statement.

DuckDB does the heavy part, so a million-order day joins in seconds and spills to disk instead
of growing in memory: it loads the normalised CSVs, groups the provider's payments and refunds
per order, joins them to our orders and returns only the rows that differ (a few in a thousand on
a normal day) plus the day's totals. Judging those rows is :mod:`reconciliation.judge`'s job.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from kernel.events import CURRENCY_DECIMALS
from reconciliation.bulk import run_script
from reconciliation.orders import ORDER_COLUMNS, PAID_STATUSES
from reconciliation.orderscan import SCANNED as ORDERS_SCANNED
from reconciliation.statements import STATEMENT_COLUMNS
from reconciliation.statementscan import SCANNED as STATEMENT_SCANNED

if TYPE_CHECKING:
    import duckdb

__all__ = ["HELD_COLUMNS", "HELD_PAYMENT_COLUMNS", "MEMORY_LIMIT", "DayTotals", "Window", "join_day"]

_ORDER_TYPES: Final = {
    "line": "BIGINT",
    "order_id": "VARCHAR",
    "merchant_id": "VARCHAR",
    "channel": "VARCHAR",
    "amount": "BIGINT",
    "currency": "VARCHAR",
    "status": "VARCHAR",
    "created_ms": "BIGINT",
    "paid_ms": "BIGINT",
    "provider_txn_id": "VARCHAR",
    "refund": "BIGINT",
}
_STATEMENT_TYPES: Final = {
    "line": "BIGINT",
    "order_id": "VARCHAR",
    "provider_txn_id": "VARCHAR",
    "kind": "VARCHAR",
    "amount": "BIGINT",
    "currency": "VARCHAR",
    "fee": "DECIMAL(18,6)",
    "at_ms": "BIGINT",
}
#: DuckDB's memory for the join; past it, it spills to the work directory. Its default (80% of
#: the machine) lets memory grow with the day; this keeps a million-order day flat.
MEMORY_LIMIT: Final = "512MB"
#: A held order as the holding pool stores it: the order's columns (no line) and the day it was held.
HELD_COLUMNS: Final = (*ORDER_COLUMNS[1:], "held_on")
#: A held payment: the statement's columns (no line) and the day it was held.
HELD_PAYMENT_COLUMNS: Final = (*STATEMENT_COLUMNS[1:], "held_on")
_PAID: Final = "(" + ", ".join(f"'{s}'" for s in PAID_STATUSES) + ")"


@dataclass(frozen=True, slots=True)
class Window:
    """The bill day in epoch milliseconds, and the start of its cut-off stretch."""

    start_ms: int
    end_ms: int
    cutoff_ms: int  # orders paid from here on may be on the next day's bill


@dataclass(frozen=True, slots=True)
class DayTotals:
    """The day's figures beside the differences, for summary.json."""

    matched: int  # orders found on both sides
    matched_ours: int  # their amount on our side, minor units
    matched_theirs: int
    payments: int
    payments_amount: int
    refunds: int
    refunds_amount: int
    refunds_without_order: int  # refunds of orders not in this export (paid on an earlier day)
    fees: Decimal
    expected_fees: Decimal | None  # minor units, exact: amount x rate
    duplicate_orders: list[tuple[int, str]]  # (line, order_id) of repeated rows in the export


def join_day(
    work_dir: Path,
    held: Iterable[Sequence[Any]],
    held_payments: Iterable[Sequence[Any]],
    window: Window,
    fee_rate: Decimal | None,
    fee_tolerance: Decimal,
) -> tuple[list[dict[str, Any]], DayTotals]:
    """Rows where the two sides differ, or an order waits, and the day's totals.

    ``work_dir`` holds the normalised ``orders.csv`` and ``statement.csv`` (and their
    ``-scanned.parquet`` twins); DuckDB keeps its database and spill files there too.

    A row has our order's columns (None when only the provider has the order; ``held_on`` set for
    an order held from an earlier day), the provider's payments grouped per order (``n`` of them,
    first ``txn``, all ``txns``, first ``p_amount``/``p_currency``/``p_at_ms``, summed ``fee``,
    ``fee_bad`` when a row's fee is off the rate, ``p_held_on`` for a payment held from an earlier
    day's bill) and the provider's refunds (``refunded``, their
    ``refund_rows`` and ``refund_txns``). A refund of an order on neither side is a row of its own.
    """
    import duckdb  # here: kernel.settings imports this package, and only this step needs DuckDB

    con = duckdb.connect()  # in memory, spilling to temp_directory past memory_limit
    try:
        con.execute(f"SET temp_directory = '{work_dir / 'spill'}'")
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")  # a bar on stderr would interleave with the report
        _load(con, work_dir, held, held_payments)
        rate = "NULL" if fee_rate is None else f"CAST('{fee_rate}' AS DECIMAL(18,6))"
        run_script(con, _JOINED.format(rate=rate, tol=f"CAST('{fee_tolerance}' AS DECIMAL(18,6))"), {})
        cursor = con.execute(_CANDIDATES.format(paid=_PAID), [window.start_ms])
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
        totals = _totals(con, fee_rate is not None)
    finally:
        con.close()
    return rows, totals


def _read_csv(columns: dict[str, str]) -> str:
    """A read_csv call for one of our normalised files: its dialect and types are known, not sniffed."""
    return f"read_csv(?, header = true, auto_detect = false, delim = ',', quote = '\"', columns = {columns})"


def _read_side(work_dir: Path, name: str, scanned: str, columns: dict[str, str]) -> tuple[str, list[str]]:
    """SQL and parameters for one side's normalised rows: the Python reader's CSV and the scan's Parquet.

    The Parquet file is missing when the Python reader read the whole file.
    """
    csv_part = f"SELECT * FROM {_read_csv(columns)}"
    if not (work_dir / scanned).exists():
        return csv_part, [str(work_dir / name)]
    typed = ", ".join(f"CAST({column} AS {kind}) AS {column}" for column, kind in columns.items())
    return (
        f"{csv_part} UNION ALL SELECT {typed} FROM read_parquet(?)",
        [str(work_dir / name), str(work_dir / scanned)],
    )


def _load(
    con: duckdb.DuckDBPyConnection,
    work_dir: Path,
    held: Iterable[Sequence[Any]],
    held_payments: Iterable[Sequence[Any]],
) -> None:
    orders, paths = _read_side(work_dir, "orders.csv", ORDERS_SCANNED, _ORDER_TYPES)
    con.execute(f"CREATE TABLE o AS {orders}", paths)
    con.execute(
        "CREATE TABLE o_dup AS SELECT line, order_id FROM ("
        " SELECT line, order_id, row_number() OVER (PARTITION BY order_id ORDER BY line) AS n FROM o)"
        " WHERE n > 1"
    )
    con.execute("DELETE FROM o WHERE line IN (SELECT line FROM o_dup)")
    _load_rows(con, work_dir / "held.csv", "held", HELD_COLUMNS, _ORDER_TYPES, held)
    _load_rows(
        con, work_dir / "held-payments.csv", "s_held", HELD_PAYMENT_COLUMNS, _STATEMENT_TYPES, held_payments
    )
    statement, paths = _read_side(work_dir, "statement.csv", STATEMENT_SCANNED, _STATEMENT_TYPES)
    con.execute(  # held payments first (negative lines): they were billed before today's rows
        f"CREATE TABLE s AS SELECT *, NULL::VARCHAR AS held_on FROM ({statement})"
        " UNION ALL BY NAME SELECT -row_number() OVER (ORDER BY held_on, order_id) AS line, * FROM s_held",
        paths,
    )
    scales = ", ".join(f"('{code}', {10**decimals})" for code, decimals in CURRENCY_DECIMALS.items())
    con.execute(f"CREATE TABLE cur AS SELECT * FROM (VALUES {scales}) AS t(code, scale)")


def _load_rows(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    columns: Sequence[str],
    types: dict[str, str],
    rows: Iterable[Sequence[Any]],
) -> None:
    """Load held rows into ``table`` through a CSV file, as executemany is slow in DuckDB."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    typed = {name: types.get(name, "VARCHAR") for name in columns}
    con.execute(f"CREATE TABLE {table} AS SELECT * FROM {_read_csv(typed)}", [str(path)])


#: The day joined, one row per order on either side, in steps (see :func:`~reconciliation.bulk.run_script`).
#: A payment's columns come from its first row, found by line: ``arg_min`` over five columns and an
#: ordered ``string_agg`` for every order cost twice the whole join, and only a repeated payment
#: needs its transactions listed.
_JOINED: Final = """
CREATE TABLE pay_groups AS
    SELECT order_id, count(*) AS n, min(line) AS first_line, min(s.held_on) AS p_held_on, sum(fee) AS fee,
           sum(s.amount * {rate}) AS expected_fee,
           coalesce(bool_or(abs(fee * cur.scale - s.amount * {rate}) > {tol} * cur.scale), false) AS fee_bad
    FROM s LEFT JOIN cur ON cur.code = s.currency
    WHERE kind = 'payment' GROUP BY order_id;
CREATE TABLE pay AS
    SELECT g.order_id, g.n, s.provider_txn_id AS txn, coalesce(repeated.txns, s.provider_txn_id) AS txns,
           s.amount AS p_amount, s.currency AS p_currency, s.at_ms AS p_at_ms, g.p_held_on, g.fee,
           g.expected_fee, g.fee_bad
    FROM pay_groups g JOIN s ON s.line = g.first_line
    LEFT JOIN (
        SELECT order_id, string_agg(provider_txn_id, ' ' ORDER BY line) AS txns FROM s
        WHERE kind = 'payment' AND order_id IN (SELECT order_id FROM pay_groups WHERE n > 1)
        GROUP BY order_id
    ) AS repeated ON repeated.order_id = g.order_id;
CREATE TABLE joined AS
WITH ours AS (
    SELECT * EXCLUDE (line), NULL::VARCHAR AS held_on FROM o WHERE order_id NOT IN (SELECT order_id FROM held)
    UNION ALL BY NAME
    SELECT * FROM held
), ref AS (
    SELECT order_id, count(*) AS refund_rows, sum(amount) AS refunded,
           string_agg(provider_txn_id, ' ' ORDER BY line) AS refund_txns,
           arg_min(currency, line) AS r_currency
    FROM s WHERE kind = 'refund' GROUP BY order_id
)
SELECT coalesce(ours.order_id, pay.order_id, ref.order_id) AS key, ours.*, pay.* EXCLUDE (order_id),
       ref.refund_rows, coalesce(ref.refunded, 0) AS refunded, ref.refund_txns, ref.r_currency
FROM ours FULL JOIN pay ON ours.order_id = pay.order_id
FULL JOIN ref ON ref.order_id = coalesce(ours.order_id, pay.order_id)
"""

_CANDIDATES: Final = """
SELECT * FROM joined
WHERE held_on IS NOT NULL
   OR (n IS NULL AND status IN {paid} AND (held_on IS NOT NULL OR paid_ms >= ?))
   OR (order_id IS NULL AND (n IS NOT NULL OR refund_rows IS NOT NULL))
   OR p_held_on IS NOT NULL
   OR (n IS NOT NULL AND order_id IS NOT NULL AND (
        status NOT IN {paid} OR n > 1 OR p_currency <> currency OR p_amount <> amount OR fee_bad
        OR refunded <> refund))
ORDER BY key
"""


def _totals(con: duckdb.DuckDBPyConnection, with_rate: bool) -> DayTotals:
    matched = con.execute(
        "SELECT count(*), coalesce(sum(amount), 0), coalesce(sum(p_amount), 0) FROM joined"
        " WHERE order_id IS NOT NULL AND n IS NOT NULL"
    ).fetchone()
    statement = con.execute(
        "SELECT count(*) FILTER (WHERE kind = 'payment'),"
        " coalesce(sum(amount) FILTER (WHERE kind = 'payment'), 0),"
        " count(*) FILTER (WHERE kind = 'refund'), coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0),"
        " coalesce(sum(fee) FILTER (WHERE kind = 'payment'), 0) FROM s WHERE held_on IS NULL"
    ).fetchone()
    orphan = con.execute(
        "SELECT count(*) FROM s WHERE kind = 'refund'"
        " AND order_id IN (SELECT key FROM joined WHERE order_id IS NULL AND n IS NULL)"
    ).fetchone()
    expected = con.execute("SELECT coalesce(sum(expected_fee), 0) FROM joined").fetchone()
    duplicates = con.execute("SELECT line, order_id FROM o_dup ORDER BY line").fetchall()
    assert matched and statement and orphan and expected
    return DayTotals(
        matched=matched[0],
        matched_ours=matched[1],
        matched_theirs=matched[2],
        payments=statement[0],
        payments_amount=statement[1],
        refunds=statement[2],
        refunds_amount=statement[3],
        refunds_without_order=orphan[0],
        fees=Decimal(statement[4]),
        expected_fees=Decimal(expected[0]) if with_rate else None,
        duplicate_orders=[(line, order_id) for line, order_id in duplicates],
    )
