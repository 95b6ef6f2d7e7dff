"""`paypulse run`: the production path — Kafka, a file, stdin or the simulator, with every service up.

It says what it reads and where it serves at start, and at the end (the input ran out, or Ctrl-C
or SIGTERM stopped it) what it read, refused and alerted on, and where the results went.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from engine.sources import FileSource, SimulatorSource, Source
from kernel.clock import SystemClock
from kernel.durations import format_duration
from kernel.errors import ConfigError
from kernel.settings import Settings, load_settings
from paypulse.cli.common import ConfigOption, check_writable

if TYPE_CHECKING:
    from dataflows.recovery import Store

console = Console(stderr=True, highlight=False, soft_wrap=True)


def run(
    config: ConfigOption = None,
    events: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="read this JSONL file instead of source.*"),
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="discard the kept state (recovery.dir) and read from the start")
    ] = False,
) -> None:
    """Run the monitor: source from settings, /metrics and the status page served, alerts delivered.

    The run keeps its state in recovery.dir (Kafka and file sources): started again after a crash
    or a stop, it goes on where it was, without writing or sending an alert twice.
    """
    from paypulse.runtime import describe_outputs, run_dataflow, start_services, summarize  # the servers

    settings = load_settings(config)
    kind = "file" if events else settings.source.kind
    check_writable(settings)
    stop = threading.Event()
    source = None if kind == "kafka" else _source(kind, events, settings, stop)  # a wrong one stops here
    reads = _describe_source(kind, events, settings)
    store = _recovery(settings, kind, reads, fresh)
    clock = SystemClock()
    services = start_services(settings, clock, clock)
    if store is not None:
        services.outputs.resume(store.alerts_logged)
    started = time.monotonic()

    def say_ready() -> None:
        console.print(f"paypulse run: reading {reads}; Ctrl-C stops")
        if store is not None:
            console.print(f"  {_kept(store)}")
        for name, url in services.urls.items():
            console.print(f"  {_LABELS.get(name, name + ':'):<12} {url}")

    try:
        if source is None:
            from dataflows.kafka import build_kafka_flow

            flow = build_kafka_flow(
                settings, services.outputs, on_batch=services.observe_batch, publisher=services.publisher
            )
        else:
            from dataflows.flow import build_flow

            flow = build_flow(settings, source, services.outputs, on_batch=services.observe_batch,
                              publisher=services.publisher)  # fmt: skip
        stopped_by = run_dataflow(flow, stop, say_ready, store)
        line = summarize(services.stats(), time.monotonic() - started)
        outputs = describe_outputs(services)
    finally:
        services.stop()
    if stopped_by is not None:
        console.print(f"paypulse: stopped by {stopped_by}: {line}")
        return
    console.print(f"paypulse: input ended: {line}")
    console.print(f"  outputs: {outputs}")
    if services.urls:
        console.print(
            "  /metrics and the status page stopped with the run; `paypulse statuspage` serves the page alone"
        )


_LABELS = {"metrics": "metrics:", "status": "status page:"}
_RESUMABLE = ("kafka", "file")  # standard input cannot be read again; the simulator starts over


def _recovery(settings: Settings, kind: str, reads: str, fresh: bool) -> Store | None:
    if not settings.recovery.enabled or kind not in _RESUMABLE:
        return None
    from dataflows.recovery import open_store

    if kind == "file":  # the file itself, wherever the run was started from
        reads = str(Path(reads).resolve())
    return open_store(settings, reads, fresh=fresh)


def _kept(store: Store) -> str:
    every = format_duration(store.epoch_interval)
    if not store.resumed:
        return f"state:       kept in {store.dir} (snapshot every {every}); --fresh starts over"
    return (
        f"state:       resuming from {store.dir} ({store.alerts_logged:,} alert changes already logged); "
        "--fresh starts over"
    )


def _describe_source(kind: str, events: Path | None, settings: Settings) -> str:
    source = settings.source
    if kind == "kafka":
        return f"Kafka topic {source.topic} at {','.join(source.brokers)}"
    if kind == "simulator":
        return f"the simulator, scenario {source.scenario}, as fast as it generates"
    if kind == "stdin":
        return "standard input"
    return f"{events or source.path}"


def _source(kind: str, path: Path | None, settings: Settings, stop: threading.Event) -> Source:
    if kind == "stdin":
        return InterruptibleStdin(stop)
    if kind == "file":
        path = path or settings.source.path
        if path is None:
            raise ConfigError("source.path is required when source.kind = 'file' (or pass --events FILE)")
        if not path.is_file():
            raise _missing("source.path", path, settings, "give the JSON Lines file to read")
        return FileSource(path)
    if kind == "simulator":
        from paypulse.simulator import Simulator, load_scenario

        scenario = settings.source.scenario
        if scenario is None:
            raise ConfigError(
                "source.scenario is required when source.kind = 'simulator', e.g. scenarios/demo.toml"
            )
        if not scenario.is_file():
            raise _missing(
                "source.scenario", scenario, settings, "give a scenario TOML, e.g. scenarios/demo.toml"
            )
        return SimulatorSource(Simulator(load_scenario(scenario)))
    raise ConfigError(f"source.kind = {kind!r} cannot be run; use 'kafka', 'file', 'stdin' or 'simulator'")


class InterruptibleStdin:
    """Standard input, read on a thread of its own so that a stop is seen within a tenth of a second.

    As :class:`~engine.sources.StdinSource` (the offset is a line count), but standard input
    can block for as long as its writer stays quiet, and the dataflow stops only between two
    reads: here a reader thread hands the lines over through a queue (the reader waits while
    ``max_queued`` are queued). It reads the file descriptor itself rather than ``sys.stdin``,
    whose lock a reader still blocked at exit would hold while Python closes it.
    """

    def __init__(self, stop: threading.Event, fd: int = 0, max_queued: int = 100_000) -> None:
        self.stop = stop
        self.fd = fd
        self.max_queued = max_queued

    def partitions(self) -> list[str]:
        return ["stdin"]

    def read(self, partition: str, resume_at: int | None) -> Iterator[tuple[int, bytes]]:
        lines: queue.SimpleQueue[tuple[int, bytes] | None] = queue.SimpleQueue()

        def pump() -> None:
            for offset, line in enumerate(_split_lines(self.fd), 1):
                if resume_at is not None and offset <= resume_at:
                    continue
                lines.put((offset, line))
                while lines.qsize() > self.max_queued and not self.stop.wait(0.01):
                    pass
            lines.put(None)

        threading.Thread(target=pump, name="read-stdin", daemon=True).start()
        while not self.stop.is_set():
            try:
                item = lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is None:
                return
            yield item


def _split_lines(fd: int) -> Iterator[bytes]:
    """The non-empty lines read from ``fd`` until its end, without their line ending.

    >>> r, w = os.pipe()
    >>> os.write(w, b"a\\r\\nbb\\n\\nc"), os.close(w)
    (8, None)
    >>> list(_split_lines(r))
    [b'a', b'bb', b'c']
    """
    pieces: list[bytes] = []
    while chunk := os.read(fd, 1 << 16):
        *complete, rest = chunk.split(b"\n")
        if complete:
            complete[0] = b"".join([*pieces, complete[0]])
            pieces = []
            yield from (line.rstrip(b"\r") for line in complete if line.strip(b"\r"))
        if rest:
            pieces.append(rest)
    last = b"".join(pieces).rstrip(b"\r")
    if last:
        yield last


def _missing(field: str, path: Path, settings: Settings, fix: str) -> ConfigError:
    return ConfigError(f"invalid setting {field} = '{path}' {settings.origin(field)}: no such file; {fix}")


def register(app: typer.Typer) -> None:
    """Add ``run`` to ``app``."""
    app.command()(run)
