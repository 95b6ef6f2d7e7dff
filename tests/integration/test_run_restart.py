"""`paypulse run` on a real Kafka broker, killed with SIGKILL at three points and started again,
writes the alert log of a run that was never interrupted, line for line, and sends every
notification (to a real HTTP receiver): once, or twice if a kill fell between its send and its
record.

Two simulated hours with two incidents (Alipay, then WeChat; each fires and resolves) go into
a 4-partition topic. One `paypulse run` reads them without interruption: the reference. Another
is killed at about 45%, 70% and 90% of the stream (after the first incident resolved, while the
second fires, after it resolved), each time started again with the same command, and left to
read on. Progress is read from its /metrics, which come back where they were after each restart.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson
import pytest

from paypulse.cli.simulate import kafka_writer
from paypulse.simulator import BLOCK_MS, Simulator, validate_scenario, write_lines
from tests.fixtures.kafka import create_topic
from tests.fixtures.receiver import Receiver

pytestmark = pytest.mark.integration

SCENARIO = {
    "start": "2026-03-02T09:00:00+08:00",
    "duration": "2h",
    "seed": 5,
    "rate_per_s": 8.0,
    "incidents": [
        {"kind": "success_rate_drop", "channel": "alipay", "start": "40m", "duration": "15m", "size": 0.2},
        {"kind": "success_rate_drop", "channel": "wechat", "start": "80m", "duration": "15m", "size": 0.2},
    ],
}
KILL_AT = (0.45, 0.70, 0.90)  # shares of the stream read
# the end of a tailed topic waits for its partitions to fall idle; the second incident resolves
# at 97 minutes of 120, so the log is complete well before this share
DONE_AT = 0.97


class Monitor:
    """One `paypulse run` process reading the topic, with its output in a file."""

    def __init__(self, workdir: Path, name: str) -> None:
        self.workdir = workdir
        self.output = workdir / f"{name}.out"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.since = self.output.stat().st_size if self.output.exists() else 0  # this start's output
        with self.output.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "paypulse", "run", "--config", "paypulse.toml"],
                cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.metrics = ""

    def read(self) -> int:
        """Lines the running monitor has taken so far (accepted, duplicate or rejected)."""
        if not self.metrics:
            found = re.search(r"metrics:\s+(http://\S+)", self.output.read_text()[self.since :])
            if not found:
                return 0
            self.metrics = found[1]
        try:
            text = httpx.get(self.metrics, timeout=2).text
        except httpx.HTTPError:
            return 0
        counted = re.findall(
            r"^paypulse_events_(?:accepted|duplicate|rejected)_total(?:\{[^}]*\})? (\S+)$", text, re.M
        )
        return int(sum(float(n) for n in counted))

    def wait_until(self, lines: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.read() < lines:
            assert self.process is not None and self.process.poll() is None, self.output.read_text()
            assert time.monotonic() < deadline, f"read {self.read()} of {lines}:\n{self.output.read_text()}"
            time.sleep(0.25)  # each look renders /metrics: a tighter poll takes the monitor's CPU

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        assert self.process.wait(10) == -signal.SIGKILL

    def stop(self) -> str:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(60) == 0, self.output.read_text()
        return self.output.read_text()


def _config(workdir: Path, bootstrap: str, topic: str, hook: str) -> None:
    workdir.mkdir()
    (workdir / "paypulse.toml").write_text(
        f'[source]\nkind = "kafka"\nbrokers = ["{bootstrap}"]\ntopic = "{topic}"\n'
        "[statuspage]\nport = 0\n[metrics]\nport = 0\n"
        '[recovery]\nsnapshot_every = "1s"\n'
        f'[[alerting.routes]]\nname = "oncall"\nurls = ["{hook}"]\nmin_severity = "info"\n'
    )


def _log(workdir: Path) -> bytes:
    return (workdir / "var" / "alerts.jsonl").read_bytes()


def _notified(receiver: Receiver, path: str) -> Counter[bytes]:
    return Counter(r.body for r in receiver.requests if r.path == path)


def test_sigkill_at_three_points_then_restart_gives_the_uninterrupted_log_and_notifications(
    kafka_broker: str, receiver: Receiver, tmp_path: Path
) -> None:
    create_topic(kafka_broker, "restart-4", 4)
    with kafka_writer(kafka_broker, "restart-4") as write:
        total = write_lines(Simulator(validate_scenario(SCENARIO)).chunks(step_ms=BLOCK_MS), write)

    reference_dir, crashed_dir = tmp_path / "reference", tmp_path / "crashed"
    _config(reference_dir, kafka_broker, "restart-4", f"json://{receiver.netloc}/reference")
    _config(crashed_dir, kafka_broker, "restart-4", f"json://{receiver.netloc}/crashed")

    reference = Monitor(reference_dir, "run")
    reference.start()
    reference.wait_until(int(total * DONE_AT))
    expected = _log(reference_dir)
    changes = [orjson.loads(line) for line in expected.splitlines()]
    assert [(a["kind"], a["scope"]["channel"], a["status"]) for a in changes] == [
        ("success_rate_drop", "alipay", "firing"), ("success_rate_drop", "alipay", "resolved"),
        ("success_rate_drop", "wechat", "firing"), ("success_rate_drop", "wechat", "resolved"),
    ]  # fmt: skip
    receiver.wait_for(4, timeout=30)
    reference.stop()

    crashed = Monitor(crashed_dir, "run")
    for share in KILL_AT:
        crashed.start()
        crashed.wait_until(int(total * share))
        crashed.kill()
    crashed.start()
    crashed.wait_until(int(total * DONE_AT))
    deadline = time.monotonic() + 30
    while len(_notified(receiver, "/crashed")) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    summary = crashed.stop()

    assert _log(crashed_dir) == expected
    assert summary.count("resuming from var/recovery") == len(KILL_AT), summary
    read = re.search(r"stopped by SIGTERM: ([\d,]+) events", summary)
    assert read is not None and int(read[1].replace(",", "")) >= total * DONE_AT, summary  # counts came back
    reference_bodies = _notified(receiver, "/reference")
    crashed_bodies = _notified(receiver, "/crashed")
    assert sorted(reference_bodies.values()) == [1, 1, 1, 1]
    assert crashed_bodies.keys() == reference_bodies.keys()  # every notification, none other
    # delivery is at least once: a kill in the instant between a send and its record sends that
    # one notification again after the restart, so at most one repeat per kill
    assert sum(crashed_bodies.values()) - len(reference_bodies) <= len(KILL_AT), crashed_bodies
