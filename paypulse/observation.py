"""One closed event-time window of one scope: what detectors judge and dashboards show.

Built by :mod:`paypulse.windows` from 10-second tumbling windows and their 1- and 5-minute
roll-ups. Plain numbers only, so an observation is cheap to make, compare and keep.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerting.model import Scope

__all__ = ["Observation"]


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
