"""Silences, as Alertmanager's: matchers and a time range, with who made it and why.

A silence says "nothing about these alerts until then": a merchant that is migrating, a channel
under planned maintenance. Matchers are equalities on ``kind``, ``channel``, ``merchant`` and
``severity``; an alert is silenced when every matcher of some silence active at that moment holds.
A silenced alert still goes to the alert log (marked with the silence's id) and the board, but
nothing is sent for it, nor for its resolution. Times are the injected clock's, so a replay of a
week with the same silences silences the same alerts.

Silences live in the on-call state file (:class:`~alerting.state_db.StateDB`); adding and
expiring one writes an audit record in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal

from alerting.audit import record
from alerting.state_db import StateDB
from kernel.alerts import Alert
from kernel.clock import Clock
from kernel.errors import UsageError

__all__ = ["MATCHABLE", "Silence", "SilenceState", "Silences", "parse_matchers"]

#: What a matcher may name.
MATCHABLE: Final = ("kind", "channel", "merchant", "severity")
SilenceState = Literal["pending", "active", "expired"]


def parse_matchers(texts: Iterable[str]) -> dict[str, str]:
    """``["merchant=m42", "kind=volume_drop"]`` as a dict; a mistake names the matcher and the fix.

    >>> parse_matchers(["merchant=m42", "kind=volume_drop"])
    {'merchant': 'm42', 'kind': 'volume_drop'}
    >>> parse_matchers(["shop=m42"])
    Traceback (most recent call last):
    ...
    kernel.errors.UsageError: matcher 'shop=m42': 'shop' is not one of kind, channel, merchant, severity
    """
    out: dict[str, str] = {}
    for text in texts:
        name, sep, value = text.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not value:
            raise UsageError(f"matcher {text!r}: write it as name=value, e.g. merchant=m42")
        if name not in MATCHABLE:
            raise UsageError(f"matcher {text!r}: {name!r} is not one of {', '.join(MATCHABLE)}")
        if name in out:
            raise UsageError(f"matcher {text!r}: {name} is matched twice; a silence needs both to hold")
        out[name] = value
    if not out:
        raise UsageError("a silence needs at least one matcher, e.g. merchant=m42")
    return out


def _value(alert: Alert, name: str) -> str | None:
    if name == "channel":
        return alert.scope.channel
    if name == "merchant":
        return alert.scope.merchant_id
    return str(getattr(alert, name))


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: Mapping[str, str]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    created_at: float

    def matches(self, alert: Alert) -> bool:
        return all(_value(alert, name) == value for name, value in self.matchers.items())

    def state(self, now: float) -> SilenceState:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def describe(self) -> str:
        """The matchers as written: ``kind=volume_drop merchant=m42``."""
        return " ".join(f"{name}={value}" for name, value in self.matchers.items())


class Silences:
    """The silences in the on-call state file."""

    def __init__(self, db: StateDB, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def add(
        self,
        matchers: Mapping[str, str],
        *,
        by: str,
        comment: str,
        starts_at: float | None = None,
        ends_at: float | None = None,
        duration: timedelta | None = None,
    ) -> Silence:
        """Store a silence from ``starts_at`` (now) until ``ends_at`` or for ``duration``."""
        now = self._clock.now()
        start = now if starts_at is None else starts_at
        if (ends_at is None) == (duration is None):
            raise UsageError("give a silence an end or a duration (not both), e.g. --duration 2h")
        end = start + duration.total_seconds() if duration is not None else float(ends_at or 0)
        if end <= start:
            raise UsageError("the silence ends before it starts; give a later end or a positive duration")
        if end <= now:
            raise UsageError("the silence would already be over; give an end in the future")
        if not comment.strip():
            raise UsageError("a silence needs a comment saying why (--comment), for whoever is paged next")
        unknown = sorted(set(matchers) - set(MATCHABLE))
        if unknown:
            raise UsageError(f"matchers {', '.join(unknown)} are not among {', '.join(MATCHABLE)}")
        ordered = {name: matchers[name] for name in MATCHABLE if name in matchers}
        key = json.dumps([ordered, start, end, by, now], sort_keys=True)
        silence = Silence(
            hashlib.sha256(key.encode()).hexdigest()[:12], ordered, start, end, by, comment, now
        )
        with self._db.write() as tx:
            tx.execute(
                "INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (silence.id, json.dumps(ordered), start, end, by, comment, now),
            )
            record(tx, now, by, "silence.add", id=silence.id, matchers=ordered, starts_at=start, ends_at=end,
                   comment=comment)  # fmt: skip
        return silence

    def expire(self, silence_id: str, *, by: str) -> Silence:
        """End a silence now; its alerts notify again from their next change or repeat."""
        now = self._clock.now()
        silence = self.get(silence_id)
        if silence.state(now) == "expired":
            raise UsageError(f"silence {silence.id} has already expired; see `paypulse silence list --all`")
        with self._db.write() as tx:
            tx.execute("UPDATE silences SET ends_at = ? WHERE id = ?", (now, silence.id))
            record(tx, now, by, "silence.expire", id=silence.id, matchers=dict(silence.matchers))
        return self.get(silence.id)

    def get(self, silence_id: str) -> Silence:
        """The silence with this id, or the one whose id starts with it."""
        found = [s for s in self.all() if s.id.startswith(silence_id.strip())] if silence_id.strip() else []
        if len(found) != 1:
            why = "no silence has" if not found else f"{len(found)} silences have"
            raise UsageError(f"{why} id {silence_id!r}; see `paypulse silence list --all`")
        return found[0]

    def all(self) -> list[Silence]:
        rows = self._db.read(
            "SELECT id, matchers, starts_at, ends_at, created_by, comment, created_at FROM silences"
            " ORDER BY created_at, id"
        )
        return [Silence(r[0], json.loads(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]

    def current(self) -> list[Silence]:
        """Silences that are active or yet to start."""
        now = self._clock.now()
        return [s for s in self.all() if s.state(now) != "expired"]

    def silencing(self, alert: Alert, now: float | None = None) -> Silence | None:
        """The first silence active at ``now`` (the clock's) that matches ``alert``."""
        when = self._clock.now() if now is None else now
        for silence in self.all():
            if silence.state(when) == "active" and silence.matches(alert):
                return silence
        return None
