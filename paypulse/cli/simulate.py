"""`paypulse simulate`: write a scenario's events (and its incident labels) as JSON Lines.

The command only opens the outputs; generating is :class:`~paypulse.simulator.Simulator` and
writing is :func:`~paypulse.simulator.write_lines`, so another sink (Kafka) reuses both.
"""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Annotated

import typer

from paypulse.errors import ConfigError
from paypulse.simulator import (
    BLOCK_MS,
    Simulator,
    line_writer,
    load_scenario,
    parse_duration,
    write_labels,
    write_lines,
)

__all__ = ["register", "simulate"]


def simulate(
    scenario: Annotated[
        Path, typer.Option("--scenario", "-s", help="scenario TOML, e.g. scenarios/day.toml")
    ],
    out: Annotated[str, typer.Option("--out", "-o", help="events JSONL file, or '-' for stdout")],
    labels_out: Annotated[
        Path | None, typer.Option("--labels-out", help="write the incident labels (JSONL) here")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="override the scenario's seed")] = None,
    duration: Annotated[
        str | None, typer.Option("--duration", help="override the scenario's duration, e.g. '2h' or '90m'")
    ] = None,
) -> None:
    """Generate a scenario's payment events as JSON Lines, in stream order."""
    if seed is not None and seed < 0:
        raise ConfigError(f"invalid setting --seed = {seed}: must be >= 0")
    if duration is not None:
        try:
            parse_duration(duration)
        except ValueError as err:
            raise ConfigError(f"invalid setting --duration = {duration!r}: {err}") from None
    loaded = load_scenario(scenario, seed=seed, duration=duration)
    simulator = Simulator(loaded)
    began = time.perf_counter()
    with ExitStack() as stack:
        stream: IO[bytes] = sys.stdout.buffer if out == "-" else stack.enter_context(_open(Path(out)))
        count = write_lines(simulator.chunks(step_ms=BLOCK_MS), line_writer(stream))
        stream.flush()
    if labels_out is not None:
        with _open(labels_out) as labels:
            write_labels(simulator.labels(), labels)
    elapsed = max(time.perf_counter() - began, 1e-9)
    where = "stdout" if out == "-" else out
    typer.echo(
        f"wrote {count} lines to {where} in {elapsed:.1f} s ({count / elapsed:,.0f} lines/s)", err=True
    )


def _open(path: Path) -> IO[bytes]:
    try:
        return path.open("wb")
    except OSError as err:
        raise ConfigError(f"cannot write {path}: {err.strerror}") from None


def register(app: typer.Typer) -> None:
    """Add this command group's commands to ``app``."""
    app.command("simulate")(simulate)
