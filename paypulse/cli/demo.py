"""`paypulse demo`: the whole monitor on simulated traffic, one simulated hour per real minute.

Everything is local: the simulator feeds the real dataflow, alerts go to a JSON Lines log and
the banner to SQLite under ``var/demo/``, and /metrics and the status page are served on
localhost while a live view shows channels and alerts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from paypulse.cli.common import check_writable
from paypulse.clock import ManualClock, SystemClock
from paypulse.engine import Engine
from paypulse.runtime import RecentAlerts, Services, start_services
from paypulse.settings import load_settings
from paypulse.simulator import Simulator, load_scenario

DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "demo.toml"


class PacedSimulator:
    """The simulator as a source, released in step with a sped-up clock."""

    def __init__(self, simulator: Simulator, speed: float, stop_after_s: float | None) -> None:
        self.simulator = simulator
        self.speed = speed
        self.stop_after_s = stop_after_s

    def partitions(self) -> list[str]:
        return ["simulator"]

    def read(self, partition: str, resume_at: int | None) -> Iterator[tuple[int, bytes]]:
        started = time.monotonic()
        first_ms: int | None = None
        offset = 0
        for end_ms, lines in self.simulator.chunks(1000):
            first_ms = end_ms if first_ms is None else first_ms
            due = started + (end_ms - first_ms) / 1000 / self.speed
            if self.stop_after_s is not None and due - started > self.stop_after_s:
                return
            time.sleep(max(due - time.monotonic(), 0))
            for line in lines:
                offset += 1
                yield offset, line


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def render(engine: Engine | None, recent: RecentAlerts, services: Services) -> Group:
    """The live view: one row per channel, then the latest alert changes and the banner."""
    table = Table(title="PayPulse demo — channels (last minute, event time)")
    for column in ("channel", "success rate", "callback p95", "payments/min", "baseline/min", "stuck"):
        table.add_column(column, justify="right")
    if engine is not None:
        with engine.lock:
            rows = sorted(
                ((s, list(r)) for s, r in engine.history.items() if s.merchant_id is None),
                key=lambda row: row[0].channel or "",
            )
            stuck = {}
            for order in engine.stuck.stuck_now.values():
                stuck[order.channel] = stuck.get(order.channel, 0) + 1
            for scope, ring in rows:
                last = ring[-6:]
                attempts = sum(o.attempts for o in last)
                successes = sum(o.successes for o in last)
                minutes = sum(o.minutes for o in last) or 1
                baseline = engine.volume_baseline(scope)
                table.add_row(
                    scope.label,
                    _fmt(successes / attempts if attempts else None, "{:.1%}"),
                    _fmt(last[-1].latency_p95, "{:.1f}s"),
                    f"{attempts / minutes:.0f}",
                    _fmt(baseline, "{:.0f}"),
                    str(stuck.get(scope.channel, 0) if scope.channel else sum(stuck.values())),
                )
            event_time = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(max(engine.windows.max_ts, 0) / 1000))
            table.caption = f"event time {event_time} UTC"
    alerts = Table(title="alerts", show_lines=False)
    for column in ("status", "kind", "scope", "at", "summary"):
        alerts.add_column(column)
    for alert in list(recent.alerts):
        color = "red" if alert.status == "firing" else "green"
        alerts.add_row(
            f"[{color}]{alert.status}[/{color}]",
            alert.kind,
            alert.scope.label,
            f"{alert.resolved_at or alert.detected_at:%H:%M:%S}",
            alert.summary[:90],
        )
    state = services.banner.state()
    banner = (
        f"[bold red]BANNER ON[/bold red] ({', '.join(state.channels)}): {state.message}"
        if state.on
        else "[green]banner off[/green]"
    )
    links = "  ".join(f"{name}: {url}" for name, url in services.urls.items())
    return Group(table, alerts, banner, links)


def demo(
    duration: Annotated[float | None, typer.Option(help="stop after this many real seconds")] = None,
    speed: Annotated[float, typer.Option(help="simulated seconds per real second")] = 60.0,
    scenario: Annotated[Path, typer.Option(exists=True, dir_okay=False)] = DEFAULT_SCENARIO,
    state_dir: Annotated[Path, typer.Option(help="where logs and SQLite files go")] = Path("var/demo"),
    port: Annotated[int, typer.Option(help="status page port (0 = any free port)")] = 8080,
    metrics_port: Annotated[int, typer.Option(help="/metrics port (0 = any free port)")] = 9464,
) -> None:
    """Simulated traffic with a scripted incident: watch it detected, alerted and bannered."""
    from bytewax.testing import run_main

    from dataflows.flow import build_flow

    settings = load_settings(None, defaults={
        "dead_letter": state_dir / "dead-letter.jsonl",
        "alerting": {"log": state_dir / "alerts.jsonl", "outbox": state_dir / "outbox.sqlite3"},
        "statuspage": {"db": state_dir / "banner.sqlite3", "port": port, "ops_token": "demo"},
        "metrics": {"port": metrics_port},
        "source": {"batch_size": 500},
    })  # fmt: skip
    check_writable(settings)
    for name in ("alerts.jsonl", "dead-letter.jsonl", "banner.sqlite3", "outbox.sqlite3"):
        (state_dir / name).unlink(missing_ok=True)
    event_clock = ManualClock()
    services = start_services(settings, SystemClock(), event_clock, event_clock=event_clock)
    source = PacedSimulator(Simulator(load_scenario(scenario)), speed, duration)
    flow = build_flow(settings, source, services.outputs, services.engines.append, services.observe_batch)
    console = Console()
    stop_view = threading.Event()

    def show() -> None:
        with Live(console=console, refresh_per_second=4) as live:
            while not stop_view.wait(0.25):
                live.update(render(services.engine, services.recent, services))
            live.update(render(services.engine, services.recent, services))

    viewer = threading.Thread(target=show, name="live-view", daemon=True)
    viewer.start()
    try:
        run_main(flow)
    except KeyboardInterrupt:
        pass
    finally:
        stop_view.set()
        viewer.join(2)
        services.stop()
    console.print(f"alert log: {settings.alerting.log}   banner state: {settings.statuspage.db}")


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""
    app.command()(demo)
