"""The PayPulse dataflow on Kafka, read with Bytewax's own connector.

    read-kafka -> stamp-lines -> merge-partitions -> monitor-payments -> write-outputs
              \\-> kafka-errors ------------------------------------------/

``monitor-payments`` and ``write-outputs`` are the same steps as in :mod:`dataflows.flow`
(:class:`~dataflows.flow.EngineLogic`, :class:`~dataflows.flow.OutputsSink`), so a Kafka run and
a file replay of the same events give the same alerts.

Why ``merge-partitions``: Bytewax reads every Kafka partition on its own, up to ``batch_size``
messages per poll. Live, that is harmless: each partition hands over what arrived in the last
moments. On a backlog (a restart, a replay, ``tail=False``) it is not: a thousand messages of
one partition can span many minutes of event time, so the next partition's events would reach
the engine behind its watermark and be dropped as ``too_late``. The step merges the partitions
by event time, the way Kafka Streams picks the partition with the oldest head: a line leaves
once every partition still delivering has reached its time. (Not by the Kafka timestamp: a
producer sends hundreds of events within one millisecond, and a tie broken by partition can
span more than the lateness of event time. A line without a readable event time keeps its
partition's order, and the engine dead-letters it.) A partition that says nothing for
``batch_timeout`` (idle, or at its end) stops holding the others back; its next lines may then
arrive a little out of order, which the engine's lateness absorbs.

Offsets live in Bytewax's recovery store (the connector does not commit to a consumer group),
so exactly-once reading needs ``-r``; lines held by ``merge-partitions`` are in its snapshot.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaError, KafkaSourceMessage
from bytewax.connectors.kafka import operators as kop
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulBatchLogic
from confluent_kafka.admin import AdminClient

from dataflows.flow import OutputsSink, monitor
from engine.core import Engine, EngineOutput
from engine.outputs import Outputs
from engine.view import Publisher
from kernel.clock import Clock, SystemClock
from kernel.events import DeadLetter, event_time_ms
from kernel.settings import Settings, load_settings

__all__ = ["PartitionMerge", "build_kafka_flow", "flow_from_env"]

log = logging.getLogger(__name__)

_KEY = "all"  # one shard: the engine sees the whole stream
_MAX_KEPT = 4096

Stamped = tuple[int, int, bytes]  # (partition, event time in ms, line)


class PartitionMerge:
    """Merges lines from several partitions into one stream ordered by their timestamps.

    Plain Python with an injected clock: ``add`` buffers, ``release`` hands back what every
    partition still delivering has passed, ``drain`` everything (end of input). A partition is
    quiet, and stops holding the others back, once it said nothing for ``idle_s`` of wall time
    *and* through two rounds (``add`` or ``tick``): a flow busy for a while must not mistake
    partitions it has not polled yet for idle ones. One never heard from holds the others back
    for ``startup_s`` after the start, the time a consumer may take to connect.

    >>> from kernel.clock import ManualClock
    >>> clock = ManualClock(0.0)
    >>> merge = PartitionMerge([0, 1], idle_s=1.0, clock=clock, startup_s=5.0)
    >>> merge.add([(0, 10, b"a"), (0, 30, b"c")])
    >>> merge.release()                 # partition 1 has not spoken yet
    []
    >>> merge.add([(1, 20, b"b")])
    >>> merge.release()                 # both reached 20; partition 0's line at 30 waits
    [b'a', b'b']
    >>> clock.advance(1.5)
    >>> merge.tick()                    # quiet for 1.5 s, but only one round: still waiting
    []
    >>> merge.tick()                    # two rounds: partition 1 is quiet
    [b'c']
    """

    def __init__(self, partitions: list[int], idle_s: float, clock: Clock, startup_s: float = 5.0) -> None:
        self.idle_s = idle_s
        self.clock = clock
        self.rounds = 0
        self.buffers: dict[int, deque[tuple[int, bytes]]] = {p: deque() for p in partitions}
        self.heads: dict[int, int] = {}  # the latest timestamp each partition delivered
        # When each partition last delivered (wall time, round); the start counts as a delivery
        # made startup_s - idle_s later, so a silent partition is waited for startup_s.
        grace = clock.now() + max(startup_s - idle_s, 0.0)
        self.heard: dict[int, tuple[float, int]] = dict.fromkeys(partitions, (grace, 0))

    def add(self, lines: list[Stamped]) -> None:
        self.rounds += 1
        heard = (self.clock.now(), self.rounds)
        for partition, ts, line in lines:
            buffer = self.buffers.get(partition)
            if buffer is None:
                buffer = self.buffers[partition] = deque()
            head = self.heads.get(partition, -1)
            if ts < head:  # no event time (-1) or out of order within the partition: keep its order
                ts = head
            self.heads[partition] = ts
            self.heard[partition] = heard
            buffer.append((ts, line))

    def tick(self) -> list[bytes]:
        """A round with nothing new (a timer): quiet partitions may let lines go."""
        self.rounds += 1
        return self.release()

    def frontier(self) -> int | None:
        """The timestamp every partition still delivering has reached; None = nobody is."""
        cutoff = self.clock.now() - self.idle_s
        waiting = [p for p, (at, rnd) in self.heard.items() if at > cutoff or self.rounds - rnd < 2]
        if not waiting:
            return None
        if any(p not in self.heads for p in waiting):
            return -1
        return min(self.heads[p] for p in waiting)

    def release(self) -> list[bytes]:
        frontier = self.frontier()
        if frontier is None:
            return self.drain()
        out: list[tuple[int, bytes]] = []
        for buffer in self.buffers.values():
            while buffer and buffer[0][0] <= frontier:
                out.append(buffer.popleft())
        out.sort(key=itemgetter(0))  # stable: ties keep each partition's order
        return [line for _ts, line in out]

    def drain(self) -> list[bytes]:
        out = [item for buffer in self.buffers.values() for item in buffer]
        for buffer in self.buffers.values():
            buffer.clear()
        out.sort(key=itemgetter(0))
        return [line for _ts, line in out]

    def next_wake(self) -> float | None:
        """When to ``tick`` again: while lines wait, every ``idle_s`` (or sooner, at a grace's end)."""
        if not any(self.buffers.values()) or math.isinf(self.idle_s):
            return None
        now = self.clock.now()
        later = [at + self.idle_s for at, _rnd in self.heard.values() if at + self.idle_s > now]
        return min([now + self.idle_s, *later])

    def snapshot(self) -> dict[str, Any]:
        return {"v": 1, "buffers": {str(p): [[ts, line] for ts, line in b] for p, b in self.buffers.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        for key, rows in state["buffers"].items():
            partition = int(key)
            self.buffers[partition] = deque((int(ts), bytes(line)) for ts, line in rows)
            if rows:
                self.heads[partition] = int(rows[-1][0])
                self.heard[partition] = (self.clock.now(), 0)


class _MergeLogic(StatefulBatchLogic[list[Stamped], list[bytes], dict]):
    """Bytewax face of :class:`PartitionMerge`: stamped lines in, ordered batches out."""

    def __init__(self, merge: PartitionMerge) -> None:
        self.merge = merge

    def _emit(self, lines: list[bytes]) -> tuple[list[list[bytes]], bool]:
        return ([lines] if lines else []), StatefulBatchLogic.RETAIN

    def on_batch(self, values: list[list[Stamped]]) -> tuple[list[list[bytes]], bool]:
        for stamped in values:
            self.merge.add(stamped)
        return self._emit(self.merge.release())

    def on_notify(self) -> tuple[list[list[bytes]], bool]:
        return self._emit(self.merge.tick())

    def on_eof(self) -> tuple[list[list[bytes]], bool]:
        return self._emit(self.merge.drain())

    def notify_at(self) -> datetime | None:
        wake = self.merge.next_wake()
        return None if wake is None else datetime.fromtimestamp(wake, UTC)

    def snapshot(self) -> dict:
        return self.merge.snapshot()


def stamp_lines(messages: list[KafkaSourceMessage]) -> list[tuple[str, list[Stamped]]]:
    """One item per polled batch: ``(partition, event time, line)`` for each message.

    A message is one event; a trailing newline is dropped. An empty message (a tombstone)
    becomes an empty line, which the engine dead-letters as ``bad_json``. A line without a
    readable event time is stamped -1: :class:`PartitionMerge` keeps it in its partition's order.
    """
    stamped = []
    for m in messages:
        line = (m.value or b"").rstrip(b"\r\n")
        ts = event_time_ms(line)
        stamped.append((m.partition, -1 if ts is None else ts, line))
    return [(_KEY, stamped)] if stamped else []


def errors_to_dead_letters(errors: list[KafkaError]) -> list[tuple[str, EngineOutput]]:
    """Log every consumer error; dead-letter the ones that carry a message, stop on fatal ones.

    Most consumer errors are about the connection (a broker restarting): librdkafka retries
    them, so they are logged and the flow goes on. A fatal error means the consumer cannot go
    on, so the flow stops and its supervisor restarts it from the last snapshot.
    """
    letters = []
    for error in errors:
        err, msg = error.err, error.msg
        where = f"{msg.topic}[{msg.partition}]@{msg.offset}"
        if err.fatal():
            raise RuntimeError(f"fatal Kafka consumer error on {where}: {err.str()}")
        log.warning("Kafka consumer error on %s: %s", where, err.str())
        if msg.value:
            letters.append(DeadLetter(msg.value[:_MAX_KEPT], "kafka_error", f"{where}: {err.str()}"))
    return [(_KEY, EngineOutput(dead_letters=letters))] if letters else []


def _partitions(settings: Settings) -> list[int]:
    source = settings.source
    admin = AdminClient({"bootstrap.servers": ",".join(source.brokers), **source.kafka_config})
    topic = admin.list_topics(source.topic, timeout=30).topics[source.topic]
    if topic.error is not None:
        raise RuntimeError(f"Kafka topic {source.topic!r}: {topic.error.str()}")
    return sorted(topic.partitions)


def build_kafka_flow(
    settings: Settings,
    outputs: Outputs,
    on_engine: Callable[[Engine], None] = lambda engine: None,
    on_batch: Callable[[float], None] | None = None,
    publisher: Publisher | None = None,
    *,
    tail: bool = True,
    clock: Clock | None = None,
) -> Dataflow:
    """Read ``settings.source.topic`` from ``settings.source.brokers`` into the engine and outputs.

    ``tail=True`` (production) waits for new messages forever; ``tail=False`` stops once every
    partition reached its end, as a replay does. ``on_engine``/``on_batch``/``publisher`` as in
    :func:`dataflows.flow.build_flow`. ``clock`` drives the idle timeout of ``merge-partitions``.
    """
    source = settings.source
    wall = clock or SystemClock()
    # A partition silent this long stops holding the others back. Shorter than the lateness, or its
    # events would come too late anyway; much longer than a batch timeout, so a busy machine's
    # scheduling hiccup does not look like an idle partition.
    idle_s = max(source.batch_timeout.total_seconds(), settings.windows.lateness.total_seconds() / 3)
    if not tail:
        # A finite read: a partition the consumer has not polled for a while is not idle, only
        # behind; waiting for it (or for the end) costs memory, never a late event.
        idle_s = math.inf

    def build_merge(resume: dict | None) -> _MergeLogic:
        merge = PartitionMerge(_partitions(settings), idle_s, wall)
        if resume is not None:
            merge.restore(resume)
        return _MergeLogic(merge)

    flow = Dataflow("paypulse")
    kafka = kop.input(
        "read-kafka",
        flow,
        brokers=list(source.brokers),
        topics=[source.topic],
        tail=tail,
        add_config=dict(source.kafka_config) or None,
        batch_size=source.batch_size,
    )
    stamped = op.flat_map_batch("stamp-lines", kafka.oks, stamp_lines)
    ordered = op.stateful_batch("merge-partitions", stamped, build_merge)
    results = monitor(ordered, settings, on_engine, on_batch, publisher)
    rejected = op.flat_map_batch("kafka-errors", kafka.errs, errors_to_dead_letters)
    op.output("write-outputs", op.merge("all-outputs", results, rejected), OutputsSink(outputs))
    return flow


def flow_from_env(config: str | None = None, tail: bool = True) -> Dataflow:
    """For ``python -m bytewax.run "dataflows.kafka:flow_from_env()"``: settings from PAYPULSE_*."""
    settings = load_settings(Path(config) if config else None)
    outputs = Outputs(settings.alerting.log, settings.dead_letter)
    return build_kafka_flow(settings, outputs, tail=tail)
