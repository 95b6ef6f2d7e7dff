"""The "Merchants" board: one merchant, or a few, across the same signals as the overview.

``$merchant`` lists the tracked top-K merchants plus ``other``, the pooled long tail, and
``$channel`` narrows to a channel (``all`` is the merchant over every channel). Support staff
open it from an alert's scope to see whether one merchant or the whole channel is hurting.
"""

from __future__ import annotations

from typing import Any

from dashboards.boards._grafana import Board, Selector, Target, query_variable, table, zero_based

__all__ = ["UID", "build"]

UID = "paypulse-merchants"
_MERCHANTS = Selector('channel=~"$channel", merchant=~"$merchant"', "{{merchant}} {{channel}}")


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
    board.section(
        "Payments",
        _MERCHANTS.success_ratio("Success ratio"),
        zero_based(
            "Payments per minute vs seasonal baseline",
            _MERCHANTS.target("paypulse_payments_per_minute"),
            _MERCHANTS.target("paypulse_volume_baseline_per_minute", "baseline"),
        ),
        zero_based("Amount per minute", _MERCHANTS.target("paypulse_amount_per_minute"), unit="currencyCNY"),
        table(
            "Busiest merchants now",
            Target('topk(10, paypulse_payments_per_minute{channel=~"$channel", merchant!="all"})'),
            hide=("Time", "__name__", "instance", "job"),
            description="Payments in the last window; 'other' is the pooled long tail.",
        ),
    )
    board.section(
        "Callbacks",
        zero_based(
            "Callback latency p95 / p99",
            _MERCHANTS.target(
                "paypulse_callback_latency_seconds", "q{{quantile}}", ', quantile=~"0.95|0.99"'
            ),
            unit="s",
        ),
        _MERCHANTS.callback_ratios(),
    )
    board.section(
        "Complaints, stuck payments and detectors",
        _MERCHANTS.complaints_by_category(),
        zero_based("Stuck payments", _MERCHANTS.target("paypulse_stuck_payments")),
        zero_based(
            "Detector scores",
            Target(_MERCHANTS("paypulse_detector_score"), f"{{{{kind}}}} {_MERCHANTS.legend}"),
            unit="percentunit",
            max_value=1,
        ),
        w=8,
    )
    board.add(
        table(
            "Alerts firing for these merchants",
            Target(f"{_MERCHANTS('paypulse_alerts_firing')} > 0"),
            hide=("Time", "Value", "__name__", "instance", "job"),
        ),
        w=24,
        h=6,
    )
    return board.to_json()
