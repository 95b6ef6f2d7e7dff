"""Sequential detection of a rise in a bad-outcome rate: Bernoulli CUSUM.

Payments fail and callbacks fail one at a time, so the natural test is sequential: sum the
log-likelihood ratio of each outcome under a degraded rate against the learned normal rate and
alarm when the sum crosses ``h``. Page's CUSUM is optimal for this (Lorden): for a given false
alarm rate no test detects a shift of that size sooner on average. ``h = ln(ARL)`` where ARL is
the number of outcomes between false alarms we accept, so the threshold adapts to the scope's
volume instead of being a magic number.

Windows bring counts, not single outcomes; adding a window's ``bad * llr_bad + good * llr_good``
is the per-event CUSUM up to the clamp at zero inside a window.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from detectors.protocol import Observation, Verdict

__all__ = ["RateRiseDetector", "alarm_threshold", "baseline_rate", "bernoulli_llr"]

_MIN_RATE = 0.002
_MAX_RATE = 0.6


def baseline_rate(ew_bad: float, ew_total: float, prior_rate: float, prior_weight: float) -> float:
    """The learned bad rate, shrunk toward a prior while history is short, clamped to a sane range.

    A scope with 0 failures in its first 20 payments is not a 0% scope: the prior is worth
    ``prior_weight`` outcomes.

    >>> baseline_rate(0, 20, prior_rate=0.05, prior_weight=200)
    0.045454545454545456
    """
    rate = (ew_bad + prior_rate * prior_weight) / (ew_total + prior_weight)
    return min(max(rate, _MIN_RATE), _MAX_RATE)


def alarm_threshold(rate_per_ms: float, false_alarm_days: float) -> float:
    """``ln`` of the outcomes between false alarms we accept (at least 5): Lorden's CUSUM bound.

    >>> round(alarm_threshold(50 / 1000, 30.0), 2)
    18.68
    """
    per_day = rate_per_ms * 86_400_000
    return max(math.log(max(per_day * false_alarm_days, 1.0)), 5.0)


def bernoulli_llr(bad: bool, q0: float, q1: float) -> float:
    """Log-likelihood ratio of one outcome, degraded bad-rate q1 vs normal bad-rate q0.

    CUSUM sums these. A failure weighs far more than a success, which is why a drop in success
    rate from 97% to 87% shows within a few hundred payments instead of after a 5-minute average.

    >>> round(bernoulli_llr(True, q0=0.03, q1=0.13), 3)
    1.466
    >>> round(bernoulli_llr(False, q0=0.03, q1=0.13), 3)
    -0.109
    """
    return math.log(q1 / q0) if bad else math.log((1 - q1) / (1 - q0))


class RateRiseDetector:
    """Detects a rise of a bad-outcome rate (payment failures, callback failures) by CUSUM.

    The baseline bad rate is an exponentially weighted ratio of counts, learned only while the
    CUSUM sits below half its threshold, so neither an ongoing incident nor the run-up to one
    becomes the new normal. Recovery is the mirror test: a CUSUM of normal against degraded,
    restarted at the alarm, must cross ``ln(resolve_arl)``.
    """

    def __init__(
        self,
        kind: str,
        outcomes: Callable[[Observation], tuple[int, int]],
        *,
        rise: float = 0.05,
        false_alarm_days: float = 30.0,
        min_total: int = 30,
        min_bad: int = 10,
        warmup_ms: int = 600_000,
        half_life_ms: int = 1_800_000,
        resolve_arl: float = 1000.0,
        invert_value: bool = False,
        prior_rate: float = 0.05,
        prior_weight: float = 200.0,
    ) -> None:
        self.kind = kind
        self.outcomes = outcomes  # obs -> (total, bad)
        self.rise = rise
        self.false_alarm_days = false_alarm_days
        self.min_total = min_total
        self.min_bad = min_bad
        self.warmup_ms = warmup_ms
        self.half_life_ms = half_life_ms
        self.resolve_arl = resolve_arl
        self.invert_value = invert_value  # report 1 - rate (success rate) instead of the bad rate
        self.prior_rate = prior_rate  # what a scope with little history is assumed to have
        self.prior_weight = prior_weight  # ... worth this many outcomes, so 0 of 20 is not "0%"
        self._reset()

    def _reset(self) -> None:
        self.first_ms: int | None = None
        self.ew_total = 0.0
        self.ew_bad = 0.0
        self.rate_per_ms = 0.0  # EW outcomes per ms, for the ARL in outcomes
        self.s = 0.0  # CUSUM of degraded vs normal
        self.run_start_ms: int | None = None  # first window of the current positive run
        self.run_total = 0
        self.run_bad = 0
        self.firing = False
        self.fired_ms: int | None = None
        self.r = 0.0  # recovery CUSUM, normal vs degraded, while firing
        self._last_step: tuple[Observation, dict[str, Any]] | None = None

    # -- the statistics -------------------------------------------------------------------------

    @property
    def q0(self) -> float:
        return baseline_rate(self.ew_bad, self.ew_total, self.prior_rate, self.prior_weight)

    @property
    def q1(self) -> float:
        return min(self.q0 + self.rise, 0.95)

    @property
    def h(self) -> float:
        """Alarm threshold: ln of the accepted number of outcomes between false alarms."""
        return alarm_threshold(self.rate_per_ms, self.false_alarm_days)

    def _step(self, obs: Observation) -> dict[str, Any]:
        """Compute the next state from ``obs`` without applying it (score stays pure).

        ``score`` then ``update`` on the same observation is the normal sequence, so the last
        step is remembered and reused instead of computed twice.
        """
        cached = self._last_step
        if cached is not None and cached[0] is obs:
            return cached[1]
        nxt = self._compute_step(obs)
        self._last_step = (obs, nxt)
        return nxt

    def _compute_step(self, obs: Observation) -> dict[str, Any]:
        total, bad = self.outcomes(obs)
        q0, q1 = self.q0, self.q1
        llr_bad, llr_good = math.log(q1 / q0), math.log((1 - q1) / (1 - q0))
        delta = bad * llr_bad + (total - bad) * llr_good
        warm = self.first_ms is not None and obs.end_ms - self.first_ms >= self.warmup_ms
        s = max(0.0, self.s + delta) if warm else 0.0
        run_start, run_total, run_bad = self.run_start_ms, self.run_total, self.run_bad
        h = self.h
        if s <= 0.0:
            run_start, run_total, run_bad = None, 0, 0
        else:
            if run_start is None:
                run_start = obs.start_ms
            run_total += total
            run_bad += bad
        firing, r, fired = self.firing, self.r, self.fired_ms
        if not firing:
            if s > h and run_total >= self.min_total and run_bad >= self.min_bad:
                firing, r, fired = True, 0.0, obs.end_ms
        else:
            r = max(0.0, r - delta)
            if r > math.log(self.resolve_arl):
                firing = False
                s, run_start, run_total, run_bad = 0.0, None, 0, 0
        return {
            "s": s,
            "run_start_ms": run_start,
            "run_total": run_total,
            "run_bad": run_bad,
            "firing": firing,
            "r": r,
            "fired_ms": fired,
            "total": total,
            "bad": bad,
            "h": h,
            "q0": q0,
        }

    # -- the Detector contract ------------------------------------------------------------------

    def score(self, obs: Observation) -> Verdict:
        nxt = self._step(obs)
        if nxt["firing"] and nxt["run_total"]:
            rate = nxt["run_bad"] / nxt["run_total"]
        else:
            rate = nxt["bad"] / nxt["total"] if nxt["total"] else nxt["q0"]
        q0, h = nxt["q0"], nxt["h"]
        value, baseline = (1 - rate, 1 - q0) if self.invert_value else (rate, q0)
        return Verdict(
            kind=self.kind,
            score=min(nxt["s"] / h, 1.0),
            firing=nxt["firing"],
            started_at_ms=nxt["run_start_ms"] if nxt["firing"] else None,
            value=value,
            baseline=baseline,
            reason=f"cusum {nxt['s']:.1f} / {h:.1f} after {nxt['run_total']} outcomes, {nxt['run_bad']} bad",
        )

    def update(self, obs: Observation) -> None:
        nxt = self._step(obs)
        if self.first_ms is None:
            self.first_ms = obs.start_ms
        total, bad = nxt["total"], nxt["bad"]
        decay = 0.5 ** ((obs.end_ms - obs.start_ms) / self.half_life_ms)
        self.rate_per_ms = decay * self.rate_per_ms + (1 - decay) * total / max(obs.end_ms - obs.start_ms, 1)
        if not nxt["firing"] and nxt["s"] < nxt["h"] / 2:
            self.ew_total = decay * self.ew_total + total
            self.ew_bad = decay * self.ew_bad + bad
        self.s, self.run_start_ms = nxt["s"], nxt["run_start_ms"]
        self.run_total, self.run_bad = nxt["run_total"], nxt["run_bad"]
        self.firing, self.r, self.fired_ms = nxt["firing"], nxt["r"], nxt["fired_ms"]

    _STATE = ("first_ms", "ew_total", "ew_bad", "rate_per_ms", "s", "run_start_ms", "run_total", "run_bad",
              "firing", "fired_ms", "r")  # fmt: skip

    def snapshot(self) -> dict[str, Any]:
        return {"v": 1, **{name: getattr(self, name) for name in self._STATE}}

    def restore(self, state: dict[str, Any]) -> None:
        self._last_step = None
        for name in self._STATE:
            setattr(self, name, state[name])
