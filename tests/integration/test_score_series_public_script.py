"""`benchmarks/score_series_public.py` as a subprocess on a tiny NAB-shaped directory built here."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "score_series_public.py"
START = datetime(2024, 3, 1)
STEP = timedelta(minutes=5)
N = 800
SHIFT_AT = 500


def _stamp(i: int) -> str:
    return (START + i * STEP).strftime("%Y-%m-%d %H:%M:%S")


def _write_series(path: Path, values: list[float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["timestamp,value", *(f"{_stamp(i)},{v:.4f}" for i, v in enumerate(values))]
    path.write_text("\n".join(lines) + "\n")


def _nab_dir(root: Path) -> Path:
    rng = random.Random(5)
    shifted = [100.0 + rng.gauss(0, 1) + (12.0 if i >= SHIFT_AT else 0.0) for i in range(N)]
    quiet = [20.0 + rng.gauss(0, 2) for _ in range(N)]
    _write_series(root / "data" / "groupA" / "shift.csv", shifted)
    _write_series(root / "data" / "groupB" / "quiet.csv", quiet)
    windows = {
        "groupA/shift.csv": [[_stamp(SHIFT_AT - 10) + ".000000", _stamp(SHIFT_AT + 30) + ".000000"]],
        "groupB/quiet.csv": [[_stamp(300), _stamp(340)]],
    }
    labels = {"groupA/shift.csv": [_stamp(SHIFT_AT)], "groupB/quiet.csv": [_stamp(320)]}
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    (root / "labels" / "combined_labels.json").write_text(json.dumps(labels))
    return root


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=SCRIPT.parents[1],
    )


def test_public_run_prints_every_group_and_catches_the_level_shift(tmp_path: Path) -> None:
    data = _nab_dir(tmp_path / "nab")
    out_json = tmp_path / "figures.json"
    done = _run("--data", str(data), "--workers", "2", "--json", str(out_json))
    assert done.returncode == 0, done.stderr

    lines = done.stdout.splitlines()
    assert [cell.strip() for cell in lines[0].split("|")[1:]] == ["scorer", "zscore", "random"]
    rows = {line.split()[0]: line for line in lines[2:] if line.split()[0] in ("groupA", "groupB", "ALL")}
    assert list(rows) == ["groupA", "groupB", "ALL"]
    cells = [part.split() for part in rows["groupA"].split("|")]
    assert cells[0] == ["groupA", "1", "1"]
    scorer_auc, scorer_caught, scorer_delay, scorer_d_lab = (float(c) for c in cells[1][:4])
    assert scorer_caught == 1.0
    # The shift starts 10 rows into the window: found at the shift or within a few rows of it.
    assert 10 <= scorer_delay <= 20 and 0 <= scorer_d_lab <= 10
    # Point-wise AUC barely rewards it: the score is high for a few rows, then the baseline moves
    # to the new level and the rest of the window scores as low as outside it.
    assert 0.0 <= scorer_auc <= 1.0
    assert rows["ALL"].split("|")[0].split() == ["ALL", "2", "2"]
    assert any(line.startswith("checks scorer: nan_scores=0 out_of_range=0") for line in lines)
    at = next(i for i, line in enumerate(lines) if line.startswith("NAB score, one threshold over all files"))
    nab_rows = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in lines[at + 1 : at + 4]}
    assert list(nab_rows) == ["scorer", "zscore", "random"] and all(len(v) == 3 for v in nab_rows.values())

    figures = json.loads(out_json.read_text())
    shift = next(f for f in figures["files"] if f["name"] == "groupA/shift.csv")
    assert shift["points"] == N and shift["windows"] == 1
    assert shift["figures"]["scorer"]["caught"] == [True]
    assert shift["figures"]["scorer"]["label_delays"] == [scorer_d_lab]
    assert figures["table"]["groupA"]["scorer"]["caught"] == 1.0
    assert set(figures["table"]["ALL"]) == {"files", "windows", "scorer", "zscore", "random"}
    nab = figures["nab"]
    assert [round(v, 1) for v in nab["scorer"].values()] == nab_rows["scorer"]
    # The shift, flagged a few rows into its window, is worth about half of the two windows' 100.
    assert nab["scorer"]["standard"] > max(48.0, nab["random"]["standard"])
    assert "scores" not in shift["figures"]["scorer"]


def test_missing_label_file_is_refused_with_a_readable_error(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    done = _run("--data", str(tmp_path))
    assert done.returncode == 1
    assert "combined_windows.json" in done.stderr and "A1Benchmark" in done.stderr
    assert "Traceback" not in done.stderr


def _yahoo_dir(root: Path) -> Path:
    """Yahoo S5's published layout: A1 with is_anomaly, A3 with anomaly and extra columns, an aggregate."""
    rng = random.Random(6)
    a1 = [(i + 1, 50.0 + rng.gauss(0, 1) + (25.0 if i == 600 else 0.0), int(i == 600)) for i in range(N)]
    (root / "A1Benchmark").mkdir(parents=True)
    (root / "A1Benchmark" / "real_1.csv").write_text(
        "timestamp,value,is_anomaly\n" + "".join(f"{t},{v:.4f},{a}\n" for t, v, a in a1)
    )
    a3 = [(1416722400 + 3600 * i, rng.gauss(0, 1) + (9.0 if i in (300, 301) else 0.0)) for i in range(N)]
    (root / "A3Benchmark").mkdir()
    (root / "A3Benchmark" / "A3Benchmark-TS1.csv").write_text(
        "timestamps,value,anomaly,changepoint,trend,noise,seasonality1\n"
        + "".join(f"{t},{v:.4f},{int(i in (300, 301))},0,0,{v:.4f},0\n" for i, (t, v) in enumerate(a3))
    )
    (root / "A3Benchmark" / "A3Benchmark_all.csv").write_text("timestamps,value,anomaly\n1,2,0\n")
    return root


def test_yahoo_s5_layout_is_read_as_published(tmp_path: Path) -> None:
    out_json = tmp_path / "figures.json"
    done = _run("--data", str(_yahoo_dir(tmp_path / "s5")), "--workers", "1", "--json", str(out_json))
    assert done.returncode == 0, done.stderr
    figures = json.loads(out_json.read_text())
    files = {f["name"]: f for f in figures["files"]}
    assert sorted(files) == ["yahooA1/real_1.csv", "yahooA3/A3Benchmark-TS1.csv"]  # no aggregate
    assert files["yahooA1/real_1.csv"]["spans"] == [[600, 601]]
    assert files["yahooA3/A3Benchmark-TS1.csv"]["spans"] == [[300, 302]]  # one run, one window
    for f in files.values():
        assert f["figures"]["scorer"]["caught"] == [True]
        assert f["figures"]["scorer"]["label_delays"] == [0]  # flagged at the labelled row
