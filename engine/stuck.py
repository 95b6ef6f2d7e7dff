"""The per-order join that finds paid orders whose callback never came.

A succeeded payment waits in ``pending`` until a processed callback for its order arrives;
once the watermark passes its time plus the timeout it is stuck. Callbacks may come before the
payment event (the two travel different paths), so recently processed orders are remembered
for a while too. Both maps are insertion-ordered dicts, which makes expiry a walk from the
oldest entry that stops at the first young one: O(expired), not O(pending). The walk goes over a
deque of (time, order id) in arrival order, because popping the front of a dict makes CPython
scan its deleted slots on every ``next(iter(d))``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import NamedTuple

__all__ = ["StuckOrder", "StuckTracker"]


class StuckOrder(NamedTuple):
    """A succeeded payment awaiting its callback (a tuple: one is made per succeeded payment)."""

    order_id: str
    paid_ms: int
    channel: str
    merchant_id: str | None
    amount: float


_new_order = tuple.__new__


class StuckTracker:
    """Bounded join of succeeded payments and processed callbacks.

    Besides the stuck timeout there is an earlier ``overdue_ms`` mark: callbacks normally come
    within seconds, so a burst of paid orders still waiting after a minute is already the
    statistical sign of stuck payments, minutes before any of them formally times out.

    >>> t = StuckTracker(timeout_ms=300_000, max_pending=1000)
    >>> t.paid("o1", 0, "alipay", "m1", 10.0); t.paid("o2", 1000, "alipay", None, 5.0)
    >>> t.processed("o2", 2000)
    >>> [s.order_id for s in t.expire(watermark_ms=301_000)]
    ['o1']
    """

    def __init__(
        self, timeout_ms: int, max_pending: int, samples: int = 20, overdue_ms: int | None = None
    ) -> None:
        self.timeout_ms = timeout_ms
        self.overdue_ms = timeout_ms if overdue_ms is None else min(overdue_ms, timeout_ms)
        self.max_pending = max_pending
        self.pending: dict[str, StuckOrder] = {}
        self.recent_callbacks: dict[str, int] = {}  # order_id -> callback time, for early callbacks
        self.stuck_now: dict[str, StuckOrder] = {}  # stuck and still without callback
        self.samples: deque[str] = deque(maxlen=samples)
        self.evicted = 0  # pending orders dropped to stay within max_pending
        self._pending_order: deque[tuple[int, str]] = deque()
        self._overdue_order: deque[tuple[int, str]] = deque()
        self._callback_order: deque[tuple[int, str]] = deque()
        self._stuck_order: deque[tuple[int, str]] = deque()

    def paid(self, order_id: str, paid_ms: int, channel: str, merchant_id: str | None, amount: float) -> None:
        if self.recent_callbacks.pop(order_id, None) is not None:
            return
        while len(self.pending) >= self.max_pending and self._pending_order:
            _, oldest = self._pending_order.popleft()
            if self.pending.pop(oldest, None) is not None:
                self.evicted += 1
        # tuple.__new__ skips NamedTuple's Python-level __new__: this runs once per succeeded payment
        self.pending[order_id] = _new_order(StuckOrder, (order_id, paid_ms, channel, merchant_id, amount))
        queued = (paid_ms, order_id)
        self._pending_order.append(queued)
        self._overdue_order.append(queued)

    def processed(self, order_id: str, ts_ms: int) -> StuckOrder | None:
        """A processed callback; returns the order if it had been declared stuck (a late recovery)."""
        if self.pending.pop(order_id, None) is not None:
            return None
        recovered = self.stuck_now.pop(order_id, None)
        if recovered is None:
            while len(self.recent_callbacks) >= self.max_pending and self._callback_order:
                self.recent_callbacks.pop(self._callback_order.popleft()[1], None)
            self.recent_callbacks[order_id] = ts_ms
            self._callback_order.append((ts_ms, order_id))
        return recovered

    def overdue(self, watermark_ms: int) -> list[StuckOrder]:
        """Orders still without a callback ``overdue_ms`` after payment, each reported once."""
        deadline = watermark_ms - self.overdue_ms
        out = []
        queue, pending = self._overdue_order, self.pending
        while queue and queue[0][0] <= deadline:
            paid_ms, order_id = queue.popleft()
            order = pending.get(order_id)
            if order is not None and order.paid_ms == paid_ms:
                out.append(order)
                self.samples.append(order_id)
        return out

    def expire(self, watermark_ms: int) -> list[StuckOrder]:
        """Orders that crossed the timeout by ``watermark_ms``, oldest first."""
        deadline = watermark_ms - self.timeout_ms
        out = []
        order_q, pending = self._pending_order, self.pending
        while order_q and order_q[0][0] <= deadline:
            paid_ms, order_id = order_q.popleft()
            order = pending.get(order_id)
            if order is None or order.paid_ms != paid_ms:
                continue  # its callback came, or it was paid again later
            del pending[order_id]
            out.append(order)
            self.stuck_now[order_id] = order
            self._stuck_order.append((paid_ms, order_id))
            self._bound_stuck()
            if order_id not in self.samples:
                self.samples.append(order_id)
        _forget(self._callback_order, self.recent_callbacks, deadline, lambda ts: ts)
        _forget(self._stuck_order, self.stuck_now, deadline - 12 * self.timeout_ms, lambda o: o.paid_ms)
        return out

    def _bound_stuck(self) -> None:
        """Stuck orders share ``max_pending`` with the pending ones: the oldest go first."""
        order_q, stuck = self._stuck_order, self.stuck_now
        while len(stuck) + len(self.pending) > self.max_pending and order_q:
            paid_ms, order_id = order_q.popleft()
            order = stuck.get(order_id)
            if order is not None and order.paid_ms == paid_ms:
                del stuck[order_id]
                self.evicted += 1

    def snapshot(self) -> dict:
        def rows(orders: dict[str, StuckOrder]) -> list:
            return [[o.order_id, o.paid_ms, o.channel, o.merchant_id, o.amount] for o in orders.values()]

        return {
            "v": 1,
            "pending": rows(self.pending),
            "stuck_now": rows(self.stuck_now),
            "recent_callbacks": list(self.recent_callbacks.items()),
            "samples": list(self.samples),
            "overdue_order": [list(row) for row in self._overdue_order],
            "evicted": self.evicted,
        }

    def restore(self, state: dict) -> None:
        self.pending = {r[0]: StuckOrder(*r) for r in state["pending"]}
        self.stuck_now = {r[0]: StuckOrder(*r) for r in state["stuck_now"]}
        self.recent_callbacks = dict(state["recent_callbacks"])
        self._pending_order = deque((o.paid_ms, o.order_id) for o in self.pending.values())
        self._overdue_order = deque(tuple(row) for row in state["overdue_order"])
        self._stuck_order = deque((o.paid_ms, o.order_id) for o in self.stuck_now.values())
        self._callback_order = deque((ts, o) for o, ts in self.recent_callbacks.items())
        self.samples.extend(state["samples"])
        self.evicted = state["evicted"]


def _forget(order: deque[tuple[int, str]], entries: dict, before_ms: int, time_of: Callable) -> None:
    """Drop entries whose time (as queued) is at or before ``before_ms``."""
    while order and order[0][0] <= before_ms:
        ts, key = order.popleft()
        entry = entries.get(key)
        if entry is not None and time_of(entry) == ts:
            del entries[key]
