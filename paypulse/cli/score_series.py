"""`paypulse score-series`: add an online anomaly score to a ``timestamp,value`` CSV.

The command is a thin edge over :func:`detectors.series.score_csv`: it opens the files, turns a
missing or unreadable file into a :class:`~kernel.errors.ConfigError` (exit code 2 with one
line), and writes through a temporary file so a failed run never leaves half an output behind.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, TextIO

import typer

from detectors.series import score_csv
from kernel.errors import ConfigError

__all__ = ["register"]


def score_series_command(
    source: Annotated[
        str, typer.Argument(metavar="IN.csv", help="CSV with a header row and a value column; - for stdin")
    ],
    out: Annotated[str, typer.Option("--out", "-o", metavar="OUT.csv", help="where to write; - for stdout")],
    column: Annotated[str, typer.Option("--column", help="name of the value column")] = "value",
) -> None:
    """Score each row of IN.csv online (no look-ahead) and write it to OUT.csv with anomaly_score in [0, 1].

    Rows whose value is empty or not a number keep their place with score 0 and are not learned.
    """
    if source == "-":
        rows = _write(sys.stdin, out, column)
    else:
        path = Path(source)
        try:
            with path.open(newline="", encoding="utf-8-sig") as src:
                rows = _write(src, out, column)
        except FileNotFoundError:
            raise ConfigError(f"input CSV {source} does not exist") from None
        except (IsADirectoryError, PermissionError, UnicodeDecodeError) as err:
            raise ConfigError(f"cannot read input CSV {source}: {err}") from None
    typer.echo(f"scored {rows} rows -> {out}", err=True)


def _write(src: TextIO, out: str, column: str) -> int:
    if out == "-":
        return score_csv(src, sys.stdout, column)
    target = Path(out)
    if not target.parent.is_dir():
        raise ConfigError(f"output directory {target.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as dst:
            rows = score_csv(src, dst, column)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the output is an ordinary data file
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return rows


def register(app: typer.Typer) -> None:
    """Add this command group's commands to ``app``."""
    app.command("score-series")(score_series_command)
