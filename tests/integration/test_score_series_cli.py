"""`paypulse score-series` through its `main` (:mod:`tests.fixtures.cli`), on temporary CSV files."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from tests.fixtures.cli import Cli


def write_series(path: Path, n: int = 600, spike_at: int = 400) -> list[list[str]]:
    rng = random.Random(21)
    rows = [["timestamp", "value"]]
    for i in range(n):
        value = rng.gauss(250.0, 10.0) + (120.0 if i == spike_at else 0.0)
        cell = "" if i == 123 else "n/a" if i == 124 else f"{value:.3f}"
        rows.append(
            [f"2024-03-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z" if i % 2 else str(1709251200 + i), cell]
        )
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return rows


def test_score_series_round_trip_keeps_rows_and_adds_the_score(tmp_path, paypulse: Cli):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    rows = write_series(src)
    result = paypulse("score-series", str(src), "--out", str(out))
    assert result.returncode == 0, result.stderr
    with out.open(newline="") as f:
        scored = list(csv.reader(f))
    assert scored[0] == ["timestamp", "value", "anomaly_score"]
    assert [row[:2] for row in scored] == rows  # same rows, same order, timestamps untouched
    scores = [float(row[2]) for row in scored[1:]]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[123] == scores[124] == 0.0  # missing and non-numeric values
    assert scores[400] > 0.9
    assert max(scores[:400]) < 0.5


def test_score_series_reads_stdin_and_writes_stdout(paypulse: Cli):
    result = paypulse(
        "score-series", "-", "--out", "-", stdin="timestamp,value\n2024-01-01,1\n2024-01-02,2\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "timestamp,value,anomaly_score",
        "2024-01-01,1,0.000000",
        "2024-01-02,2,0.000000",
    ]


def test_score_series_without_value_column_exits_2_naming_it(tmp_path, paypulse: Cli):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("timestamp,amount\n2024-01-01,1\n")
    result = paypulse("score-series", str(src), "--out", str(out))
    assert result.returncode == 2
    assert "no 'value' column" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [src]  # no temporary file left behind


def test_score_series_missing_input_exits_2(tmp_path, paypulse: Cli):
    result = paypulse("score-series", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "out.csv"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
