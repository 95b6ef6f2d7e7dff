"""Every metric PayPulse exposes on ``/metrics``, as data.

This catalogue is the one place the metric names live. The exposition code, the Prometheus
rules and the Grafana boards are all checked against it by tests, so a renamed metric breaks a
test instead of silently emptying a panel or muting an alert.

Label value conventions: ``"all"`` is the aggregate over that label (``merchant="all"`` is the
whole channel), ``"other"`` pools the merchants beyond the tracked top-K, so label sets stay
bounded. Window gauges come from the last closed 1-minute roll-up, in event time.

A closed label's values are not written here but taken from the code that produces them (the
dead-letter reasons, the alert kinds, severities and statuses, the delivery outcomes), so a rule
or a board that matches a value the exporter never emits fails a test
(``tests/unit/test_metric_labels_agree.py``) instead of silently matching nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal, get_args

from alerting.delivery.dispatcher import OUTCOMES
from kernel.alerts import KINDS, UNSCORED_KINDS, Severity, Status
from kernel.errors import REJECT_REASONS
from kernel.events import COMPLAINT_CATEGORIES

__all__ = [
    "METRICS",
    "SCORE_ONLY_KINDS",
    "Metric",
    "MetricType",
    "by_name",
    "metric_names",
    "metrics_in",
    "series_names",
]

MetricType = Literal["counter", "gauge", "histogram"]

_SCOPE = ("channel", "merchant")

#: Detectors whose score is exported for dashboards but never alerts (River's model over the
#: success rate, ``detectors/suite.py``): ``paypulse_detector_score{kind}`` has these besides
#: :data:`~kernel.alerts.KINDS`.
SCORE_ONLY_KINDS: Final = ("success_rate_anomaly",)


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric family: its exposed name, type, help text and label names.

    ``values`` lists the closed label sets (label name, allowed values); a label not listed
    there takes values from the data (channels, merchants, routes).
    """

    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...] = ()
    values: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def values_of(self, label: str) -> tuple[str, ...] | None:
        """The allowed values of ``label``, or ``None`` when they come from the data.

        >>> by_name("paypulse_payments_total").values_of("status")
        ('succeeded', 'failed')
        >>> by_name("paypulse_payments_total").values_of("channel") is None
        True
        """
        for name, allowed in self.values:
            if name == label:
                return allowed
        return None

    @property
    def series(self) -> tuple[str, ...]:
        """The sample names a scrape yields for this family.

        A histogram is three series in PromQL, so a query for ``..._bucket`` is a query for it.

        >>> by_name("paypulse_batch_duration_seconds").series
        ('paypulse_batch_duration_seconds_bucket', 'paypulse_batch_duration_seconds_sum', \
'paypulse_batch_duration_seconds_count')
        """
        if self.type == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


METRICS: Final[tuple[Metric, ...]] = (
    # Intake.
    Metric(
        "paypulse_events_accepted_total",
        "counter",
        "Events parsed and accepted, by event type.",
        ("type",),
        (("type", ("payment", "callback", "complaint")),),
    ),
    Metric(
        "paypulse_events_rejected_total",
        "counter",
        "Lines dead-lettered, by reason.",
        ("reason",),
        (("reason", REJECT_REASONS),),
    ),
    Metric("paypulse_events_duplicate_total", "counter", "Events dropped as duplicates of an event_id seen."),
    Metric(
        "paypulse_watermark_timestamp_seconds",
        "gauge",
        "Event-time watermark, epoch seconds: every window before it is closed.",
    ),
    # Totals from the counters, for rates in PromQL.
    Metric(
        "paypulse_payments_total",
        "counter",
        "Payment attempts that reached a terminal state.",
        ("channel", "status"),
        (("status", ("succeeded", "failed")),),
    ),
    Metric("paypulse_payment_amount_total", "counter", "Amount of succeeded payments, CNY.", ("channel",)),
    Metric(
        "paypulse_callbacks_total",
        "counter",
        "Provider callbacks received.",
        ("channel", "status"),
        (("status", ("processed", "failed")),),
    ),
    Metric(
        "paypulse_complaints_total",
        "counter",
        "Customer complaints, by category.",
        ("channel", "category"),
        (("category", COMPLAINT_CATEGORIES),),
    ),
    # Window gauges: the last closed 1-minute roll-up.
    Metric("paypulse_success_ratio", "gauge", "Succeeded share of payments in the last window.", _SCOPE),
    Metric("paypulse_payments_per_minute", "gauge", "Payments in the last window.", _SCOPE),
    Metric("paypulse_amount_per_minute", "gauge", "Succeeded amount in the last window, CNY.", _SCOPE),
    Metric(
        "paypulse_volume_baseline_per_minute",
        "gauge",
        "Seasonal baseline of payments per minute for the last window.",
        _SCOPE,
    ),
    Metric(
        "paypulse_callback_latency_seconds",
        "gauge",
        "Callback latency quantiles (callback arrival minus paid_at) in the last window.",
        (*_SCOPE, "quantile"),
        (("quantile", ("0.5", "0.95", "0.99")),),
    ),
    Metric(
        "paypulse_callback_failure_ratio", "gauge", "Failed share of callbacks in the last window.", _SCOPE
    ),
    Metric(
        "paypulse_callback_delayed_ratio",
        "gauge",
        "Share of callbacks later than the callback timeout in the last window.",
        _SCOPE,
    ),
    Metric(
        "paypulse_complaints_per_minute",
        "gauge",
        "Complaints in the last window, by category.",
        (*_SCOPE, "category"),
        (("category", COMPLAINT_CATEGORIES),),
    ),
    Metric(
        "paypulse_stuck_payments",
        "gauge",
        "Paid orders without a processed callback past the timeout, now.",
        _SCOPE,
    ),
    # Detectors and alerts.
    Metric(
        "paypulse_detector_score",
        "gauge",
        "Detector score in [0, 1]; higher is more abnormal.",
        ("kind", *_SCOPE),
        (("kind", (*(k for k in KINDS if k not in UNSCORED_KINDS), *SCORE_ONLY_KINDS)),),
    ),
    Metric(
        "paypulse_alerts_firing",
        "gauge",
        "1 while an alert of this kind and scope is firing.",
        ("kind", *_SCOPE, "severity"),
        (("kind", KINDS), ("severity", get_args(Severity))),
    ),
    Metric(
        "paypulse_alerts_total",
        "counter",
        "Alert state changes, by kind and status.",
        ("kind", "status"),
        (("kind", KINDS), ("status", get_args(Status))),
    ),
    Metric(
        "paypulse_notifications_total",
        "counter",
        "Notification attempts, by route and outcome.",
        ("route", "outcome"),
        (("outcome", OUTCOMES),),
    ),
    Metric("paypulse_outbox_pending", "gauge", "Notifications waiting in the outbox."),
    Metric(
        "paypulse_outbox_parked",
        "gauge",
        "Notifications parked after their last attempt failed.",
    ),
    # Status page banner.
    Metric("paypulse_banner_on", "gauge", "1 while the status page banner is shown."),
    Metric("paypulse_banner_override", "gauge", "1 while an operator override holds the banner."),
    # Engine health.
    Metric(
        "paypulse_processing_lag_seconds",
        "gauge",
        "Wall time minus the event-time watermark.",
    ),
    Metric("paypulse_batch_duration_seconds", "histogram", "Time to process one batch of events."),
)

_BY_NAME: Final = {m.name: m for m in METRICS}


def metric_names() -> tuple[str, ...]:
    """Names of every metric family in the catalogue, in catalogue order.

    >>> metric_names()[:2]
    ('paypulse_events_accepted_total', 'paypulse_events_rejected_total')
    >>> len(metric_names()) == len(set(metric_names()))
    True
    """
    return tuple(m.name for m in METRICS)


def series_names() -> frozenset[str]:
    """Every sample name a query may use: family names plus a histogram's ``_bucket``/``_sum``/``_count``.

    >>> "paypulse_batch_duration_seconds_bucket" in series_names()
    True
    """
    return frozenset(s for m in METRICS for s in m.series)


def by_name(name: str) -> Metric:
    """The catalogue entry for ``name``; ``KeyError`` names the unknown metric.

    >>> by_name("paypulse_outbox_pending").type
    'gauge'
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not in the PayPulse metric catalogue") from None


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_WORD = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)(\s*\()?")
_KEYWORDS: Final = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left"}
    | {"group_right", "inf", "nan", "atan2"}
)


def metrics_in(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, keywords and label names excluded).

    Good enough for our own expressions, which the tests also send to a real Prometheus to
    check their syntax; it lets a unit test pin every name to the catalogue without a server.

    >>> sorted(metrics_in('sum by (channel) (rate(paypulse_payments_total{status="ok"}[5m])) > 0.9'))
    ['paypulse_payments_total']
    >>> sorted(metrics_in('histogram_quantile(0.99, sum by (le) (rate(x_bucket[$__rate_interval])))'))
    ['x_bucket']
    >>> sorted(metrics_in('a:b:rate5m / on() group_left c and up == 0'))
    ['a:b:rate5m', 'c', 'up']
    """
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _LABEL_LISTS.sub(" ", text)
    text = re.sub(r"\$\w+", " ", text)
    names: set[str] = set()
    for match in _WORD.finditer(text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in _KEYWORDS:
            continue
        names.add(word)
    return names
