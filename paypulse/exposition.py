"""Prometheus exposition: a collector that reads the engine's published view at scrape time.

Nothing in the hot path touches prometheus_client: the engine keeps plain counters and its
recent windows, publishes a frozen view of them between batches (:mod:`engine.view`), and this
collector turns the latest view into metric families only when Prometheus asks (every 15 s or
so), without a lock and without touching the engine. Names and labels follow
:mod:`dashboards.metrics`, which a test checks this against.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from alerting.delivery.dispatcher import OUTCOMES
from engine.view import EngineView, ViewSource
from kernel.alerts import Scope
from kernel.events import COMPLAINT_CATEGORIES

__all__ = ["EngineCollector", "build_registry"]

_ALL = "all"


def _labels(scope: Scope) -> list[str]:
    return [scope.channel or _ALL, scope.merchant_id or _ALL]


class EngineCollector(Collector):
    """Reads the engine's latest view (and optionally the banner and the dispatcher) at scrape time."""

    def __init__(
        self,
        view: ViewSource,
        banner: Any = None,
        dispatcher: Any = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._view = view
        self._banner = banner
        self._dispatcher = dispatcher
        self._wall_clock = wall_clock

    def collect(self) -> Iterator[Metric]:
        view = self._view()
        if view is not None:
            yield from self._engine_metrics(view)
        if self._banner is not None:
            state = self._banner.state()
            yield GaugeMetricFamily(
                "paypulse_banner_on", "1 while the status page banner is shown.", state.on
            )
            yield GaugeMetricFamily(
                "paypulse_banner_override",
                "1 while an operator override holds the banner.",
                state.source == "override",
            )
        if self._dispatcher is not None:
            yield from self._delivery_metrics(self._dispatcher.stats())

    def _engine_metrics(self, view: EngineView) -> Iterator[Metric]:
        stats = view.stats
        accepted = CounterMetricFamily("paypulse_events_accepted", "Events accepted.", labels=["type"])
        for kind, n in stats.accepted.items():
            accepted.add_metric([kind], n)
        yield accepted
        rejected = CounterMetricFamily("paypulse_events_rejected", "Lines dead-lettered.", labels=["reason"])
        for reason, n in sorted(stats.rejected.items()):
            rejected.add_metric([reason], n)
        yield rejected
        yield CounterMetricFamily(
            "paypulse_events_duplicate", "Events dropped as duplicates of an event_id seen.", stats.duplicates
        )
        watermark = max(view.watermark_ms, 0) / 1000
        yield GaugeMetricFamily("paypulse_watermark_timestamp_seconds", "Event-time watermark.", watermark)
        if watermark:
            yield GaugeMetricFamily(
                "paypulse_processing_lag_seconds",
                "Wall time minus watermark.",
                self._wall_clock() - watermark,
            )
        yield from self._totals(view)
        yield from self._windows(view)
        scores = GaugeMetricFamily(
            "paypulse_detector_score", "Detector score in [0, 1].", labels=["kind", "channel", "merchant"]
        )
        for (kind, scope), score in sorted(
            view.scores.items(), key=lambda kv: (kv[0][0], *_labels(kv[0][1]))
        ):
            scores.add_metric([kind, *_labels(scope)], score)
        yield scores
        firing = GaugeMetricFamily(
            "paypulse_alerts_firing", "Alerts firing.", labels=["kind", "channel", "merchant", "severity"]
        )
        for alert in view.firing:
            firing.add_metric([alert.kind, *_labels(alert.scope), alert.severity], 1)
        yield firing
        alerts = CounterMetricFamily("paypulse_alerts", "Alert state changes.", labels=["kind", "status"])
        for key, n in sorted(stats.alerts.items()):
            kind, status = key.split("|")
            alerts.add_metric([kind, status], n)
        yield alerts
        stuck = GaugeMetricFamily(
            "paypulse_stuck_payments",
            "Paid orders past the timeout without a callback.",
            labels=["channel", "merchant"],
        )
        by_channel = view.stuck_by_channel
        stuck.add_metric([_ALL, _ALL], sum(by_channel.values()))
        for channel, n in sorted(by_channel.items()):
            stuck.add_metric([channel, _ALL], n)
        yield stuck

    def _totals(self, view: EngineView) -> Iterator[Metric]:
        payments = CounterMetricFamily("paypulse_payments", "Payments.", labels=["channel", "status"])
        amount = CounterMetricFamily(
            "paypulse_payment_amount", "Amount of payments, CNY.", labels=["channel"]
        )
        callbacks = CounterMetricFamily("paypulse_callbacks", "Callbacks.", labels=["channel", "status"])
        complaints = CounterMetricFamily("paypulse_complaints", "Complaints.", labels=["channel", "category"])
        for channel, t in sorted(view.totals.items()):
            payments.add_metric([channel, "succeeded"], t.successes)
            payments.add_metric([channel, "failed"], t.attempts - t.successes)
            amount.add_metric([channel], t.amount)
            callbacks.add_metric([channel, "processed"], t.callbacks - t.callback_failures)
            callbacks.add_metric([channel, "failed"], t.callback_failures)
            for category in COMPLAINT_CATEGORIES:
                complaints.add_metric([channel, category], getattr(t, f"complaints_{category}"))
        yield from (payments, amount, callbacks, complaints)

    def _windows(self, view: EngineView) -> Iterator[Metric]:
        scope_labels = ["channel", "merchant"]
        success = GaugeMetricFamily(
            "paypulse_success_ratio", "Succeeded share, last minute.", labels=scope_labels
        )
        volume = GaugeMetricFamily(
            "paypulse_payments_per_minute", "Payments, last minute.", labels=scope_labels
        )
        money = GaugeMetricFamily("paypulse_amount_per_minute", "Amount, last minute.", labels=scope_labels)
        baseline = GaugeMetricFamily(
            "paypulse_volume_baseline_per_minute", "Expected payments per minute.", labels=scope_labels
        )
        latency = GaugeMetricFamily(
            "paypulse_callback_latency_seconds",
            "Callback latency quantiles.",
            labels=[*scope_labels, "quantile"],
        )
        cb_failed = GaugeMetricFamily(
            "paypulse_callback_failure_ratio", "Failed share of callbacks, last minute.", labels=scope_labels
        )
        cb_slow = GaugeMetricFamily(
            "paypulse_callback_delayed_ratio", "Delayed share of callbacks, last minute.", labels=scope_labels
        )
        complaints = GaugeMetricFamily(
            "paypulse_complaints_per_minute", "Complaints, last minute.", labels=[*scope_labels, "category"]
        )
        for scope, seen in sorted(view.scopes.items(), key=lambda kv: _labels(kv[0])):
            minute = seen.minute
            labels = _labels(scope)
            per_min = 1 / max(minute.minutes, 1e-9)
            if minute.success_rate is not None:
                success.add_metric(labels, minute.success_rate)
            volume.add_metric(labels, minute.attempts * per_min)
            money.add_metric(labels, minute.amount * per_min)
            expected = seen.volume_baseline
            if expected is not None:
                baseline.add_metric(labels, expected)
            for q, value in (
                ("0.5", minute.latency_p50),
                ("0.95", minute.latency_p95),
                ("0.99", minute.latency_p99),
            ):
                if value is not None:
                    latency.add_metric([*labels, q], value)
            if minute.callbacks:
                cb_failed.add_metric(labels, minute.callback_failures / minute.callbacks)
                cb_slow.add_metric(labels, minute.callbacks_slow / minute.callbacks)
            for category in COMPLAINT_CATEGORIES:
                count = getattr(minute, f"complaints_{category}")
                complaints.add_metric([*labels, category], count * per_min)
        yield from (success, volume, money, baseline, latency, cb_failed, cb_slow, complaints)

    @staticmethod
    def _delivery_metrics(stats: dict[str, dict[str, int]]) -> Iterator[Metric]:
        sent = CounterMetricFamily(
            "paypulse_notifications", "Notification attempts.", labels=["route", "outcome"]
        )
        for outcome in OUTCOMES:
            for route, n in sorted(stats.get(outcome, {}).items()):
                sent.add_metric([route, outcome], n)
        yield sent
        yield GaugeMetricFamily(
            "paypulse_outbox_pending",
            "Notifications waiting in the outbox.",
            sum(stats.get("pending", {}).values()),
        )
        yield GaugeMetricFamily(
            "paypulse_outbox_parked",
            "Notifications parked after their last attempt failed.",
            sum(stats.get("parked_now", {}).values()),
        )


def build_registry(collector: EngineCollector) -> tuple[CollectorRegistry, Histogram]:
    """A fresh registry with the collector and the batch-duration histogram the dataflow feeds."""
    registry = CollectorRegistry()
    registry.register(collector)
    batch = Histogram(
        "paypulse_batch_duration_seconds",
        "Time to process one batch of events.",
        buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        registry=registry,
    )
    return registry, batch
