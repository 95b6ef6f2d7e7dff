"""The words of the operator commands (``paypulse alerts``, ``silence``, ``ack``, ``outbox``).

They are messages of the alert catalogue (:mod:`alerting.i18n`), so on-call reads the commands in
the language they read the alerts in (``--lang``, default ``alerting.language``), and the
catalogue test fails when one lacks a translation. :func:`words` picks the reader's catalogue and
zone: Chinese with Beijing time, English with UTC, as the alert messages do.
"""

from __future__ import annotations

from typing import Final

from alerting.i18n import C_, DEFAULT_ZONE, LANGUAGES, N_, Messages
from kernel.errors import UsageError

__all__ = ["COLUMNS", "SAY", "STATES", "words"]

#: Column headings of the operator tables.
COLUMNS: Final = {
    "alert": N_("Alert"),
    "kind": N_("Kind"),
    "scope": N_("Scope"),
    "severity": N_("Severity"),
    "since": N_("Since"),
    "routes": N_("Routes"),
    "delivery": N_("Delivery"),
    "ack": N_("Acknowledged"),
    "escalation": N_("Escalation"),
    "silence": N_("Silence"),
    "matchers": N_("Matchers"),
    "starts": N_("Starts"),
    "ends": N_("Ends"),
    "by": N_("By"),
    "comment": N_("Comment"),
    "state": N_("State"),
    "row": N_("Row"),
    "route": N_("Route"),
    "target": N_("Target"),
    "reason": N_("Reason"),
    "attempts": N_("Attempts"),
    "error": N_("Last error"),
}
#: Sentences the commands print.
SAY: Final = {
    "no_alerts": N_("No alerts are firing."),
    "acked": N_("Alert {alert_id} acknowledged by {by}: repeats and escalation stop."),
    "acked_before": N_("Alert {alert_id} was already acknowledged by {by} at {at}."),
    "silence_added": N_("Silence {id} added: {matchers}, until {end}."),
    "silence_expired": N_("Silence {id} expired: {matchers}."),
    "no_silences": N_("No silences."),
    "no_rows": N_("No notifications in the outbox match."),
    "requeued": N_("Requeued: {count} of {asked} (only parked rows move)."),
    "dropped": N_("Dropped: {count} of {asked} (delivered rows stay)."),
    "level": N_("level {level}"),
    "not_acked": N_("no"),
    "silenced_by": N_("silenced by {id}"),
}
#: States of silences and outbox rows, in words.
STATES: Final = {
    "pending": C_("state", "pending"),
    "active": C_("state", "active"),
    "expired": C_("state", "expired"),
    "delivered": C_("state", "delivered"),
    "parked": C_("state", "parked"),
    "held": C_("state", "held"),
}


def words(language: str) -> Messages:
    """The catalogue and zone an operator reads in; an unknown language names the choices.

    >>> words("zh-CN").gettext(SAY["no_silences"]), words("en").zone
    ('没有静默规则。', 'UTC')
    """
    for known in LANGUAGES:
        if language == known:
            return Messages(known, DEFAULT_ZONE if known == "zh-CN" else "UTC")
    raise UsageError(f"--lang {language!r}: choose {' or '.join(LANGUAGES)}")
