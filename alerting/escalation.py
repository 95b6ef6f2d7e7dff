"""Escalation: an alert nobody acknowledges reaches more people, one level at a time.

Level 0 is the routes' own notifications (the DingTalk group). When a firing alert at least as
severe as ``alerting.escalation.min_severity`` has gone out, an escalation opens; each
``alerting.escalation.levels`` entry then pages its person (the primary, the secondary or the
lead, as the :class:`~alerting.oncall.Schedule` says at that moment) through its contact (SMS,
phone) once the alert has been unacknowledged for ``after``. An acknowledgement or the alert's
resolution closes the escalation.

The pages are ordinary outbox rows (route ``escalation-<level>``, reason ``escalated``), so they
are retried, paced and kept in order like every other notification. The escalation's progress is
a row in the on-call state file, and :meth:`Escalator.tick` reads only that and the injected
clock: a restarted process continues where the last one stopped, and a replay escalates at the
same moments. A crash between enqueueing a page and recording its level sends that page again
(at least once, as the outbox does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from alerting.acks import Acks
from alerting.oncall import Person, Schedule
from alerting.outbox import Outbox
from alerting.routing import severity_at_least, target_key
from alerting.state_db import StateDB
from kernel.alerts import Alert
from kernel.clock import Clock
from kernel.settings import EscalationSettings

__all__ = ["ESCALATED", "Escalator", "Page", "escalation_progress"]

#: The outbox reason of an escalation page.
ESCALATED = "escalated"


@dataclass(frozen=True, slots=True)
class Page:
    """One escalation page: which level, whom, how, and the outbox row it became."""

    alert_id: str
    level: int  # 1 for the first entry of alerting.escalation.levels
    person: Person
    via: str
    outbox_id: int


class Escalator:
    def __init__(
        self, db: StateDB, settings: EscalationSettings, schedule: Schedule, outbox: Outbox, clock: Clock
    ) -> None:
        self._db = db
        self._settings = settings
        self._levels = sorted(settings.levels, key=lambda level: level.after)
        self._schedule = schedule
        self._outbox = outbox
        self._clock = clock
        self._acks = Acks(db, clock)

    def wants(self, alert: Alert) -> bool:
        """Whether ``alert`` escalates at all: firing, severe enough, and levels configured."""
        return (
            bool(self._levels)
            and alert.status == "firing"
            and severity_at_least(alert.severity, self._settings.min_severity)
        )

    def open(self, alert: Alert) -> None:
        """Start the clock on a firing alert that went out (a second call changes nothing)."""
        with self._db.write() as tx:
            tx.execute(
                "INSERT OR IGNORE INTO escalations (alert_id, fingerprint, alert_json, opened_at)"
                " VALUES (?, ?, ?, ?)",
                (alert.id, alert.fingerprint, json.dumps(alert.to_json(), sort_keys=True), self._clock.now()),
            )

    def close(self, fingerprint: str, why: str) -> None:
        """Stop escalating the fingerprint's open alert (``"resolved"``, ``"acknowledged"``)."""
        with self._db.write() as tx:
            tx.execute(
                "UPDATE escalations SET closed = ? WHERE fingerprint = ? AND closed IS NULL",
                (why, fingerprint),
            )

    def tick(self) -> list[Page]:
        """Page every level whose wait has passed on an open, unacknowledged escalation."""
        now = self._clock.now()
        acked = self._acks.acknowledged()
        pages: list[Page] = []
        rows = self._db.read(
            "SELECT alert_id, fingerprint, alert_json, opened_at, levels_done FROM escalations"
            " WHERE closed IS NULL ORDER BY opened_at, alert_id"
        )
        for alert_id, fingerprint, alert_json, opened_at, done in rows:
            if alert_id in acked:
                self.close(fingerprint, "acknowledged")
                continue
            alert = Alert.from_json(json.loads(alert_json))
            level = done
            while level < len(self._levels) and now - opened_at >= self._levels[level].after.total_seconds():
                page = self._page(alert, level, now)
                if page is not None:
                    pages.append(page)
                level += 1
            if level != done:
                with self._db.write() as tx:
                    tx.execute("UPDATE escalations SET levels_done = ? WHERE alert_id = ?", (level, alert_id))
        return pages

    def _page(self, alert: Alert, index: int, now: float) -> Page | None:
        level = self._levels[index]
        person = self._schedule.who(level.notify, now)
        if person is None:
            return None
        url = self._schedule.contact_url(person, level.via)
        route = f"escalation-{index + 1}"
        (row,) = self._outbox.enqueue(route, [target_key(url)], alert, ESCALATED)
        return Page(alert.id, index + 1, person, level.via, row)


def escalation_progress(db: StateDB) -> dict[str, int]:
    """Alert id -> levels paged so far, for every open escalation (for ``paypulse alerts``)."""
    rows = db.read("SELECT alert_id, levels_done FROM escalations WHERE closed IS NULL")
    return {alert_id: done for alert_id, done in rows}
