"""Why an alert change goes out on a route, or why not: one named reason per decision.

:func:`decide` is Alertmanager's ``needsUpdate`` with an injected ``now``; the fan-out
(:mod:`alerting.notifications`) and the groups (:mod:`alerting.grouping`) both ask it, so a change
sent on its own and one sent in a group are judged alike. The reasons are listed, with when each
applies, in :mod:`alerting.notifications` and :mod:`alerting.grouping`.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from alerting.outbox import NotifiedState
from kernel.alerts import Alert

__all__ = ["REASONS", "SEND_REASONS", "Reason", "decide"]

Reason = Literal[
    "first", "repeat_elapsed", "resolved", "in_group", "duplicate", "never_fired", "no_route", "muted",
    "grouped", "silenced", "acknowledged",
]  # fmt: skip
REASONS: Final = get_args(Reason)
SEND_REASONS: Final = frozenset({"first", "repeat_elapsed", "resolved", "in_group"})


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
