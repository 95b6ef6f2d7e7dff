"""Stream time that follows the stream, not its outliers.

Windows close behind the largest event time counted, so a single event stamped minutes ahead
(a sender whose clock runs fast, a buggy producer, a hostile line) would close every window up
to it, and every valid event after it would arrive "too late": the monitor would go blind. This
guard decides which events may move stream time, before anything is counted:

* An event is **early** when it is more than ``step`` ahead of stream time. ``step`` follows the
  stream's own pace: thirty mean spacings between arrivals (a gap the stream itself would make
  about once in 10^13 arrivals), at least half the allowed lateness and at most ``max_ahead``.
  A quiet night stream and a busy noon stream are judged by their own gaps.
* An early event **waits**: it is held, not counted, and moves nothing. It goes in once stream
  time comes within ``step`` of it: a clock a little fast just has its events counted when the
  stream reaches them, in their own window, and nothing else is lost.
* The stream **moved on** (a producer resumed after an outage, a replay skipped a quiet stretch)
  when at least ``confirm`` early events have arrived since the oldest one waiting and they
  outnumber the on-time arrivals of that time four to one. Then the bulk of them go in, in time
  order. A burst of fewer than ``confirm`` lines from one wrong clock never gets there; neither
  does a sender that is always ahead, because the rest of the stream outvotes it.
* An event more than ``max_ahead`` ahead that ``confirm`` on-time arrivals have contradicted is
  dead-lettered as ``clock_ahead``, as are the farthest-ahead ones beyond ``capacity`` and what
  still waits unconfirmed at the end of input. Nothing is dropped silently.

Until ``anchor`` events have arrived there is no stream time yet; the first ones are held and
their median time becomes it, so a wrong clock in the very first line cannot set it either.

Only event times are compared, so the decision is the same in a replay and live, and the order
of what is counted is a pure function of the input.
"""

from __future__ import annotations

import heapq
from typing import Any

from kernel.events import DEFAULT_LIMITS, DeadLetter, Event, EventLimits, parse_line

__all__ = ["AheadGuard"]

_GAP_FACTOR = 30  # step = this many mean spacings between arrivals
_PACE_MEMORY = 256  # arrivals the pace estimate averages over
_MAJORITY = 4  # early arrivals must outnumber on-time ones this many times to confirm a jump

# A waiting event: (event time, arrival number, on-time arrivals counted when it arrived, event, raw);
# the first two are unique together, so tuples never compare events
_Waiting = tuple[int, int, int, Event, bytes]


def _arrival(item: _Waiting) -> int:
    return item[1]


class AheadGuard:
    """Holds events stamped ahead of the stream until the stream reaches or confirms them.

    >>> from kernel.events import parse_line
    >>> guard = AheadGuard(lateness_ms=30_000, max_ahead_ms=600_000, confirm=5, anchor=1)
    >>> line = b'{"type":"complaint","ts":%d,"channel":"alipay"}'
    >>> t0 = 1_767_225_600_000
    >>> def batch(*seconds):
    ...     raws = [line % (t0 + 1000 * s) for s in seconds]
    ...     admitted, _raws, letters = guard.admit([parse_line(r) for r in raws], raws)
    ...     return [(e.ts - t0) // 1000 for e in admitted], [d.reason for d in letters]
    >>> batch(0, 1, 2, 540, 3)            # one line nine minutes ahead waits
    ([0, 1, 2, 3], [])
    >>> batch(*range(4, 12))              # the stream goes on, and is counted
    ([4, 5, 6, 7, 8, 9, 10, 11], [])
    >>> guard.stream_ms - t0, len(guard.waiting)
    (11000, 1)
    """

    def __init__(
        self,
        lateness_ms: int,
        max_ahead_ms: int,
        confirm: int = 200,
        capacity: int = 10_000,
        anchor: int = 16,
    ) -> None:
        self.min_step_ms = lateness_ms // 2
        self.max_ahead_ms = max_ahead_ms
        self.confirm = confirm
        self.capacity = capacity
        self.anchor = anchor
        self.stream_ms = -1  # stream time: the largest event time admitted; -1 before the anchor
        self.pace_ms = 0.0  # mean advance of stream time per on-time arrival
        self.limit_ms = -1.0  # events above this wait; set when stream time moves, kept between batches
        self.waiting: list[_Waiting] = []  # a heap, earliest first
        self.arrivals = 0  # every event the guard has seen
        self.on_time = 0  # of those, the ones admitted on arrival
        self.early_since = 0  # early arrivals since the waiting set was last empty
        self.on_time_mark = 0  # self.on_time when the waiting set was last empty
        self._pending: list[tuple[Event, bytes]] = []  # before the anchor

    @property
    def step_ms(self) -> float:
        """How far ahead of stream time an event may be and still move it."""
        return self._step(self.pace_ms)

    def _step(self, pace_ms: float) -> float:
        return min(max(_GAP_FACTOR * pace_ms, self.min_step_ms), self.max_ahead_ms)

    # -- the batch path -------------------------------------------------------------------------

    def admit(
        self, events: list[Event], raws: list[bytes]
    ) -> tuple[list[Event], list[bytes], list[DeadLetter]]:
        """The events to count now, in the order to count them, and the ones refused for good."""
        if self.stream_ms < 0:
            self._pending += zip(events, raws, strict=True)
            if len(self._pending) < self.anchor:
                return [], [], []
            events, raws = self._start()
        out_events: list[Event] = []
        out_raws: list[bytes] = []
        stream, limit, pace = self.stream_ms, self.limit_ms, self.pace_ms
        learn = 1.0 / _PACE_MEMORY
        waiting = self.waiting
        arrived = self.arrivals
        on_time = self.on_time  # state kept in locals on the hot path, written back below
        for n, (event, raw) in enumerate(zip(events, raws, strict=True), arrived + 1):
            ts = event.ts
            if ts <= limit:
                on_time += 1
                out_events.append(event)
                out_raws.append(raw)
                if ts > stream:
                    pace += (ts - stream - pace) * learn
                    stream = ts
                    limit = ts + self._step(pace)
                    if waiting and waiting[0][0] <= limit:
                        stream = self._release_reached(stream, limit, out_events, out_raws)
                        limit = stream + self._step(pace)
                else:
                    pace -= pace * learn
                continue
            self.on_time = on_time
            if not waiting:
                self.early_since, self.on_time_mark = 0, on_time
            heapq.heappush(waiting, (ts, n, on_time, event, raw))
            self.early_since += 1
            if self._jump_confirmed():
                stream = self._release_jump(out_events, out_raws, self._step(pace))
                stream = self._release_reached(stream, stream + self._step(pace), out_events, out_raws)
                limit = stream + self._step(pace)
        self.arrivals = arrived + len(events)
        self.on_time = on_time
        self.stream_ms, self.limit_ms, self.pace_ms = stream, limit, pace
        return out_events, out_raws, self._refuse()

    def drain(self) -> tuple[list[Event], list[bytes], list[DeadLetter]]:
        """End of input: the first events if there were fewer than ``anchor``; whatever still
        waits was never confirmed by the stream (a jump needs ``confirm`` events even here, or a
        burst of wrong clocks at the very end would pass)."""
        out_events: list[Event] = []
        out_raws: list[bytes] = []
        letters: list[DeadLetter] = []
        if self._pending:
            events, raws = self._start()
            out_events, out_raws, letters = self.admit(events, raws)
        letters += [self._letter(item[4]) for item in sorted(self.waiting, key=_arrival)]
        self.waiting = []
        return out_events, out_raws, letters

    # -- decisions ------------------------------------------------------------------------------

    def _start(self) -> tuple[list[Event], list[bytes]]:
        """Stream time begins at the median of the first ``anchor`` events (however they were cut
        into batches); their spread sets the pace. Every waiting first event then goes through
        the usual admission."""
        pending, self._pending = self._pending, []
        times = sorted(event.ts for event, _raw in pending[: self.anchor])
        n = len(times)
        self.stream_ms = times[n // 2]
        if n >= 4:
            self.pace_ms = (times[3 * n // 4] - times[n // 4]) / (n / 2)
        self.limit_ms = self.stream_ms + self.step_ms
        return [e for e, _r in pending], [r for _e, r in pending]

    def _jump_confirmed(self) -> bool:
        return self.early_since >= self.confirm and self.early_since >= _MAJORITY * (
            self.on_time - self.on_time_mark
        )

    def _release_jump(self, out_events: list[Event], out_raws: list[bytes], step: float) -> int:
        """The stream moved on: the waiting events go in up to the front of the run of them that
        holds the median (no gap wider than ``step`` inside); a far outlier waiting at the same
        time stays behind and is judged on its own."""
        times = sorted(item[0] for item in self.waiting)
        i = len(times) // 2
        while i + 1 < len(times) and times[i + 1] - times[i] <= step:
            i += 1
        new_stream = times[i]
        while self.waiting and self.waiting[0][0] <= new_stream:
            item = heapq.heappop(self.waiting)
            out_events.append(item[3])
            out_raws.append(item[4])
        self.early_since = len(self.waiting)
        self.on_time_mark = self.on_time
        return new_stream

    def _release_reached(self, stream: int, limit: float, out_events: list, out_raws: list) -> int:
        """Waiting events the stream has come within a step of (up to ``limit``) go in, earliest
        first. The limit is fixed before any goes in: a run of them must not carry stream time
        along with itself."""
        waiting = self.waiting
        while waiting and waiting[0][0] <= limit:
            item = heapq.heappop(waiting)
            out_events.append(item[3])
            out_raws.append(item[4])
            stream = max(stream, item[0])
        if not waiting:
            self.early_since = 0
        return stream

    def _refuse(self) -> list[DeadLetter]:
        """Dead letters for contradicted far-ahead events and for the overflow beyond capacity."""
        if not self.waiting:
            return []
        far = self.stream_ms + self.max_ahead_ms
        refused = [i for i in self.waiting if i[0] > far and self.on_time - i[2] >= self.confirm]
        overflow = len(self.waiting) - len(refused) - self.capacity
        if overflow > 0:
            gone = {item[1] for item in refused}
            kept = sorted(i for i in self.waiting if i[1] not in gone)  # by time: the farthest go
            refused += kept[-overflow:]
        if not refused:
            return []
        gone = {item[1] for item in refused}
        self.waiting = [item for item in self.waiting if item[1] not in gone]
        heapq.heapify(self.waiting)
        return [self._letter(item[4]) for item in sorted(refused, key=_arrival)]

    def _letter(self, raw: bytes) -> DeadLetter:
        return DeadLetter.of(
            raw,
            "clock_ahead",
            f"ahead of the stream and never confirmed by it (kept only within "
            f"{self.max_ahead_ms // 1000} s): check the sender's clock",
        )

    # -- recovery -------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "v": 2,
            "stream_ms": self.stream_ms,
            "pace_ms": self.pace_ms,
            "limit_ms": self.limit_ms,
            "waiting": [
                [raw.decode("utf-8", "replace"), at, mark] for _ts, at, mark, _e, raw in self.waiting
            ],
            "pending": [raw.decode("utf-8", "replace") for _e, raw in self._pending],
            "counters": [self.arrivals, self.on_time, self.early_since, self.on_time_mark],
        }

    def restore(
        self, state: dict[str, Any], stream_ms: int = -1, limits: EventLimits = DEFAULT_LIMITS
    ) -> None:
        """Load a snapshot; a version 1 one (parked lines only) takes ``stream_ms`` from the windows.
        The lines are parsed again under ``limits``, the ones they were accepted under."""
        if state.get("v") == 1:
            waiting = [[text, 0, 0] for text in state["parked"]]
            state = {"stream_ms": stream_ms, "pace_ms": 0.0, "pending": [], "waiting": waiting,
                     "counters": [0, 0, 0, 0]}  # fmt: skip
        self.stream_ms = state["stream_ms"]
        self.pace_ms = state["pace_ms"]
        self.limit_ms = state.get("limit_ms", self.stream_ms + self.step_ms)
        self.arrivals, self.on_time, self.early_since, self.on_time_mark = state["counters"]
        self.waiting = []
        for text, at, mark in state["waiting"]:
            raw = text.encode()
            event = parse_line(raw, limits)
            if not isinstance(event, DeadLetter):
                self.waiting.append((event.ts, at, mark, event, raw))
        heapq.heapify(self.waiting)
        self._pending = [
            (event, raw)
            for raw in (text.encode() for text in state["pending"])
            if not isinstance(event := parse_line(raw, limits), DeadLetter)
        ]
