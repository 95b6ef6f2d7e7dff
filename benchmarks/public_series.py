"""Labelled public series as the series-scorer benchmark reads them: NAB's layout and Yahoo S5's.

``benchmarks/score_series_public.py`` scores every series of a public labelled benchmark and needs,
for each, its values in file order and the rows of its labelled windows. Two layouts are read, as
they are published, so anyone who has the data can rerun the figures:

* **NAB** (Numenta Anomaly Benchmark, MIT licence, https://github.com/numenta/NAB):
  ``data/<group>/<file>.csv`` with ``timestamp,value`` columns, ``labels/combined_windows.json``
  mapping ``"<group>/<file>.csv"`` to ``[[start, end], ...]`` timestamps (both ends included), and
  optionally ``labels/combined_labels.json`` with the labelled anomaly point inside each window.
  Files in ``data/`` that the window file does not name are skipped.
* **Yahoo S5** (Yahoo Webscope "Labeled Anomaly Detection Dataset" v1.0, research use; not
  redistributable, so never shipped here): ``A1Benchmark/real_*.csv`` and ``A2Benchmark/synthetic_*.csv``
  with ``timestamp,value,is_anomaly``, ``A3Benchmark/A3Benchmark-TS*.csv`` and ``A4Benchmark/...``
  with ``timestamps,value,anomaly,...``. Each run of consecutive anomalous rows is one window; the
  ``*_all.csv`` aggregates are skipped. Groups are named ``yahooA1`` to ``yahooA4``.

A value that is empty or not a finite number is kept as ``None`` (the scorers score it 0 and do not
learn it). Reading is split in two: :func:`find_series` lists the files in the parent process,
:meth:`SeriesFile.read` parses one in a worker.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from detectors.series import parse_value

__all__ = ["LabelledSeries", "SeriesFile", "find_series"]

_YAHOO_DIR = re.compile(r"^A([1-4])Benchmark$")


@dataclass(frozen=True, slots=True)
class LabelledSeries:
    """One series in file order and its labelled windows as ``[start, end)`` rows."""

    name: str  # "<group>/<file>.csv"
    values: list[float | None]
    spans: list[tuple[int, int]]
    label_rows: list[int | None]  # the labelled anomaly's row in each window, when the data says


@dataclass(frozen=True, slots=True)
class SeriesFile:
    """Where one labelled series is and how to read it; small enough to send to a worker."""

    name: str
    path: Path
    layout: str  # "nab" or "yahoo"
    windows: tuple[tuple[datetime, datetime], ...] = ()
    points: tuple[datetime, ...] = ()

    def read(self) -> LabelledSeries:
        """Parse the file; raises ``SystemExit`` naming the file and the problem."""
        return _read_nab(self) if self.layout == "nab" else _read_yahoo(self)


def find_series(root: Path) -> list[SeriesFile]:
    """Every labelled series under ``root``, sorted by name, in whichever layout ``root`` has."""
    if (root / "labels" / "combined_windows.json").is_file():
        return _find_nab(root)
    yahoo = sorted(d for d in root.glob("A*Benchmark") if d.is_dir() and _YAHOO_DIR.match(d.name))
    if yahoo:
        return [
            SeriesFile(f"yahooA{_YAHOO_DIR.match(d.name)[1]}/{path.name}", path, "yahoo")  # type: ignore[index]
            for d in yahoo
            for path in sorted(d.glob("*.csv"))
            if not path.name.endswith("_all.csv")
        ]
    raise SystemExit(
        f"{root}: neither NAB's layout (labels/combined_windows.json, data/) "
        "nor Yahoo S5's (A1Benchmark/ .. A4Benchmark/) found"
    )


def _parse_time(text: str, where: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise SystemExit(f"{where}: cannot read timestamp {text!r}") from None


def _find_nab(root: Path) -> list[SeriesFile]:
    windows_path = root / "labels" / "combined_windows.json"
    points_path = root / "labels" / "combined_labels.json"
    points = json.loads(points_path.read_text()) if points_path.is_file() else {}
    found = []
    for name, pairs in sorted(json.loads(windows_path.read_text()).items()):
        path = root / "data" / name
        if not path.is_file():
            raise SystemExit(f"{path} is labelled in combined_windows.json but missing")
        where = str(windows_path)
        found.append(
            SeriesFile(
                name,
                path,
                "nab",
                tuple((_parse_time(a, where), _parse_time(b, where)) for a, b in pairs),
                tuple(_parse_time(t, str(points_path)) for t in points.get(name, [])),
            )
        )
    if not found:
        raise SystemExit(f"no labelled series under {root / 'data'}")
    return found


def _rows(path: Path, columns: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [name.strip().lower() for name in next(reader, [])]
        rows = [row for row in reader if row]
    for column in columns:
        if column not in header:
            raise SystemExit(f"{path}: expected a {column} column, got {header}")
    return header, rows


def _read_nab(source: SeriesFile) -> LabelledSeries:
    header, rows = _rows(source.path, ("timestamp", "value"))
    it, iv = header.index("timestamp"), header.index("value")
    t = np.array([_parse_time(row[it], str(source.path)) for row in rows], dtype="datetime64[us]")
    values = [parse_value(row[iv] if iv < len(row) else None) for row in rows]
    spans, label_rows = [], []
    for begin, finish in source.windows:
        inside = np.flatnonzero((t >= np.datetime64(begin)) & (t <= np.datetime64(finish)))
        if not len(inside):
            continue  # a window outside the file's time range
        spans.append((int(inside[0]), int(inside[-1]) + 1))
        label = next((p for p in source.points if begin <= p <= finish), None)
        label_rows.append(int(np.searchsorted(t, np.datetime64(label))) if label is not None else None)
    return LabelledSeries(source.name, values, spans, label_rows)


def _read_yahoo(source: SeriesFile) -> LabelledSeries:
    header, rows = _rows(source.path, ("value",))
    label = "is_anomaly" if "is_anomaly" in header else "anomaly"
    if label not in header:
        raise SystemExit(f"{source.path}: expected an is_anomaly or anomaly column, got {header}")
    iv, il = header.index("value"), header.index(label)
    values = [parse_value(row[iv] if iv < len(row) else None) for row in rows]
    flags = [il < len(row) and row[il].strip() not in ("", "0", "0.0") for row in rows]
    spans, start = [], None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            spans.append((start, i))
            start = None
    return LabelledSeries(source.name, values, spans, [start for start, _ in spans])
