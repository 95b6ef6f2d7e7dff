"""Counts a repeated ``event_id`` once.

Producers retry, so the same event can arrive twice. Remembering every id forever would grow
without bound; an id only needs remembering while a copy could still arrive, so ids are kept
for a horizon of event time and at most ``max_ids`` of them.
"""

from __future__ import annotations

__all__ = ["EventIdFilter"]


class EventIdFilter:
    """
    >>> seen = EventIdFilter(horizon_ms=60_000, max_ids=100)
    >>> seen.first("e1", 0), seen.first("e1", 10), seen.first("e1", 70_000)
    (True, False, True)
    """

    def __init__(self, horizon_ms: int, max_ids: int) -> None:
        self.horizon_ms = horizon_ms
        self.max_ids = max_ids
        self._ids: dict[str, int] = {}

    def first(self, event_id: str, ts_ms: int) -> bool:
        """True the first time ``event_id`` is seen within the horizon."""
        ids = self._ids
        if event_id in ids:
            if ts_ms - ids[event_id] <= self.horizon_ms:
                return False
            del ids[event_id]
        ids[event_id] = ts_ms
        if len(ids) > self.max_ids:
            del ids[next(iter(ids))]
        return True

    def expire(self, now_ms: int) -> None:
        ids = self._ids
        while ids:
            oldest = next(iter(ids))
            if now_ms - ids[oldest] <= self.horizon_ms:
                break
            del ids[oldest]

    def snapshot(self) -> dict:
        return {"v": 1, "ids": list(self._ids.items())}

    def restore(self, state: dict) -> None:
        self._ids = dict(state["ids"])
