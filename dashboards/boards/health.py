"""The "PayPulse health" board: is the monitor itself keeping up?

A payment board that looks calm is only worth something if PayPulse is reading events, its
watermark moves and its notifications go out. This board shows those, and the signals the
PayPulse* alerting rules fire on.
"""

from __future__ import annotations

from typing import Any

from dashboards.boards._grafana import Board, Target, per_second, stat, zero_based

__all__ = ["UID", "build"]

UID = "paypulse-health"
_RATE = "$__rate_interval"
_BUCKETS = f"rate(paypulse_batch_duration_seconds_bucket[{_RATE}])"


def build() -> dict[str, Any]:
    """The board's dashboard JSON."""
    board = Board(
        UID, "PayPulse health", "Intake, event-time progress and notification delivery of PayPulse."
    )
    board.section(
        "Now",
        stat("Up", Target('up{job="paypulse"}', "{{instance}}"), thresholds=((0, "red"), (1, "green"))),
        stat(
            "Processing lag",
            Target("max(paypulse_processing_lag_seconds)"),
            unit="s",
            thresholds=((60, "orange"), (120, "red")),
        ),
        stat(
            "Outbox pending", Target("sum(paypulse_outbox_pending)"), thresholds=((1, "orange"), (50, "red"))
        ),
        stat(
            "Rejected share (5m)",
            Target("paypulse:events_rejected:ratio_rate5m"),
            unit="percentunit",
            thresholds=((0.001, "orange"), (0.01, "red")),
        ),
        w=6,
        h=4,
    )
    board.section(
        "Intake",
        per_second(
            "Events accepted per second",
            Target(f"sum by (type) (rate(paypulse_events_accepted_total[{_RATE}]))", "{{type}}"),
            stack=True,
        ),
        per_second(
            "Events rejected per second",
            Target(f"sum by (reason) (rate(paypulse_events_rejected_total[{_RATE}]))", "{{reason}}"),
            stack=True,
            description="Dead-lettered lines by reason; the dead-letter file holds the lines.",
        ),
        per_second(
            "Duplicates per second",
            Target(f"sum(rate(paypulse_events_duplicate_total[{_RATE}]))", "duplicates"),
        ),
        w=8,
    )
    board.section(
        "Event time",
        zero_based(
            "Watermark lag",
            Target("paypulse_processing_lag_seconds", "processing lag {{instance}}"),
            Target("time() - paypulse_watermark_timestamp_seconds", "watermark age {{instance}}"),
            unit="s",
            description="Wall time minus the event-time watermark; PayPulseLagging fires above 120 s.",
        ),
        zero_based(
            "Batch duration",
            *(
                Target(f"histogram_quantile({q}, sum by (le) ({_BUCKETS}))", f"p{label}")
                for q, label in (("0.5", "50"), ("0.99", "99"))
            ),
            Target(
                f"sum(rate(paypulse_batch_duration_seconds_sum[{_RATE}]))"
                f" / sum(rate(paypulse_batch_duration_seconds_count[{_RATE}]))",
                "mean",
            ),
            unit="s",
        ),
    )
    board.section(
        "Alerts and notifications",
        zero_based(
            "Notifications by route and outcome",
            Target(
                f"sum by (route, outcome) (increase(paypulse_notifications_total[{_RATE}]))",
                "{{route}} {{outcome}}",
            ),
            description="'retry' is a temporary failure the outbox retries; 'parked' needs a fixed route.",
        ),
        zero_based("Outbox pending", Target("paypulse_outbox_pending", "{{instance}}")),
        zero_based(
            "Alert state changes",
            Target(
                f"sum by (kind, status) (increase(paypulse_alerts_total[{_RATE}]))", "{{kind}} {{status}}"
            ),
        ),
        w=8,
    )
    board.add(
        zero_based(
            "Status page banner",
            Target("max(paypulse_banner_on)", "banner on"),
            Target("max(paypulse_banner_override)", "operator override"),
            max_value=1,
        ),
        w=24,
        h=6,
    )
    return board.to_json()
