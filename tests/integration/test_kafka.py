"""The Kafka dataflow against a real broker: nothing lost, the same alerts as a file replay.

A simulated day (``scenarios/drop.toml``: two hours, one Alipay outage) is produced once into a
1-partition and a 4-partition topic with the same producer ``paypulse simulate --kafka-brokers``
uses, then read by :func:`dataflows.kafka.build_kafka_flow` with ``tail=False`` so the run ends
at the topic's end. The reference is the same lines replayed from a file through
:func:`dataflows.flow.build_flow`.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from bytewax.connectors.kafka import KafkaError, KafkaSourceMessage
from bytewax.testing import run_main
from confluent_kafka import KafkaError as ConfluentError

from dataflows.flow import build_flow
from dataflows.kafka import build_kafka_flow, errors_to_dead_letters
from engine.core import Engine, EngineStats
from engine.outputs import Outputs
from engine.sources import FileSource
from kernel.events import DeadLetter, parse_line
from kernel.settings import Settings
from paypulse.cli.simulate import kafka_writer
from paypulse.simulator import BLOCK_MS, Simulator, load_scenario, write_lines
from tests.fixtures.kafka import consume_all, create_topic

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "drop.toml"
pytestmark = pytest.mark.integration


@dataclass
class Run:
    stats: EngineStats
    alerts: list[dict]
    dead: list[dict]


def _settings(workdir: Path, **source: object) -> Settings:
    return Settings(
        source=source,
        dead_letter=workdir / "dead-letter.jsonl",
        alerting={"log": workdir / "alerts.jsonl"},
    )


def _rows(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def _run_kafka(bootstrap: str, topic: str, workdir: Path) -> Run:
    settings = _settings(workdir, brokers=[bootstrap], topic=topic)
    engines: list[Engine] = []
    outputs = Outputs(settings.alerting.log, settings.dead_letter)
    run_main(build_kafka_flow(settings, outputs, on_engine=engines.append, tail=False))
    assert len(engines) == 1, "one shard: exactly one engine"
    return Run(engines[0].stats, _rows(settings.alerting.log), _rows(settings.dead_letter))


def _produce(bootstrap: str, topic: str, partitions: int, simulator: Simulator) -> int:
    create_topic(bootstrap, topic, partitions)
    with kafka_writer(bootstrap, topic) as write:
        return write_lines(simulator.chunks(step_ms=BLOCK_MS), write)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[bytes], Run]:
    """The scenario's lines and the file replay of them: the reference every Kafka run must match."""
    lines = list(Simulator(load_scenario(SCENARIO)).lines())
    workdir = tmp_path_factory.mktemp("file-replay")
    events = workdir / "events.jsonl"
    events.write_bytes(b"".join(line + b"\n" for line in lines))
    settings = _settings(workdir)
    engines: list[Engine] = []
    outputs = Outputs(settings.alerting.log, settings.dead_letter)
    run_main(build_flow(settings, FileSource(events), outputs, on_engine=engines.append))
    return lines, Run(engines[0].stats, _rows(settings.alerting.log), _rows(settings.dead_letter))


def _alert_keys(alerts: list[dict]) -> list[tuple[str, str, str, str]]:
    return [(a["kind"], a["scope"]["channel"] or "", a["scope"]["merchant_id"] or "", a["status"])
            for a in alerts]  # fmt: skip


def test_one_partition_gives_the_file_replay_exactly(kafka_broker: str, day, tmp_path: Path) -> None:
    lines, reference = day
    assert _produce(kafka_broker, "drop-1", 1, Simulator(load_scenario(SCENARIO))) == len(lines)
    run = _run_kafka(kafka_broker, "drop-1", tmp_path)
    bad = sum(isinstance(parse_line(line), DeadLetter) for line in lines)
    assert sum(run.stats.accepted.values()) + run.stats.duplicates == len(lines) - bad
    assert run.stats == reference.stats
    assert _alert_keys(run.alerts) == [
        ("success_rate_drop", "alipay", "", "firing"),
        ("success_rate_drop", "alipay", "", "resolved"),
    ]
    assert run.alerts == reference.alerts  # ids, times, values: byte for byte the same decisions
    assert run.dead == reference.dead


def test_four_partitions_lose_nothing_and_alert_the_same(kafka_broker: str, day, tmp_path: Path) -> None:
    lines, reference = day
    assert _produce(kafka_broker, "drop-4", 4, Simulator(load_scenario(SCENARIO))) == len(lines)
    held = consume_all(kafka_broker, "drop-4")
    assert all(len(values) > len(lines) / 8 for values in held.values()), "keys spread the partitions"
    run = _run_kafka(kafka_broker, "drop-4", tmp_path)
    # Merged by event time, partitions' events never fall behind the watermark (without the merge,
    # 28,486 of 130,055 did; merged by Kafka timestamp, up to 24, as a producer stamps hundreds of
    # messages with the same millisecond)
    assert reference.stats.rejected == {}
    assert run.stats.rejected == {}
    assert sum(run.stats.accepted.values()) == sum(reference.stats.accepted.values())
    assert run.stats.duplicates == reference.stats.duplicates
    assert sorted(_alert_keys(run.alerts)) == sorted(_alert_keys(reference.alerts))
    for got, want in zip(run.alerts, reference.alerts, strict=True):
        # per-event tests see the merged partitions in a slightly different order than the file
        started = [datetime.fromisoformat(a["started_at"]) for a in (got, want)]
        assert abs((started[0] - started[1]).total_seconds()) <= 10
        assert (got["detected_at"] is None) == (want["detected_at"] is None)


def test_malformed_messages_go_to_the_dead_letter_file_with_their_reason(
    kafka_broker: str, tmp_path: Path
) -> None:
    good = (
        b'{"type":"payment","event_id":"e1","ts":"2026-03-02T02:00:00.039Z","channel":"alipay",'
        b'"merchant_id":"m01","order_id":"o1","amount":98.13,"currency":"CNY","status":"succeeded"}'
    )
    sent = [
        good,
        b'{"type":"payment"',
        b"not json at all",
        b"[1, 2]",
        b'{"type":"refund","ts":"2026-03-02T02:00:01Z"}',
    ]
    create_topic(kafka_broker, "malformed", 2)
    with kafka_writer(kafka_broker, "malformed") as write:
        for line in sent:
            write(line)
    run = _run_kafka(kafka_broker, "malformed", tmp_path)
    assert sum(run.stats.accepted.values()) == 1
    assert Counter((d["reason"], d["raw"]) for d in run.dead) == Counter(
        {
            ("bad_json", '{"type":"payment"'): 1,
            ("bad_json", "not json at all"): 1,
            ("not_object", "[1, 2]"): 1,
            ("unknown_type", '{"type":"refund","ts":"2026-03-02T02:00:01Z"}'): 1,
        }
    )


def test_consumer_errors_with_a_message_become_dead_letters_and_fatal_ones_stop_the_flow() -> None:
    msg = KafkaSourceMessage(key=None, value=b"payload", topic="payments", partition=2, offset=41)
    transient = KafkaError(ConfluentError(ConfluentError._TRANSPORT, "broker down"), msg)
    no_payload = KafkaError(ConfluentError(ConfluentError._TRANSPORT, "broker down"), msg._with_value(None))
    [(key, out)] = errors_to_dead_letters([transient, no_payload])
    assert key == "all"
    assert out.dead_letters == [DeadLetter(b"payload", "kafka_error", "payments[2]@41: broker down")]
    assert errors_to_dead_letters([no_payload]) == []
    fatal = KafkaError(ConfluentError(ConfluentError._FATAL, "fenced", fatal=True), msg)
    with pytest.raises(RuntimeError, match=r"fatal Kafka consumer error on payments\[2\]@41"):
        errors_to_dead_letters([fatal])


def _paypulse(*args: str) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-c", "from paypulse.cli.main import main; main()", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, timeout=120, check=False)


def test_simulate_produces_every_line_to_kafka(kafka_broker: str) -> None:
    create_topic(kafka_broker, "cli", 4)
    done = _paypulse(
        "simulate", "--scenario", str(SCENARIO), "--duration", "20m", "--seed", "5",
        "--kafka-brokers", kafka_broker, "--topic", "cli",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    expected = list(Simulator(load_scenario(SCENARIO, seed=5, duration="20m")).lines())
    assert f"wrote {len(expected)} lines to Kafka topic cli".encode() in done.stderr
    held = consume_all(kafka_broker, "cli")  # to EOF, not by end offsets
    assert Counter(v for values in held.values() for v in values) == Counter(expected)
    for values in held.values():  # each partition keeps the stream order of its lines
        mine = set(values)
        assert values == [line for line in expected if line in mine]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kafka-brokers", "no-port-here"], b"invalid setting --kafka-brokers = 'no-port-here'"),
        (["--kafka-brokers", "127.0.0.1:9", "--out", "x.jsonl"], b"give exactly one of --out"),
        ([], b"give exactly one of --out"),
    ],
)
def test_simulate_kafka_options_are_checked(args: list[str], message: bytes) -> None:
    done = _paypulse("simulate", "--scenario", str(SCENARIO), "--duration", "1m", *args)
    assert done.returncode == 2
    assert message in done.stderr
