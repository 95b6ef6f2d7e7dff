"""The operator's desk: what on-call does by hand, one set of rules for the CLI and the ops API.

Acknowledging, silencing and expiring a silence each check what they are given (an alert id that
is firing, matchers PayPulse knows, a link signed with ``alerting.escalation.ack_secret`` that has
not expired), change the on-call state file, and leave an audit record in the same transaction.
``paypulse ack`` and ``POST /api/alerts/{id}/ack`` are thus the same act, told apart in the
audit log by ``via``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from alerting.acks import Ack, Acks, check_link
from alerting.audit import Audit
from alerting.board import Board, BoardEntry
from alerting.escalation import escalation_progress
from alerting.silences import Silence, Silences, parse_matchers
from alerting.state_db import StateDB
from kernel.clock import Clock
from kernel.errors import UsageError
from kernel.settings import AlertingSettings

__all__ = ["Desk"]


class Desk:
    def __init__(self, settings: AlertingSettings, db: StateDB, clock: Clock) -> None:
        self._settings = settings
        self._db = db
        self.clock = clock
        self.silences = Silences(db, clock)
        self.acks = Acks(db, clock)
        self.board = Board(db)
        self.audit = Audit(db)

    def ack(self, alert_id: str, *, by: str, via: str) -> tuple[BoardEntry, Ack, bool]:
        """Acknowledge a firing alert by its id or a prefix of it; ``bool`` says whether this call did."""
        entry = self.board.find(alert_id)
        ack, made = self.acks.ack(entry.alert.id, by=by, via=via)
        return entry, ack, made

    def check_ack_link(self, alert_id: str, by: str, expires: int, signature: str) -> None:
        """Raise :class:`UsageError` unless the link is one we signed and it has not expired."""
        secret = self._settings.escalation.ack_secret
        if secret is None:
            raise UsageError("acknowledgement links are off: alerting.escalation.ack_secret is not set")
        check_link(secret.get_secret_value(), alert_id, by, expires, signature, self.clock.now())

    def ack_by_link(
        self, alert_id: str, by: str, expires: int, signature: str
    ) -> tuple[BoardEntry, Ack, bool]:
        """Acknowledge through a signed link from a message (who: the person it was sent to)."""
        self.check_ack_link(alert_id, by, expires, signature)
        return self.ack(alert_id, by=by or "link", via="link")

    def silence(
        self,
        matchers: Iterable[str],
        *,
        by: str,
        comment: str,
        duration: timedelta | None = None,
        ends_at: float | None = None,
        starts_at: float | None = None,
    ) -> Silence:
        """Add a silence from ``name=value`` matchers."""
        return self.silences.add(
            parse_matchers(matchers),
            by=by,
            comment=comment,
            duration=duration,
            ends_at=ends_at,
            starts_at=starts_at,
        )

    def expire(self, silence_id: str, *, by: str) -> Silence:
        return self.silences.expire(silence_id, by=by)

    def escalations(self) -> dict[str, int]:
        return escalation_progress(self._db)
