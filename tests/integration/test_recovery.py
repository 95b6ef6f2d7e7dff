"""Crash recovery for real: the dataflow process is killed with SIGKILL mid-stream and restarted
from Bytewax's recovery store; no alert may be lost, and a replayed epoch may only repeat
alerts with the same ids (at-least-once output, deterministic ids)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from paypulse.simulator import Simulator, validate_scenario, write_lines

pytestmark = pytest.mark.integration

SCENARIO = {
    "start": "2026-03-02T09:00:00+08:00",
    # 90 min of traffic before the incident: seconds of processing, so epochs have been committed
    # before the kill; 45 min after it, room for the resolution (the 15 min drop, then
    # resolve_hold) and nothing more, since every line after it is processed twice
    "duration": "2h15m",
    "seed": 11,
    "rate_per_s": 20.0,
    "incidents": [
        {"kind": "success_rate_drop", "channel": "alipay", "start": "90m", "duration": "15m", "size": 0.2},
    ],
}


def _config(tmp: Path, events: Path, name: str) -> Path:
    config = tmp / f"{name}.toml"
    config.write_text(
        f'dead_letter = "{tmp / name}-dead.jsonl"\n'
        f'[source]\nkind = "file"\npath = "{events}"\nbatch_size = 500\n'
        f'[alerting]\nlog = "{tmp / name}-alerts.jsonl"\n'
    )
    return config


def _run(config: Path, recovery: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "bytewax.run", f"dataflows.flow:flow_from_env('{config}')"]
    command += ["-r", str(recovery), "-s", "3", "-b", "0"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _alerts(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def test_sigkill_mid_stream_then_restart_loses_no_alert(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    with events.open("wb") as f:
        write_lines(Simulator(validate_scenario(SCENARIO)).chunks(60_000), lambda line: f.write(line + b"\n"))

    reference = _run(_config(tmp_path, events, "reference"), _recovery_dir(tmp_path / "ref-rec"))
    assert reference.wait(300) == 0, reference.stderr.read().decode()  # type: ignore[union-attr]
    expected = _alerts(tmp_path / "reference-alerts.jsonl")
    assert [(a["kind"], a["status"]) for a in expected] == [
        ("success_rate_drop", "firing"),
        ("success_rate_drop", "resolved"),
    ]

    config, recovery = _config(tmp_path, events, "crashed"), _recovery_dir(tmp_path / "rec")
    log = tmp_path / "crashed-alerts.jsonl"
    first = _run(config, recovery)
    deadline = time.monotonic() + 120
    while not _alerts(log) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.poll() is None, "the run ended before it could be killed mid-stream"
    os.kill(first.pid, signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    assert len(_alerts(log)) == 1, "killed after the firing alert and before the resolution"

    second = _run(config, recovery)
    assert second.wait(300) == 0, second.stderr.read().decode()  # type: ignore[union-attr]
    with sqlite3.connect(recovery / "part-0.sqlite3") as db:
        executions = db.execute("SELECT ex_num, resume_epoch FROM exs ORDER BY ex_num").fetchall()
        offsets = db.execute("SELECT COUNT(*) FROM snaps WHERE step_id = 'paypulse.read-lines'").fetchone()
    assert len(executions) == 2 and executions[1][1] > 1, f"the restart did not resume: {executions}"
    assert offsets[0] > 0
    got = _alerts(log)
    assert {a["id"] for a in got} == {a["id"] for a in expected}
    assert {a["id"]: a for a in got} == {a["id"]: a for a in expected}


def _recovery_dir(path: Path) -> Path:
    path.mkdir()
    subprocess.run(
        [sys.executable, "-m", "bytewax.recovery", str(path), "1"], check=True, capture_output=True
    )
    return path
