"""Payments of one block: when they happen, where, for how much, and whether they succeed.

Arrivals are Poisson per channel and second, at the rate :class:`~benchmarks.world.traffic.Traffic`
expects times whatever incidents do to it; each payment goes to a merchant that uses its channel,
costs a lognormal price around that merchant's median, and succeeds with the channel's rate plus
the merchant's offset, less any incident's drop. Failures carry an ordinary decline code, except
the share an incident adds, which fails with the provider's system error.
"""

from __future__ import annotations

import numpy as np

from benchmarks.world.channels import CHANNELS, ERROR_CODES, ERROR_WEIGHTS, SUCCESS
from benchmarks.world.incidents import Incident
from benchmarks.world.merchants import Merchants
from benchmarks.world.records import Payments
from benchmarks.world.traffic import Traffic

__all__ = ["draw_payments"]


def draw_payments(
    traffic: Traffic,
    merchants: Merchants,
    incidents: list[Incident],
    t0_ms: int,
    t1_ms: int,
    first_order: int,
    rng: np.random.Generator,
) -> Payments:
    """Every payment between ``t0_ms`` and ``t1_ms`` in time order, numbered from ``first_order``."""
    starts = np.arange(t0_ms, t1_ms, 1000, dtype=np.int64)
    widths = np.minimum(starts + 1000, t1_ms) - starts
    rate = traffic.expected(starts + widths // 2)
    for incident in incidents:
        factor = incident.volume(starts + widths // 2)
        if factor is not None:
            rate = rate * factor
    counts = rng.poisson(rate * (widths / 1000.0)).ravel()
    n_seconds = len(starts)
    channel = np.repeat(np.repeat(np.arange(len(CHANNELS)), n_seconds), counts)
    second = np.repeat(np.tile(np.arange(n_seconds), len(CHANNELS)), counts)
    ts = starts[second] + (rng.random(len(second)) * widths[second]).astype(np.int64)
    order = np.argsort(ts, kind="stable")
    ts, channel = ts[order], channel[order]
    n = len(ts)
    merchant = merchants.pick(channel, rng)
    cents = np.rint(
        np.exp(merchants.log_price[merchant] + merchants.price_sigma[merchant] * rng.standard_normal(n)) * 100
    )
    pay = Payments(
        ts_ms=ts,
        channel=channel,
        merchant=merchant,
        order=first_order + np.arange(n, dtype=np.int64),
        cents=np.maximum(cents, 1).astype(np.int64),
        ok=np.zeros(n, dtype=bool),
        error=np.full(n, -1, dtype=np.int64),
    )
    _settle(pay, merchants, incidents, rng)
    for incident in incidents:
        incident.reprice(pay, rng)
    return pay


def _settle(pay: Payments, merchants: Merchants, incidents: list[Incident], rng: np.random.Generator) -> None:
    """Draw each payment's outcome and, for a failure, its code."""
    n = len(pay)
    usual = np.clip(SUCCESS[pay.channel] + merchants.offset[pay.merchant], 0.5, 0.999)
    drop = np.zeros(n)
    for incident in incidents:
        extra = incident.success_drop(pay)
        if extra is not None:
            drop += extra
    p_ok = np.clip(usual - drop, 0.0, 0.999)
    pay.ok = rng.random(n) < p_ok
    failed = ~pay.ok
    pay.error[failed] = rng.choice(len(ERROR_CODES), size=int(failed.sum()), p=ERROR_WEIGHTS)
    # of the failures, the incident's share fails with the provider's own error
    p_fail = np.maximum(1.0 - p_ok, 1e-9)
    from_incident = failed & (rng.random(n) < drop / p_fail)
    pay.error[from_incident] = len(ERROR_CODES)
