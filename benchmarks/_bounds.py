"""The information bound of each labelled incident: how fast any test could find it at our budget.

A sequential test that may be wrong once in ``ARL`` observations needs about ``ln(ARL) / KL``
observations to see a change whose Kullback-Leibler information per observation is ``KL``
(Lorden's bound, the one ``_delay_measure.py`` prints for the CUSUM). For a labelled incident the
information per minute is read off the stream itself: the scope's hour before the incident is
its normal, the incident's span is the change, and the statistic is the one its kind is about
(failure share, late share, missing callbacks, payment or complaint rate, log ticket size). An
incident shorter than its bound cannot be found at the budget by any test, so the benchmark says
so instead of counting it a miss. The bound is an estimate (the hour before stands in for the
seasonal normal, minutes for observations), good for telling minutes from hours.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from detectors.budget import TYPICAL_LIVE_TESTS, AlarmBudget
from kernel.events import Callback, Complaint, Payment, parse_line

__all__ = ["bounds_s"]

_BEFORE_MS = 3_600_000  # the scope's normal: the hour before the incident
_SLOW_MS = 60_000  # windows.slow_callback's default: a late callback


@dataclass
class _Counts:
    minutes: float
    attempts: int = 0
    failures: int = 0
    log_sum: float = 0.0
    log_sq: float = 0.0
    callbacks: int = 0
    callback_failures: int = 0
    late: int = 0
    complaints: int = 0

    def add(self, event: Payment | Callback | Complaint) -> None:
        if type(event) is Payment:
            self.attempts += 1
            self.failures += event.status != "succeeded"
            log_amount = math.log(event.amount)
            self.log_sum += log_amount
            self.log_sq += log_amount * log_amount
        elif type(event) is Callback:
            self.callbacks += 1
            failed = event.status == "failed"
            self.callback_failures += failed
            self.late += not failed and event.ts - event.paid_at > _SLOW_MS
        else:
            self.complaints += 1


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _in_scope(label: dict[str, Any], event: Payment | Callback | Complaint) -> bool:
    scope = label.get("scope") or {}
    channel, merchant = scope.get("channel"), scope.get("merchant_id")
    return (channel is None or event.channel == channel) and (
        merchant is None or getattr(event, "merchant_id", None) == merchant
    )


def _bernoulli(p1: float, p0: float) -> float:
    p1, p0 = (min(max(p, 1e-6), 1 - 1e-6) for p in (p1, p0))
    return p1 * math.log(p1 / p0) + (1 - p1) * math.log((1 - p1) / (1 - p0))


def _poisson(rate1: float, rate0: float) -> float:
    rate0 = max(rate0, 1e-3)
    return rate1 * math.log(max(rate1, 1e-9) / rate0) - rate1 + rate0


def _share(bad: int, total: int) -> float:
    return bad / total if total else 0.0


def information_per_min(kind: str, before: _Counts, during: _Counts) -> float:
    """KL information per minute that ``during`` differs from ``before`` in what ``kind`` is about.

    >>> b, d = _Counts(60, attempts=6000, failures=180), _Counts(20, attempts=2000, failures=360)
    >>> round(information_per_min("success_rate_drop", b, d), 1)  # 3% -> 18% failures at 100/min
    18.5
    """
    per_min = during.minutes
    if kind == "success_rate_drop":
        shares = _share(during.failures, during.attempts), _share(before.failures, before.attempts)
        return during.attempts / per_min * _bernoulli(*shares)
    if kind == "callback_failure_high":
        shares = (
            _share(during.callback_failures, during.callbacks),
            _share(before.callback_failures, before.callbacks),
        )
        return during.callbacks / per_min * _bernoulli(*shares)
    if kind == "callback_latency_high":
        ok_d, ok_b = during.callbacks - during.callback_failures, before.callbacks - before.callback_failures
        return ok_d / per_min * _bernoulli(_share(during.late, ok_d), _share(before.late, ok_b))
    if kind == "stuck_payments":  # paid orders whose callback never came
        paid_d, paid_b = during.attempts - during.failures, before.attempts - before.failures
        missing_d, missing_b = max(paid_d - during.callbacks, 0), max(paid_b - before.callbacks, 0)
        return paid_d / per_min * _bernoulli(_share(missing_d, paid_d), _share(missing_b, paid_b))
    if kind in ("volume_drop", "volume_spike"):
        return _poisson(during.attempts / per_min, before.attempts / before.minutes)
    if kind == "complaint_spike":
        return _poisson(during.complaints / per_min, before.complaints / before.minutes)
    if kind == "amount_deviation" and during.attempts and before.attempts > 1:
        mean_b = before.log_sum / before.attempts
        var_b = max(before.log_sq / before.attempts - mean_b * mean_b, 1e-6)
        shift = during.log_sum / during.attempts - mean_b
        return during.attempts / per_min * shift * shift / (2 * var_b)
    return 0.0


def bounds_s(
    path: Path, labels: Sequence[dict[str, Any]], live_tests: int = TYPICAL_LIVE_TESTS
) -> list[float]:
    """Each label's information bound in seconds (``inf`` when the stream shows no change), at
    the share of one false page a week each of ``live_tests`` tests gets."""
    spans = [(_ms(label["start"]), _ms(label["end"])) for label in labels]
    counts = [(_Counts(_BEFORE_MS / 60_000), _Counts(max(end - start, 1) / 60_000)) for start, end in spans]
    by_minute: dict[int, list[int]] = {}  # minute -> the labels whose hour before or span it is in
    for i, (start, end) in enumerate(spans):
        for minute in range((start - _BEFORE_MS) // 60_000, (end - 1) // 60_000 + 1):
            by_minute.setdefault(minute, []).append(i)
    for event in _events(path):
        for i in by_minute.get(event.ts // 60_000, ()):
            (start, end), (before, during) = spans[i], counts[i]
            if start - _BEFORE_MS <= event.ts < end and _in_scope(labels[i], event):
                (before if event.ts < start else during).add(event)
    budget = AlarmBudget(live_tests=live_tests)
    threshold = math.log(budget.days_between_false_alarms * 1440)  # ln(ARL), ARL in minutes
    out = []
    for label, (before, during) in zip(labels, counts, strict=True):
        info = information_per_min(label["kind"], before, during)
        out.append(60 * threshold / info if info > 0 else math.inf)
    return out


def _events(path: Path) -> Iterable[Payment | Callback | Complaint]:
    with path.open("rb") as lines:
        for line in lines:
            event = parse_line(line)
            if type(event) in (Payment, Callback, Complaint):
                yield event  # type: ignore[misc]
