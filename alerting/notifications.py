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
``grouped``        no       the route groups: the change waits for its group's message
``silenced``       no       an operator's silence matches (:mod:`alerting.oncall_stage`)
``acknowledged``   no       a repeat of an alert someone acknowledged (:mod:`alerting.oncall_stage`)
=================  =======  ==========================================================

A decision that sends writes one outbox row per route target *before* ``submit`` returns, in the
same transaction as the dedup state, so neither a crash nor a restart loses or repeats a page.
On a route that groups (``group_by``), :meth:`AlertFanout.flush` sends each group whose turn has
come as one batch of rows per target, which the dispatcher delivers as one message; the reasons
of its alerts are :mod:`alerting.grouping`'s. The decisions themselves are
:func:`~alerting.decisions.decide`'s. This module is core: it knows the :class:`Notifier`
contract but no delivery library.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from alerting.decisions import REASONS, SEND_REASONS, Reason, decide
from alerting.grouping import Group, Groups, plan
from alerting.outbox import Outbox
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
    "GroupNotifier",
    "Notification",
    "Notifier",
    "Reason",
    "decide",
]

log = logging.getLogger("paypulse.alerting.notifications")


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


@runtime_checkable
class GroupNotifier(Notifier, Protocol):
    """A notifier that can send a group's alerts (:mod:`alerting.grouping`) as one message."""

    def send_group(self, notifications: Sequence[Notification]) -> DeliveryResult: ...


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


class AlertFanout:
    """The engine's entry point: route each alert change, decide, and enqueue into the outbox.

    Thread-safe; decisions for one (route, fingerprint) are serialised so two submits of the
    same change cannot both send. ``groups`` keeps the groups of routes that group; it must be
    given when one does.
    """

    def __init__(
        self,
        settings: AlertingSettings,
        outbox: Outbox,
        clock: Clock,
        routes: Sequence[Route] | RouteTree | None = None,
        on_enqueue: Callable[[], None] | None = None,
        groups: Groups | None = None,
    ) -> None:
        self._on_enqueue = on_enqueue  # e.g. Dispatcher.wake: deliver now, not at the next interval
        if routes is None:
            routes = tree_from_settings(settings)
        self.tree = routes if isinstance(routes, RouteTree) else RouteTree.flat(routes)
        self.routes: tuple[Route, ...] = self.tree.routes
        grouping = [route.name for route in self.routes if route.groups]
        if grouping and groups is None:
            raise ValueError(f"routes {', '.join(grouping)} group alerts: pass the groups they are kept in")
        self._groups = groups
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
        tick with nothing due writes nothing. On a route that groups, the group repeats itself
        (:meth:`flush`); a tick only puts back an alert its group does not hold.
        """
        decisions: list[Decision] = []
        for alert in firing:
            if alert.status != "firing":
                raise ValueError(f"tick() takes firing alerts; {alert.kind} {alert.id} is {alert.status}")
            decisions.extend(self._handle(alert, quiet=True))
        return decisions

    def flush(
        self, held: Callable[[Alert], Reason | None] = lambda alert: None
    ) -> list[tuple[Alert, Decision]]:
        """Send the groups whose turn has come, each as one batch; ``held`` names the alerts an
        operator holds back now (``"silenced"``, ``"acknowledged"``). Returns every alert's decision."""
        if self._groups is None:
            return []
        by_name = {route.name: route for route in self.routes}
        out: list[tuple[Alert, Decision]] = []
        with self._lock:
            for group in self._groups.due():
                route = by_name.get(group.route)
                if route is None or not route.groups:  # the configuration changed under it
                    self._groups.forget(group.route)
                    continue
                out += self._flush_group(route, group, held)
        for alert, decision in out:
            _log(decision, alert, quiet=False)
        if self._on_enqueue is not None and any(d.outbox_ids for _, d in out):
            self._on_enqueue()
        return out

    def _flush_group(
        self, route: Route, group: Group, held: Callable[[Alert], Reason | None]
    ) -> list[tuple[Alert, Decision]]:
        assert self._groups is not None
        now = self._clock.now()
        repeat = self._repeat if route.repeat_interval is None else route.repeat_interval
        if route.muted(now):
            planned: list[tuple[Alert, Reason]] = [(alert, "muted") for alert in group.members]
        else:
            previous = {
                a.fingerprint: self._outbox.last_notified(route.name, a.fingerprint) for a in group.members
            }
            planned = plan(group.members, previous, now, repeat, held)
        sending = [(alert, reason) for alert, reason in planned if reason in SEND_REASONS]
        ids = self._outbox.enqueue_batch(route.name, route.targets, sending) if sending else {}
        self._groups.done(group, route.group_interval)
        out = []
        for alert, reason in planned:
            decision = Decision(route.name, reason, alert.id, tuple(ids.get(alert.id, ())))
            self._decisions[(route.name, reason)] += 1
            out.append((alert, decision))
        return out

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
                reason = self._decide(route, alert, now)
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

    def _decide(self, route: Route, alert: Alert, now: float) -> Reason:
        """The change's reason on ``route``; on a route that groups, it joins its group instead
        (``grouped``; a tick finds it there already, and changes nothing)."""
        if route.muted(now):
            return "muted"
        if route.groups:
            assert self._groups is not None
            self._groups.add(route, alert)
            return "grouped"
        previous = self._outbox.last_notified(route.name, alert.fingerprint)
        return decide(
            previous, alert, now, self._repeat if route.repeat_interval is None else route.repeat_interval
        )

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
