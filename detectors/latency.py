"""Callback p95 above its limit, judged as a count: more than one callback in twenty later than it.

Latency has a natural limit set by the business (a user waits for the order page to turn
"paid"), so this is a limit, not a learned baseline: slow is slow even if it has been slow all
week. But "the p95 is over 30 s" read off a sketch of a few dozen callbacks is a coin toss when
the true p95 sits near the limit, and a p95 of 30.3 s against 30 s is noise, not an incident.
The p95 is above the limit exactly when more than 5% of callbacks are later than it, so the test
counts them (the windows do, per scope) and asks whether that many late ones out of that many
could come from a share of 5%: a binomial upper tail at the test's share of the false-alarm
budget, over the last minute. The score is how far that p-value is toward the budget's (0 on a
normal day, 1 at the threshold), like the count tests' scores.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Final

from scipy.special import bdtrc

from detectors.budget import AlarmBudget
from detectors.guards import Hysteresis
from detectors.protocol import Observation, Verdict, WindowsOnly

__all__ = ["LatencyDetector"]

_QUANTILE_SHARE: Final = 0.05  # the p95: the share of callbacks above it
_MINUTE: Final = 6  # windows pooled: the current one and the five before it


class LatencyDetector(WindowsOnly):
    """Fires when significantly more than 5% of the last minute's callbacks (at least
    ``min_callbacks``) were later than ``limit_s``: the p95 is above the limit, beyond doubt."""

    kind = "callback_latency_high"

    def __init__(
        self,
        *,
        limit_s: float = 30.0,
        min_callbacks: int = 20,
        budget: AlarmBudget | None = None,
        fire_after: int = 2,
        resolve_after: int = 6,
    ) -> None:
        self.limit_s = limit_s
        self.min_callbacks = min_callbacks
        self.budget = budget or AlarmBudget()
        self.hysteresis = Hysteresis(fire_after, resolve_after)
        self.bad_since_ms: int | None = None
        # (processed callbacks, later than the limit, p95) of the windows before this one
        self.recent: deque[tuple[int, int, float | None]] = deque(maxlen=_MINUTE - 1)

    def _judge(self, obs: Observation) -> tuple[bool | None, float, int, int]:
        """(bad, or None when there are too few callbacks to say; score; late ones; callbacks)."""
        rows = [*self.recent, (obs.callbacks - obs.callback_failures, obs.callbacks_over_limit, None)]
        total = sum(n for n, _over, _p95 in rows)
        over = sum(late for _n, late, _p95 in rows)
        if total < self.min_callbacks:
            return None, 0.0, over, total
        if over <= _QUANTILE_SHARE * total:
            return False, 0.0, over, total
        p = float(bdtrc(over - 1, total, _QUANTILE_SHARE))  # P(at least `over` late | a 5% share)
        significance = self.budget.significance(obs.end_ms - obs.start_ms)
        score = min(1.0, math.log(max(p, 1e-300)) / math.log(significance))
        return p < significance, score, over, total

    def _p95(self, obs: Observation) -> float:
        """This window's p95, or on a quiet scope the median of the last minute's."""
        if obs.latency_p95 is not None and obs.callbacks - obs.callback_failures >= self.min_callbacks:
            return obs.latency_p95
        p95s = sorted(p95 for _n, _over, p95 in [*self.recent, (0, 0, obs.latency_p95)] if p95 is not None)
        return p95s[len(p95s) // 2] if p95s else 0.0

    def assess(self, obs: Observation) -> tuple[float, bool]:
        bad, score, _over, _total = self._judge(obs)
        return score, self.hysteresis.firing if bad is None else self.hysteresis.peek(bad)

    def score(self, obs: Observation) -> Verdict:
        bad, score, over, total = self._judge(obs)
        firing = self.hysteresis.firing if bad is None else self.hysteresis.peek(bad)
        p95 = self._p95(obs)
        started = self.bad_since_ms if self.bad_since_ms is not None else obs.start_ms
        return Verdict(
            kind=self.kind,
            score=score,
            firing=firing,
            started_at_ms=started if firing else None,
            value=p95,
            baseline=self.limit_s,
            reason=f"callback p95 {p95:.1f}s vs limit {self.limit_s:.0f}s: {over} of {total} callbacks "
            f"in the last minute later than the limit",
        )

    def update(self, obs: Observation) -> None:
        bad, _score, _over, _total = self._judge(obs)
        self.recent.append((obs.callbacks - obs.callback_failures, obs.callbacks_over_limit, obs.latency_p95))
        if bad is None:
            return
        if bad and self.bad_since_ms is None:
            self.bad_since_ms = obs.start_ms
        firing = self.hysteresis.step(bad)
        if not bad and not firing:
            self.bad_since_ms = None

    def snapshot(self) -> dict[str, Any]:
        return {
            "v": 2,
            "bad_since_ms": self.bad_since_ms,
            "recent": [list(row) for row in self.recent],
            "hysteresis": self.hysteresis.snapshot(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.bad_since_ms = state["bad_since_ms"]
        if state.get("v", 1) >= 2:  # version 1 kept no counts: the minute refills within a minute
            self.recent.extend(tuple(row) for row in state["recent"])
        self.hysteresis.restore(state["hysteresis"])
