"""Counts a repeated ``event_id`` once.

Producers retry, so the same event can arrive twice. Remembering every id forever would grow
without bound; an id only needs remembering while a copy could still arrive, so ids are kept
for a horizon of event time and at most ``max_ids`` of them. Expiry walks a deque in arrival
order: popping the front of a dict instead makes CPython scan the deleted slots each time.
"""

from __future__ import annotations

from collections import deque

__all__ = ["EventIdFilter"]


class EventIdFilter:
    """
    >>> seen = EventIdFilter(horizon_ms=60_000, max_ids=100)
    >>> seen.first("e1", 0), seen.first("e1", 10), seen.first("e1", 70_000)
    (True, False, True)

    An id older than the horizon before stream time ``now_ms`` is forgotten whether or not
    :meth:`expire` has run since, so the answer does not depend on when expiry happens (how the
    lines were cut into batches):

    >>> seen.first("e2", 0, now_ms=0), seen.first("e2", 0, now_ms=60_001)
    (True, True)
    """

    def __init__(self, horizon_ms: int, max_ids: int) -> None:
        self.horizon_ms = horizon_ms
        self.max_ids = max_ids
        self._ids: dict[str, int] = {}
        self._order: deque[tuple[int, str]] = deque()

    def __len__(self) -> int:
        return len(self._ids)

    def first(self, event_id: str, ts_ms: int, now_ms: int = -(2**62)) -> bool:
        """True the first time ``event_id`` is seen within the horizon (runs once per event);
        ``now_ms`` is stream time, before which ids older than the horizon count as forgotten."""
        ids = self._ids
        seen = ids.get(event_id)
        horizon = self.horizon_ms
        if seen is not None and seen >= now_ms - horizon and -horizon <= ts_ms - seen <= horizon:
            return False
        ids[event_id] = ts_ms  # a first sighting, or one after the last was forgotten
        self._order.append((ts_ms, event_id))
        if len(ids) > self.max_ids:
            self.expire(now_ms)  # what is forgotten by now does not take a place
            if len(ids) > self.max_ids:
                self._drop_oldest()
        return True

    def expire(self, now_ms: int) -> None:
        """Forget ids older than the horizon before ``now_ms``."""
        order, ids = self._order, self._ids
        cutoff = now_ms - self.horizon_ms
        popleft = order.popleft
        while order and order[0][0] < cutoff:
            ts_ms, event_id = popleft()
            current = ids.pop(event_id, None)  # one look-up; putting one back is the rare case
            if current is not None and current != ts_ms:
                ids[event_id] = current  # seen again since: keep the newer sighting

    def _drop_oldest(self) -> None:
        ts_ms, event_id = self._order.popleft()
        if self._ids.get(event_id) == ts_ms:
            del self._ids[event_id]

    def snapshot(self) -> dict:
        return {"v": 1, "ids": list(self._order)}

    def restore(self, state: dict) -> None:
        self._order = deque((ts, i) for ts, i in state["ids"])
        self._ids = {i: ts for ts, i in self._order}
