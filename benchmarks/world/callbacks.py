"""Callbacks: the provider's notifications of succeeded payments, with retries.

Most succeeded payments get one (98.5%). A delivery reaches the shop after a lognormal latency
(median 2-6 s by channel) or, for 2% of them, after a slow path around 25 s. The shop fails to
process a small share of deliveries; the provider retries those after 10 s, 30 s, 90 s, 5 and
15 minutes, each retry a new delivery that may fail again. Incidents add delays to first
deliveries, failures to attempts, or lose deliveries outright (and with them the retries).
"""

from __future__ import annotations

import numpy as np

from benchmarks.world.channels import (
    CALLBACK_COVERAGE,
    CALLBACK_FAILURE,
    CALLBACK_MEDIAN_S,
    CALLBACK_SIGMA,
    CALLBACK_TAIL_SHARE,
    RETRY_AFTER_S,
)
from benchmarks.world.incidents import Incident
from benchmarks.world.records import Callbacks, Payments, concat, take

__all__ = ["draw_callbacks"]


def draw_callbacks(pay: Payments, incidents: list[Incident], rng: np.random.Generator) -> Callbacks:
    """Every delivery attempt for the succeeded payments in ``pay``, in no particular order."""
    sent = pay.ok & (rng.random(len(pay)) < CALLBACK_COVERAGE)
    n = int(sent.sum())
    channel = pay.channel[sent]
    latency_s = np.exp(np.log(CALLBACK_MEDIAN_S[channel]) + CALLBACK_SIGMA[channel] * rng.standard_normal(n))
    slow = rng.random(n) < CALLBACK_TAIL_SHARE
    latency_s[slow] = np.exp(np.log(25.0) + 0.6 * rng.standard_normal(int(slow.sum())))
    paid = pay.ts_ms[sent]
    current = Callbacks(
        ts_ms=paid + np.maximum(latency_s * 1000, 150).astype(np.int64),
        paid_ms=paid,
        channel=channel,
        merchant=pay.merchant[sent],
        order=pay.order[sent],
        attempt=np.zeros(n, dtype=np.int64),
        ok=np.ones(n, dtype=bool),
    )
    for incident in incidents:
        extra = incident.delay(current, rng)
        if extra is not None:
            current.ts_ms = current.ts_ms + extra.astype(np.int64)
    delivered = []
    for attempt in range(len(RETRY_AFTER_S) + 1):
        current = take(current, ~_lost(current, incidents))
        p_fail = CALLBACK_FAILURE[current.channel].copy()
        for incident in incidents:
            extra = incident.failure(current)
            if extra is not None:
                p_fail += extra
        current.ok = rng.random(len(current)) >= p_fail
        delivered.append(current)
        if attempt == len(RETRY_AFTER_S):
            break
        current = take(current, ~current.ok)
        wait_ms = RETRY_AFTER_S[attempt] * 1000 * rng.uniform(0.9, 1.3, len(current))
        current.ts_ms = current.ts_ms + wait_ms.astype(np.int64)
        current.attempt = current.attempt + 1
    return concat(delivered)


def _lost(cb: Callbacks, incidents: list[Incident]) -> np.ndarray:
    lost = np.zeros(len(cb), dtype=bool)
    for incident in incidents:
        mask = incident.lost(cb)
        if mask is not None:
            lost |= mask
    return lost
