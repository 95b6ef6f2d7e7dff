"""The on-call stage around the notification fan-out: silence -> route, group and enqueue -> escalate.

Alertmanager's pipeline drops silenced alerts before it groups and notifies; this stage does the
same in front of :class:`~alerting.notifications.AlertFanout`, and after it opens or closes the
alert's escalation. Every change is put on the :class:`~alerting.board.Board` with its routes and
its silence, for ``paypulse alerts``. Repeats (:meth:`OnCallStage.tick`) skip acknowledged and
silenced alerts, send the routes' groups whose turn has come (:mod:`alerting.grouping`; silences
and acknowledgements are read again as a group goes out), and move escalations on.
:class:`Annotator` gives each notification, as the dispatcher sends it, the acknowledgement link
and the current primary to @mention.

Decisions made here are named like the fan-out's: ``silenced`` and ``acknowledged``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace
from typing import Any

from alerting.acks import Acks, ack_link
from alerting.board import Board
from alerting.decisions import Reason
from alerting.escalation import Escalator
from alerting.notifications import AlertFanout, Decision, Notification
from alerting.oncall import Schedule
from alerting.outbox import Outbox
from alerting.route_tree import tree_from_settings
from alerting.routing import target_key
from alerting.silences import Silences
from alerting.state_db import StateDB
from kernel.alerts import Alert
from kernel.clock import Clock
from kernel.settings import AlertingSettings

__all__ = ["Annotator", "OnCallStage"]


class OnCallStage:
    """Feeds alert changes to the fan-out, minus what is silenced, and escalates what goes out."""

    def __init__(
        self, settings: AlertingSettings, fanout: AlertFanout, outbox: Outbox, db: StateDB, clock: Clock
    ) -> None:
        self.fanout = fanout
        self._clock = clock
        self.silences = Silences(db, clock)
        self.acks = Acks(db, clock)
        self.board = Board(db)
        self.schedule = Schedule(settings.oncall)
        self.escalator = Escalator(db, settings.escalation, self.schedule, outbox, clock)

    # -- the alert's way ------------------------------------------------------------------------

    def observe(self, alert: Alert) -> list[Decision]:
        """One alert change: on the board; then, unless silenced, routed, enqueued and escalated."""
        now = self._clock.now()
        silence = self.silences.silencing(alert, now)
        routes = [route.name for route in self.fanout.tree.match(alert, now)]
        self.board.record(alert, routes, silence.id if silence else None, now)
        if alert.status == "resolved":
            self.escalator.close(alert.fingerprint, "resolved")
        if silence is not None:
            decision = Decision(None, "silenced", alert.id)
            self.fanout.note(decision, alert)
            return [decision]
        decisions = self.fanout.submit(alert)
        if self.escalator.wants(alert) and any(d.sends for d in decisions):
            self.escalator.open(alert)
        self.flush()
        return decisions

    def tick(self, firing: Iterable[Alert]) -> list[Decision]:
        """Repeats of still-firing alerts that nobody acknowledged and nothing silences; the groups
        whose turn has come (:meth:`flush`); escalations."""
        acked = self.acks.acknowledged()
        decisions: list[Decision] = []
        for alert in firing:
            held = self._held(alert, acked)
            if held is not None:
                decision = Decision(None, held, alert.id)
                self.fanout.note(decision, alert, quiet=True)
                decisions.append(decision)
            else:
                decisions += self.fanout.tick([alert])
        decisions += self.flush()
        self.escalator.tick()
        return decisions

    def flush(self) -> list[Decision]:
        """Send the groups whose turn has come (:meth:`AlertFanout.flush`), minus the alerts silenced
        or acknowledged by now; a firing alert that goes out starts its escalation."""
        acked = self.acks.acknowledged()
        decisions = []
        for alert, decision in self.fanout.flush(lambda alert: self._held(alert, acked)):
            if decision.sends and self.escalator.wants(alert):
                self.escalator.open(alert)
            decisions.append(decision)
        return decisions

    def _held(self, alert: Alert, acked: Collection[str]) -> Reason | None:
        """Why an operator holds ``alert`` back now: acknowledged (while it fires), silenced, or not."""
        if alert.status == "firing" and alert.id in acked:
            return "acknowledged"
        return "silenced" if self.silences.silencing(alert) else None

    def log_marks(self, alert: Alert) -> dict[str, Any]:
        """What the alert log adds to a change's line: the silence that holds it, if any."""
        silence = self.silences.silencing(alert)
        return {} if silence is None else {"silenced_by": silence.id}


class Annotator:
    """What the dispatcher adds to each notification as it goes out: the acknowledgement link for
    a firing alert, and the current primary to @mention on routes that ask for it."""

    def __init__(self, settings: AlertingSettings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self.schedule = Schedule(settings.oncall)
        self._mention_routes = {r.name for r in tree_from_settings(settings).routes if r.mention_oncall}
        self._people_by_target = {
            target_key(self.schedule.contact_url(person, via)): person.name
            for person in self.schedule.people
            for via in settings.oncall.contacts
        }

    def annotate(self, n: Notification) -> Notification:
        """The link and the mention for ``n``, as of the clock's now."""
        if n.alert.status != "firing":
            return n
        now = self._clock.now()
        mentions: tuple[str, ...] = ()
        primary = self.schedule.who("primary", now)
        if n.route in self._mention_routes and primary is not None:
            mentions = (primary.mobile,)
        escalation = self._settings.escalation
        link = None
        if escalation.ack_secret is not None and escalation.ack_url:
            expires = int(now + escalation.ack_link_ttl.total_seconds())
            by = self._people_by_target.get(n.target, "")
            secret = escalation.ack_secret.get_secret_value()
            link = ack_link(escalation.ack_url, secret, n.alert.id, by, expires)
        return replace(n, mentions=mentions, ack_url=link)
