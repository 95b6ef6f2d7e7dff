"""Acknowledgements: someone has the alert in hand, so stop repeating it and stop escalating.

An alert is acknowledged by its id (the firing change's, printed in every message's footer and by
``paypulse alerts``), from the CLI, the status page's ops API, or a link in the message. The link
is signed with HMAC-SHA256 over the alert id, who it is for and when it expires, with
``alerting.escalation.ack_secret``, so it works without the ops token and only for that alert
until then. The first acknowledgement counts; later ones change nothing. Each is audited.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from alerting.audit import record
from alerting.state_db import StateDB
from kernel.clock import Clock
from kernel.errors import UsageError

__all__ = ["Ack", "Acks", "ack_link", "check_link", "link_signature"]


@dataclass(frozen=True, slots=True)
class Ack:
    alert_id: str
    by: str
    via: str  # "cli", "api" or "link"
    at: float


def link_signature(secret: str, alert_id: str, by: str, expires: int) -> str:
    """The link's signature: HMAC-SHA256 over the id, the name and the expiry, hex.

    >>> link_signature("s3cret", "abc", "zhang", 1700000000)[:16]
    '4a3f48705f553c65'
    """
    message = f"{alert_id}\n{by}\n{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def ack_link(base_url: str, secret: str, alert_id: str, by: str, expires: int) -> str:
    """The URL that acknowledges ``alert_id`` as ``by`` until ``expires`` (epoch seconds).

    >>> ack_link("https://status.example.com/", "s3cret", "abc", "zhang", 1700000000)[:70]
    'https://status.example.com/api/ack/abc?by=zhang&exp=1700000000&sig=4a3'
    """
    query = urlencode({"by": by, "exp": expires, "sig": link_signature(secret, alert_id, by, expires)})
    return f"{base_url.rstrip('/')}/api/ack/{quote(alert_id, safe='')}?{query}"


def check_link(secret: str, alert_id: str, by: str, expires: int, signature: str, now: float) -> None:
    """Raise :class:`UsageError` unless the link is signed with ``secret`` and not expired.

    >>> sig = link_signature("s3cret", "abc", "zhang", 100)
    >>> check_link("s3cret", "abc", "zhang", 100, sig, now=99.0)
    >>> check_link("s3cret", "abc", "li", 100, sig, now=99.0)
    Traceback (most recent call last):
    ...
    kernel.errors.UsageError: this acknowledgement link is not valid (its signature does not match)
    """
    expected = link_signature(secret, alert_id, by, expires)
    if not hmac.compare_digest(expected, signature):
        raise UsageError("this acknowledgement link is not valid (its signature does not match)")
    if now >= expires:
        raise UsageError("this acknowledgement link has expired; acknowledge with `paypulse ack` instead")


class Acks:
    """Acknowledgements in the on-call state file."""

    def __init__(self, db: StateDB, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def ack(self, alert_id: str, *, by: str, via: str) -> tuple[Ack, bool]:
        """Acknowledge ``alert_id``; returns the acknowledgement and whether this call made it."""
        if not by.strip():
            raise UsageError("say who acknowledges (--by NAME)")
        now = self._clock.now()
        with self._db.write() as tx:
            cur = tx.execute(
                "INSERT OR IGNORE INTO acks (alert_id, by, via, at) VALUES (?, ?, ?, ?)",
                (alert_id, by, via, now),
            )
            made = cur.rowcount == 1
            if made:
                record(tx, now, by, "ack", alert_id=alert_id, via=via)
        found = self.get(alert_id)
        assert found is not None
        return found, made

    def get(self, alert_id: str) -> Ack | None:
        rows = self._db.read("SELECT alert_id, by, via, at FROM acks WHERE alert_id = ?", (alert_id,))
        return Ack(*rows[0]) if rows else None

    def acknowledged(self) -> set[str]:
        return {row[0] for row in self._db.read("SELECT alert_id FROM acks")}
