"""`paypulse demo`: the whole monitor on simulated traffic, one simulated hour per real minute.

Everything is local: the simulator feeds the real dataflow, alerts go to a JSON Lines log and
the banner to SQLite under ``var/demo/``, and /metrics and the status page are served on
localhost while a live view shows channels and alerts. The links come first, each on a line of
its own, so neither a small terminal nor a pipe loses them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from kernel.clock import ManualClock, SystemClock
from kernel.settings import load_settings
from paypulse.cli.common import check_writable

if TYPE_CHECKING:  # the engine and the servers load with the command, not with every `paypulse` call
    from engine.view import EngineView
    from paypulse.runtime import RecentAlerts, Services
    from paypulse.simulator import Simulator

DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "demo.toml"
_LABELS = {"status": "status page:", "metrics": "metrics:"}
#: Lines the live view needs besides its alert rows: the links' header, the channel table's title,
#: borders, header and caption, and the alert table's title, borders and header.
_FIXED_LINES = 12
_ALERT_COLUMNS = ("status", "kind", "scope", "at")


class DemoClock:
    """The demo's sped-up clock: event time at the start of the feed plus ``speed`` times real time since.

    ``paypulse_processing_lag_seconds`` is measured against it, so the lag reads as in production
    (how far detection trails the stream's present, about the lateness) rather than the months
    between today and the scenario's simulated morning.

    >>> clock = DemoClock(speed=60.0)
    >>> clock.start(1_000.0, monotonic=5.0)
    >>> clock.now(monotonic=7.5)
    1150.0
    """

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._origin: tuple[float, float] | None = None

    def start(self, event_s: float, monotonic: float | None = None) -> None:
        self._origin = (event_s, time.monotonic() if monotonic is None else monotonic)

    def now(self, monotonic: float | None = None) -> float:
        if self._origin is None:  # nothing fed yet: no watermark to compare with either
            return time.time()
        event_s, started = self._origin
        return event_s + ((time.monotonic() if monotonic is None else monotonic) - started) * self.speed


class PacedSimulator:
    """The simulator as a source, released in step with a sped-up clock, until ``stop`` is set."""

    def __init__(
        self,
        simulator: Simulator,
        speed: float,
        stop_after_s: float | None,
        clock: DemoClock | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.simulator = simulator
        self.speed = speed
        self.stop_after_s = stop_after_s
        self.clock = clock
        self.stop = stop or threading.Event()

    def partitions(self) -> list[str]:
        return ["simulator"]

    def read(self, partition: str, resume_at: int | None) -> Iterator[tuple[int, bytes]]:
        from paypulse.simulator.pacing import paced

        start_clock = None if self.clock is None else (lambda end_ms, at: self.clock.start(end_ms / 1000, at))
        offset = 0
        chunks = paced(
            self.simulator.chunks(1000), self.speed, stop=self.stop, stop_after_s=self.stop_after_s,
            on_first=start_clock,
        )  # fmt: skip
        for _end_ms, lines in chunks:
            for line in lines:
                offset += 1
                yield offset, line


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def links(services: Services) -> list[Text]:
    """One line per URL the demo serves, never cut: a URL too long for the screen wraps."""
    return [Text(f"{_LABELS.get(name, name + ':'):<13}{url}") for name, url in services.urls.items()]


def render(
    view: EngineView | None,
    recent: RecentAlerts,
    services: Services,
    size: tuple[int, int] = (80, 24),
    *,
    with_links: bool = True,
) -> Group:
    """The live view: the links, one row per channel, the latest alert changes and the banner.

    It fits ``size`` (the terminal's columns and lines): alert rows give way first and then the
    end of their summaries, so a small terminal never crops the links or the channels.
    """
    width, height = size
    table = Table(title="PayPulse demo — channels (last minute, event time)")
    table.add_column("channel", no_wrap=True)
    for column in ("success", "cb p95", "pay/min", "usual/min", "stuck"):
        table.add_column(column, justify="right", no_wrap=True)
    if view is not None:
        stuck = view.stuck_by_channel
        channels = [(s, v) for s, v in view.scopes.items() if s.merchant_id is None]
        for scope, seen in sorted(channels, key=lambda row: row[0].channel or ""):
            last = seen.minute
            minutes = last.minutes or 1
            table.add_row(
                scope.label,
                _fmt(last.success_rate, "{:.1%}"),
                _fmt(last.latency_p95, "{:.1f}s"),
                f"{last.attempts / minutes:.0f}",
                _fmt(seen.volume_baseline, "{:.0f}"),
                str(stuck.get(scope.channel, 0) if scope.channel else sum(stuck.values())),
            )
        event_time = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(max(view.max_ts, 0) / 1000))
        table.caption = f"event time {event_time} UTC"
    shown = links(services) if with_links else []
    state = services.banner.state()
    banner = (
        Text.assemble(("BANNER ON", "bold red"), f" ({', '.join(state.channels)}): {state.message}")
        if state.on
        else Text("banner off", style="green")
    )
    banner_lines = -(-len(banner.plain) // max(width, 1))
    room = max(height - _FIXED_LINES - len(shown) - table.row_count - banner_lines, 0)
    latest = list(recent.alerts)[-room:] if room else []
    cells = [
        (alert.status, alert.kind, alert.scope.label, f"{alert.resolved_at or alert.detected_at:%H:%M:%S}")
        for alert in latest
    ]
    alerts = Table(title="alerts", show_lines=False)
    widths = [max([len(column), *(len(c[i]) for c in cells)]) for i, column in enumerate(_ALERT_COLUMNS)]
    for column, column_width in zip(_ALERT_COLUMNS, widths, strict=True):  # whole; the summary gives way
        alerts.add_column(column, no_wrap=True, min_width=column_width)
    summary_width = max(width - sum(widths) - 3 * (len(widths) + 1) - 1, 10)  # less borders and padding
    alerts.add_column("summary", no_wrap=True, overflow="ellipsis", max_width=summary_width)
    for alert, (status, *rest) in zip(latest, cells, strict=True):
        color = "red" if status == "firing" else "green"
        alerts.add_row(Text(status, style=color), *rest, Text(alert.summary))
    title = [Text("PayPulse demo, Ctrl-C stops", style="bold")] if with_links else []
    return Group(*title, *shown, table, alerts, banner)


def demo(
    duration: Annotated[float | None, typer.Option(help="stop after this many real seconds")] = None,
    speed: Annotated[float, typer.Option(help="simulated seconds per real second")] = 60.0,
    scenario: Annotated[Path, typer.Option(exists=True, dir_okay=False)] = DEFAULT_SCENARIO,
    state_dir: Annotated[Path, typer.Option(help="where logs and SQLite files go")] = Path("var/demo"),
    port: Annotated[int, typer.Option(help="status page port (0 = any free port)")] = 8080,
    metrics_port: Annotated[int, typer.Option(help="/metrics port (0 = any free port)")] = 9464,
) -> None:
    """Simulated traffic with a scripted incident: watch it detected, alerted and bannered."""
    from dataflows.flow import build_flow
    from paypulse.runtime import run_dataflow, start_services, summarize
    from paypulse.simulator import Simulator, load_scenario

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
    demo_clock = DemoClock(speed)
    services = start_services(
        settings, SystemClock(), event_clock, event_clock=event_clock, lag_clock=demo_clock,
        port_options={"statuspage.port": "--port", "metrics.port": "--metrics-port"},
    )  # fmt: skip
    stop = threading.Event()
    source = PacedSimulator(Simulator(load_scenario(scenario)), speed, duration, demo_clock, stop)
    flow = build_flow(
        settings, source, services.outputs, on_batch=services.observe_batch, publisher=services.publisher
    )
    console = Console(highlight=False)
    stop_view = threading.Event()

    def view(size: tuple[int, int], with_links: bool = True) -> Group:
        return render(services.publisher.latest, services.recent, services, size, with_links=with_links)

    def show() -> None:
        with Live(console=console, refresh_per_second=4) as live:
            while not stop_view.wait(0.25):
                live.update(view(console.size))
            live.update(view(console.size))

    viewer = threading.Thread(target=show, name="live-view", daemon=True)

    def say_ready() -> None:
        for line in links(services):  # before anything else, whole, whatever the terminal or pipe
            console.print(line, soft_wrap=True)
        console.print(f"alerts are written to {settings.alerting.log}; Ctrl-C stops", soft_wrap=True)
        if console.is_terminal:
            viewer.start()

    started = time.monotonic()
    try:
        stopped_by = run_dataflow(flow, stop, say_ready)
        line = summarize(services.stats(), time.monotonic() - started)
        stop_view.set()
        if viewer.is_alive():
            viewer.join(2)
        else:  # no live view on a pipe: the final state, once
            console.print(view((console.width, 1_000), with_links=False))
    finally:
        stop_view.set()
        services.stop()
    outcome = f"stopped by {stopped_by}" if stopped_by else "demo finished"
    console.print(f"paypulse: {outcome}: {line}; alert log {settings.alerting.log}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""
    app.command()(demo)
