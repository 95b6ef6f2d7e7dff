"""`paypulse simulate` as a user runs it (its `main`, :mod:`tests.fixtures.cli`), writing real files."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from kernel.events import DeadLetter, Payment, parse_line
from paypulse.simulator import BAD_LINE_KINDS, Simulator, load_scenario
from tests.fixtures.cli import Cli

ROOT = Path(__file__).resolve().parents[2]


def test_simulate_writes_events_and_labels_that_parse(tmp_path: Path, paypulse: Cli) -> None:
    out, labels = tmp_path / "events.jsonl", tmp_path / "labels.jsonl"
    done = paypulse(
        "simulate", "--scenario", "scenarios/drop.toml", "--out", str(out), "--labels-out", str(labels),
        "--duration", "70m", "--seed", "9", cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = out.read_bytes().splitlines()
    assert f"wrote {len(lines)} lines to {out}" in done.stderr
    events = [parse_line(line) for line in lines]
    assert not [e for e in events if isinstance(e, DeadLetter)]
    assert sum(type(e) is Payment for e in events) > 10 * 0.15 * 70 * 60  # 10/s peak, 70 minutes
    scenario = load_scenario(ROOT / "scenarios/drop.toml", seed=9, duration="70m")
    assert lines == list(Simulator(scenario).lines())  # the CLI writes exactly the generator's stream
    assert [orjson.loads(line) for line in labels.read_bytes().splitlines()] == [
        {
            "kind": "success_rate_drop",
            "scope": {"channel": "alipay", "merchant_id": None},
            "start": "2026-03-02T03:00:00Z",
            "end": "2026-03-02T03:10:00Z",  # clipped to the 70 minutes simulated
        }
    ]


def test_simulate_to_stdout(paypulse: Cli) -> None:
    done = paypulse(
        "simulate", "--scenario", "scenarios/bad-lines.toml", "--out", "-", "--duration", "20s", cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    parsed = [parse_line(line.encode()) for line in done.stdout.splitlines()]
    dead = [p for p in parsed if isinstance(p, DeadLetter)]
    assert {d.reason for d in dead} <= set(BAD_LINE_KINDS.values())
    assert len(parsed) - len(dead) > 20 * 50 * 0.9  # 20 s at the 50/s noon peak


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "scenarios/nope.toml"], "scenario file scenarios/nope.toml does not exist"),
        (["--scenario", "scenarios/demo.toml", "--duration", "2 hours"], "invalid setting --duration"),
        (["--scenario", "scenarios/demo.toml", "--seed", "-1"], "invalid setting --seed = -1"),
    ],
)
def test_bad_input_exits_2_with_one_readable_line(
    tmp_path: Path, args: list[str], message: str, paypulse: Cli
) -> None:
    done = paypulse("simulate", "--out", str(tmp_path / "x.jsonl"), *args, cwd=ROOT)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_live_starts_now_and_sends_each_second_when_it_comes(tmp_path: Path, paypulse: Cli) -> None:
    """What the compose stack's simulator does, so that the monitor runs on time: a 4-second
    scenario starting at the wall clock's second takes at least 3 seconds to send, and no line is
    sent before its time."""
    out = tmp_path / "live.jsonl"
    began = time.time()
    done = paypulse(
        "simulate",
        "--scenario",
        "scenarios/demo.toml",
        "--duration",
        "4s",
        "--live",
        "--out",
        str(out),
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    stamps = [e.ts / 1000 for e in map(parse_line, out.read_bytes().splitlines()) if isinstance(e, Payment)]
    assert stamps and began - 1 <= min(stamps) and max(stamps) <= time.time()
    assert time.time() - began >= 3.0  # paced: not written at once
