"""Deliver due outbox rows through their notifiers, retrying with back-off and parking what cannot go.

Alertmanager gives every integration its own retry loop; here the loop is the outbox itself:
:meth:`Dispatcher.run_once` takes the due rows, sends each once, and writes the outcome back,
so retry state survives restarts and tests drive it with a ``ManualClock``. :meth:`start` runs
the same step on a thread, waking on a :class:`threading.Event` so :meth:`stop` is immediate.

Each target is paced (:class:`~alerting.delivery.pacing.Pacer`, 20 messages a minute by default,
the DingTalk and WeCom robots' own limit). When more rows are due for a target than it has room
for, the last message that fits is a digest that lists the rest (status, kind, scope), so a burst
of 25 alerts to one robot is 20 messages in the minute and nothing is dropped; a target with no
room left keeps its rows pending, and they go as one digest when the window frees. A robot that
answers "too fast" anyway is left alone for the pause it asks for.

A group's alerts (:mod:`alerting.grouping`) are one batch of rows per target, sent as one message
that lists them through a :class:`~alerting.notifications.GroupNotifier`, and counted as one.

Each target's rows go in creation order (:meth:`~alerting.outbox.Outbox.queues`): after an
outage, its notifications arrive as they were raised, a resolved notice never before its firing
one. A row that used up its attempts is parked, counted (``outcome="parked"``) and *held*; the
first delivery to its target that succeeds sends the held rows again, oldest first.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal

from alerting.delivery.apprise_notifier import AppriseNotifier
from alerting.delivery.pacing import DEFAULT_RATE_LIMIT, DigestNotifier, Pacer, Throttled
from alerting.i18n import Messages
from alerting.notifications import DeliveryResult, GroupNotifier, Notification, Notifier
from alerting.oncall import Schedule
from alerting.outbox import Outbox, OutboxRow
from alerting.routing import language_for, target_key, zone_for
from alerting.state_db import StateDB
from kernel.clock import Clock
from kernel.errors import PayPulseError
from kernel.settings import AlertingSettings

__all__ = [
    "OUTCOMES",
    "DeliveryOutcome",
    "DeliveryUrl",
    "Dispatcher",
    "Outcome",
    "build_notifiers",
    "delivery_urls",
]

log = logging.getLogger("paypulse.alerting.delivery")

Outcome = Literal["delivered", "retry", "parked"]
#: Label values of ``paypulse_notifications_total{route,outcome}``.
OUTCOMES: Final = ("delivered", "retry", "parked")
DEFAULT_MAX_BACKOFF: Final = timedelta(minutes=10)
#: Delivered rows are kept this long (for audits and ``paypulse`` tools), then pruned.
DEFAULT_RETENTION: Final = timedelta(days=7)
_PRUNE_EVERY: Final = 3600.0


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What one attempt on one outbox row did."""

    row_id: int
    route: str
    target: str  # the notifier's privacy-safe name
    outcome: Outcome
    attempts: int
    detail: str


def build_notifiers(
    settings: AlertingSettings,
    *,
    endpoints: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    link: str | None = None,
) -> dict[str, Notifier]:
    """One notifier per distinct route URL, keyed by :func:`~alerting.routing.target_key`.

    Each reads its route's language and time zone, or those :func:`~alerting.routing.language_for`
    and :func:`~alerting.routing.zone_for` choose for its URL, ``alerting.currency`` for amounts,
    and ``alerting.channel_names[language]`` over the catalogue's channel names. ``endpoints``
    points robot and Aliyun schemes at a gateway (``{"dingtalk": "https://gw.example/dingtalk"}``;
    default ``alerting.endpoints``); ``clock`` signs for them. ``link`` (the status page; default
    ``alerting.link``) ends SMS that have room for it.
    A URL shared by two routes is one target, read as the first route lists it.

    Raises :class:`~kernel.errors.ConfigError` naming the route and the masked URL when a URL
    is not one Apprise can use, so a typo stops start-up instead of the first page.
    """
    endpoints = settings.endpoints if endpoints is None else endpoints
    link = settings.link if link is None else link
    notifiers: dict[str, Notifier] = {}
    for target in delivery_urls(settings):
        url = target.url
        key = target_key(url)
        if key not in notifiers:
            language = language_for(url, target.language)
            zone = zone_for(url, target.time_zone, language)
            names = settings.channel_names.get(language, {})
            messages = Messages(language, zone, settings.currency, names)
            notifiers[key] = AppriseNotifier(
                url, route=target.route, messages=messages, endpoints=endpoints, clock=clock, link=link
            )
    return notifiers


@dataclass(frozen=True, slots=True)
class DeliveryUrl:
    """One delivery target as configured: whose it is, its URL, and its reader's language and zone
    when the route names them (else :func:`~alerting.routing.language_for` decides by the URL)."""

    route: str
    url: str
    language: str | None = None
    time_zone: str | None = None


def delivery_urls(settings: AlertingSettings) -> list[DeliveryUrl]:
    """Every delivery target: the flat routes', the routing tree's, and each on-call person's
    contacts (escalation pages)."""
    found = [DeliveryUrl(route.name, url.get_secret_value(), route.language, route.time_zone)
             for route in settings.routes for url in route.urls]  # fmt: skip
    stack = [("route", settings.route)] if settings.route is not None else []
    while stack:
        place, node = stack.pop(0)
        found += [DeliveryUrl(node.name or place, url.get_secret_value(), node.language, node.time_zone)
                  for url in node.urls]  # fmt: skip
        stack += [(f"{place}.routes[{i}]", child) for i, child in enumerate(node.routes)]
    schedule = Schedule(settings.oncall)
    found += [DeliveryUrl(f"oncall {person.name}", schedule.contact_url(person, via))
              for person in schedule.people for via in settings.oncall.contacts]  # fmt: skip
    return found


class Dispatcher:
    """Sends due outbox rows; counts outcomes per route for the metrics layer."""

    def __init__(
        self,
        outbox: Outbox,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        *,
        max_attempts: int = 12,
        retry_backoff: timedelta = timedelta(seconds=5),
        max_backoff: timedelta = DEFAULT_MAX_BACKOFF,
        batch: int = 100,
        retention: timedelta = DEFAULT_RETENTION,
        rate_limit: int = DEFAULT_RATE_LIMIT,
        rate_window: timedelta = timedelta(minutes=1),
        annotate: Callable[[Notification], Notification] | None = None,
        state: StateDB | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self._outbox = outbox
        # the on-call stage adds the acknowledgement link and whom to @mention as each row goes out
        self._annotate = annotate or (lambda n: n)
        self._notifiers = dict(notifiers)
        self._clock = clock
        self._max_attempts = max_attempts
        self._base = retry_backoff.total_seconds()
        self._cap = max(max_backoff.total_seconds(), self._base)
        self._batch = batch
        self._retention = retention.total_seconds()
        # the pace is kept in the on-call state file so that it outlives a restart; without one,
        # in a database of its own that lasts as long as this dispatcher
        pace_db = state if state is not None else StateDB(":memory:")
        self._pacer = Pacer(clock, pace_db, rate_limit, rate_window.total_seconds())
        self._pruned_at: float | None = None
        self._counts: Counter[tuple[str, str]] = Counter()
        self._counts_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(
        cls,
        settings: AlertingSettings,
        outbox: Outbox,
        clock: Clock,
        notifiers: Mapping[str, Notifier] | None = None,
        *,
        endpoints: Mapping[str, str] | None = None,
        rate_limit: int | None = None,
        annotate: Callable[[Notification], Notification] | None = None,
        state: StateDB | None = None,
    ) -> Dispatcher:
        """The production wiring: Apprise notifiers from the routes, retry policy and pacing from
        settings. ``endpoints`` and ``rate_limit`` override ``alerting.endpoints`` and
        ``alerting.rate_limit``; ``state`` (the ``alerting.state`` file) keeps each target's pace
        across restarts.
        """
        if notifiers is None:
            notifiers = build_notifiers(settings, endpoints=endpoints, clock=clock)
        return cls(
            outbox,
            notifiers,
            clock,
            max_attempts=settings.max_attempts,
            retry_backoff=settings.retry_backoff,
            rate_limit=settings.rate_limit if rate_limit is None else rate_limit,
            annotate=annotate,
            state=state,
        )

    # -- one step -----------------------------------------------------------------------------

    def run_once(self) -> list[DeliveryOutcome]:
        """Try every due row once, as far as each target's pace allows; returns what happened, in order."""
        with self._run_lock:  # the thread and a direct caller never send the same row twice
            outcomes = []
            for target, rows in self._outbox.queues(self._batch).items():
                for outcome in self._deliver_to(target, rows):
                    outcomes.append(outcome)
                    with self._counts_lock:
                        self._counts[(outcome.route, outcome.outcome)] += 1
            self._prune()
            return outcomes

    def _prune(self) -> None:
        """Keep the outbox file bounded: drop delivered rows past retention, at most once an hour."""
        now = self._clock.now()
        if self._pruned_at is None or now - self._pruned_at >= _PRUNE_EVERY:
            self._pruned_at = now
            self._outbox.prune_delivered(now - self._retention)

    def _deliver_to(self, target: str, rows: list[OutboxRow]) -> list[DeliveryOutcome]:
        """Send ``rows`` to one target within its room: message by message (a group's batch is one
        message), the last message a digest of the rest when they do not fit; what finds no room
        waits for the window to free."""
        notifier = self._notifiers.get(target)
        if notifier is None:
            return [self._orphan(row) for row in rows]
        room = self._pacer.room(target)
        if room <= 0:
            return []
        messages = _messages(rows) if isinstance(notifier, GroupNotifier) else [[row] for row in rows]
        fold = isinstance(notifier, DigestNotifier) and len(messages) > room
        singles, folded = (messages[: room - 1], messages[room - 1 :]) if fold else (messages[:room], [])
        outcomes = []
        for message in singles:
            sent, result = self._deliver(message, notifier)
            outcomes += sent
            if not result.ok and result.retryable:
                return outcomes  # the rest keep their order behind it (or wait out the robot's pause)
            if self._outbox.revive(target):
                log.info("target %s works again: its held notifications go again first", notifier.name)
                return outcomes  # they are older than the rest: they go first, at the next step
        if folded and isinstance(notifier, DigestNotifier) and self._pacer.room(target) > 0:
            outcomes += self._deliver_digest([row for message in folded for row in message], notifier)
        return outcomes

    def _orphan(self, row: OutboxRow) -> DeliveryOutcome:
        detail = f"target {row.target} is no longer configured on any route; requeue after fixing routes"
        self._outbox.park(row.id, detail)
        log.warning("notification %s parked: route=%s %s", row.id, row.route, detail)
        return DeliveryOutcome(row.id, row.route, row.target, "parked", row.attempts, detail)

    def _sent(self, target: str, result: DeliveryResult) -> None:
        self._pacer.sent(target)
        if isinstance(result, Throttled):
            self._pacer.pause(target, result.pause)

    def _deliver(
        self, rows: Sequence[OutboxRow], notifier: Notifier
    ) -> tuple[list[DeliveryOutcome], DeliveryResult]:
        """One message: a row on its own, or a group's batch listing its alerts."""
        notifications = [
            self._annotate(
                Notification(row.route, row.alert, row.reason, row.target, row.id, row.attempts + 1)
            )
            for row in rows
        ]
        if len(notifications) == 1:
            result = notifier.send(notifications[0])
            detail = result.detail
        else:
            assert isinstance(notifier, GroupNotifier)
            result = notifier.send_group(notifications)
            detail = f"in a group of {len(rows)}: {result.detail}"
        self._sent(rows[0].target, result)
        return self._record(rows, notifier.name, result, detail), result

    def _deliver_digest(self, rows: Sequence[OutboxRow], notifier: DigestNotifier) -> list[DeliveryOutcome]:
        """One message for ``rows`` that did not fit the target's pace."""
        notifications = [
            Notification(row.route, row.alert, row.reason, row.target, row.id, row.attempts + 1)
            for row in rows
        ]
        result = notifier.send_digest(notifications, self._pacer.limit)
        self._sent(rows[0].target, result)
        log.info("digest of %d notifications to target=%s: %s", len(rows), notifier.name, result.detail)
        return self._record(rows, notifier.name, result, f"in a digest of {len(rows)}: {result.detail}")

    def _record(
        self, rows: Sequence[OutboxRow], name: str, result: DeliveryResult, detail: str
    ) -> list[DeliveryOutcome]:
        """Each row of one message shares its outcome: delivered, retried or parked."""
        outcomes = []
        for row in rows:
            attempt = row.attempts + 1
            if result.ok:
                self._outbox.mark_delivered(row.id)
                log.info(
                    "notification %s delivered: route=%s target=%s attempt=%d",
                    row.id,
                    row.route,
                    name,
                    attempt,
                )
                outcomes.append(DeliveryOutcome(row.id, row.route, name, "delivered", attempt, detail))
            else:
                outcomes.append(
                    self._failed(row, name, attempt, DeliveryResult(False, result.retryable, detail))
                )
        return outcomes

    def _failed(self, row: OutboxRow, name: str, attempt: int, result: DeliveryResult) -> DeliveryOutcome:
        state = self._outbox.mark_failed(
            row.id,
            result.detail,
            retryable=result.retryable,
            max_attempts=self._max_attempts,
            base=self._base,
            cap=self._cap,
        )
        outcome: Outcome = "retry" if state == "pending" else "parked"
        log.warning(
            "notification %s %s: route=%s target=%s attempt=%d/%d retryable=%s: %s",
            row.id,
            "will be retried" if outcome == "retry" else "parked",
            row.route,
            name,
            attempt,
            self._max_attempts,
            result.retryable,
            result.detail,
        )
        return DeliveryOutcome(row.id, row.route, name, outcome, attempt, result.detail)

    # -- metrics ------------------------------------------------------------------------------

    def stats(self) -> dict[str, dict[str, int]]:
        """Counters since start and outbox gauges, by route.

        ``delivered``/``retry``/``parked`` count attempts' outcomes (for
        ``paypulse_notifications_total{route,outcome}``); ``pending`` and ``parked_now`` are the
        rows waiting in the outbox right now (for ``paypulse_outbox_pending``).
        """
        out: dict[str, dict[str, int]] = {outcome: {} for outcome in OUTCOMES}
        with self._counts_lock:
            for (route, outcome), n in self._counts.items():
                out[outcome][route] = n
        counts = self._outbox.counts()
        out["pending"] = counts["pending"]
        out["parked_now"] = counts["parked"]
        return out

    # -- background ---------------------------------------------------------------------------

    def start(self, interval_s: float = 1.0) -> None:
        """Run :meth:`run_once` every ``interval_s`` seconds on a daemon thread until :meth:`stop`."""
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("dispatcher already started")
        self._stop.clear()
        self._wake.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(interval_s,), name="paypulse-dispatcher", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to finish its current row and exit; waits up to ``timeout`` seconds."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """Deliver now instead of at the next interval; the engine calls it after a submit."""
        self._wake.set()

    def _loop(self, interval_s: float) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except (PayPulseError, sqlite3.Error):
                # The thread must outlive a bad moment (disk full, a locked file): log and retry later.
                log.exception("dispatcher step failed; retrying in %.1f s", interval_s)
            self._wake.wait(interval_s)
            self._wake.clear()


def _messages(rows: Sequence[OutboxRow]) -> list[list[OutboxRow]]:
    """A target's rows as messages: each row on its own, but consecutive rows of one batch together.

    >>> from types import SimpleNamespace as Row
    >>> [[r.id for r in m] for m in _messages([Row(id=1, batch=None), Row(id=2, batch="g"),
    ...                                        Row(id=3, batch="g"), Row(id=4, batch=None)])]
    [[1], [2, 3], [4]]
    """
    messages: list[list[OutboxRow]] = []
    for row in rows:
        if messages and row.batch is not None and messages[-1][-1].batch == row.batch:
            messages[-1].append(row)
        else:
            messages.append([row])
    return messages
