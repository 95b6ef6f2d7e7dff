"""The "Merchants" board: one merchant, or a few, across the same signals as the overview.

``$merchant`` lists the tracked top-K merchants plus ``other``, the pooled long tail, and
``$channel`` narrows to a channel (``all`` is the merchant over every channel). Support staff
open it from an alert's scope to see whether one merchant or the whole channel is hurting.
"""

from __future__ import annotations

from typing import Any

from dashboards.boards._grafana import Board, Target, query_variable, table, timeseries

__all__ = ["UID", "build"]

UID = "paypulse-merchants"
_SCOPE = 'channel=~"$channel", merchant=~"$merchant"'
_LEGEND = "{{merchant}} {{channel}}"


def build() -> dict[str, Any]:
    """The board's dashboard JSON."""
    board = Board(
        UID,
        "Merchants",
        "Payment health per merchant; merchants beyond the tracked top-K are pooled as 'other'.",
    )
    board.variable(
        query_variable("channel", "Channel", 'paypulse_payments_per_minute{merchant!="all"}', "channel")
    )
    board.variable(
        query_variable(
            "merchant",
            "Merchant",
            'paypulse_payments_per_minute{merchant!="all", channel=~"$channel"}',
            "merchant",
        )
    )

    board.row("Payments")
    board.add(
        timeseries(
            "Success ratio",
            Target(f"paypulse_success_ratio{{{_SCOPE}}}", _LEGEND),
            unit="percentunit",
            max_value=1,
        )
    )
    board.add(
        timeseries(
            "Payments per minute vs seasonal baseline",
            Target(f"paypulse_payments_per_minute{{{_SCOPE}}}", _LEGEND),
            Target(f"paypulse_volume_baseline_per_minute{{{_SCOPE}}}", f"{_LEGEND} baseline"),
            min_value=0,
        )
    )
    board.add(
        timeseries(
            "Amount per minute",
            Target(f"paypulse_amount_per_minute{{{_SCOPE}}}", _LEGEND),
            unit="currencyCNY",
            min_value=0,
        )
    )
    board.add(
        table(
            "Busiest merchants now",
            Target('topk(10, paypulse_payments_per_minute{channel=~"$channel", merchant!="all"})'),
            hide=("Time", "__name__", "instance", "job"),
            description="Payments in the last window; 'other' is the pooled long tail.",
        )
    )

    board.row("Callbacks")
    board.add(
        timeseries(
            "Callback latency p95 / p99",
            Target(
                f'paypulse_callback_latency_seconds{{{_SCOPE}, quantile=~"0.95|0.99"}}',
                f"{_LEGEND} q{{{{quantile}}}}",
            ),
            unit="s",
            min_value=0,
        )
    )
    board.add(
        timeseries(
            "Callback failure and delayed ratio",
            Target(f"paypulse_callback_failure_ratio{{{_SCOPE}}}", f"{_LEGEND} failed"),
            Target(f"paypulse_callback_delayed_ratio{{{_SCOPE}}}", f"{_LEGEND} delayed"),
            unit="percentunit",
            min_value=0,
        )
    )

    board.row("Complaints, stuck payments and detectors")
    board.add(
        timeseries(
            "Complaints per minute by category",
            Target(f"sum by (category) (paypulse_complaints_per_minute{{{_SCOPE}}})", "{{category}}"),
            min_value=0,
            stack=True,
        ),
        w=8,
    )
    board.add(
        timeseries(
            "Stuck payments",
            Target(f"paypulse_stuck_payments{{{_SCOPE}}}", _LEGEND),
            min_value=0,
        ),
        w=8,
    )
    board.add(
        timeseries(
            "Detector scores",
            Target(f"paypulse_detector_score{{{_SCOPE}}}", f"{{{{kind}}}} {_LEGEND}"),
            unit="percentunit",
            min_value=0,
            max_value=1,
        ),
        w=8,
    )
    board.add(
        table(
            "Alerts firing for these merchants",
            Target(f"paypulse_alerts_firing{{{_SCOPE}}} > 0"),
            hide=("Time", "Value", "__name__", "instance", "job"),
        ),
        w=24,
        h=6,
    )
    return board.to_json()
