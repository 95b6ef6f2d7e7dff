"""One closed event-time window of one scope: what detectors judge and dashboards show.

Built by :mod:`engine.windows` from 10-second tumbling windows and their 1- and 5-minute
roll-ups. Plain numbers only, so an observation is cheap to make, compare and keep.
"""

from __future__ import annotations

from dataclasses import dataclass

from kernel.alerts import Scope

__all__ = ["Observation", "add_observations"]


@dataclass(frozen=True, slots=True)
class Observation:
    """Counts and quantiles of one scope over ``[start_ms, end_ms)`` of event time."""

    scope: Scope
    start_ms: int
    end_ms: int
    attempts: int = 0
    successes: int = 0
    amount: float = 0.0  # sum over all attempts
    log_amount_sum: float = 0.0  # for the mean ticket size on a log scale
    log_amount_sq_sum: float = 0.0
    callbacks: int = 0
    callback_failures: int = 0
    callbacks_slow: int = 0  # later than windows.slow_callback
    latency_p50: float | None = None  # seconds; None when there were no callbacks
    latency_p95: float | None = None
    latency_p99: float | None = None
    complaints_paid_not_updated: int = 0
    complaints_charged_twice: int = 0
    complaints_refund: int = 0
    complaints_other: int = 0
    stuck: int = 0  # paid orders that crossed the stuck timeout in this window
    overdue: int = 0  # paid orders still without a callback at the overdue mark (windows.slow_callback)
    callbacks_over_limit: int = 0  # processed callbacks later than detectors.callback_p95_limit

    @property
    def failures(self) -> int:
        return self.attempts - self.successes

    @property
    def minutes(self) -> float:
        return (self.end_ms - self.start_ms) / 60_000

    @property
    def complaints(self) -> int:
        return (
            self.complaints_paid_not_updated
            + self.complaints_charged_twice
            + self.complaints_refund
            + self.complaints_other
        )

    @property
    def success_rate(self) -> float | None:
        """Succeeded / attempts, or None when nothing was attempted.

        >>> Observation(Scope(), 0, 10_000, attempts=40, successes=38).success_rate
        0.95
        """
        return self.successes / self.attempts if self.attempts else None


def add_observations(a: Observation, b: Observation) -> Observation:
    """Counts of ``a`` and ``b`` added, over both spans; quantiles are ``b``'s (the later one).

    >>> s = Scope("alipay")
    >>> add_observations(Observation(s, 0, 10, attempts=2), Observation(s, 10, 20, attempts=3)).attempts
    5
    """
    return Observation(
        b.scope,
        min(a.start_ms, b.start_ms),
        max(a.end_ms, b.end_ms),
        a.attempts + b.attempts,
        a.successes + b.successes,
        a.amount + b.amount,
        a.log_amount_sum + b.log_amount_sum,
        a.log_amount_sq_sum + b.log_amount_sq_sum,
        a.callbacks + b.callbacks,
        a.callback_failures + b.callback_failures,
        a.callbacks_slow + b.callbacks_slow,
        b.latency_p50,
        b.latency_p95,
        b.latency_p99,
        a.complaints_paid_not_updated + b.complaints_paid_not_updated,
        a.complaints_charged_twice + b.complaints_charged_twice,
        a.complaints_refund + b.complaints_refund,
        a.complaints_other + b.complaints_other,
        a.stuck + b.stuck,
        a.overdue + b.overdue,
        a.callbacks_over_limit + b.callbacks_over_limit,
    )
