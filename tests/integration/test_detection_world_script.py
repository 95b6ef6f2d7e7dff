"""`benchmarks/detection_world.py` as a subprocess, on one day at 1 payment/s per model: it generates
both models' streams, replays them through the engine and prints the table, the findings and JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "detection_world.py"
KINDS = {
    "amount_deviation",
    "callback_failure_high",
    "callback_latency_high",
    "complaint_spike",
    "stuck_payments",
    "success_rate_drop",
    "volume_drop",
    "volume_spike",
}


def test_a_tiny_run_prints_one_row_per_model_and_kind_and_writes_json(tmp_path: Path) -> None:
    out_json = tmp_path / "world.json"
    argv = ["--rates", "1", "--clean-days", "0", "--learn-days", "0", "--jobs", "2"]
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
    for model, labels in (("world", 15), ("simulator", 9)):
        mine = {row[2]: row for row in rows if row[0] == model}
        assert set(mine) >= KINDS, model
        assert mine["all"][1] == "1" and int(mine["all"][3]) == labels
        assert sum(int(mine[k][3]) for k in KINDS) == labels
    assert "false alerts and missed incidents:" in done.stdout
    assert "world 1/s incidents (1 d)" in done.stderr and "simulator 1/s incidents (1 d)" in done.stderr
    assert list(tmp_path.iterdir()) == [out_json]  # the streams were generated in a temp dir and removed

    payload = json.loads(out_json.read_text())
    assert {(r["model"], r["kind"]) for r in payload["rows"]} >= {("world", "all"), ("simulator", "all")}
    runs = {r["model"]: r for r in payload["runs"]}
    assert all("bound_s" in label for run in payload["runs"] for label in run["labels"])
    assert runs["world"]["days_scored"] == 1.0 and len(runs["world"]["labels"]) == 15
    assert runs["world"]["lines"] > 80_000
    found = next(r for r in payload["rows"] if r["model"] == "world" and r["kind"] == "all")["found"]
    assert len(runs["world"]["missed"]) == 15 - found


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
