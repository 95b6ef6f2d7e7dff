"""A provider statement read by DuckDB: plainly valid detail rows checked in SQL, the rest in Python.

The statement's twin of :mod:`reconciliation.orderscan`. Python finds the header (its first lines
name the layout) and stays the judge of every row the SQL is not sure of: a row takes the fast
lane only when it has no quote, enough cells, a payment or refund kind, ASCII identifiers, an
amount within its currency's decimals, a fee of at most six decimals and a time to the second.
So rows, rejects and the footer check come out as :func:`~reconciliation.statements.read_statement`
writes them. A statement DuckDB would split into other lines (Alipay's GBK download) is read by
Python whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Final
from zoneinfo import ZoneInfo

from kernel.reconciliation import Policy
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
from reconciliation.fields import PADDING
from reconciliation.rejects import RejectLog
from reconciliation.statements import (
    STATEMENT_COLUMNS,
    Layout,
    StatementInfo,
    check_footer,
    find_header,
    write_detail,
)
from reconciliation.textfile import open_lines

__all__ = ["SCANNED", "scan_statement"]

#: The rows that passed in SQL, normalised, beside ``statement.csv`` in the work directory (Parquet).
SCANNED: Final = "statement-scanned.parquet"
#: The padding trimmed off a cell here: trim() is slower with a non-ASCII character in its set,
#: and a cell left with U+FEFF at an end fails its check (each takes ASCII only, or one exact kind
#: or currency), so its row goes to Python, which trims all of PADDING.
_CELL_PADDING: Final = PADDING.replace("\ufeff", "")
_FOOTER_LINES: Final = 11  # the footer's first line and the ten the Python reader keeps after it


def _quoted(values: frozenset[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values)) or "NULL"


def _scan_sql(layout: Layout, index: dict[str, int], header: int, local_ms: int | None) -> str:
    """The rows of lines ``(header, last)`` that pass every check, normalised (``last`` is $last)."""

    def cell(name: str) -> str:
        return f"trim(cells[{index[name] + 1}], $cell_pad)"

    currency = cell("currency") if "currency" in index else "'" + layout.currency + "'"
    refund = cell("refund_amount") if "refund_amount" in index else cell("amount")
    fee = cell("fee") if "fee" in index else "''"
    number = "-?[0-9]{1,15}" if layout.minor_units else "-?[0-9]{1,15}(\\.[0-9]*)?"
    magnitude = "unsigned::BIGINT" if layout.minor_units else minor_sql("unsigned")
    decimals = "true" if layout.minor_units else decimals_sql("a")
    return f"""
CREATE TEMP TABLE picked AS
    SELECT line, len(cells) AS n, {cell("kind")} AS kind_value, {cell("order_id")} AS order_id,
           {cell("provider_txn_id")} AS provider_txn_id, {currency} AS currency, {fee} AS fee_text,
           {cell("time")} AS at_text,
           CASE WHEN {cell("kind")} IN ({_quoted(layout.refund_values)}) THEN {refund}
                ELSE {cell("amount")} END AS a
    FROM (  -- not materialised: DuckDB splits each line once for all the cells taken from it
        SELECT rowid + 1 AS line, string_split(raw, $delimiter) AS cells FROM lines
        WHERE rowid + 1 > {header} AND rowid + 1 < $last AND strpos(raw, '"') = 0
    );
CREATE TEMP TABLE typed AS  -- with the amount's digits, once: a filter and a projection read them
    SELECT picked.*, cur.decimals, ltrim(a, '-') AS unsigned,
           CASE WHEN kind_value IN ({_quoted(layout.payment_values)}) THEN 'payment'
                WHEN kind_value IN ({_quoted(layout.refund_values)}) THEN 'refund' END AS kind
    FROM picked JOIN cur ON cur.code = currency
    WHERE n >= $columns AND regexp_full_match(a, '{number}') AND {decimals}
      AND regexp_full_match(order_id, '{ID}') AND regexp_full_match(provider_txn_id, '{ID}')
      AND regexp_full_match(at_text, '{TIME}')
      AND (fee_text = '' OR regexp_full_match(fee_text, '-?[0-9]{{1,12}}(\\.[0-9]{{0,6}})?'));
CREATE TEMP TABLE scanned AS
WITH normalised AS (
    SELECT line, order_id, provider_txn_id, kind, {magnitude} AS amount, starts_with(a, '-') AS negative,
           currency, CASE WHEN fee_text = '' THEN '0' ELSE ltrim(fee_text, '-') END AS fee,
           {ms_sql("at_text", local_ms)} AS at_ms
    FROM typed WHERE kind IS NOT NULL
)
SELECT {", ".join(STATEMENT_COLUMNS)} FROM normalised
WHERE at_ms IS NOT NULL AND amount IS NOT NULL AND (kind = 'refund' OR (NOT negative AND amount > 0))
"""


def scan_statement(
    path: Path, layout: Layout, policy: Policy, work: Path, out: IO[str], rejects: RejectLog
) -> StatementInfo | None:
    """Read a statement: fast rows to ``work/SCANNED``, the others through ``out``.

    None when DuckDB would split the file into other lines than Python (the caller then reads it
    with :func:`reconciliation.statements.read_statement`); a file that is not ``layout`` raises
    :class:`~kernel.errors.InputFileError` as there.
    """
    with lines_table(path, work, "statement", allow_bom=True) as con:
        if con is None:
            return None
        what = f"a {layout.title}"
        head = open_lines(path, what)
        info = StatementInfo(layout.title)
        try:
            index, header = find_header(path, head, layout, what, info)
        finally:
            head.close()
        footer_at = "ltrim(raw, $pad)" if layout.footer_padded else "raw"
        found = con.execute(
            f"SELECT min(rowid + 1) FROM lines WHERE rowid + 1 > $after AND $start <> ''"
            f" AND starts_with({footer_at}, $start) AND NOT regexp_full_match(raw, '{BLANK}')",
            {"start": layout.footer_start, "after": header}
            | ({"pad": PADDING} if layout.footer_padded else {}),
        ).fetchone()
        last = found[0] if found and found[0] is not None else 1 << 62
        footer = [
            text or ""
            for (text,) in con.execute(
                "SELECT raw FROM lines WHERE rowid + 1 >= $last ORDER BY rowid LIMIT $n",
                {"last": last, "n": _FOOTER_LINES},
            ).fetchall()
        ]
        run_script(
            con,
            _scan_sql(layout, index, header, fixed_offset_ms(ZoneInfo(policy.time_zone))),
            {
                "cell_pad": _CELL_PADDING,
                "delimiter": layout.delimiter,
                "last": last,
                "columns": len(info.header),
            },
        )
        con.execute("COPY scanned TO ? (FORMAT parquet)", [str(work / SCANNED)])
        counts = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE kind = 'payment'),"
            " count(*) FILTER (WHERE kind = 'refund') FROM scanned"
        ).fetchone()
        assert counts
        info.rows, info.payments, info.refunds = counts
        left = con.execute(
            "SELECT rowid + 1 AS line, coalesce(raw, '') FROM lines"
            " WHERE rowid + 1 > $after AND rowid + 1 < $last AND rowid + 1 NOT IN (SELECT line FROM scanned)"
            " ORDER BY line",
            {"after": header, "last": last},
        )
        zone = ZoneInfo(policy.time_zone)
        write_detail(path, layout, index, zone, python_lines(left), info, out, rejects)
    check_footer(path, layout, footer, info, rejects)
    return info
