"""The PayPulse dataflow: a flat chain of named steps around the plain-Python engine.

    read-lines -> one-shard -> monitor-payments -> write-outputs

(:mod:`dataflows.kafka` reads Kafka instead and shares ``monitor-payments`` and ``write-outputs``.)

``monitor-payments`` is a ``stateful_batch`` step holding one :class:`~engine.core.Engine`;
windows, joins and detectors live inside it, not in Bytewax's windowing operators, which cost
several microseconds per key update (see the README's benchmark). Run it with
``python -m bytewax.run "dataflows.flow:flow_from_env()"`` or through ``paypulse run``/``replay``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.operators import KeyedStream, StatefulBatchLogic
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from dataflows.sources import LineBatchSource
from engine.core import Engine, EngineOutput
from engine.outputs import Outputs
from engine.sources import Source
from engine.view import Publisher
from kernel.settings import Settings, load_settings

__all__ = ["build_flow", "flow_from_env"]


class EngineLogic(StatefulBatchLogic[list[bytes], EngineOutput, dict]):
    """Adapts the engine to Bytewax: batches in, outputs out, snapshots for recovery."""

    def __init__(
        self,
        engine: Engine,
        on_engine: Callable[[Engine], None],
        on_batch: Callable[[float], None] | None,
        publisher: Publisher | None = None,
    ) -> None:
        self.engine = engine
        self.observe_duration = on_batch
        self.publisher = publisher
        on_engine(engine)
        if publisher is not None:
            publisher.offer(engine, force=True)  # a resumed engine's totals show at once

    def on_batch(self, values: list[list[bytes]]) -> tuple[list[EngineOutput], bool]:
        out = EngineOutput()
        for lines in values:
            started = time.perf_counter()
            out.extend(self.engine.process(lines))
            if self.observe_duration is not None:
                self.observe_duration(time.perf_counter() - started)
        out.event_time_ms = self.engine.windows.max_ts
        if self.publisher is not None:
            self.publisher.offer(self.engine)
        return [out], StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[list[EngineOutput], bool]:
        out = self.engine.finish()
        if self.publisher is not None:
            self.publisher.offer(self.engine, force=True)
        return [out], StatefulBatchLogic.RETAIN

    def snapshot(self) -> dict:
        return self.engine.snapshot()


class _OutputsPartition(StatelessSinkPartition[tuple[str, EngineOutput]]):
    def __init__(self, outputs: Outputs) -> None:
        self.outputs = outputs

    def write_batch(self, items: list[tuple[str, EngineOutput]]) -> None:
        for _key, out in items:
            self.outputs.write(out, out.event_time_ms)

    def close(self) -> None:
        self.outputs.close()


class OutputsSink(DynamicSink[tuple[str, EngineOutput]]):
    def __init__(self, outputs: Outputs) -> None:
        self.outputs = outputs

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _OutputsPartition:
        return _OutputsPartition(self.outputs)


def monitor(
    lines: KeyedStream[list[bytes]],
    settings: Settings,
    on_engine: Callable[[Engine], None] = lambda engine: None,
    on_batch: Callable[[float], None] | None = None,
    publisher: Publisher | None = None,
) -> KeyedStream[EngineOutput]:
    """The ``monitor-payments`` step every flow shares: batches of lines in, engine outputs out.

    ``on_engine`` is handed the engine once built; ``on_batch`` gets each batch's processing time
    in seconds (the batch-duration histogram); ``publisher`` gets a view of the engine between
    batches for /metrics and the live views (:mod:`engine.view`).
    """

    def build_logic(resume: dict | None) -> EngineLogic:
        engine = Engine(settings)
        if resume is not None:
            engine.restore(resume)
        return EngineLogic(engine, on_engine, on_batch, publisher)

    return op.stateful_batch("monitor-payments", lines, build_logic)


def build_flow(
    settings: Settings,
    source: Source,
    outputs: Outputs,
    on_engine: Callable[[Engine], None] = lambda engine: None,
    on_batch: Callable[[float], None] | None = None,
    publisher: Publisher | None = None,
) -> Dataflow:
    """Wire a line source (file, stdin, simulator), the engine and the outputs."""
    flow = Dataflow("paypulse")
    batches = op.input("read-lines", flow, LineBatchSource(source, settings.source.batch_size))
    keyed = op.key_on("one-shard", batches, lambda _lines: "all")
    results = monitor(keyed, settings, on_engine, on_batch, publisher)
    op.output("write-outputs", results, OutputsSink(outputs))
    return flow


def flow_from_env(config: str | None = None) -> Dataflow:
    """For ``python -m bytewax.run``: settings from PAYPULSE_* and an optional TOML path."""
    from engine.sources import FileSource, StdinSource

    settings = load_settings(Path(config) if config else None)
    source: Source = FileSource(settings.source.path) if settings.source.path else StdinSource()
    outputs = Outputs(settings.alerting.log, settings.dead_letter)
    return build_flow(settings, source, outputs)
