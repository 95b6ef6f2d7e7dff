"""A detector's judgement of one closed window: what the alert lifecycle acts on.

Detectors produce it and the lifecycle reads it; it sits here, below both, so the alerting
package needs nothing from the detectors.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Verdict"]


class Verdict(NamedTuple):
    """A detector's judgement of one window (a tuple: about a hundred are made per window)."""

    kind: str  # the alert kind this verdict is about, e.g. "success_rate_drop"
    score: float  # in [0, 1]; higher is more abnormal
    firing: bool  # after warm-up, minimum-volume guard and hysteresis
    started_at_ms: int | None  # change-point estimate, carried into the alert
    value: float  # what was measured (rate, seconds, count per minute)
    baseline: float  # what was expected
    reason: str  # "cusum 8.4 > 8.0 after 212 payments", shown to on-call
    measure: str = ""  # what ``value`` measures when not the kind's usual quantity ("late share")
