"""How fast one delivery target may be sent to, and what a target says when it is sent to too fast.

DingTalk and WeCom group robots take 20 messages a minute (DingTalk then refuses for 10 minutes),
Feishu 100 a minute and 5 a second. :class:`Pacer` keeps every target within ``limit`` messages in
any ``window`` seconds of wall time, read from an injected :class:`~kernel.clock.Clock` so tests
move it by hand; the dispatcher folds what does not fit into one digest instead of dropping it or
sending a burst the robot would refuse. A robot that still answers "too fast" (another sender
shares it) returns :class:`Throttled`, and the pacer then leaves the target alone for the pause it
asks for.

The window lives in the on-call state file (:class:`~alerting.state_db.StateDB`, tables ``paced``
and ``paused``), not in memory: the robot counts what it received whatever happened to our
process, so a restart in the middle of an incident must not grant a fresh 20 messages, nor forget
a pause DingTalk imposed for 10 minutes. Rows older than the window are deleted as new ones are
written, so each target keeps at most ``limit`` of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from alerting.notifications import DeliveryResult, Notification, Notifier
from alerting.state_db import StateDB
from kernel.clock import Clock

__all__ = ["DEFAULT_RATE_LIMIT", "DEFAULT_WINDOW", "DigestNotifier", "Pacer", "Throttled"]

#: Messages a target takes in a window, unless told otherwise: the DingTalk and WeCom robots' own.
DEFAULT_RATE_LIMIT: Final = 20
DEFAULT_WINDOW: Final = 60.0


@dataclass(frozen=True, slots=True)
class Throttled(DeliveryResult):
    """A retryable failure because the target refused to go faster: wait ``pause`` seconds."""

    pause: float = DEFAULT_WINDOW


@runtime_checkable
class DigestNotifier(Notifier, Protocol):
    """A notifier that can also send several notifications as one message (a digest)."""

    def send_digest(self, notifications: Sequence[Notification], limit: int) -> DeliveryResult: ...


class Pacer:
    """At most ``limit`` messages to a target in any ``window`` seconds of wall time, kept in ``db``.

    >>> from kernel.clock import ManualClock
    >>> clock = ManualClock(0.0)
    >>> pacer = Pacer(clock, StateDB(":memory:"), limit=2, window=60.0)
    >>> pacer.room("t"), pacer.sent("t"), pacer.sent("t"), pacer.room("t")
    (2, None, None, 0)
    >>> clock.advance(60.0)
    >>> pacer.room("t"), pacer.pause("t", 600.0), pacer.room("t")
    (2, None, 0)
    """

    def __init__(
        self, clock: Clock, db: StateDB, limit: int = DEFAULT_RATE_LIMIT, window: float = DEFAULT_WINDOW
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        if window <= 0:
            raise ValueError(f"window must be > 0, got {window}")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._db = db

    def room(self, target: str) -> int:
        """How many messages ``target`` may be sent now."""
        now = self._clock.now()
        paused = self._db.read("SELECT until FROM paused WHERE target = ? AND until > ?", (target, now))
        if paused:
            return 0
        ((recent,),) = self._db.read(
            "SELECT COUNT(*) FROM paced WHERE target = ? AND sent_at > ?", (target, now - self.window)
        )
        return max(self.limit - int(recent), 0)

    def sent(self, target: str) -> None:
        """Count one message (delivered or not: the robot counts what reached it)."""
        now = self._clock.now()
        with self._db.write() as db:
            db.execute("DELETE FROM paced WHERE target = ? AND sent_at <= ?", (target, now - self.window))
            db.execute("INSERT INTO paced (target, sent_at) VALUES (?, ?)", (target, now))

    def pause(self, target: str, seconds: float) -> None:
        """The target asked for a pause: send it nothing for ``seconds`` (a longer pause stands)."""
        until = self._clock.now() + seconds
        with self._db.write() as db:
            db.execute(
                "INSERT INTO paused (target, until) VALUES (?, ?)"
                " ON CONFLICT (target) DO UPDATE SET until = MAX(until, excluded.until)",
                (target, until),
            )
