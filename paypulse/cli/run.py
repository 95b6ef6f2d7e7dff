"""`paypulse run`: the production path — Kafka, a file or stdin, with every service up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from paypulse.cli.common import ConfigOption, check_writable
from paypulse.clock import SystemClock
from paypulse.errors import ConfigError
from paypulse.runtime import start_services
from paypulse.settings import load_settings
from paypulse.sources import FileSource, Source, StdinSource

console = Console(stderr=True)


def run(
    config: ConfigOption = None,
    events: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="read this JSONL file instead of source.*"),
    ] = None,
) -> None:
    """Run the monitor: source from settings, /metrics and the status page served, alerts delivered."""
    from bytewax.testing import run_main

    settings = load_settings(config)
    check_writable(settings)
    clock = SystemClock()
    services = start_services(settings, clock, clock)
    console.print("  ".join(f"{name}: {url}" for name, url in services.urls.items()))
    try:
        kind = "file" if events else settings.source.kind
        if kind == "kafka":
            from dataflows.kafka import build_kafka_flow

            flow = build_kafka_flow(
                settings, services.outputs, services.engines.append, services.observe_batch
            )
        else:
            from dataflows.flow import build_flow

            flow = build_flow(settings, _source(kind, events or settings.source.path), services.outputs,
                              services.engines.append, services.observe_batch)  # fmt: skip
        run_main(flow)
    except KeyboardInterrupt:
        pass
    finally:
        services.stop()


def _source(kind: str, path: Path | None) -> Source:
    if kind == "stdin":
        return StdinSource()
    if kind == "file":
        if path is None:
            raise ConfigError("source.path is required when source.kind = 'file' (or pass --events FILE)")
        return FileSource(path)
    raise ConfigError(f"source.kind = {kind!r} cannot be run here; use 'kafka', 'file' or 'stdin'")


def register(app: typer.Typer) -> None:
    """Add ``run`` to ``app``."""
    app.command()(run)
