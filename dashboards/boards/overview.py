"""The "Payments overview" board: is paying working right now, per channel?

It reads the window gauges at ``merchant="all"`` (whole channels) next to the success ratio
recorded from the counters, so a detector's view and the raw counts can be compared on one
graph. The detector and alert panels at the bottom show why PayPulse did or did not alert.
"""

from __future__ import annotations

from typing import Any

from dashboards.boards._grafana import Board, Target, stat, table, timeseries

__all__ = ["UID", "build"]

UID = "paypulse-overview"
_CHANNELS = 'merchant="all", channel!="all"'


def build() -> dict[str, Any]:
    """The board's dashboard JSON."""
    board = Board(UID, "Payments overview", "Payment health per channel, from PayPulse's 1-minute windows.")
    board.row("Now")
    board.add(
        stat(
            "Success ratio, all channels",
            Target('paypulse_success_ratio{channel="all", merchant="all"}'),
            unit="percentunit",
            thresholds=((0.0, "red"), (0.9, "orange"), (0.95, "green")),
        ),
        w=6,
        h=4,
    )
    board.add(
        stat("Payments per minute", Target('paypulse_payments_per_minute{channel="all", merchant="all"}')),
        w=6,
        h=4,
    )
    board.add(
        stat(
            "Stuck payments",
            Target('paypulse_stuck_payments{channel="all", merchant="all"}'),
            description="Paid orders without a processed callback past the timeout.",
            thresholds=((1, "orange"), (20, "red")),
        ),
        w=6,
        h=4,
    )
    board.add(
        stat("Status page banner", Target("max(paypulse_banner_on)"), thresholds=((1, "red"),)),
        w=6,
        h=4,
    )

    board.row("Payments")
    board.add(
        timeseries(
            "Success ratio per channel",
            Target(f"paypulse_success_ratio{{{_CHANNELS}}}", "{{channel}}"),
            Target("channel:paypulse_payment_success:ratio_rate5m", "{{channel}} (counters, 5m)"),
            unit="percentunit",
            max_value=1,
            description="Last closed 1-minute window, and the 5-minute ratio from the payment counters.",
        )
    )
    board.add(
        timeseries(
            "Payments per minute vs seasonal baseline",
            Target(f"paypulse_payments_per_minute{{{_CHANNELS}}}", "{{channel}}"),
            Target(f"paypulse_volume_baseline_per_minute{{{_CHANNELS}}}", "{{channel}} baseline"),
            min_value=0,
            description="A gap between a channel and its baseline is what the volume detectors judge.",
        )
    )
    board.add(
        timeseries(
            "Amount per minute",
            Target(f"paypulse_amount_per_minute{{{_CHANNELS}}}", "{{channel}}"),
            unit="currencyCNY",
            min_value=0,
            stack=True,
        )
    )
    board.add(
        timeseries(
            "Payments per second (counters)",
            Target("channel:paypulse_payments:rate5m", "{{channel}}"),
            unit="reqps",
            min_value=0,
            stack=True,
        )
    )

    board.row("Callbacks")
    board.add(
        timeseries(
            "Callback latency p50 / p95 / p99",
            Target(f"paypulse_callback_latency_seconds{{{_CHANNELS}}}", "{{channel}} q{{quantile}}"),
            unit="s",
            min_value=0,
            description="Callback arrival minus paid_at.",
        )
    )
    board.add(
        timeseries(
            "Callback failure and delayed ratio",
            Target(f"paypulse_callback_failure_ratio{{{_CHANNELS}}}", "{{channel}} failed"),
            Target(f"paypulse_callback_delayed_ratio{{{_CHANNELS}}}", "{{channel}} delayed"),
            unit="percentunit",
            min_value=0,
        )
    )

    board.row("Complaints and stuck payments")
    board.add(
        timeseries(
            "Complaints per minute by category",
            Target(f"sum by (category) (paypulse_complaints_per_minute{{{_CHANNELS}}})", "{{category}}"),
            min_value=0,
            stack=True,
        ),
        w=8,
    )
    board.add(
        table(
            "Complaints in the last hour",
            Target('sum by (channel, category) (increase(paypulse_complaints_total{channel!="all"}[1h]))'),
            hide=("Time",),
            description="From the complaint counters, per channel and category.",
        ),
        w=8,
    )
    board.add(
        timeseries(
            "Stuck payments per channel",
            Target(f"paypulse_stuck_payments{{{_CHANNELS}}}", "{{channel}}"),
            min_value=0,
        ),
        w=8,
    )

    board.row("Detectors and alerts")
    board.add(
        table(
            "Alerts firing",
            Target("paypulse_alerts_firing > 0"),
            hide=("Time", "Value", "__name__", "instance", "job"),
            description="PayPulse's own alerts that are firing now, per kind and scope.",
        )
    )
    board.add(
        timeseries(
            "Detector scores",
            Target(
                'max by (kind, channel) (paypulse_detector_score{merchant="all"})', "{{kind}} {{channel}}"
            ),
            unit="percentunit",
            min_value=0,
            max_value=1,
            description="1 is most abnormal; a detector fires after warm-up, volume guard and hysteresis.",
        )
    )
    return board.to_json()
