"""`paypulse replay`: a recorded stream, in event time, as fast as the machine goes.

A replay writes the alert log and nothing else: it does not run the on-call stage (routes, groups,
silences, escalation, the outbox). Its alerts are hours or days old and arrive in seconds, so the
configured routes would page today's on-call about yesterday, and the on-call state file (silences,
acknowledgements, groups, each target's pace) belongs to the running monitor. To see how a stream
would be routed and grouped, run it with ``paypulse run`` against a copy of the configuration whose
routes point at a local receiver.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.console import Console
from rich.progress import Progress, TransferSpeedColumn
from rich.table import Table

from paypulse.cli.common import ConfigOption, check_writable, settings_with

if TYPE_CHECKING:  # the engine loads with the command, not with every `paypulse` call
    from engine.sources import FileSource

console = Console(stderr=True)


def replay(
    events: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON Lines events")],
    alerts_out: Annotated[Path, typer.Option(help="alert log to write (appended)")] = Path(
        "var/alerts.jsonl"
    ),
    labels: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="labelled incidents to score against")
    ] = None,
    dead_letter: Annotated[Path | None, typer.Option(help="where rejected lines go")] = None,
    config: ConfigOption = None,
) -> None:
    """Replay EVENTS through the dataflow; print events/s, and precision/recall/delay with --labels."""
    from bytewax.testing import run_main

    from dataflows.flow import build_flow
    from engine.outputs import Outputs
    from engine.sources import FileSource
    from reconciliation.tickets import LiveTickets

    settings = settings_with(config, alerting={"log": alerts_out}, dead_letter={"dead_letter": dead_letter})
    check_writable(settings, "dead_letter", "alerting.log")
    alerts_out.unlink(missing_ok=True)
    outputs = Outputs(
        settings.alerting.log, settings.dead_letter, tickets=LiveTickets.from_policy(settings.reconciliation)
    )
    engines = []
    source = FileSource(events)
    with _progress(events) as advance:
        flow = build_flow(settings, _Reported(source, advance), outputs, on_engine=engines.append)
        started = time.perf_counter()
        run_main(flow)
        elapsed = time.perf_counter() - started
    engine = engines[-1]
    stats = engine.stats
    accepted = sum(stats.accepted.values())
    total = accepted + sum(stats.rejected.values()) + stats.duplicates
    console.print(
        f"replayed {total:,} events in {elapsed:.2f}s: {total / elapsed:,.0f} events/s; "
        f"{outputs.alerts_written} alert changes -> {alerts_out}; "
        f"{sum(stats.rejected.values())} rejected -> {settings.dead_letter}; {stats.duplicates} duplicates"
    )
    if labels is not None:
        _print_evaluation(alerts_out, labels, engine)


class _Reported:
    """A source that reports its byte offset, for the progress bar."""

    def __init__(self, source: FileSource, advance: Callable[[int], None]) -> None:
        self.source = source
        self.advance = advance

    def partitions(self) -> list[str]:
        return self.source.partitions()

    def read(self, partition: str, resume_at: int | None) -> Iterator[tuple[int, bytes]]:
        for n, (offset, line) in enumerate(self.source.read(partition, resume_at)):
            if n % 10_000 == 0:
                self.advance(offset)
            yield offset, line


@contextmanager
def _progress(events: Path) -> Iterator[Callable[[int], None]]:
    """A progress bar over the file's bytes on a terminal; nothing when output is redirected."""
    if not console.is_terminal:
        yield lambda offset: None
        return
    columns = (*Progress.get_default_columns(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("replaying", total=events.stat().st_size)
        yield lambda offset: progress.update(task, completed=offset)


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _print_evaluation(alerts_out: Path, labels: Path, engine) -> None:  # type: ignore[no-untyped-def]
    from paypulse.evaluation import evaluate

    windows = engine.windows
    first = min((h[0].start_ms for h in engine.history.values() if h), default=0)
    days = max((windows.max_ts - first) / 86_400_000, 1e-9) if first else 1.0
    result = evaluate(_read_jsonl(alerts_out), _read_jsonl(labels), days=days)
    table = Table(title=f"detection vs labels ({days:.2f} days)")
    for column in ("kind", "labels", "found", "alerts", "precision", "recall", "median delay", "p90 delay",
                   "false/day"):  # fmt: skip
        table.add_column(column)
    for row in result.rows():
        table.add_row(
            row["kind"],
            str(row["labels"]),
            str(row["found"]),
            str(row["alerts"]),
            f"{row['precision']:.2f}",
            f"{row['recall']:.2f}",
            "-" if row["median_delay_s"] is None else f"{row['median_delay_s']:.0f}s",
            "-" if row["p90_delay_s"] is None else f"{row['p90_delay_s']:.0f}s",
            f"{row['false_per_day']:.2f}",
        )
    Console(width=max(Console().width, 120)).print(table)


def register(app: typer.Typer) -> None:
    """Add ``replay`` to ``app``."""
    app.command()(replay)
