"""Event-time tumbling windows, keyed by channel and merchant, closed by one watermark.

The hot path touches one accumulator per event, its channel's in its 10-second window, plus a
second one when the merchant is among the tracked heavy hitters. All payments is summed from
the channels when the window closes; the long tail of merchants costs nothing extra. Windows
are integer ids (``ts_ms // width_ms``), not engine objects, so the same code runs under
Bytewax, in a plain loop or in a test.

A window closes once the watermark (the largest event time seen, minus the allowed lateness)
passes its end; an event older than the watermark can no longer be counted and is reported
as late.

Callback latency is reported as a DDSketch (1% relative error) per channel and window, the
all-channels one merged from those, would report it. Adding to a sketch costs four Python calls
per callback, so an open window keeps its latencies in a plain list instead, and at close the
quantile is the sketch's answer computed directly: DDSketch returns the bucket value (under its
own key mapping) of the item at rank ``floor(q * (n - 1))``, which is the same bucket as the
sorted list's item at that index. A list longer than ``MAX_BUFFERED`` is folded into a real
sketch when the watermark next moves, so memory per window stays bounded under any load.
"""

from __future__ import annotations

from collections.abc import Iterable
from math import log
from typing import Final

from ddsketch import DDSketch, LogarithmicMapping

from kernel.alerts import Scope
from kernel.events import Callback, Event, Payment
from kernel.observation import Observation

__all__ = ["ClosedWindow", "LeafKey", "Windows"]

SKETCH_ACCURACY: Final = 0.01
MAX_BUFFERED: Final = 4096  # latencies a window keeps per channel before folding them into a sketch
_MAPPING: Final = LogarithmicMapping(SKETCH_ACCURACY)  # the one DDSketch(SKETCH_ACCURACY) uses
_QUANTILES: Final = (0.5, 0.95, 0.99)

# Accumulator slots. A list of numbers is the cheapest mutable record CPython has.
ATTEMPTS, SUCCESSES, AMOUNT, LOG_SUM, LOG_SQ, CALLBACKS, CB_FAILED, CB_SLOW = range(8)
C_PAID_NOT_UPDATED, C_CHARGED_TWICE, C_REFUND, C_OTHER, STUCK, OVERDUE, CB_OVER = range(8, 15)
_SLOTS: Final = 15
_COMPLAINT_SLOT: Final = {
    "paid_not_updated": C_PAID_NOT_UPDATED,
    "charged_twice": C_CHARGED_TWICE,
    "refund": C_REFUND,
    "other": C_OTHER,
}

LeafKey = tuple[str, str]  # (channel, merchant bucket)
_Open = tuple[dict[str, list[float]], dict[LeafKey, list[float]], dict[str, list[int]]]


class ClosedWindow:
    """One closed window: per-channel and per-tracked-merchant accumulators, and observations."""

    __slots__ = ("channels", "end_ms", "merchants", "observations", "start_ms")

    def __init__(
        self,
        start_ms: int,
        end_ms: int,
        channels: dict[str, list[float]],
        merchants: dict[LeafKey, list[float]],
    ) -> None:
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.channels = channels
        self.merchants = merchants  # (channel, tracked merchant) -> accumulator
        self.observations: list[Observation] = []


class Windows:
    """Assigns events to open windows and closes them as the watermark moves.

    >>> w = Windows(width_ms=10_000, lateness_ms=30_000, slow_callback_ms=60_000)
    >>> from kernel.events import parse_line
    >>> w.add(parse_line(b'{"type":"payment","ts":1767225600000,"channel":"alipay","order_id":"o1",'
    ...                  b'"amount":10,"status":"succeeded"}'))
    True
    >>> [c.start_ms for c in w.advance()]   # watermark is 30 s behind: nothing closes yet
    []
    >>> [o.attempts for c in w.close_all() for o in c.observations if o.scope == Scope("alipay")]
    [1]
    """

    def __init__(
        self,
        width_ms: int,
        lateness_ms: int,
        slow_callback_ms: int,
        tracked_merchants: Iterable[str] = (),
        latency_limit_ms: int = 30_000,
    ) -> None:
        self.width_ms = width_ms
        self.lateness_ms = lateness_ms
        self.slow_callback_ms = slow_callback_ms
        self.latency_limit_ms = latency_limit_ms  # callbacks later than this are counted (the p95 test)
        self.tracked: frozenset[str] = frozenset(tracked_merchants)
        self.max_ts = -1
        self.next_close: int | None = None  # id of the oldest window not yet closed
        self.closed_any = False
        self.channels: set[str] = set()
        # window id -> (channel -> accumulator, (channel, tracked merchant) -> accumulator,
        #               channel -> latencies (ms) of processed callbacks not yet in a sketch)
        self._open: dict[int, _Open] = {}
        self._sketches: dict[int, dict[str, DDSketch]] = {}  # the folded ones (rare: > MAX_BUFFERED)

    @property
    def watermark(self) -> int:
        """Events older than this (epoch ms) can no longer be counted."""
        if self.max_ts < 0:
            return -1
        return max(self.max_ts - self.lateness_ms, (self.next_close or 0) * self.width_ms)

    @property
    def close_at(self) -> float:
        """The event time at which the oldest open window may close (infinity before any event)."""
        if self.next_close is None:
            return float("inf")
        return (self.next_close + 1) * self.width_ms + self.lateness_ms

    def add(self, event: Event) -> bool:
        """Count one event; False when it is too late for its window."""
        ts = event.ts
        w = ts // self.width_ms
        next_close = self.next_close
        if next_close is None or w < next_close:
            if next_close is not None and self.closed_any:
                return False
            self.next_close = w  # nothing closed yet: the stream starts at its oldest window
        if ts > self.max_ts:
            self.max_ts = ts
        window = self._open.get(w)
        if window is None:
            window = self._open[w] = ({}, {}, {})
        channel = event.channel  # one of a bounded set: the engine admits names (engine.names)
        if channel not in self.channels:
            self.channels.add(channel)
        acc = window[0].get(channel)
        if acc is None:
            acc = window[0][channel] = [0] * _SLOTS
        merchant = event.merchant_id
        leaf = None
        if merchant is not None and merchant in self.tracked:
            key = (channel, merchant)
            leaf = window[1].get(key)
            if leaf is None:
                leaf = window[1][key] = [0] * _SLOTS
        kind = type(event)
        if kind is Payment:
            ok = event.status == "succeeded"
            amount = event.amount
            log_amount = log(amount)
            log_sq = log_amount * log_amount
            acc[ATTEMPTS] += 1
            acc[SUCCESSES] += ok
            acc[AMOUNT] += amount
            acc[LOG_SUM] += log_amount
            acc[LOG_SQ] += log_sq
            if leaf is not None:
                leaf[ATTEMPTS] += 1
                leaf[SUCCESSES] += ok
                leaf[AMOUNT] += amount
                leaf[LOG_SUM] += log_amount
                leaf[LOG_SQ] += log_sq
        elif kind is Callback:
            failed = event.status == "failed"
            latency = ts - event.paid_at
            slow = not failed and latency > self.slow_callback_ms
            over = not failed and latency > self.latency_limit_ms
            acc[CALLBACKS] += 1
            acc[CB_FAILED] += failed
            acc[CB_SLOW] += slow
            acc[CB_OVER] += over
            if leaf is not None:
                leaf[CALLBACKS] += 1
                leaf[CB_FAILED] += failed
                leaf[CB_SLOW] += slow
                leaf[CB_OVER] += over
            if not failed:
                by_channel = window[2]
                values = by_channel.get(channel)
                if values is None:
                    by_channel[channel] = [latency]
                else:
                    values.append(latency)
        else:
            slot = _COMPLAINT_SLOT[event.category]
            acc[slot] += 1
            if leaf is not None:
                leaf[slot] += 1
        return True

    def add_stuck(self, ts_ms: int, channel: str, merchant: str | None, slot: int = STUCK) -> None:
        """Count a paid order that crossed the stuck timeout (or, with ``slot=OVERDUE``, the overdue
        mark) at ``ts_ms``, in its window or the oldest open one."""
        w = max(ts_ms // self.width_ms, self.next_close or 0)
        window = self._open.setdefault(w, ({}, {}, {}))
        accs = [window[0].setdefault(channel, [0] * _SLOTS)]
        if merchant is not None and merchant in self.tracked:
            accs.append(window[1].setdefault((channel, merchant), [0] * _SLOTS))
        for acc in accs:
            acc[slot] += 1

    def advance(self) -> list[ClosedWindow]:
        """Close every window the watermark has passed, oldest first, empty ones included."""
        if self.next_close is None:
            return []
        last = (self.max_ts - self.lateness_ms) // self.width_ms  # windows before this are complete
        self._fold_long_buffers()
        return self._close_until(last)

    def close_all(self) -> list[ClosedWindow]:
        """Close everything still open (end of a replay)."""
        if self.next_close is None:
            return []
        return self._close_until(max(self._open, default=self.next_close - 1) + 1)

    def _close_until(self, stop: int) -> list[ClosedWindow]:
        closed = []
        width = self.width_ms
        for w in range(self.next_close, stop):  # type: ignore[arg-type]
            channels, merchants, latencies = self._open.pop(w, ({}, {}, {}))
            window = ClosedWindow(w * width, (w + 1) * width, channels, merchants)
            window.observations = self._observe(window, latencies, self._sketches.pop(w, {}))
            closed.append(window)
        if stop > self.next_close:  # type: ignore[operator]
            self.next_close = stop
            self.closed_any = True
        return closed

    def _observe(
        self, window: ClosedWindow, latencies: dict[str, list[int]], folded: dict[str, DDSketch]
    ) -> list[Observation]:
        """One observation for all payments and one per known channel (zeros when quiet)."""
        # sorted: float sums must not depend on set order, or replays would differ in the last bit
        by_channel = {c: window.channels.get(c) or [0] * _SLOTS for c in sorted(self.channels)}
        total = sum_leaves(by_channel.values())
        if folded:
            quantiles = _sketch_quantiles(latencies, folded)
        else:
            quantiles = {c: latency_quantiles(values) for c, values in latencies.items()}
            if len(latencies) > 1:
                quantiles[None] = latency_quantiles([v for c in sorted(latencies) for v in latencies[c]])
            elif latencies:
                quantiles[None] = next(iter(quantiles.values()))
        start, end = window.start_ms, window.end_ms
        observations = [observation_of(Scope(), start, end, total, quantiles.get(None))]
        for channel in sorted(by_channel):
            observations.append(
                observation_of(Scope(channel), start, end, by_channel[channel], quantiles.get(channel))
            )
        return observations

    def _fold_long_buffers(self) -> None:
        """Move latency lists longer than MAX_BUFFERED into their window's sketch (bounded memory)."""
        for w, (_channels, _merchants, by_channel) in self._open.items():
            for channel, values in by_channel.items():
                if len(values) > MAX_BUFFERED:
                    sketch = self._sketches.setdefault(w, {}).setdefault(channel, DDSketch(SKETCH_ACCURACY))
                    for latency in values:
                        sketch.add(max(latency, 0) / 1000.0)
                    values.clear()

    def snapshot(self) -> dict:
        """Open windows as plain data (sketches are rebuilt empty: quantiles of the open windows
        restart after recovery, which costs at most one lateness of latency samples)."""
        return {
            "v": 1,
            "max_ts": self.max_ts,
            "next_close": self.next_close,
            "closed_any": self.closed_any,
            "channels": sorted(self.channels),
            "tracked": sorted(self.tracked),
            "open": [
                [w, list(channels.items()), [[c, m, acc] for (c, m), acc in merchants.items()]]
                for w, (channels, merchants, _latencies) in self._open.items()
            ],
        }

    def restore(self, state: dict) -> None:
        self.max_ts = state["max_ts"]
        self.next_close = state["next_close"]
        self.closed_any = state["closed_any"]
        self.channels = set(state["channels"])
        self.tracked = frozenset(state["tracked"])
        self._open = {
            w: ({c: _slots(acc) for c, acc in channels}, {(c, m): _slots(acc) for c, m, acc in merchants}, {})
            for w, channels, merchants in state["open"]
        }


def _slots(acc: list[float]) -> list[float]:
    """A snapshot's accumulator, with the slots added since it was taken (zero)."""
    return [*acc, *[0] * (_SLOTS - len(acc))]


def sum_leaves(leaves: Iterable[list[float]]) -> list[float]:
    """Slot-wise sums, in the order given (so float sums are reproducible)."""
    leaves = list(leaves)
    return list(map(sum, zip(*leaves, strict=True))) if leaves else [0] * _SLOTS


Quantiles = tuple[float | None, float | None, float | None]  # latency p50, p95, p99 in seconds


def latency_quantiles(latencies_ms: list[int]) -> Quantiles:
    """p50, p95 and p99 in seconds, exactly as a ``DDSketch(SKETCH_ACCURACY)`` of the same latencies
    (negative ones counted as 0) answers them; sorts ``latencies_ms`` in place.

    >>> sketch = DDSketch(SKETCH_ACCURACY)
    >>> for ms in [1200, 800, 950, -5, 3100]:
    ...     sketch.add(max(ms, 0) / 1000.0)
    >>> latency_quantiles([1200, 800, 950, -5, 3100]) == tuple(map(sketch.get_quantile_value, _QUANTILES))
    True
    >>> latency_quantiles([])
    (None, None, None)
    """
    n = len(latencies_ms)
    if not n:
        return None, None, None
    latencies_ms.sort()
    out = []
    for q in _QUANTILES:
        value = max(latencies_ms[int(q * (n - 1))], 0) / 1000.0
        # DDSketch counts values this small as zeros and answers 0 for them (an int)
        out.append(_MAPPING.value(_MAPPING.key(value)) if value > _MAPPING.min_possible else 0)
    return out[0], out[1], out[2]


def _sketch_quantiles(
    latencies: dict[str, list[int]], folded: dict[str, DDSketch]
) -> dict[str | None, Quantiles]:
    """Quantiles per channel and overall (key None) once some latencies were folded into sketches."""
    sketches = {}
    for channel in sorted(latencies.keys() | folded.keys()):
        sketch = folded.get(channel)
        if sketch is None:
            sketch = DDSketch(SKETCH_ACCURACY)
        sketches[channel] = sketch
        for latency in latencies.get(channel, ()):
            sketch.add(max(latency, 0) / 1000.0)
    overall = DDSketch(SKETCH_ACCURACY)
    for sketch in sketches.values():
        overall.merge(sketch)
    sketches[None] = overall  # type: ignore[index]
    return {
        key: tuple(sketch.get_quantile_value(q) for q in _QUANTILES)  # type: ignore[misc]
        for key, sketch in sketches.items()
    }


def observation_of(
    scope: Scope, start_ms: int, end_ms: int, acc: list[float], quantiles: Quantiles | None = None
) -> Observation:
    """Turn an accumulator (and its latency quantiles, if any) into an Observation."""
    p50, p95, p99 = quantiles or (None, None, None)
    return Observation(
        scope,
        start_ms,
        end_ms,
        int(acc[ATTEMPTS]),
        int(acc[SUCCESSES]),
        acc[AMOUNT],
        acc[LOG_SUM],
        acc[LOG_SQ],
        int(acc[CALLBACKS]),
        int(acc[CB_FAILED]),
        int(acc[CB_SLOW]),
        p50,
        p95,
        p99,
        int(acc[C_PAID_NOT_UPDATED]),
        int(acc[C_CHARGED_TWICE]),
        int(acc[C_REFUND]),
        int(acc[C_OTHER]),
        int(acc[STUCK]),
        int(acc[OVERDUE]),
        int(acc[CB_OVER]),
    )
