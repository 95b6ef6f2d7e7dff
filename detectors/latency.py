"""Callback latency above its limit, read from the window's latency sketch.

Latency has a natural limit set by the business (a user waits for the order page to turn
"paid"), so this is a threshold on p95 with a volume guard and hysteresis rather than a learned
baseline: slow is slow even if it has been slow all week.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from detectors.guards import Hysteresis
from detectors.protocol import Observation, Verdict, WindowsOnly

__all__ = ["LatencyDetector"]


class LatencyDetector(WindowsOnly):
    """Fires when callback p95 stays above ``limit_s`` with at least ``min_callbacks`` callbacks."""

    kind = "callback_latency_high"

    def __init__(
        self, *, limit_s: float = 30.0, min_callbacks: int = 20, fire_after: int = 2, resolve_after: int = 6
    ) -> None:
        self.limit_s = limit_s
        self.min_callbacks = min_callbacks
        self.hysteresis = Hysteresis(fire_after, resolve_after)
        self.bad_since_ms: int | None = None
        self.recent: deque[tuple[int, float | None]] = deque(maxlen=5)  # (callbacks, p95) before this

    def _bad(self, obs: Observation) -> bool | None:
        """True/False, or None when there are too few callbacks to say. A quiet channel has too few
        callbacks in one window, so the median p95 of the last minute's windows stands in."""
        ok = obs.callbacks - obs.callback_failures
        if obs.latency_p95 is not None and ok >= self.min_callbacks:
            return obs.latency_p95 > self.limit_s
        rows = [*self.recent, (ok, obs.latency_p95)]
        p95s = sorted(p95 for _n, p95 in rows if p95 is not None)
        if sum(n for n, _p95 in rows) < self.min_callbacks or len(p95s) < 3:
            return None
        return p95s[len(p95s) // 2] > self.limit_s

    def assess(self, obs: Observation) -> tuple[float, bool]:
        bad = self._bad(obs)
        firing = self.hysteresis.firing if bad is None else self.hysteresis.peek(bad)
        return min((obs.latency_p95 or 0.0) / (2 * self.limit_s), 1.0), firing

    def score(self, obs: Observation) -> Verdict:
        bad = self._bad(obs)
        firing = self.hysteresis.firing if bad is None else self.hysteresis.peek(bad)
        p95 = obs.latency_p95 or 0.0
        started = self.bad_since_ms if self.bad_since_ms is not None else obs.start_ms
        return Verdict(
            kind=self.kind,
            score=min(p95 / (2 * self.limit_s), 1.0),
            firing=firing,
            started_at_ms=started if firing else None,
            value=p95,
            baseline=self.limit_s,
            reason=f"callback p95 {p95:.1f}s vs limit {self.limit_s:.0f}s over {obs.callbacks} callbacks",
        )

    def update(self, obs: Observation) -> None:
        bad = self._bad(obs)
        self.recent.append((obs.callbacks - obs.callback_failures, obs.latency_p95))
        if bad is None:
            return
        if bad and self.bad_since_ms is None:
            self.bad_since_ms = obs.start_ms
        firing = self.hysteresis.step(bad)
        if not bad and not firing:
            self.bad_since_ms = None

    def snapshot(self) -> dict[str, Any]:
        return {
            "v": 1,
            "bad_since_ms": self.bad_since_ms,
            "recent": [list(row) for row in self.recent],
            "hysteresis": self.hysteresis.snapshot(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.bad_since_ms = state["bad_since_ms"]
        self.recent.extend(tuple(row) for row in state["recent"])
        self.hysteresis.restore(state["hysteresis"])
