"""How fast one delivery target may be sent to, and what a target says when it is sent to too fast.

DingTalk and WeCom group robots take 20 messages a minute (DingTalk then refuses for 10 minutes),
Feishu 100 a minute and 5 a second. :class:`Pacer` keeps every target within ``limit`` messages in
any ``window`` seconds of wall time, read from an injected :class:`~kernel.clock.Clock` so tests
move it by hand; the dispatcher folds what does not fit into one digest instead of dropping it or
sending a burst the robot would refuse. A robot that still answers "too fast" (another sender
shares it) returns :class:`Throttled`, and the pacer then leaves the target alone for the pause it
asks for. State is one bounded deque per configured target.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from alerting.notifications import DeliveryResult, Notification, Notifier
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
    """At most ``limit`` messages to a target in any ``window`` seconds of wall time.

    >>> from kernel.clock import ManualClock
    >>> clock = ManualClock(0.0)
    >>> pacer = Pacer(clock, limit=2, window=60.0)
    >>> pacer.room("t"), pacer.sent("t"), pacer.sent("t"), pacer.room("t")
    (2, None, None, 0)
    >>> clock.advance(60.0)
    >>> pacer.room("t"), pacer.pause("t", 600.0), pacer.room("t")
    (2, None, 0)
    """

    def __init__(self, clock: Clock, limit: int = DEFAULT_RATE_LIMIT, window: float = DEFAULT_WINDOW) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        if window <= 0:
            raise ValueError(f"window must be > 0, got {window}")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}
        self._paused_until: dict[str, float] = {}

    def room(self, target: str) -> int:
        """How many messages ``target`` may be sent now."""
        now = self._clock.now()
        if self._paused_until.get(target, now) > now:
            return 0
        times = self._sent.get(target)
        if times is None:
            return self.limit
        while times and times[0] <= now - self.window:
            times.popleft()
        return self.limit - len(times)

    def sent(self, target: str) -> None:
        """Count one message (delivered or not: the robot counts what reached it)."""
        self._sent.setdefault(target, deque(maxlen=self.limit)).append(self._clock.now())

    def pause(self, target: str, seconds: float) -> None:
        """The target asked for a pause: send it nothing for ``seconds``."""
        until = self._clock.now() + seconds
        self._paused_until[target] = max(until, self._paused_until.get(target, until))
