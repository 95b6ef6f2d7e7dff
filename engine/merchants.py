"""Which merchants get their own scope, and their per-minute roll-up.

Per-merchant state must stay flat at 100k merchants, so only the heaviest K are tracked one by
one and the tail is pooled as ``"other"``. The heavy hitters come from a Misra-Gries summary:
a dict of at most ``capacity`` counters, each decremented when a new name finds no room, so
the cost per payment is O(1) amortised and every merchant above ``N / capacity`` payments is
guaranteed a counter.

Merchants are judged per minute, not per 10 seconds: a single merchant rarely has enough
payments in 10 s to say anything, and 200 merchants x 8,640 windows a day would cost more than
the whole event stream.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from engine.windows import ATTEMPTS, CALLBACKS, OVERDUE, ClosedWindow, observation_of, sum_leaves
from kernel.alerts import Scope
from kernel.observation import Observation

__all__ = ["HeavyHitters", "MerchantMinutes"]


class HeavyHitters:
    """Misra-Gries frequent items.

    >>> hh = HeavyHitters(capacity=2)
    >>> for m in ["a", "a", "a", "b", "c", "a", "d"]:
    ...     hh.add(m)
    >>> hh.top(1)
    ['a']
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = max(capacity, 1)
        self.counts: dict[str, int] = {}

    def add(self, item: str) -> None:
        counts = self.counts
        count = counts.get(item)
        if count is not None:
            counts[item] = count + 1
        elif len(counts) < self.capacity:
            counts[item] = 1
        else:
            self.counts = {k: c - 1 for k, c in counts.items() if c > 1}

    def top(self, k: int) -> list[str]:
        """The ``k`` most frequent items, ties by name so the choice is deterministic.

        Called once a minute over ``capacity`` counters (2,000 by default): the k-th largest count
        comes from the counts alone (C speed), and only names at or above it are ranked by key.

        >>> hh = HeavyHitters(capacity=10)
        >>> for m in ["b", "a", "c", "b", "a", "d"]:
        ...     hh.add(m)
        >>> hh.top(2), hh.top(3), hh.top(0)
        (['a', 'b'], ['a', 'b', 'c'], [])
        """
        counts = self.counts
        if k <= 0:
            return []
        candidates = counts.items()
        if len(counts) > k:
            floor = heapq.nlargest(k, counts.values())[-1]
            candidates = [mc for mc in candidates if mc[1] >= floor]  # type: ignore[assignment]
        return [m for m, _ in sorted(candidates, key=_by_count_then_name)[:k]]


def _by_count_then_name(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


class MerchantMinutes:
    """Sums the tracked merchants' leaves of closed 10 s windows into 1-minute observations.

    A merchant with fewer than ``min_events`` payments and callbacks in a minute (and nothing
    overdue) gets no observation: a handful of outcomes moves no test, and skipping them keeps
    the cost proportional to activity rather than to the number of merchants tracked.
    """

    def __init__(self, minute_ms: int = 60_000, min_events: int = 10) -> None:
        self.minute_ms = minute_ms
        self.min_events = min_events
        self._minute: int | None = None
        self._acc: dict[str, list[list[float]]] = {}

    def add(self, window: ClosedWindow, tracked: Iterable[str]) -> list[Observation]:
        """Take one closed window; return the previous minute's observations when it completes."""
        minute = window.start_ms // self.minute_ms
        out: list[Observation] = []
        if self._minute is not None and minute != self._minute:
            out = self._emit(tracked)
        self._minute = minute
        for (_channel, merchant), acc in window.merchants.items():
            self._acc.setdefault(merchant, []).append(acc)
        return out

    def flush(self, tracked: Iterable[str]) -> list[Observation]:
        return self._emit(tracked) if self._minute is not None else []

    def snapshot(self) -> dict:
        return {
            "v": 1,
            "minute": self._minute,
            "acc": {m: [list(a) for a in accs] for m, accs in self._acc.items()},
        }

    def restore(self, state: dict) -> None:
        self._minute = state["minute"]
        self._acc = {m: [list(a) for a in accs] for m, accs in state["acc"].items()}

    def _emit(self, tracked: Iterable[str]) -> list[Observation]:
        start = self._minute * self.minute_ms  # type: ignore[operator]
        end = start + self.minute_ms
        acc, self._acc = self._acc, {}
        out = []
        for merchant in sorted(tracked):
            if merchant in acc:
                total = sum_leaves(acc[merchant])
                if total[ATTEMPTS] + total[CALLBACKS] >= self.min_events or total[OVERDUE]:
                    out.append(observation_of(Scope(None, merchant), start, end, total, None))
        return out
