"""The "Payments overview" board: is paying working right now, per channel?

It reads the window gauges at ``merchant="all"`` (whole channels) next to the success ratio
recorded from the counters, so a detector's view and the raw counts can be compared on one
graph. The detector and alert panels at the bottom show why PayPulse did or did not alert.
"""

from __future__ import annotations

from typing import Any

from dashboards.boards._grafana import Board, Selector, Target, per_second, stat, table, zero_based

__all__ = ["UID", "build"]

UID = "paypulse-overview"
_CHANNELS = Selector('merchant="all", channel!="all"', "{{channel}}")
_TOTAL = Selector('channel="all", merchant="all"')


def build() -> dict[str, Any]:
    """The board's dashboard JSON."""
    board = Board(UID, "Payments overview", "Payment health per channel, from PayPulse's 1-minute windows.")
    board.section(
        "Now",
        stat(
            "Success ratio, all channels",
            Target(_TOTAL("paypulse_success_ratio")),
            unit="percentunit",
            thresholds=((0.0, "red"), (0.9, "orange"), (0.95, "green")),
        ),
        stat("Payments per minute", Target(_TOTAL("paypulse_payments_per_minute"))),
        stat(
            "Stuck payments",
            Target(_TOTAL("paypulse_stuck_payments")),
            description="Paid orders without a processed callback past the timeout.",
            thresholds=((1, "orange"), (20, "red")),
        ),
        stat("Status page banner", Target("max(paypulse_banner_on)"), thresholds=((1, "red"),)),
        w=6,
        h=4,
    )
    board.section(
        "Payments",
        _CHANNELS.success_ratio(
            "Success ratio per channel",
            Target("channel:paypulse_payment_success:ratio_rate5m", "{{channel}} (counters, 5m)"),
            description="Last closed 1-minute window, and the 5-minute ratio from the payment counters.",
        ),
        zero_based(
            "Payments per minute vs seasonal baseline",
            _CHANNELS.target("paypulse_payments_per_minute"),
            _CHANNELS.target("paypulse_volume_baseline_per_minute", "baseline"),
            description="A gap between a channel and its baseline is what the volume detectors judge.",
        ),
        zero_based(
            "Amount per minute",
            _CHANNELS.target("paypulse_amount_per_minute"),
            unit="currencyCNY",
            stack=True,
        ),
        per_second(
            "Payments per second (counters)",
            Target("channel:paypulse_payments:rate5m", "{{channel}}"),
            stack=True,
        ),
    )
    board.section(
        "Callbacks",
        zero_based(
            "Callback latency p50 / p95 / p99",
            _CHANNELS.target("paypulse_callback_latency_seconds", "q{{quantile}}"),
            unit="s",
            description="Callback arrival minus paid_at.",
        ),
        _CHANNELS.callback_ratios(),
    )
    board.section(
        "Complaints and stuck payments",
        _CHANNELS.complaints_by_category(),
        table(
            "Complaints in the last hour",
            Target('sum by (channel, category) (increase(paypulse_complaints_total{channel!="all"}[1h]))'),
            hide=("Time",),
            description="From the complaint counters, per channel and category.",
        ),
        zero_based("Stuck payments per channel", _CHANNELS.target("paypulse_stuck_payments")),
        w=8,
    )
    board.section(
        "Detectors and alerts",
        table(
            "Alerts firing",
            Target("paypulse_alerts_firing > 0"),
            hide=("Time", "Value", "__name__", "instance", "job"),
            description="PayPulse's own alerts that are firing now, per kind and scope.",
        ),
        zero_based(
            "Detector scores",
            Target(
                'max by (kind, channel) (paypulse_detector_score{merchant="all"})', "{{kind}} {{channel}}"
            ),
            unit="percentunit",
            max_value=1,
            description="1 is most abnormal; a detector fires after warm-up, volume guard and hysteresis.",
        ),
    )
    return board.to_json()
