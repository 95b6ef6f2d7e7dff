"""The long-running services around the dataflow: /metrics, the status page, notification
delivery and the repeat ticker, and running the dataflow itself until its end or a stop signal.
``paypulse run`` and ``paypulse demo`` share this wiring, so production and the demo differ only
in their source and clock.
"""

from __future__ import annotations

import errno
import itertools
import signal
import socket
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import uvicorn
from prometheus_client import start_http_server

from alerting.delivery import Dispatcher
from alerting.desk import Desk
from alerting.grouping import Groups
from alerting.notifications import AlertFanout
from alerting.oncall_stage import Annotator, OnCallStage
from alerting.outbox import Outbox
from alerting.state_db import StateDB
from engine.output import EngineStats
from engine.outputs import Outputs
from engine.view import Publisher
from kernel.alerts import Alert
from kernel.clock import Clock
from kernel.errors import ConfigError
from kernel.settings import Settings
from paypulse.exposition import EngineCollector, build_registry
from reconciliation.tickets import LiveTickets
from statuspage import Banner, create_app

if TYPE_CHECKING:
    from dataflows.recovery import Store

__all__ = ["RecentAlerts", "Services", "describe_outputs", "run_dataflow", "start_services", "summarize"]


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
    publisher: Publisher
    urls: dict[str, str] = field(default_factory=dict)
    _stoppers: list[Callable[[], None]] = field(default_factory=list)

    def stats(self) -> EngineStats:
        """The engine's running totals as last published (empty before its first batch)."""
        view = self.publisher.latest
        return EngineStats() if view is None else view.stats

    def stop(self) -> None:
        for stop in reversed(self._stoppers):
            stop()
        self.outputs.close()


def run_dataflow(
    flow: Any,
    stop: threading.Event | None = None,
    on_start: Callable[[], None] = lambda: None,
    recovery: Store | None = None,
) -> str | None:
    """Run ``flow`` until its input ends; return None then, or the signal that stopped it early.

    The dataflow runs on a worker thread of Bytewax's own (``cluster_main`` with one worker), and
    this thread only waits and watches for signals. A Ctrl-C (or SIGTERM, as ``docker stop``
    sends) thus stops the worker between two steps. Under ``run_main`` it lands as a
    KeyboardInterrupt inside whichever source or batch is running, which Bytewax reports as a
    panic and a BytewaxRuntimeError with a long traceback. ``stop`` is set at the signal, for
    sources that may block (standard input, a paced simulator) to end their read. ``on_start`` runs
    once the signals are watched: what it prints ("Ctrl-C stops") is true from then on. With
    ``recovery``, Bytewax snapshots into that store and resumes from it.
    """
    from bytewax.testing import cluster_main

    received: list[str] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append("Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name)
        if stop is not None:
            stop.set()
        raise KeyboardInterrupt

    watched = [signal.SIGTERM]
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # `nohup` and `cmd &` ignore Ctrl-C
        watched.append(signal.SIGINT)
    main = threading.current_thread() is threading.main_thread()
    previous = {signum: signal.signal(signum, on_signal) for signum in watched} if main else {}
    try:
        on_start()
        if recovery is None:
            cluster_main(flow, [], 0)
        else:
            cluster_main(
                flow, [], 0, epoch_interval=recovery.epoch_interval, recovery_config=recovery.config
            )
    except KeyboardInterrupt:
        return received[0] if received else "Ctrl-C"
    except BaseException:
        # The interrupt can land while the worker is inside Bytewax's own code (a recovery
        # snapshot being written), which Bytewax reports as a worker panic. After our own stop
        # signal that is the stop, not a failure: the snapshot store keeps its last complete epoch.
        if received:
            return received[0]
        raise
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return None


def summarize(stats: EngineStats, elapsed_s: float) -> str:
    """One line: what a run read, refused and alerted on, for its end or its interruption.

    >>> stats = EngineStats(accepted={"payment": 900, "callback": 80, "complaint": 0},
    ...                     rejected={"too_late": 3, "bad_json": 5}, duplicates=2,
    ...                     alerts={"volume_drop|firing": 1, "volume_drop|resolved": 1})
    >>> summarize(stats, 12.34)
    '990 events in 12.3 s: 980 accepted (payment 900, callback 80), 2 duplicates, \
8 rejected (bad_json 5, too_late 3); alerts: 1 fired, 1 resolved'
    """
    accepted = sum(stats.accepted.values())
    rejected = sum(stats.rejected.values())
    total = accepted + stats.duplicates + rejected
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in stats.accepted.items() if n)
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in sorted(stats.rejected.items()))
    fired = sum(n for key, n in stats.alerts.items() if key.endswith("|firing"))
    resolved = sum(n for key, n in stats.alerts.items() if key.endswith("|resolved"))
    return (
        f"{total:,} events in {elapsed_s:.1f} s: {accepted:,} accepted{f' ({kinds})' if kinds else ''}, "
        f"{stats.duplicates:,} duplicates, {rejected:,} rejected{f' ({reasons})' if reasons else ''}; "
        f"alerts: {fired:,} fired, {resolved:,} resolved"
    )


def describe_outputs(services: Services) -> str:
    """Where a run's results went: the files it wrote and what became of its notifications."""
    s = services.settings
    delivery = services.dispatcher.stats()
    delivered = sum(delivery["delivered"].values())
    pending = sum(delivery["pending"].values())
    return (
        f"alert log {s.alerting.log}, rejected lines {s.dead_letter}, banner {s.statuspage.db}; "
        f"notifications: {delivered:,} delivered, {pending:,} waiting in {s.alerting.outbox}"
    )


def _url(host: str, port: int, path: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{path}"


def _port_error(
    what: str, section: str, err: OSError, settings: Settings, options: Mapping[str, str]
) -> ConfigError:
    """Say which port could not be had, how it was set, and the option or setting that changes it."""
    host, port = getattr(settings, section).host, getattr(settings, section).port
    setting = f"{section}.port"
    origin = settings.origin(setting)
    origin = "the default" if origin == "(the default)" else origin
    env = "PAYPULSE_" + setting.replace(".", "__").upper()
    change = options.get(setting) or f"{setting} in the config file or {env}"
    if err.errno == errno.EADDRINUSE:
        problem = "the port is already in use"
        fix = f"stop what holds it, or choose another port with {change} (0 = any free port)"
    else:
        problem = err.strerror or str(err)
        fix = f"check {section}.host, or choose another port with {change}"
    return ConfigError(
        f"cannot serve {what} on {_url(host, port, '')[7:]}: {problem} ({setting} = {port}, {origin}); {fix}"
    )


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; OSError if it cannot be had."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _serve_app(app: Any, sock: socket.socket) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="statuspage", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        threading.Event().wait(0.02)
    return server, thread


def start_services(
    settings: Settings,
    wall_clock: Clock,
    banner_clock: Clock,
    *,
    event_clock: Any = None,
    serve: bool = True,
    lag_clock: Clock | None = None,
    port_options: Mapping[str, str] | None = None,
) -> Services:
    """Open the stores, start delivery and (with ``serve``) the /metrics and status page servers.

    ``banner_clock`` is the clock of the banner's recovery hold: event time in replays and the
    demo, wall time in production. ``lag_clock`` is what ``paypulse_processing_lag_seconds``
    measures the watermark against: wall time (the default) in production, the demo's sped-up
    clock in the demo. A port that cannot be had is a :class:`ConfigError` naming the port and
    what changes it: ``port_options`` maps ``statuspage.port``/``metrics.port`` to the command's
    own option (``--port``), else the message names the setting. Ports are bound before anything
    starts, so a taken port leaves nothing running.
    """
    options = port_options or {}
    status_sock = metrics_server = None
    if serve:
        s, m = settings.statuspage, settings.metrics
        try:
            status_sock = _listen(s.host, s.port)
        except OSError as err:
            raise _port_error("the status page", "statuspage", err, settings, options) from None
    banner = Banner.from_settings(settings.statuspage, banner_clock)
    settings.alerting.outbox.parent.mkdir(parents=True, exist_ok=True)
    outbox = Outbox(settings.alerting.outbox, wall_clock)
    annotate = Annotator(settings.alerting, wall_clock).annotate
    state = StateDB(settings.alerting.state)
    dispatcher = Dispatcher.from_settings(
        settings.alerting, outbox, wall_clock, annotate=annotate, state=state
    )
    groups = Groups(state, wall_clock)
    fanout = AlertFanout(settings.alerting, outbox, wall_clock, on_enqueue=dispatcher.wake, groups=groups)
    oncall = OnCallStage(settings.alerting, fanout, outbox, state, wall_clock)
    recent = RecentAlerts()
    outputs = Outputs(
        settings.alerting.log,
        settings.dead_letter,
        [banner, oncall, recent],
        event_clock=event_clock,
        log_marks=oncall.log_marks,
        tickets=LiveTickets.from_policy(settings.reconciliation),
    )
    publisher = Publisher(wall_clock)
    collector = EngineCollector(lambda: publisher.latest, banner, dispatcher, (lag_clock or wall_clock).now)
    registry, batch_seconds = build_registry(collector)
    if serve:
        try:
            metrics_server, _thread = start_http_server(m.port, addr=m.host, registry=registry)
        except OSError as err:
            assert status_sock is not None
            status_sock.close()
            banner.close()
            raise _port_error("/metrics", "metrics", err, settings, options) from None
    services = Services(
        settings, banner, outputs, dispatcher, fanout, recent, batch_seconds.observe, publisher
    )
    dispatcher.start(1.0)
    services._stoppers.append(dispatcher.stop)
    services._stoppers.append(banner.close)
    stop_ticker = threading.Event()

    def tick() -> None:
        """Every 5 s the routes' groups whose turn has come go out (a group waits 30 s by default);
        every 30 s still-firing alerts are also re-notified once their repeat interval passes."""
        for turn in itertools.count(1):
            if stop_ticker.wait(5):
                return
            view = publisher.latest
            if turn % 6 == 0 and view is not None:
                oncall.tick(list(view.firing))
            else:
                oncall.flush()

    threading.Thread(target=tick, name="repeat-ticker", daemon=True).start()
    services._stoppers.append(stop_ticker.set)
    if metrics_server is not None and status_sock is not None:
        services._stoppers.append(metrics_server.shutdown)
        services.urls["metrics"] = _url(m.host, metrics_server.server_port, "/metrics")
        desk = Desk(settings.alerting, state, wall_clock)
        server, thread = _serve_app(create_app(s, banner, desk=desk), status_sock)
        services.urls["status"] = _url(s.host, status_sock.getsockname()[1], "/")

        def stop_web() -> None:
            server.should_exit = True
            thread.join(5)
            status_sock.close()

        services._stoppers.append(stop_web)
    return services
