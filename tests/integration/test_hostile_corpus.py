"""No input line can stop, blind or change the monitor.

A clean simulated stream with an incident (``scenarios/drop.toml`` cut to its first 80 minutes:
an Alipay success-rate drop starts an hour in) is mixed with 35 lines of each of the corpus's categories
(``tests/fixtures/hostile.py``, over 3,000 lines) at seeded random positions. Both streams go
through the :class:`~engine.core.Engine`, and the hostile one through ``paypulse replay``
as a subprocess. Every hostile line must get exactly what its category says (its dead-letter
reason, a duplicate, or acceptance as the event it is), no valid event may be lost, and the
alert log must be the clean run's.

The corpus's valid lines are the clean stream's own events written another way or arriving
early, so the hostile run accepts exactly the clean run's events: any difference is a loss.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from engine.core import Engine, EngineStats
from engine.sources import FileSource, batched
from kernel.alerts import Alert
from kernel.errors import REJECT_REASONS
from kernel.events import MAX_KEPT, DeadLetter
from kernel.settings import Settings
from paypulse.simulator import Simulator, load_scenario
from tests.fixtures.hostile import CATEGORIES, DUPLICATE, VALID, build_stream

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PER_CATEGORY = 35
SEED = 7
BATCH = 1000  # the default source.batch_size, as `paypulse replay` reads

AlertKey = tuple[str, str | None, str | None, str, str, str]


@dataclass
class Run:
    stats: EngineStats
    alerts: list[AlertKey]
    dead: list[DeadLetter]


def alert_key(row: dict) -> AlertKey:
    """What must not change: kind, scope, status, change point and detection time."""
    scope = row["scope"]
    return (row["kind"], scope["channel"], scope["merchant_id"], row["status"], row["started_at"],
            row["detected_at"])  # fmt: skip


def run_engine(batches: list[list[bytes]]) -> Run:
    engine = Engine(Settings())
    alerts: list[Alert] = []
    dead: list[DeadLetter] = []
    for lines in batches:
        out = engine.process(lines)
        alerts += out.alerts
        dead += out.dead_letters
    out = engine.finish()
    return Run(engine.stats, [alert_key(a.to_json()) for a in alerts + out.alerts], dead + out.dead_letters)


def batches_of_clean_lines(lines: list[bytes], labels: list[str | None]) -> list[list[bytes]]:
    """Batches holding ``BATCH`` clean lines each, with the hostile lines among them: the engine
    sees the clean run's valid traffic in the same batches, so only the hostile lines differ."""
    batches: list[list[bytes]] = [[]]
    clean = 0
    for line, label in zip(lines, labels, strict=True):
        batches[-1].append(line)
        if label is None:
            clean += 1
            if clean % BATCH == 0:
                batches.append([])
    return batches


def category_of(raws: list[bytes], labels: list[str | None]) -> dict[bytes, str]:
    """Each hostile line's category by the bytes a dead letter keeps of it (its first 4 KiB).

    A copy has its original's bytes; the clean run rejects nothing and the accepted counts show
    that no valid event is lost, so a dead letter with those bytes is the copy.
    """
    owners: dict[bytes, set[str]] = {}
    for raw, label in zip(raws, labels, strict=True):
        if label is not None:
            owners.setdefault(raw[:MAX_KEPT], set()).add(label)
    ambiguous = {raw[:60]: names for raw, names in owners.items() if len(names) > 1}
    assert not ambiguous, f"lines whose first 4 KiB do not name one category: {ambiguous}"
    return {raw: names.pop() for raw, names in owners.items()}


def expected_letters(labels: list[str | None], skip: tuple[str, ...] = ()) -> Counter[tuple[str, str]]:
    """(category, reason) of every line that must be dead-lettered."""
    return Counter(
        (label, CATEGORIES[label].expect)
        for label in labels
        if label is not None and label not in skip and CATEGORIES[label].expect not in (VALID, DUPLICATE)
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    clean = list(Simulator(load_scenario(ROOT / "scenarios" / "drop.toml", duration="80m")).lines())
    hostile, labels = build_stream(clean, PER_CATEGORY, SEED)
    tmp = tmp_path_factory.mktemp("hostile")
    path = tmp / "hostile.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in hostile))
    clean_labels: list[str | None] = [None] * len(clean)
    return {
        "tmp": tmp,
        "path": path,
        "lines": hostile,
        "labels": labels,
        "clean": run_engine(batches_of_clean_lines(clean, clean_labels)),
        "hostile": run_engine(batches_of_clean_lines(hostile, labels)),
    }


def test_the_corpus_mixes_over_3000_lines_of_every_category_into_the_stream(runs: dict) -> None:
    counts = Counter(label for label in runs["labels"] if label is not None)
    assert len(CATEGORIES) >= 45
    assert counts == {name: PER_CATEGORY for name in CATEGORIES}
    assert sum(counts.values()) >= 3000
    outcomes = {VALID, DUPLICATE} | set(REJECT_REASONS) - {"kafka_error"}  # no Kafka here
    assert {c.expect for c in CATEGORIES.values()} == outcomes
    assert all(b"\n" not in line for line in runs["lines"])


def test_the_clean_stream_finds_its_incident_and_rejects_nothing(runs: dict) -> None:
    clean = runs["clean"]
    assert ("success_rate_drop", "alipay", None, "firing") in {key[:4] for key in clean.alerts}
    assert clean.stats.rejected == {} and clean.dead == []


def test_every_hostile_line_is_accounted_for(runs: dict) -> None:
    stats = runs["hostile"].stats
    accepted = sum(stats.accepted.values())
    rejected = sum(stats.rejected.values())
    assert accepted + stats.duplicates + rejected == len(runs["lines"])
    assert rejected == len(runs["hostile"].dead)


def test_no_valid_event_is_lost_and_none_is_added(runs: dict) -> None:
    clean, hostile = runs["clean"].stats, runs["hostile"].stats
    duplicates = sum(1 for label in runs["labels"] if label and CATEGORIES[label].expect == DUPLICATE)
    assert hostile.accepted == clean.accepted
    assert hostile.duplicates == clean.duplicates + duplicates


def test_every_dead_letter_carries_its_categorys_reason(runs: dict) -> None:
    owner = category_of(runs["lines"], runs["labels"])
    got = Counter((owner.get(letter.raw, "clean"), letter.reason) for letter in runs["hostile"].dead)
    assert got == expected_letters(runs["labels"])


def test_the_alert_log_is_the_clean_runs(runs: dict) -> None:
    assert runs["hostile"].alerts == runs["clean"].alerts


def test_replay_cli_takes_the_hostile_file_and_writes_the_clean_runs_alerts(runs: dict) -> None:
    tmp: Path = runs["tmp"]
    alerts_out, dead_out = tmp / "alerts.jsonl", tmp / "dead.jsonl"
    command = [sys.executable, "-m", "paypulse", "replay", str(runs["path"])]
    command += ["--alerts-out", str(alerts_out), "--dead-letter", str(dead_out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr

    rows = [orjson.loads(line) for line in dead_out.read_bytes().splitlines()]
    assert all(row["reason"] in REJECT_REASONS and row["detail"] for row in rows)
    owner = category_of(runs["lines"], runs["labels"])
    raws = [row["raw"].encode() if "raw" in row else base64.b64decode(row["raw_base64"]) for row in rows]
    got = Counter((owner.get(raw, "clean"), row["reason"]) for raw, row in zip(raws, rows, strict=True))
    assert got == expected_letters(runs["labels"], skip=("empty_line",))  # a file reader skips those

    alerts = [alert_key(orjson.loads(line)) for line in alerts_out.read_bytes().splitlines()]
    source = FileSource(runs["path"])
    same_batches = run_engine([b for _, b in batched(source.read(str(runs["path"]), None), BATCH)])
    assert alerts == same_batches.alerts, "the CLI writes what the engine gives for the same batches"
    assert alerts == runs["clean"].alerts, "same lines in other batches: the inserted lines moved the cuts"
