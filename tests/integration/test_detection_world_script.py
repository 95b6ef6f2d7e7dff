"""`benchmarks/detection_world.py` as a subprocess, on the first six hours of one day at 1 payment/s
per model: it generates both models' streams, replays them through the engine and prints the table,
the findings and JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "detection_world.py"
SIX_LOCAL = datetime.fromisoformat("2026-03-02T06:00:00+08:00")


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_tiny_run_prints_one_row_per_model_and_kind_and_writes_json(tmp_path: Path) -> None:
    out_json = tmp_path / "world.json"
    argv = ["--rates", "1", "--clean-days", "0", "--learn-days", "0", "--hours", "6", "--jobs", "2"]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *argv, "--json-out", str(out_json), "--tmp", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,  # a safety net: a busy machine takes minutes
        check=False,
        cwd=SCRIPT.parents[1],
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = (
        "model rate/s kind labels beyond bound found recall false/day median delay median bound p90 delay"
    )
    assert lines[0].split() == header.split()
    rows = [line.split() for line in lines[2:] if line.startswith(("world ", "simulator "))]
    payload = json.loads(out_json.read_text())
    runs = {r["model"]: r for r in payload["runs"]}
    assert set(runs) == {"world", "simulator"}
    for model, run in runs.items():
        kinds = Counter(label["kind"] for label in run["labels"])
        assert kinds, f"{model}: an incident starts in the first six hours"
        assert all(_when(label["start"]) < SIX_LOCAL for label in run["labels"])
        mine = {row[2]: row for row in rows if row[0] == model}
        assert set(mine) == {*kinds, "all"}, model
        assert mine["all"][1] == "1" and int(mine["all"][3]) == sum(kinds.values())
        assert all(int(mine[kind][3]) == n for kind, n in kinds.items())
        assert run["days_scored"] == 0.25 and run["lines"] > 5_000
        assert all("bound_s" in label for label in run["labels"])
        found = next(r for r in payload["rows"] if r["model"] == model and r["kind"] == "all")["found"]
        assert len(run["missed"]) == len(run["labels"]) - found
    assert "false alerts and missed incidents:" in done.stdout
    assert "world 1/s incidents (1 d)" in done.stderr and "simulator 1/s incidents (1 d)" in done.stderr
    assert list(tmp_path.iterdir()) == [out_json]  # the streams were generated in a temp dir and removed


def test_bad_arguments_are_refused_with_a_readable_error() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--rates", "0", "--models", "world"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "rates must be > 0" in done.stderr


@pytest.mark.parametrize("hours", ["0", "25"])
def test_hours_outside_a_day_are_refused(hours: str, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.detection_world import main

    assert main(["--hours", hours]) == 2
    assert "--hours must be in (0, 24]" in capsys.readouterr().err
