"""From alert changes to notifications: route, decide whether to send, and enqueue durably.

The engine calls :meth:`AlertFanout.submit` once per alert change and :meth:`AlertFanout.tick`
with the alerts still firing. For each matching route, :func:`decide` (Alertmanager's
``needsUpdate``, with an injected ``now``) names why a message goes out or why it does not:

=================  =======  ==========================================================
reason             sends    when
=================  =======  ==========================================================
``first``          yes      firing, and this incident was not sent on this route yet
``repeat_elapsed`` yes      still firing and ``repeat_interval`` passed since last sent
``resolved``       yes      resolved, and the firing was sent on this route
``duplicate``      no       already sent (firing within the interval, or resolved twice)
``never_fired``    no       resolved, but its firing was never sent on this route
``no_route``       no       no route matches the alert's kind and severity
``muted``          no       the route matches, but one of its ``mute_during`` intervals is on
``silenced``       no       an operator's silence matches (:mod:`alerting.oncall_stage`)
``acknowledged``   no       a repeat of an alert someone acknowledged (:mod:`alerting.oncall_stage`)
=================  =======  ==========================================================

A decision that sends writes one outbox row per route target *before* ``submit`` returns, in the
same transaction as the dedup state, so neither a crash nor a restart loses or repeats a page.
This module is core: it knows the :class:`Notifier` contract but no delivery library.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol, get_args

from alerting.outbox import NotifiedState, Outbox
from alerting.route_tree import RouteTree, tree_from_settings
from alerting.routing import Route
from kernel.alerts import Alert
from kernel.clock import Clock
from kernel.settings import AlertingSettings

__all__ = [
    "REASONS",
    "SEND_REASONS",
    "AlertFanout",
    "Decision",
    "DeliveryResult",
    "Notification",
    "Notifier",
    "Reason",
    "decide",
]

log = logging.getLogger("paypulse.alerting.notifications")

Reason = Literal[
    "first", "repeat_elapsed", "resolved", "duplicate", "never_fired", "no_route", "muted", "silenced",
    "acknowledged",
]
REASONS: Final = get_args(Reason)
SEND_REASONS: Final = frozenset({"first", "repeat_elapsed", "resolved"})


@dataclass(frozen=True, slots=True)
class Notification:
    """One alert change on its way to one target of one route; what a :class:`Notifier` sends."""

    route: str
    alert: Alert
    reason: str  # one of SEND_REASONS; a repeat can be worded as a reminder
    target: str = ""  # routing.target_key of the URL, never the URL itself
    outbox_id: int | None = None
    attempt: int = 1  # 1 for the first try
    mentions: tuple[str, ...] = ()  # mobiles a chat robot @mentions (the on-call primary)
    ack_url: str | None = None  # a signed link that acknowledges the alert


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """How one send went. ``retryable`` is only read when ``ok`` is false."""

    ok: bool
    retryable: bool
    detail: str


class Notifier(Protocol):
    """One delivery target (one Apprise URL). Must not raise for delivery failures."""

    name: str  # privacy-safe, e.g. Apprise's url(privacy=True)

    def send(self, n: Notification) -> DeliveryResult: ...


@dataclass(frozen=True, slots=True)
class Decision:
    """What happened to one alert change on one route (``route`` is None for ``no_route``)."""

    route: str | None
    reason: Reason
    alert_id: str
    outbox_ids: tuple[int, ...] = ()

    @property
    def sends(self) -> bool:
        return self.reason in SEND_REASONS


def decide(previous: NotifiedState | None, alert: Alert, now: float, repeat_interval: float) -> Reason:
    """Whether ``alert`` goes out on a route whose last sent change was ``previous``.

    >>> from kernel.alerts import Scope, Impact
    >>> from datetime import datetime, UTC
    >>> t = datetime(2024, 5, 1, tzinfo=UTC)
    >>> firing = Alert("volume_drop", Scope("alipay"), "firing", "warning", t, t, 1.0, 2.0,
    ...                Impact(1.0, 2.0), "check", "volume down")
    >>> decide(None, firing, now=100.0, repeat_interval=3600)
    'first'
    >>> sent = NotifiedState(firing.id, "firing", t.isoformat(), sent_at=100.0)
    >>> decide(sent, firing, 200.0, 3600), decide(sent, firing, 3700.0, 3600)
    ('duplicate', 'repeat_elapsed')
    """
    if alert.status == "resolved":
        if previous is None:
            return "never_fired"
        return "resolved" if previous.status == "firing" else "duplicate"
    if previous is None or previous.status != "firing" or previous.alert_id != alert.id:
        return "first"  # nothing sent, last incident resolved, or a new incident of this fingerprint
    return "repeat_elapsed" if now - previous.sent_at >= repeat_interval else "duplicate"


class AlertFanout:
    """The engine's entry point: route each alert change, decide, and enqueue into the outbox.

    Thread-safe; decisions for one (route, fingerprint) are serialised so two submits of the
    same change cannot both send.
    """

    def __init__(
        self,
        settings: AlertingSettings,
        outbox: Outbox,
        clock: Clock,
        routes: Sequence[Route] | RouteTree | None = None,
        on_enqueue: Callable[[], None] | None = None,
    ) -> None:
        self._on_enqueue = on_enqueue  # e.g. Dispatcher.wake: deliver now, not at the next interval
        if routes is None:
            routes = tree_from_settings(settings)
        self.tree = routes if isinstance(routes, RouteTree) else RouteTree.flat(routes)
        self.routes: tuple[Route, ...] = self.tree.routes
        self._outbox = outbox
        self._clock = clock
        self._repeat = settings.repeat_interval.total_seconds()
        self._lock = threading.Lock()
        self._decisions: Counter[tuple[str, str]] = Counter()

    def submit(self, alert: Alert) -> list[Decision]:
        """Route and enqueue one alert change; returns one decision per matching route."""
        return self._handle(alert, quiet=False)

    def tick(self, firing: Iterable[Alert]) -> list[Decision]:
        """Re-send still-firing alerts whose repeat interval elapsed; call it every minute or so.

        Only ``repeat_elapsed`` (and ``first``, for an alert never sent) enqueue anything, so a
        tick with nothing due writes nothing.
        """
        decisions: list[Decision] = []
        for alert in firing:
            if alert.status != "firing":
                raise ValueError(f"tick() takes firing alerts; {alert.kind} {alert.id} is {alert.status}")
            decisions.extend(self._handle(alert, quiet=True))
        return decisions

    def stats(self) -> dict[str, dict[str, int]]:
        """Decisions so far by reason and route: ``{"first": {"oncall": 3}, "no_route": {"": 1}}``."""
        out: dict[str, dict[str, int]] = {}
        with self._lock:
            for (route, reason), n in sorted(self._decisions.items()):
                out.setdefault(reason, {})[route] = n
        return out

    def _handle(self, alert: Alert, *, quiet: bool) -> list[Decision]:
        routes = self.tree.match(alert, self._clock.now())
        if not routes:
            decision = Decision(None, "no_route", alert.id)
            self._count(decision)
            _log(decision, alert, quiet)
            return [decision]
        decisions = []
        with self._lock:
            now = self._clock.now()
            for route in routes:
                previous = self._outbox.last_notified(route.name, alert.fingerprint)
                repeat = self._repeat if route.repeat_interval is None else route.repeat_interval
                reason: Reason = "muted" if route.muted(now) else decide(previous, alert, now, repeat)
                ids: tuple[int, ...] = ()
                if reason in SEND_REASONS:
                    ids = tuple(self._outbox.enqueue(route.name, route.targets, alert, reason))
                decision = Decision(route.name, reason, alert.id, ids)
                self._decisions[(route.name, reason)] += 1
                decisions.append(decision)
        for decision in decisions:
            _log(decision, alert, quiet)
        if self._on_enqueue is not None and any(d.outbox_ids for d in decisions):
            self._on_enqueue()
        return decisions

    def note(self, decision: Decision, alert: Alert, *, quiet: bool = False) -> None:
        """Count and log a decision made before routing (``silenced``, ``acknowledged``)."""
        self._count(decision)
        _log(decision, alert, quiet)

    def _count(self, decision: Decision) -> None:
        with self._lock:
            self._decisions[(decision.route or "", decision.reason)] += 1


def _log(decision: Decision, alert: Alert, quiet: bool) -> None:
    level = logging.DEBUG if quiet and not decision.sends else logging.INFO
    log.log(
        level,
        "notification %s: route=%s kind=%s scope=%s status=%s alert=%s rows=%s",
        decision.reason,
        decision.route or "-",
        alert.kind,
        alert.scope.label,
        alert.status,
        alert.id,
        list(decision.outbox_ids),
        extra={"reason": decision.reason, "route": decision.route, "alert_id": alert.id},
    )
