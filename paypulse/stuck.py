"""The per-order join that finds paid orders whose callback never came.

A succeeded payment waits in ``pending`` until a processed callback for its order arrives;
once the watermark passes its time plus the timeout it is stuck. Callbacks may come before the
payment event (the two travel different paths), so recently processed orders are remembered
for a while too. Both maps are insertion-ordered dicts, which makes expiry a walk from the
oldest entry that stops at the first young one: O(expired), not O(pending).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["StuckOrder", "StuckTracker"]


@dataclass(frozen=True, slots=True)
class StuckOrder:
    order_id: str
    paid_ms: int
    channel: str
    merchant_id: str | None
    amount: float


class StuckTracker:
    """Bounded join of succeeded payments and processed callbacks.

    >>> t = StuckTracker(timeout_ms=300_000, max_pending=1000)
    >>> t.paid("o1", 0, "alipay", "m1", 10.0); t.paid("o2", 1000, "alipay", None, 5.0)
    >>> t.processed("o2", 2000)
    >>> [s.order_id for s in t.expire(watermark_ms=301_000)]
    ['o1']
    """

    def __init__(self, timeout_ms: int, max_pending: int, samples: int = 20) -> None:
        self.timeout_ms = timeout_ms
        self.max_pending = max_pending
        self.pending: dict[str, StuckOrder] = {}
        self.recent_callbacks: dict[str, int] = {}  # order_id -> callback time, for early callbacks
        self.stuck_now: dict[str, StuckOrder] = {}  # stuck and still without callback
        self.samples: deque[str] = deque(maxlen=samples)
        self.evicted = 0  # pending orders dropped to stay within max_pending

    def paid(self, order_id: str, paid_ms: int, channel: str, merchant_id: str | None, amount: float) -> None:
        if self.recent_callbacks.pop(order_id, None) is not None:
            return
        if len(self.pending) >= self.max_pending:
            self.pending.pop(next(iter(self.pending)))
            self.evicted += 1
        self.pending[order_id] = StuckOrder(order_id, paid_ms, channel, merchant_id, amount)

    def processed(self, order_id: str, ts_ms: int) -> StuckOrder | None:
        """A processed callback; returns the order if it had been declared stuck (a late recovery)."""
        if self.pending.pop(order_id, None) is not None:
            return None
        recovered = self.stuck_now.pop(order_id, None)
        if recovered is None:
            if len(self.recent_callbacks) >= self.max_pending:
                self.recent_callbacks.pop(next(iter(self.recent_callbacks)))
            self.recent_callbacks[order_id] = ts_ms
        return recovered

    def expire(self, watermark_ms: int) -> list[StuckOrder]:
        """Orders that crossed the timeout by ``watermark_ms``, oldest first."""
        deadline = watermark_ms - self.timeout_ms
        out = []
        pending = self.pending
        while pending:
            order_id = next(iter(pending))
            order = pending[order_id]
            if order.paid_ms > deadline:
                break
            del pending[order_id]
            out.append(order)
            self.stuck_now[order_id] = order
            self.samples.append(order_id)
        self._forget(self.recent_callbacks, deadline, lambda ts: ts)
        self._forget(self.stuck_now, deadline - 12 * self.timeout_ms, lambda o: o.paid_ms)
        return out

    @staticmethod
    def _forget(entries: dict, before_ms: int, time_of) -> None:
        while entries:
            key = next(iter(entries))
            if time_of(entries[key]) > before_ms:
                break
            del entries[key]

    def snapshot(self) -> dict:
        def rows(orders: dict[str, StuckOrder]) -> list:
            return [[o.order_id, o.paid_ms, o.channel, o.merchant_id, o.amount] for o in orders.values()]

        return {
            "v": 1,
            "pending": rows(self.pending),
            "stuck_now": rows(self.stuck_now),
            "recent_callbacks": list(self.recent_callbacks.items()),
            "samples": list(self.samples),
            "evicted": self.evicted,
        }

    def restore(self, state: dict) -> None:
        self.pending = {r[0]: StuckOrder(*r) for r in state["pending"]}
        self.stuck_now = {r[0]: StuckOrder(*r) for r in state["stuck_now"]}
        self.recent_callbacks = dict(state["recent_callbacks"])
        self.samples.extend(state["samples"])
        self.evicted = state["evicted"]
