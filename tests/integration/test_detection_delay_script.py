"""`benchmarks/detection_delay.py --quick` as a subprocess: it runs the engine and prints the delay table."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from detectors.suite import build_detectors, paging_tests
from kernel.alerts import Scope
from kernel.settings import DetectorSettings

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "detection_delay.py"


def _bound_s(rate: float, base: float, drop: float) -> float:
    """ln(ARL) / KL, with ARL the payments between the false alarms the benchmarked test may have:
    its share of one false page a week among the tests of one channel and all payments."""
    tests = 2 * paging_tests(build_detectors(Scope("x"), DetectorSettings(), 10_000))
    arl_days = 7 * tests / DetectorSettings().false_pages_per_week
    q0, q1 = 1 - base, 1 - base + drop
    kl = q1 * math.log(q1 / q0) + (1 - q1) * math.log((1 - q1) / (1 - q0))
    return math.log(rate * 86_400 * arl_days) / kl / rate


def test_quick_run_prints_delays_next_to_the_information_bound(tmp_path: Path) -> None:
    out_json = tmp_path / "delay.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--seeds", "2", "--drops", "5,20", "--json", str(out_json)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=SCRIPT.parents[1],
    )
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "rate/s  drop   found  delay s" in text
    table = [line.split() for line in text.splitlines() if line.startswith("    50 ")]
    assert [row[1] for row in table] == ["5p", "20p"]
    assert "False alarms on clean traffic" in text and "Engine.process at   50/s" in text

    rows = json.loads(out_json.read_text())["rows"]
    assert [(r["rate_per_s"], r["drop_points"], r["runs"]) for r in rows] == [(50.0, 5.0, 2), (50.0, 20.0, 2)]
    for row, printed in zip(rows, table, strict=True):
        assert row["bound_s"] == pytest.approx(_bound_s(50, 0.95, row["drop_points"] / 100), rel=1e-9)
        assert float(printed[8]) == pytest.approx(row["bound_s"], abs=0.01)
        # a 5- or 20-point drop at 50/s is found in every run, after the change and within minutes
        assert row["detected"] == 2
        assert 0 < row["median_delay_s"] < 120
        assert row["ratio"] == pytest.approx(row["median_delay_s"] / row["bound_s"])
        assert row["flagged"] == (row["ratio"] > 2)
    # a bigger drop is caught sooner
    assert rows[1]["median_delay_s"] < rows[0]["median_delay_s"]


def test_bad_arguments_are_refused_with_a_readable_error() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--base", "0.1", "--drops", "20"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "must be in (0, 1) and above every drop" in done.stderr
