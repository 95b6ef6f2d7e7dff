"""Seeded synthetic observation streams for the detector contract suite.

A stream is what one scope's detectors see: one :class:`Observation` per closed window, drawn
from a :class:`Profile` of steady traffic (Poisson counts, binomial outcomes, lognormal latency
and ticket sizes). A shift changes the profile from a given minute on, in the way an incident of
one alert kind does; :data:`SHIFTS` maps every kind to its shift, so a detector whose kind has
no entry fails the suite instead of going untested.

Everything is drawn from ``numpy.random.default_rng(seed)``, so a stream is the same on every
run and a failing check can be replayed by its seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from kernel.alerts import Scope
from kernel.observation import Observation

__all__ = ["NORMAL", "SHIFTS", "T0", "TINY", "Profile", "observations"]

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a minute boundary
SLOW_CALLBACK_S = 60.0
LATENCY_LIMIT_S = 30.0  # detectors.callback_p95_limit's default


@dataclass(frozen=True)
class Profile:
    """Steady traffic of one scope, in per-minute rates so it fits any window width."""

    payments_per_min: float = 600.0
    success_rate: float = 0.95
    callback_failure_rate: float = 0.01
    latency_median_s: float = 3.0
    latency_sigma: float = 0.6  # of log latency: p95 is about 2.7 x the median
    amount_median: float = 80.0
    amount_sigma: float = 0.8  # of log amount
    complaints_per_min: float = 0.5
    stuck_per_min: float = 0.2
    dispersion: float = (
        0.1  # sd of a lognormal factor on each window's rates: real traffic is burstier than Poisson
    )

    def scaled(self, factor: float) -> Profile:
        """The same traffic at ``factor`` times the volume (rates and shapes unchanged)."""
        return replace(
            self,
            payments_per_min=self.payments_per_min * factor,
            complaints_per_min=self.complaints_per_min * factor,
            stuck_per_min=self.stuck_per_min * factor,
        )


NORMAL = Profile()
#: About one payment every two minutes: below every detector's volume guard, shifted or not.
TINY = NORMAL.scaled(1 / 1200)

#: kind -> the profile of an incident of that kind. Each is a material change, the kind of
#: thing on-call must hear about, not a marginal one.
SHIFTS: dict[str, Callable[[Profile], Profile]] = {
    "success_rate_drop": lambda p: replace(p, success_rate=p.success_rate - 0.10),
    "callback_failure_high": lambda p: replace(p, callback_failure_rate=0.10),
    "callback_latency_high": lambda p: replace(p, latency_median_s=p.latency_median_s * 5),
    "volume_drop": lambda p: replace(p, payments_per_min=p.payments_per_min * 0.3),
    "volume_spike": lambda p: replace(p, payments_per_min=p.payments_per_min * 3),
    "amount_deviation": lambda p: replace(p, amount_median=p.amount_median * 0.5),
    "complaint_spike": lambda p: replace(p, complaints_per_min=p.complaints_per_min * 20),
    "stuck_payments": lambda p: replace(p, stuck_per_min=p.stuck_per_min * 100),
}
#: Score-only detectors (dashboards' second opinion, never alerting) are shifted like the alert
#: kind they shadow.
SHIFTS["success_rate_anomaly"] = SHIFTS["success_rate_drop"]


def observations(
    scope: Scope,
    *,
    seed: int,
    minutes: int,
    width_ms: int = 10_000,
    profile: Profile = NORMAL,
    shift: str | None = None,
    shift_at_min: int = 0,
    shift_until_min: int | None = None,
) -> tuple[Observation, ...]:
    """``minutes`` of windows of ``width_ms`` starting at :data:`T0`; from ``shift_at_min``
    (until ``shift_until_min``, if given) the profile is ``SHIFTS[shift](profile)``."""
    return _observations(scope, seed, minutes, width_ms, profile, shift, shift_at_min, shift_until_min)


@lru_cache(maxsize=128)
def _observations(
    scope: Scope,
    seed: int,
    minutes: int,
    width_ms: int,
    profile: Profile,
    shift: str | None,
    shift_at_min: int,
    shift_until_min: int | None,
) -> tuple[Observation, ...]:
    rng = np.random.default_rng(seed)
    shifted = SHIFTS[shift](profile) if shift is not None else profile
    out = []
    for i in range(minutes * 60_000 // width_ms):
        start = T0 + i * width_ms
        minute = (start - T0) / 60_000
        active = (
            shift is not None
            and minute >= shift_at_min
            and (shift_until_min is None or minute < shift_until_min)
        )
        out.append(_window(rng, scope, start, width_ms, shifted if active else profile))
    return tuple(out)


def _window(rng: np.random.Generator, scope: Scope, start: int, width_ms: int, p: Profile) -> Observation:
    minutes = width_ms / 60_000 * float(rng.lognormal(0.0, p.dispersion))
    attempts = int(rng.poisson(p.payments_per_min * minutes))
    successes = int(rng.binomial(attempts, p.success_rate))
    log_amounts = rng.normal(math.log(p.amount_median), p.amount_sigma, attempts)
    callbacks = int(rng.poisson(p.payments_per_min * p.success_rate * minutes))
    failures = int(rng.binomial(callbacks, p.callback_failure_rate))
    latencies = rng.lognormal(math.log(p.latency_median_s), p.latency_sigma, callbacks - failures)
    p50 = p95 = p99 = None
    if latencies.size:
        p50, p95, p99 = (float(np.quantile(latencies, q, method="lower")) for q in (0.5, 0.95, 0.99))
    complaints = rng.poisson(p.complaints_per_min * minutes * np.array([0.5, 0.2, 0.2, 0.1]))
    return Observation(
        scope=scope,
        start_ms=start,
        end_ms=start + width_ms,
        attempts=attempts,
        successes=successes,
        amount=float(np.exp(log_amounts).sum()),
        log_amount_sum=float(log_amounts.sum()),
        log_amount_sq_sum=float((log_amounts**2).sum()),
        callbacks=callbacks,
        callback_failures=failures,
        callbacks_slow=int((latencies > SLOW_CALLBACK_S).sum()),
        callbacks_over_limit=int((latencies > LATENCY_LIMIT_S).sum()),
        latency_p50=p50,
        latency_p95=p95,
        latency_p99=p99,
        complaints_paid_not_updated=int(complaints[0]),
        complaints_charged_twice=int(complaints[1]),
        complaints_refund=int(complaints[2]),
        complaints_other=int(complaints[3]),
        stuck=int(rng.poisson(p.stuck_per_min * minutes)),
        overdue=int(rng.poisson(p.stuck_per_min * minutes)),
    )
