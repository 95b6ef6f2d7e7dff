"""Events stamped far ahead of the stream: a sender's clock moved, not the stream.

The watermark follows the largest event time seen, so one event from a server whose clock runs
a day fast would close every window up to tomorrow and make every later event "too late": the
monitor would go blind. So an event more than ``max_ahead_ms`` ahead of the stream is parked
instead of counted. The stream itself has moved on (a producer resumed after an outage, a replay
skipped a quiet night) when the parked events number at least ``confirm`` and at least as many as
the events counted since the first was parked: then they all go in, in time order. Parked events
the stream catches up with go in as well. A lone sender with a wrong clock never gets that
majority: its events leave as ``clock_ahead`` dead letters, oldest first, once more than
``capacity`` wait, and at the end of input. Nothing is dropped silently either way.
"""

from __future__ import annotations

import math
from typing import Any

from paypulse.events import DeadLetter, Event, parse_line

__all__ = ["AheadGuard"]

_KEPT = 4096


class AheadGuard:
    """Parks events too far ahead of the stream until the stream confirms or reaches them.

    >>> from paypulse.events import parse_line
    >>> guard = AheadGuard(max_ahead_ms=600_000, confirm=2)
    >>> line = b'{"type":"complaint","ts":%d,"channel":"alipay"}'
    >>> now, tomorrow = 1_767_225_600_000, 1_767_312_000_000
    >>> guard.limit(now, []) == now + 600_000
    True
    >>> guard.park(parse_line(line % tomorrow), line % tomorrow)
    >>> guard.settle(now, counted=100)      # one event ahead against 100 counted: a wrong clock
    ([], [])
    >>> [letter.reason for letter in guard.drain()]
    ['clock_ahead']
    """

    def __init__(self, max_ahead_ms: int, confirm: int = 50, capacity: int = 10_000) -> None:
        self.max_ahead_ms = max_ahead_ms
        self.confirm = confirm
        self.capacity = capacity
        self.parked: list[tuple[Event, bytes]] = []  # in arrival order
        self.counted_since = 0  # events counted since the oldest parked one arrived

    def limit(self, max_ts: int, events: list[Event]) -> float:
        """Event times above this are parked. Before anything was counted, the batch's median
        time stands for the stream, so a wrong clock in the very first batch is caught too."""
        if max_ts >= 0:
            return max_ts + self.max_ahead_ms
        if not events:
            return math.inf
        times = sorted(event.ts for event in events)
        return times[len(times) // 2] + self.max_ahead_ms

    def park(self, event: Event, raw: bytes) -> None:
        self.parked.append((event, raw))

    def settle(self, max_ts: int, counted: int) -> tuple[list[tuple[Event, bytes]], list[DeadLetter]]:
        """After a batch that counted ``counted`` events: ``(events to count now, in time order,
        dead letters)``."""
        if not self.parked:
            return [], []
        self.counted_since += counted
        if len(self.parked) >= self.confirm and len(self.parked) >= self.counted_since:
            released, self.parked = self.parked, []  # the stream moved on
        else:
            limit = max_ts + self.max_ahead_ms
            released = [p for p in self.parked if p[0].ts <= limit]
            if released:
                self.parked = [p for p in self.parked if p[0].ts > limit]
        overflow = max(len(self.parked) - self.capacity, 0)
        letters = [self._letter(raw) for _event, raw in self.parked[:overflow]]
        del self.parked[:overflow]
        if not self.parked:
            self.counted_since = 0
        return sorted(released, key=lambda p: p[0].ts), letters

    def drain(self) -> list[DeadLetter]:
        """End of input: whatever still waits was never confirmed by the stream."""
        letters = [self._letter(raw) for _event, raw in self.parked]
        self.parked, self.counted_since = [], 0
        return letters

    def _letter(self, raw: bytes) -> DeadLetter:
        return DeadLetter(
            raw[:_KEPT],
            "clock_ahead",
            f"more than {self.max_ahead_ms // 1000} s ahead of the stream and not confirmed by it: "
            "check the sender's clock",
        )

    def snapshot(self) -> dict[str, Any]:
        return {"v": 1, "parked": [raw.decode("utf-8", "replace") for _e, raw in self.parked],
                "counted_since": self.counted_since}  # fmt: skip

    def restore(self, state: dict[str, Any]) -> None:
        raws = [text.encode() for text in state["parked"]]
        self.parked = [(event, raw) for raw in raws if not isinstance(event := parse_line(raw), DeadLetter)]
        self.counted_since = state["counted_since"]
