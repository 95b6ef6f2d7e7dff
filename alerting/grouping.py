"""Alerts of one group on one route go out as one message: Alertmanager's aggregation groups.

A route that groups (``group_by``, its own or its parent's: :class:`~alerting.routing.Timing`)
does not send an alert change at once. The change joins its *group*, the route's alerts that share
the values of the ``group_by`` labels (``kind``, ``channel``, ``merchant``, ``severity``; with
``group_by = []`` all of the route's alerts are one group). A new group waits ``group_wait`` for
the rest of an incident, then goes out as one message listing its alerts, firing and resolved;
after that its changes go out together at most every ``group_interval``, and a group that is still
firing is sent again once ``repeat_interval`` has passed. A group whose alerts have all resolved
and been told is forgotten, so the next alert of its kind waits ``group_wait`` again.

Groups live in the on-call state file (tables ``groups`` and ``grouped``), so a restart neither
sends a group early nor forgets one; times are the injected clock's. :func:`plan` decides, when a
group's time comes, why each alert is in its message or not, with the fan-out's reasons plus one:

=================  ======  ===============================================================
reason             listed  when
=================  ======  ===============================================================
``first``          yes     firing, and not sent on this route yet
``resolved``       yes     resolved, and its firing was sent on this route
``repeat_elapsed`` yes     still firing, and ``repeat_interval`` passed since it was sent
``in_group``       yes     still firing and already sent: listed again as its group goes out
``duplicate``      no      already sent, and its group has no news
``never_fired``    no      resolved before its firing went out
``silenced``       no      an operator's silence matches it now
``acknowledged``   no      still firing, and someone acknowledged it
=================  ======  ===============================================================

The message goes when one of its alerts is ``first``, ``resolved`` or ``repeat_elapsed``
(Alertmanager's ``needsUpdate``); otherwise nothing is sent and the group waits for its next turn.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from alerting.decisions import Reason, decide
from alerting.outbox import NotifiedState
from alerting.routing import Route
from alerting.state_db import StateDB
from kernel.alerts import Alert
from kernel.clock import Clock

__all__ = ["NEWS", "Group", "Groups", "group_key", "plan"]

#: The reasons that make a group's message go out.
NEWS: Final = frozenset({"first", "resolved", "repeat_elapsed"})


def _label(alert: Alert, label: str) -> str:
    """The value of one grouping label; "" for an alert on all channels or no merchant."""
    if label == "kind":
        return alert.kind
    if label == "severity":
        return alert.severity
    if label == "channel":
        return alert.scope.channel or ""
    return alert.scope.merchant_id or ""


def group_key(alert: Alert, group_by: Sequence[str]) -> str:
    """Which group of its route ``alert`` is in: its ``group_by`` labels and their values.

    >>> from datetime import datetime, UTC
    >>> from kernel.alerts import Impact, Scope
    >>> t = datetime(2024, 5, 1, tzinfo=UTC)
    >>> a = Alert("volume_drop", Scope("alipay", "m42"), "firing", "warning", t, t, 1, 2, Impact(1, 2),
    ...           "x", "y")
    >>> group_key(a, ("kind", "channel")), group_key(a, ("merchant",)), group_key(a, ())
    ('kind=volume_drop,channel=alipay', 'merchant=m42', '')
    """
    return ",".join(f"{label}={_label(alert, label)}" for label in group_by)


def _incident(alert: Alert) -> str:
    """One incident of a fingerprint across its changes (an alert's id is per change)."""
    return f"{alert.fingerprint}|{int(alert.started_at.timestamp() * 1000)}"


@dataclass(frozen=True, slots=True)
class Group:
    """One group of one route as its turn comes: each incident's latest change, in order of arrival."""

    route: str
    key: str
    members: tuple[Alert, ...]


def plan(
    members: Sequence[Alert],
    previous: Mapping[str, NotifiedState | None],
    now: float,
    repeat_interval: float,
    held: Callable[[Alert], Reason | None],
) -> list[tuple[Alert, Reason]]:
    """Each member with the reason it is in the group's message now, or is not (module docstring).

    ``previous`` is the last change sent on the route per fingerprint; ``held`` says whether an
    operator holds an alert back (``"silenced"``, ``"acknowledged"``) or not (None).

    >>> from dataclasses import replace
    >>> from datetime import datetime, UTC
    >>> from kernel.alerts import Impact, Scope
    >>> t = datetime(2024, 5, 1, tzinfo=UTC)
    >>> a = Alert("volume_drop", Scope("alipay"), "firing", "warning", t, t, 1, 2, Impact(1, 2), "x", "y")
    >>> b = replace(a, scope=Scope("wechat"))
    >>> sent = {a.fingerprint: NotifiedState(a.id, "firing", t.isoformat(), sent_at=0.0)}
    >>> [r for _, r in plan([a, b], sent, 60.0, 3600.0, lambda alert: None)]
    ['in_group', 'first']
    >>> [r for _, r in plan([a], sent, 60.0, 3600.0, lambda alert: None)]
    ['duplicate']
    """
    last = dict(previous)
    planned: list[tuple[Alert, Reason]] = []
    for alert in members:
        reason: Reason | None = held(alert)
        if reason is None:
            reason = decide(last.get(alert.fingerprint), alert, now, repeat_interval)
        if reason in NEWS:  # an incident's resolution and its successor in one group: in order
            last[alert.fingerprint] = NotifiedState(alert.id, alert.status, alert.started_at.isoformat(), now)
        planned.append((alert, reason))
    if not any(reason in NEWS for _, reason in planned):
        return planned
    return [(a, "in_group" if r == "duplicate" and a.status == "firing" else r) for a, r in planned]


class Groups:
    """The routes' groups in the on-call state file. Not locked itself: the fan-out serialises."""

    def __init__(self, db: StateDB, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def add(self, route: Route, alert: Alert) -> bool:
        """Put an alert change in its group (its incident's latest change), opening the group (first
        turn ``group_wait`` from now) when it does not exist. False when the group already holds
        this change (a repeat's tick)."""
        assert route.group_by is not None, f"route {route.name} does not group"
        key = group_key(alert, route.group_by)
        held = self._db.read(
            "SELECT status FROM grouped WHERE route = ? AND key = ? AND incident = ?",
            (route.name, key, _incident(alert)),
        )
        if held and held[0][0] == alert.status:
            return False
        now = self._clock.now()
        payload = json.dumps(alert.to_json(exact=True), sort_keys=True)
        with self._db.write() as db:
            db.execute(
                "INSERT INTO groups (route, key, next_flush_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (route.name, key, now + route.group_wait),
            )
            db.execute(
                "INSERT INTO grouped (route, key, incident, status, alert_json) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (route, key, incident) DO UPDATE SET status = excluded.status,"
                " alert_json = excluded.alert_json",
                (route.name, key, _incident(alert), alert.status, payload),
            )
        return True

    def due(self) -> list[Group]:
        """The groups whose turn has come, oldest turn first."""
        found = self._db.read(
            "SELECT g.route, g.key, m.alert_json FROM groups g JOIN grouped m USING (route, key)"
            " WHERE g.next_flush_at <= ? ORDER BY g.next_flush_at, g.route, g.key, m.rowid",
            (self._clock.now(),),
        )
        groups: dict[tuple[str, str], list[Alert]] = {}
        for route, key, alert_json in found:
            groups.setdefault((route, key), []).append(Alert.from_json(json.loads(alert_json)))
        return [Group(route, key, tuple(members)) for (route, key), members in groups.items()]

    def done(self, group: Group, interval: float) -> None:
        """The group had its turn: its resolved alerts leave it (told, or never to be told), and
        its next turn is ``interval`` from now; a group left empty is forgotten."""
        resolved = [_incident(a) for a in group.members if a.status == "resolved"]
        with self._db.write() as db:
            db.executemany(
                "DELETE FROM grouped WHERE route = ? AND key = ? AND incident = ? AND status = 'resolved'",
                [(group.route, group.key, incident) for incident in resolved],
            )
            left = db.execute(
                "SELECT COUNT(*) FROM grouped WHERE route = ? AND key = ?", (group.route, group.key)
            ).fetchone()[0]
            if left:
                db.execute(
                    "UPDATE groups SET next_flush_at = ? WHERE route = ? AND key = ?",
                    (self._clock.now() + interval, group.route, group.key),
                )
            else:
                db.execute("DELETE FROM groups WHERE route = ? AND key = ?", (group.route, group.key))

    def forget(self, route: str) -> None:
        """Drop a route's groups (the route is no longer configured)."""
        with self._db.write() as db:
            db.execute("DELETE FROM grouped WHERE route = ?", (route,))
            db.execute("DELETE FROM groups WHERE route = ?", (route,))
