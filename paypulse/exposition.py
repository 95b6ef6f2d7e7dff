"""Prometheus exposition: a collector that reads the core's state at scrape time.

Nothing in the hot path touches prometheus_client: the engine keeps plain counters and its
recent windows, and this collector turns them into metric families only when Prometheus asks
(every 15 s or so), holding the engine's lock so a scrape never sees half a batch. Names and
labels follow :mod:`dashboards.metrics`, which a test checks this against.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from alerting.delivery.dispatcher import OUTCOMES
from engine.core import Engine
from kernel.alerts import Scope
from kernel.events import COMPLAINT_CATEGORIES
from kernel.observation import Observation

__all__ = ["EngineCollector", "build_registry"]

_ALL = "all"
_WINDOWS_PER_VIEW = 6  # the 1-minute view at 10-second windows


def _labels(scope: Scope) -> list[str]:
    return [scope.channel or _ALL, scope.merchant_id or _ALL]


def _view(ring: Any) -> Observation | None:
    """The last minute of a scope: merchants have 1-minute observations, others 10-second ones."""
    if not ring:
        return None
    last: Observation = ring[-1]
    if last.scope.merchant_id is not None:
        return last
    rows = list(ring)[-_WINDOWS_PER_VIEW:]
    return Observation(
        last.scope,
        rows[0].start_ms,
        last.end_ms,
        sum(o.attempts for o in rows),
        sum(o.successes for o in rows),
        sum(o.amount for o in rows),
        0.0,
        0.0,
        sum(o.callbacks for o in rows),
        sum(o.callback_failures for o in rows),
        sum(o.callbacks_slow for o in rows),
        last.latency_p50,
        last.latency_p95,
        last.latency_p99,
        sum(o.complaints_paid_not_updated for o in rows),
        sum(o.complaints_charged_twice for o in rows),
        sum(o.complaints_refund for o in rows),
        sum(o.complaints_other for o in rows),
        sum(o.stuck for o in rows),
        sum(o.overdue for o in rows),
    )


class EngineCollector(Collector):
    """Reads an engine (and optionally the banner and the dispatcher) at scrape time."""

    def __init__(
        self,
        engine: Callable[[], Engine | None],
        banner: Any = None,
        dispatcher: Any = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._banner = banner
        self._dispatcher = dispatcher
        self._wall_clock = wall_clock

    def collect(self) -> Iterator[Metric]:
        engine = self._engine()
        if engine is not None:
            with engine.lock:
                yield from self._engine_metrics(engine)
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

    def _engine_metrics(self, engine: Engine) -> Iterator[Metric]:
        stats = engine.stats
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
        watermark = max(engine.windows.watermark, 0) / 1000
        yield GaugeMetricFamily("paypulse_watermark_timestamp_seconds", "Event-time watermark.", watermark)
        if watermark:
            yield GaugeMetricFamily(
                "paypulse_processing_lag_seconds",
                "Wall time minus watermark.",
                self._wall_clock() - watermark,
            )
        yield from self._totals(engine)
        yield from self._windows(engine)
        scores = GaugeMetricFamily(
            "paypulse_detector_score", "Detector score in [0, 1].", labels=["kind", "channel", "merchant"]
        )
        for (kind, scope), score in sorted(
            engine.scores.items(), key=lambda kv: (kv[0][0], *_labels(kv[0][1]))
        ):
            scores.add_metric([kind, *_labels(scope)], score)
        yield scores
        firing = GaugeMetricFamily(
            "paypulse_alerts_firing", "Alerts firing.", labels=["kind", "channel", "merchant", "severity"]
        )
        for alert in engine.firing():
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
        by_channel: dict[str, int] = {}
        for order in engine.stuck.stuck_now.values():
            by_channel[order.channel] = by_channel.get(order.channel, 0) + 1
        stuck.add_metric([_ALL, _ALL], sum(by_channel.values()))
        for channel, n in sorted(by_channel.items()):
            stuck.add_metric([channel, _ALL], n)
        yield stuck

    def _totals(self, engine: Engine) -> Iterator[Metric]:
        payments = CounterMetricFamily("paypulse_payments", "Payments.", labels=["channel", "status"])
        amount = CounterMetricFamily(
            "paypulse_payment_amount", "Amount of payments, CNY.", labels=["channel"]
        )
        callbacks = CounterMetricFamily("paypulse_callbacks", "Callbacks.", labels=["channel", "status"])
        complaints = CounterMetricFamily("paypulse_complaints", "Complaints.", labels=["channel", "category"])
        for channel, t in sorted(engine.totals.items()):
            payments.add_metric([channel, "succeeded"], t.successes)
            payments.add_metric([channel, "failed"], t.attempts - t.successes)
            amount.add_metric([channel], t.amount)
            callbacks.add_metric([channel, "processed"], t.callbacks - t.callback_failures)
            callbacks.add_metric([channel, "failed"], t.callback_failures)
            for category in COMPLAINT_CATEGORIES:
                complaints.add_metric([channel, category], getattr(t, f"complaints_{category}"))
        yield from (payments, amount, callbacks, complaints)

    def _windows(self, engine: Engine) -> Iterator[Metric]:
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
        for scope, ring in sorted(engine.history.items(), key=lambda kv: _labels(kv[0])):
            view = _view(ring)
            if view is None:
                continue
            labels = _labels(scope)
            per_min = 1 / max(view.minutes, 1e-9)
            if view.success_rate is not None:
                success.add_metric(labels, view.success_rate)
            volume.add_metric(labels, view.attempts * per_min)
            money.add_metric(labels, view.amount * per_min)
            expected = engine.volume_baseline(scope)
            if expected is not None:
                baseline.add_metric(labels, expected)
            for q, value in (
                ("0.5", view.latency_p50),
                ("0.95", view.latency_p95),
                ("0.99", view.latency_p99),
            ):
                if value is not None:
                    latency.add_metric([*labels, q], value)
            if view.callbacks:
                cb_failed.add_metric(labels, view.callback_failures / view.callbacks)
                cb_slow.add_metric(labels, view.callbacks_slow / view.callbacks)
            for category in COMPLAINT_CATEGORIES:
                complaints.add_metric([*labels, category], getattr(view, f"complaints_{category}") * per_min)
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
