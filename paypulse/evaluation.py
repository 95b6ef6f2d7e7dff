"""Scoring alerts against labelled incidents: precision, recall and detection delay.

An alert finds a label when it has the label's scope and kind (or a kind of the same incident,
:func:`kernel.alerts.same_incident`: late callbacks may first show as stuck payments) and fires
between the label's start and its end plus a grace period (a detector may need a little time after a short
incident). A firing alert that finds no label is a false alert. Delay is ``detected_at -
start`` in event time, which is what a replay can measure exactly.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kernel.alerts import same_incident

__all__ = ["Evaluation", "evaluate"]


@dataclass
class KindScore:
    labels: int = 0
    found: int = 0
    alerts: int = 0
    false_alerts: int = 0
    delays_s: list[float] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return (self.alerts - self.false_alerts) / self.alerts if self.alerts else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.labels if self.labels else 1.0


@dataclass
class Evaluation:
    by_kind: dict[str, KindScore]
    days: float

    @property
    def total(self) -> KindScore:
        total = KindScore()
        for k in self.by_kind.values():
            total.labels += k.labels
            total.found += k.found
            total.alerts += k.alerts
            total.false_alerts += k.false_alerts
            total.delays_s += k.delays_s
        return total

    def rows(self) -> list[dict[str, Any]]:
        """One row per kind and a total, for printing."""
        out = []
        for kind, k in [*sorted(self.by_kind.items()), ("all", self.total)]:
            delays = sorted(k.delays_s)
            out.append(
                {
                    "kind": kind,
                    "labels": k.labels,
                    "found": k.found,
                    "alerts": k.alerts,
                    "precision": k.precision,
                    "recall": k.recall,
                    "median_delay_s": statistics.median(delays) if delays else None,
                    "p90_delay_s": delays[min(int(0.9 * len(delays)), len(delays) - 1)] if delays else None,
                    "false_per_day": k.false_alerts / self.days if self.days > 0 else float(k.false_alerts),
                }
            )
        return out


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _scope(row: dict[str, Any]) -> tuple[str | None, str | None]:
    scope = row.get("scope") or {}
    return scope.get("channel"), scope.get("merchant_id")


def evaluate(
    alerts: list[dict[str, Any]],
    labels: list[dict[str, Any]],
    days: float,
    grace: timedelta = timedelta(minutes=5),
) -> Evaluation:
    """Match firing alerts (alert-log rows) to labels (``kind``, ``scope``, ``start``, ``end``).

    >>> labels = [{"kind": "success_rate_drop", "scope": {"channel": "alipay"},
    ...            "start": "2026-01-01T10:00:00Z", "end": "2026-01-01T10:15:00Z"}]
    >>> alerts = [{"status": "firing", "kind": "success_rate_drop", "scope": {"channel": "alipay"},
    ...            "detected_at": "2026-01-01T10:00:45Z"}]
    >>> row = evaluate(alerts, labels, days=1.0).rows()[-1]
    >>> row["recall"], row["precision"], row["median_delay_s"]
    (1.0, 1.0, 45.0)
    """
    by_kind: dict[str, KindScore] = {}
    found: set[int] = set()
    for label in labels:
        by_kind.setdefault(label["kind"], KindScore()).labels += 1
    for alert in alerts:
        if alert.get("status") != "firing":
            continue
        detected = _when(alert["detected_at"])
        match = None
        for i, label in enumerate(labels):
            if (
                same_incident(label["kind"], alert["kind"])
                and _scope(label) == _scope(alert)
                and _when(label["start"]) <= detected <= _when(label["end"]) + grace
            ):
                match = i
                break
        # an alert that finds a label counts for the label's kind (the incident it found)
        score = by_kind.setdefault(alert["kind"] if match is None else labels[match]["kind"], KindScore())
        score.alerts += 1
        if match is None:
            score.false_alerts += 1
        elif match not in found:
            found.add(match)
            score.found += 1
            score.delays_s.append((detected - _when(labels[match]["start"])).total_seconds())
    return Evaluation(by_kind, days)
