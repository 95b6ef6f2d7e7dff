"""Score a ``timestamp,value`` CSV in one streaming pass: every row out, in order, plus ``anomaly_score``.

The reader never holds more than one row, so a file of any length scores in bounded memory. Every
input column is passed through unchanged (timestamps stay in whatever form they came: RFC 3339,
epoch numbers, plain dates); only the ``anomaly_score`` column is added, or replaced if present.

A row whose value is empty or not a finite number (``""``, ``"NaN"``, ``"n/a"``, a short row) is
kept with score ``0`` and is not learned: a gap is not evidence of anything, and a placeholder must
not drag the baseline. A file without the value column is refused with a
:class:`~kernel.errors.ConfigError` naming the column and the columns found.
"""

from __future__ import annotations

import csv
import math
from typing import TextIO

from detectors.river_models import SeriesScorer
from kernel.errors import ConfigError

__all__ = ["SCORE_COLUMN", "parse_value", "score_csv"]

#: The column :func:`score_csv` adds.
SCORE_COLUMN = "anomaly_score"


def parse_value(cell: str | None) -> float | None:
    """The cell as a finite float, or ``None`` when it is missing or not a number.

    >>> parse_value(" 3.5 "), parse_value("1e3"), parse_value(""), parse_value("NaN"), parse_value("n/a")
    (3.5, 1000.0, None, None, None)
    """
    if cell is None:
        return None
    try:
        value = float(cell.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _find_column(header: list[str], column: str) -> int:
    names = [name.strip() for name in header]
    if column in names:
        return names.index(column)
    folded = [name.lower() for name in names]
    if column.lower() in folded:
        return folded.index(column.lower())
    found = ", ".join(repr(name) for name in names) or "none"
    raise ConfigError(
        f"input CSV has no {column!r} column (columns found: {found}); "
        f"add a header row naming it, or pass --column with the right name"
    )


def score_csv(src: TextIO, dst: TextIO, column: str = "value", scorer: SeriesScorer | None = None) -> int:
    """Copy CSV ``src`` to ``dst`` with an ``anomaly_score`` per row; returns the number of rows scored.

    Each row is scored before the scorer learns it, so its score depends on earlier rows only.
    Blank lines are dropped; every other row is written, in order.

    >>> import io
    >>> out = io.StringIO()
    >>> score_csv(io.StringIO("timestamp,value\\n2024-01-01,1\\n2024-01-02,x\\n"), out)
    2
    >>> out.getvalue().splitlines()
    ['timestamp,value,anomaly_score', '2024-01-01,1,0.000000', '2024-01-02,x,0.000000']
    """
    scorer = SeriesScorer() if scorer is None else scorer
    reader = csv.reader(src)
    header = next(reader, None)
    if header is None:
        raise ConfigError(f"input CSV is empty: expected a header row with a {column!r} column")
    index = _find_column(header, column)
    names = [name.strip() for name in header]
    keep = [i for i, name in enumerate(names) if name != SCORE_COLUMN]
    writer = csv.writer(dst, lineterminator="\n")
    writer.writerow([header[i] for i in keep] + [SCORE_COLUMN])
    rows = 0
    for row in reader:
        if not row:
            continue
        value = parse_value(row[index] if index < len(row) else None)
        if value is None:
            score = 0.0
        else:
            score = scorer.score_one(value)
            scorer.learn_one(value)
        writer.writerow([row[i] if i < len(row) else "" for i in keep] + [f"{score:.6f}"])
        rows += 1
    return rows
