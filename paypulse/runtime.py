"""The long-running services around the dataflow: /metrics, the status page, notification
delivery and the repeat ticker. ``paypulse run`` and ``paypulse demo`` share this wiring, so
production and the demo differ only in their source and clock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from prometheus_client import start_http_server

from alerting.delivery import Dispatcher
from alerting.model import Alert
from alerting.notifications import AlertFanout
from alerting.outbox import Outbox
from paypulse.clock import Clock
from paypulse.engine import Engine
from paypulse.exposition import EngineCollector, build_registry
from paypulse.outputs import Outputs
from paypulse.settings import Settings
from statuspage import Banner, create_app

__all__ = ["Services", "start_services"]


class _Fanout:
    """Feeds every alert change to the notification fan-out."""

    def __init__(self, fanout: AlertFanout) -> None:
        self.fanout = fanout

    def observe(self, alert: Alert) -> None:
        self.fanout.submit(alert)


class RecentAlerts:
    """The last few alert changes, for live views."""

    def __init__(self, size: int = 8) -> None:
        self.alerts: deque[Alert] = deque(maxlen=size)

    def observe(self, alert: Alert) -> None:
        self.alerts.append(alert)


@dataclass
class Services:
    settings: Settings
    banner: Banner
    outputs: Outputs
    dispatcher: Dispatcher
    fanout: AlertFanout
    recent: RecentAlerts
    observe_batch: Callable[[float], None]
    engines: list[Engine] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    _stoppers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def engine(self) -> Engine | None:
        return self.engines[-1] if self.engines else None

    def stop(self) -> None:
        for stop in reversed(self._stoppers):
            stop()
        self.outputs.close()


def _serve_app(app: Any, host: str, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="statuspage", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        threading.Event().wait(0.02)
    return server, thread


def start_services(
    settings: Settings, wall_clock: Clock, banner_clock: Clock, *, event_clock: Any = None, serve: bool = True
) -> Services:
    """Open the stores, start delivery and (with ``serve``) the /metrics and status page servers.

    ``banner_clock`` is the clock of the banner's recovery hold: event time in replays and the
    demo, wall time in production.
    """
    banner = Banner.from_settings(settings.statuspage, banner_clock)
    settings.alerting.outbox.parent.mkdir(parents=True, exist_ok=True)
    outbox = Outbox(settings.alerting.outbox, wall_clock)
    dispatcher = Dispatcher.from_settings(settings.alerting, outbox, wall_clock)
    fanout = AlertFanout(settings.alerting, outbox, wall_clock, on_enqueue=dispatcher.wake)
    recent = RecentAlerts()
    outputs = Outputs(
        settings.alerting.log,
        settings.dead_letter,
        [banner, _Fanout(fanout), recent],
        event_clock=event_clock,
    )
    engines: list[Engine] = []
    collector = EngineCollector(lambda: engines[-1] if engines else None, banner, dispatcher, wall_clock.now)
    registry, batch_seconds = build_registry(collector)
    services = Services(
        settings, banner, outputs, dispatcher, fanout, recent, batch_seconds.observe, engines=engines
    )
    dispatcher.start(1.0)
    services._stoppers.append(dispatcher.stop)
    services._stoppers.append(banner.close)
    stop_ticker = threading.Event()

    def tick() -> None:  # re-notify still-firing alerts once their repeat interval passes
        while not stop_ticker.wait(30):
            engine = services.engine
            if engine is not None:
                with engine.lock:
                    firing = engine.firing()
                fanout.tick(firing)

    threading.Thread(target=tick, name="repeat-ticker", daemon=True).start()
    services._stoppers.append(stop_ticker.set)
    if serve:
        m = settings.metrics
        metrics_server, _thread = start_http_server(m.port, addr=m.host, registry=registry)
        services._stoppers.append(metrics_server.shutdown)
        services.urls["metrics"] = f"http://{m.host}:{metrics_server.server_port}/metrics"
        s = settings.statuspage
        server, thread = _serve_app(create_app(s, banner), s.host, s.port)
        port = server.servers[0].sockets[0].getsockname()[1] if server.servers else s.port
        services.urls["status"] = f"http://{s.host}:{port}/"

        def stop_web() -> None:
            server.should_exit = True
            thread.join(5)

        services._stoppers.append(stop_web)
    return services
