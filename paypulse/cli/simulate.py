"""`paypulse simulate`: write a scenario's events (and its incident labels) as JSON Lines.

The command only opens the outputs; generating is :class:`~paypulse.simulator.Simulator` and
writing is :func:`~paypulse.simulator.write_lines`, so another sink (Kafka) reuses both.
With ``--kafka-brokers`` every line becomes one message of ``--topic``, keyed by its order id
so a payment and its callback share a partition.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Annotated

import orjson
import typer

from kernel.errors import ConfigError, PayPulseError
from paypulse.simulator import (
    BLOCK_MS,
    Simulator,
    line_writer,
    load_scenario,
    parse_duration,
    write_labels,
    write_lines,
)
from paypulse.simulator.pacing import paced

__all__ = ["kafka_writer", "register", "simulate"]


def simulate(
    scenario: Annotated[
        Path, typer.Option("--scenario", "-s", help="scenario TOML, e.g. scenarios/day.toml")
    ],
    out: Annotated[
        str | None, typer.Option("--out", "-o", help="events JSONL file, or '-' for stdout")
    ] = None,
    labels_out: Annotated[
        Path | None, typer.Option("--labels-out", help="write the incident labels (JSONL) here")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="override the scenario's seed")] = None,
    duration: Annotated[
        str | None, typer.Option("--duration", help="override the scenario's duration, e.g. '2h' or '90m'")
    ] = None,
    kafka_brokers: Annotated[
        str | None,
        typer.Option(
            "--kafka-brokers", help="produce to Kafka instead: bootstrap servers, host:port[,host:port]"
        ),
    ] = None,
    topic: Annotated[str, typer.Option("--topic", help="Kafka topic for --kafka-brokers")] = "payments",
    live: Annotated[
        bool,
        typer.Option("--live", help="start now and send each event when it happens, as a live shop does"),
    ] = False,
) -> None:
    """Generate a scenario's payment events as JSON Lines, in stream order, to a file or Kafka."""
    if (out is None) == (kafka_brokers is None):
        raise ConfigError("give exactly one of --out FILE and --kafka-brokers HOST:PORT")
    if seed is not None and seed < 0:
        raise ConfigError(f"invalid setting --seed = {seed}: must be >= 0")
    if duration is not None:
        try:
            parse_duration(duration)
        except ValueError as err:
            raise ConfigError(f"invalid setting --duration = {duration!r}: {err}") from None
    start = datetime.now(UTC).replace(microsecond=0).isoformat() if live else None
    loaded = load_scenario(scenario, seed=seed, duration=duration, start=start)
    simulator = Simulator(loaded)
    # live: one-second chunks, each sent when its second has come (Prometheus sees no lag)
    if live:
        chunks = paced(simulator.chunks(step_ms=1000), origin_ms=loaded.start_ms)
    else:
        chunks = simulator.chunks(step_ms=BLOCK_MS)
    began = time.perf_counter()
    if kafka_brokers is not None:
        with kafka_writer(kafka_brokers, topic) as write:
            count = write_lines(chunks, write)
        where = f"Kafka topic {topic}"
    else:
        assert out is not None
        with ExitStack() as stack:
            stream: IO[bytes] = sys.stdout.buffer if out == "-" else stack.enter_context(_open(Path(out)))
            count = write_lines(chunks, line_writer(stream, flush=live))
            stream.flush()
        where = "stdout" if out == "-" else out
    if labels_out is not None:
        with _open(labels_out) as labels:
            write_labels(simulator.labels(), labels)
    elapsed = max(time.perf_counter() - began, 1e-9)
    typer.echo(
        f"wrote {count} lines to {where} in {elapsed:.1f} s ({count / elapsed:,.0f} lines/s)", err=True
    )


def _open(path: Path) -> IO[bytes]:
    try:
        return path.open("wb")
    except OSError as err:
        raise ConfigError(f"cannot write {path}: {err.strerror}") from None


def _order_key(line: bytes) -> bytes | None:
    """The order id of a line, as the message key; None for a line that is not a JSON object."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    order_id = event.get("order_id") if isinstance(event, dict) else None
    return order_id.encode() if isinstance(order_id, str) else None


@contextmanager
def kafka_writer(brokers: str, topic: str) -> Iterator[Callable[[bytes], None]]:
    """A ``write`` for :func:`write_lines` producing each line as one message of ``topic``.

    On leaving, it waits until every message is acknowledged, and raises naming the first
    failure if any line was not delivered, so a count it reports is a count the topic holds.
    """
    from confluent_kafka import KafkaError, KafkaException, Producer

    servers = [b.strip() for b in brokers.split(",") if b.strip()]
    if not servers or any(":" not in b for b in servers):
        raise ConfigError(f"invalid setting --kafka-brokers = {brokers!r}: expected host:port[,host:port]")
    failures: list[KafkaError] = []

    def delivered(err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            failures.append(err)

    try:
        producer = Producer(
            {"bootstrap.servers": ",".join(servers), "linger.ms": 20, "enable.idempotence": True}
        )
    except KafkaException as err:
        raise ConfigError(f"invalid Kafka producer setting: {err}") from None
    produce, poll = producer.produce, producer.poll

    def write(line: bytes) -> None:
        key = _order_key(line)
        while True:
            try:
                produce(topic, line, key, on_delivery=delivered)
                return
            except BufferError:  # the local queue is full: let deliveries drain it
                poll(0.05)

    yield write
    remaining = producer.flush(60)
    if remaining or failures:
        first = failures[0].str() if failures else "not acknowledged within 60 s"
        raise PayPulseError(
            f"Kafka: {remaining + len(failures)} lines not delivered to {topic} at {brokers}: {first}"
        )


def register(app: typer.Typer) -> None:
    """Add this command group's commands to ``app``."""
    app.command("simulate")(simulate)
