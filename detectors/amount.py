"""Mean ticket size shifting while counts stay normal.

A change in what people pay (a pricing bug, a card-testing attack with tiny amounts, a
currency mix-up) moves the mean of log amounts. Amounts are lognormal, so the test works on
logs: the trailing minute's mean log amount against the learned mean, in standard errors of
that many payments, and the shift must also be material (``ratio``). With ``seasonal``, the
learned mean is the same time of day (or week) once a day has been seen, plus how far the last
hour ran from it: night tickets may differ from lunch tickets without anything being wrong.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from scipy.special import ndtri

from detectors.budget import AlarmBudget
from detectors.guards import Hysteresis
from detectors.protocol import Observation, Verdict, WindowsOnly
from detectors.seasonal import SeasonalProfile

__all__ = ["AmountDetector"]


class AmountDetector(WindowsOnly):
    kind = "amount_deviation"

    def __init__(
        self,
        *,
        ratio: float = 0.3,
        budget: AlarmBudget | None = None,
        min_payments: int = 30,
        span: int = 6,
        fire_after: int = 2,
        resolve_after: int = 6,
        warmup_ms: int = 600_000,
        half_life_ms: int = 3_600_000,
        seasonal: SeasonalProfile | None = None,
    ) -> None:
        self.ratio = ratio
        self.budget = budget or AlarmBudget()
        self._z_limits: tuple[float, int, float] = (0.0, 0, 6.0)  # (significance, width, z) last used
        self.min_payments = min_payments
        self.span = span
        self.warmup_ms = warmup_ms
        self.half_life_ms = half_life_ms
        self.hysteresis = Hysteresis(fire_after, resolve_after)
        # (n, sum log, sum log^2, the profile's usual mean log or None)
        self.recent: deque[tuple[int, float, float, float | None]] = deque(maxlen=3 * span)
        self.profile = seasonal
        self.offset = [0.0, 0.0]  # EW sums over quiet windows: log amounts minus usual, payments
        self.n = 0.0  # EW sums of payments, log amounts and their squares
        self.s1 = 0.0
        self.s2 = 0.0
        self.learned_ms = 0
        self.bad_since_ms: int | None = None

    def _judge(self, obs: Observation) -> tuple[bool, float, float, float]:
        """(bad, observed mean ticket, expected mean ticket, |z|) over the trailing span, or over
        three spans when that says more: a quiet channel needs minutes of payments to show a shift."""
        if self.n < 1:
            return False, 0.0, 0.0, 0.0
        trailing = self.s1 / self.n
        sigma = math.sqrt(max(self.s2 / self.n - trailing * trailing, 1e-6))
        warm = self.learned_ms >= self.warmup_ms
        z_limit = self.z_limit(obs.end_ms - obs.start_ms)
        current = (obs.attempts, obs.log_amount_sum, obs.log_amount_sq_sum, self._usual(obs))
        best = (False, 0.0, math.exp(trailing), 0.0)
        for span in (self.span, 3 * self.span):
            rows = [*list(self.recent)[-(span - 1) :], current] if span > 1 else [current]
            n = sum(r[0] for r in rows)
            if n == 0:
                continue
            mean = sum(r[1] for r in rows) / n
            mu = self._mu(rows, n, trailing)
            z = abs(mean - mu) / (sigma / math.sqrt(n))
            bad = (
                warm
                and n >= self.min_payments
                and z > z_limit
                and abs(math.exp(mean - mu) - 1) > self.ratio
            )
            if (bad, z) > (best[0], best[3]):
                best = (bad, math.exp(mean), math.exp(mu), z)
        return best

    def z_limit(self, width_ms: int) -> float:
        """Standard errors a shift must pass: the two-sided normal quantile of this test's share
        of the false-alarm budget (about 5.6 for a typical shop at 10-second windows)."""
        significance = self.budget.significance(width_ms)
        last_sig, last_width, z = self._z_limits
        if (significance, width_ms) != (last_sig, last_width):
            z = float(-ndtri(significance / 2))
            self._z_limits = (significance, width_ms, z)
        return z

    def _usual(self, obs: Observation) -> float | None:
        return None if self.profile is None else self.profile.expected(obs.start_ms)

    def _mu(self, rows: list[tuple[int, float, float, float | None]], n: int, trailing: float) -> float:
        """The expected mean log amount of ``rows``: their usual values plus the recent offset from
        them, once that offset rests on ``min_payments`` payments, else the trailing mean."""
        offset, weight = self.offset
        if weight < self.min_payments or any(r[3] is None for r in rows):
            return trailing
        return sum(r[0] * r[3] for r in rows) / n + offset / weight  # type: ignore[operator]

    def assess(self, obs: Observation) -> tuple[float, bool]:
        bad, _observed, _expected, z = self._judge(obs)
        return min(z / (2 * self.z_limit(obs.end_ms - obs.start_ms)), 1.0), self.hysteresis.peek(bad)

    def score(self, obs: Observation) -> Verdict:
        bad, observed, expected, z = self._judge(obs)
        firing = self.hysteresis.peek(bad)
        started = self.bad_since_ms if self.bad_since_ms is not None else obs.start_ms
        return Verdict(
            kind=self.kind,
            score=min(z / (2 * self.z_limit(obs.end_ms - obs.start_ms)), 1.0),
            firing=firing,
            started_at_ms=started if firing else None,
            value=observed,
            baseline=expected,
            reason=f"typical ticket {observed:.2f} vs {expected:.2f} (z={z:.1f})",
        )

    def update(self, obs: Observation) -> None:
        bad, *_ = self._judge(obs)
        if bad and self.bad_since_ms is None:
            self.bad_since_ms = obs.start_ms
        firing = self.hysteresis.step(bad)
        if not bad and not firing:
            self.bad_since_ms = None
        usual = self._usual(obs)
        self.recent.append((obs.attempts, obs.log_amount_sum, obs.log_amount_sq_sum, usual))
        quiet = not firing and not bad
        if self.profile is not None:
            self.profile.learn(obs.start_ms, obs.log_amount_sum, obs.attempts, clean=quiet)
        if quiet:
            decay = 0.5 ** ((obs.end_ms - obs.start_ms) / self.half_life_ms)
            self.n = decay * self.n + obs.attempts
            self.s1 = decay * self.s1 + obs.log_amount_sum
            self.s2 = decay * self.s2 + obs.log_amount_sq_sum
            self.learned_ms += obs.end_ms - obs.start_ms
            if usual is not None:
                self.offset[0] = decay * self.offset[0] + obs.log_amount_sum - usual * obs.attempts
                self.offset[1] = decay * self.offset[1] + obs.attempts

    def snapshot(self) -> dict[str, Any]:
        return {
            "v": 1,
            "recent": [list(r) for r in self.recent],
            "ew": [self.n, self.s1, self.s2],
            "learned_ms": self.learned_ms,
            "bad_since_ms": self.bad_since_ms,
            "hysteresis": self.hysteresis.snapshot(),
            "offset": list(self.offset),
            "profile": None if self.profile is None else self.profile.snapshot(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.recent.extend(tuple(r) for r in state["recent"])
        self.n, self.s1, self.s2 = state["ew"]
        self.learned_ms = state["learned_ms"]
        self.bad_since_ms = state["bad_since_ms"]
        self.hysteresis.restore(state["hysteresis"])
        self.offset = list(state["offset"])
        if self.profile is not None and state["profile"] is not None:
            self.profile.restore(state["profile"])
