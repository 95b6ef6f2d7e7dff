"""Which detectors watch which scope, built from settings.

All payments and each channel get every detector, judged every 10-second window, plus a River
model whose score is exported for dashboards. A tracked merchant gets the ones that matter per
merchant (success rate, callback failures, stuck payments), judged on 1-minute roll-ups: a
merchant's volume is too small and too bursty for the rest to mean anything, and per-minute
judging keeps 200 merchants cheap. On every scope the success-rate and callback-failure tests
are sequential per event (stepped by the engine as outcomes arrive), so they need not wait for
a window to close; windows only teach them the baseline.
"""

from __future__ import annotations

from collections.abc import Callable

from detectors.amount import AmountDetector
from detectors.any_of import AnyOf
from detectors.budget import AlarmBudget
from detectors.counts import CountDetector
from detectors.latency import LatencyDetector
from detectors.protocol import Detector, Observation
from detectors.river_detector import RiverScoreDetector
from detectors.seasonal import SeasonalProfile
from detectors.sequential import SequentialRateDetector
from kernel.alerts import KINDS, Scope
from kernel.settings import DetectorSettings

__all__ = ["build_detectors", "paging_tests"]

_HOUR_MS = 3_600_000

# complaints are tested in total and per category: a spike of a rare category (charged twice)
# is lost in the total, and paid_not_updated is the first sign of callback trouble
_COMPLAINTS: dict[str, Callable[[Observation], float]] = {
    "all categories": lambda o: o.complaints,
    "paid_not_updated": lambda o: o.complaints_paid_not_updated,
    "charged_twice": lambda o: o.complaints_charged_twice,
    "refund": lambda o: o.complaints_refund,
    "other": lambda o: o.complaints_other,
}


def build_detectors(
    scope: Scope, s: DetectorSettings, window_ms: int, budget: AlarmBudget | None = None
) -> list[Detector]:
    """A fresh detector set for ``scope``; merchants are fed 1-minute observations. Every test
    draws its false-alarm rate from ``budget``, the deployment's (the engine keeps its count of
    live tests current)."""
    merchant = scope.merchant_id is not None
    span = 1 if merchant else max(60_000 // window_ms, 1)
    budget = budget or AlarmBudget(s.false_pages_per_week)
    warmup_ms = int(s.warmup.total_seconds() * 1000)
    max_onset_ms = int(s.max_onset.total_seconds() * 1000)
    common = {"fire_after": s.fire_after, "resolve_after": s.resolve_after}
    rates = (
        (
            "success_rate_drop",
            "payments",
            lambda o: (o.attempts, o.attempts - o.successes),
            s.success_rate_drop,
            s.min_attempts,
            {"invert_value": True},
        ),
        (
            "callback_failure_high",
            "callbacks",
            lambda o: (o.callbacks, o.callback_failures),
            s.callback_failure_limit,
            s.min_callbacks,
            {"prior_rate": 0.01},
        ),
    )
    detectors: list[Detector] = []
    for kind, stream, outcomes, rise, min_total, extra in rates:
        common_rate = {
            "rise": rise,
            "budget": budget,
            "max_onset_ms": max_onset_ms,
            "min_total": min_total,
            "min_bad": s.min_failures,
            "warmup_ms": warmup_ms,
            **extra,
        }
        # stepped per event by the engine, taught by closed windows (1-minute ones for merchants);
        # the usual rate per hour of the day: a slot must hold enough outcomes to estimate a rate
        hourly = SeasonalProfile(_HOUR_MS) if s.seasonal else None
        detectors.append(SequentialRateDetector(kind, stream, outcomes, seasonal=hourly, **common_rate))
    detectors += [
        CountDetector(
            "stuck_payments",
            lambda o: o.overdue,
            "up",
            span=5 if merchant else span,  # a small merchant's stuck orders add up over minutes
            longer=(15,) if merchant else (5 * span, 15 * span),  # judged on their rate, not a minute
            ratio=3.0,
            min_count=s.stuck_min,
            budget=budget,
            floor_per_window=0.05 * window_ms / 60_000,
            warmup_ms=warmup_ms,
            **common,
        ),
    ]
    if merchant:
        return detectors
    slot_ms = int(s.seasonal_slot.total_seconds() * 1000)

    def seasonal() -> SeasonalProfile | None:
        return SeasonalProfile(slot_ms) if s.seasonal else None

    def complaint_test(count: Callable[[Observation], float]) -> CountDetector:
        return CountDetector(
            "complaint_spike",
            count,
            "up",
            span=span,
            longer=(5 * span, 15 * span),  # a rare count is judged on its rate over minutes
            ratio=3.0,
            min_count=s.complaint_min,
            budget=budget,
            floor_per_window=0.1 * window_ms / 60_000,
            warmup_ms=warmup_ms,
            **common,
        )

    return [
        RiverScoreDetector("success_rate_anomaly", lambda o: o.success_rate if o.attempts >= 10 else None),
        *detectors,
        AnyOf(
            "callback_latency_high",
            {
                "p95": LatencyDetector(
                    limit_s=s.callback_p95_limit.total_seconds(),
                    min_callbacks=s.min_callbacks,
                    budget=budget,
                    **common,
                ),
                # processed callbacks, those later than windows.slow_callback
                "late share": SequentialRateDetector(
                    "callback_latency_high",
                    "callback_delays",
                    lambda o: (o.callbacks - o.callback_failures, o.callbacks_slow),
                    rise=s.callback_late_share,
                    budget=budget,
                    max_onset_ms=max_onset_ms,
                    min_total=s.min_callbacks,
                    min_bad=s.min_failures,
                    warmup_ms=warmup_ms,
                    prior_rate=0.002,
                ),
            },
            measure="p95",
        ),
        CountDetector(
            "volume_drop",
            lambda o: o.attempts,
            "down",
            span=span,  # a busy scope's outage shows within a minute
            # a quiet one's needs minutes (a channel at 12 a minute that falls to a third shows in
            # about ten): one quiet minute at night is not an outage, a quiet quarter of an hour is
            longer=(3 * span, 5 * span, 15 * span),
            ratio=1 / s.volume_ratio,
            dispersion=2.0,
            min_count=s.min_attempts,
            budget=budget,
            warmup_ms=warmup_ms,
            seasonal=seasonal(),
            **common,
        ),
        CountDetector(
            "volume_spike",
            lambda o: o.attempts,
            "up",
            span=span,
            ratio=1 / s.volume_ratio,
            dispersion=2.0,
            min_count=s.min_attempts,
            budget=budget,
            warmup_ms=warmup_ms,
            seasonal=seasonal(),
            **common,
        ),
        AmountDetector(
            ratio=s.amount_ratio,
            budget=budget,
            min_payments=s.min_attempts,
            span=span,
            warmup_ms=warmup_ms,
            seasonal=seasonal(),
            **common,
        ),
        AnyOf("complaint_spike", {label: complaint_test(count) for label, count in _COMPLAINTS.items()}),
    ]


def paging_tests(detectors: list[Detector]) -> int:
    """How many tests of ``detectors`` can page, for the false-alarm budget: each part of a
    combined detector counts, the score-only River model does not."""
    return sum(len(d.parts) if isinstance(d, AnyOf) else 1 for d in detectors if d.kind in KINDS)
