"""DuckDB over the raw lines of an input file: what the readers' fast lanes share.

A reader checks most rows of a big file in SQL and leaves the rest to its Python code, which
stays the one judge of a row it is unsure of. Both need the same line numbers, so the file is
loaded as one VARCHAR per line only when DuckDB splits it exactly as Python does (UTF-8, no NUL
or \\x01 byte, the same count of lines); otherwise the caller reads it in Python alone. The
patterns here are stricter than :mod:`reconciliation.fields`, so a value they pass reads the same
in both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from kernel.events import CURRENCY_DECIMALS
from reconciliation.textfile import Line, sniff_encoding

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "BLANK",
    "ID",
    "TIME",
    "decimals_sql",
    "fixed_offset_ms",
    "lines_table",
    "minor_sql",
    "ms_sql",
    "python_lines",
    "run_script",
]

#: DuckDB's memory while scanning one file; past it, it spills to the work directory.
MEMORY_LIMIT: Final = "384MB"
#: An identifier both readers take as it is: printable ASCII without space, quote or backslash.
ID: Final = "[!#-\\[\\]-~]{1,64}"
#: An ISO 8601 time to the second, in 2000-2099, with or without an offset.
TIME: Final = (
    "20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    "(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?"
)
#: A line Python skips as blank (bytes.strip() leaves nothing; a wider blank is left to Python).
BLANK: Final = "[ \\t\\r\\x0b\\x0c]*"
_BATCH: Final = 10_000
_CHUNK: Final = 1 << 22


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


def ms_sql(text: str, local_ms: int | None) -> str:
    """SQL for epoch ms of a ``TIME`` text; NULL for a local time in a zone without a fixed offset."""
    local = "NULL" if local_ms is None else str(local_ms)
    offset = (
        f"CASE WHEN length({text}) = 19 THEN {local} WHEN right({text}, 1) = 'Z' THEN 0"
        f" ELSE (CASE WHEN substr({text}, 20, 1) = '-' THEN -1 ELSE 1 END)"
        f" * (substr({text}, 21, 2)::BIGINT * 60 + substr({text}, 24, 2)::BIGINT) * 60000 END"
    )
    return f"epoch_ms(try_cast(replace(substr({text}, 1, 19), 'T', ' ') AS TIMESTAMP)) - ({offset})"


def decimals_sql(text: str) -> str:
    """SQL: whether a decimal text has at most its currency's ``decimals`` digits after the point."""
    return f"length({text}) - strpos({text} || '.', '.') <= decimals"


def minor_sql(text: str) -> str:
    """SQL for an unsigned decimal text within its currency's decimals, in minor units.

    The digits before the point, then those after it padded to ``decimals``, read as one integer.
    The row has the ``decimals`` column of the ``cur`` table. Positions, not ``split_part``: that
    builds a list on every call, and this runs in both a filter and a projection of each row.
    """
    point = f"strpos({text} || '.', '.')"
    return (
        f"try_cast(left({text}, {point} - 1) || rpad(substr({text}, {point} + 1), decimals, '0') AS BIGINT)"
    )


def _line_count(path: Path, allow_bom: bool) -> tuple[int, str] | None:
    """Python's count of lines in ``path`` and the line end to tell DuckDB, if it may split it alike.

    Told ``\\r\\n`` DuckDB also breaks lines at a lone carriage return, and told so for a file
    without any it lost a line of a million; so it is told only when the file has one, and its
    count is checked against this one.
    """
    try:
        handle = path.open("rb")
    except OSError:  # the Python reader names the problem
        return None
    with handle:
        if sniff_encoding(handle.read(_CHUNK)) not in ("utf-8", "utf-8-sig" if allow_bom else "utf-8"):
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


@contextmanager
def lines_table(
    path: Path, work: Path, name: str, *, allow_bom: bool = False
) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A DuckDB database with ``lines(raw)`` (line = rowid + 1) and ``cur``, spilling to ``work``.

    ``cur(code, decimals)`` has every currency. None when DuckDB would split ``path``
    into other lines than Python; ``allow_bom`` for a file whose first line Python reads itself.
    """
    split = _line_count(path, allow_bom)
    if split is None:
        yield None
        return
    import duckdb  # here: only a run that reads files needs it

    con = duckdb.connect()  # in memory, spilling to temp_directory past memory_limit
    try:
        con.execute(f"SET temp_directory = '{work / f'spill-{name}'}'")
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        con.execute("SET enable_progress_bar = false")
        con.execute(
            "CREATE TABLE lines AS SELECT raw FROM read_csv(?, columns = {'raw': 'VARCHAR'}, header = false,"
            " auto_detect = false, delim = '\x01', quote = '', escape = '', comment = '', new_line = ?,"
            " skip = 0, strict_mode = false, ignore_errors = true, store_rejects = true)",
            [str(path), split[1]],
        )
        counts = con.execute(
            "SELECT (SELECT count(*) FROM reject_errors), (SELECT count(*) FROM lines)"
        ).fetchone()
        if counts != (0, split[0]):
            yield None
            return
        decimals = ", ".join(f"('{c}', {d})" for c, d in CURRENCY_DECIMALS.items())
        con.execute(f"CREATE TABLE cur AS SELECT * FROM (VALUES {decimals}) AS t(code, decimals)")
        yield con
    finally:
        con.close()


def run_script(con: duckdb.DuckDBPyConnection, script: str, params: dict[str, object]) -> None:
    """Run the ``;``-separated statements of ``script``, each with the ``$`` parameters it names.

    One step per statement, each into a table: DuckDB runs a chain of CTEs over a million rows
    several times slower than the same steps as tables.
    """
    for statement in script.split(";\n"):
        con.execute(statement, {k: v for k, v in params.items() if f"${k}" in statement})


def python_lines(cursor: duckdb.DuckDBPyConnection) -> Iterator[Line]:
    """``(line, raw)`` rows as the Python reader's lines (trailing line ends stripped as it does)."""
    while batch := cursor.fetchmany(_BATCH):
        for number, text in batch:
            raw = text.encode().rstrip(b"\r\n")
            yield Line(number, raw.decode(), raw)
