"""Complaints: about one for every 1,200 payments, minutes to an hour after the payment.

At a peak of 4 payments/s that is one every 5 minutes in the evening, fewer at night. Most are
about refunds, orders still shown unpaid, or something else; a few about a double charge. Most
name their order, fewer the merchant.
"""

from __future__ import annotations

import numpy as np

from benchmarks.world.records import Complaints, Payments

__all__ = ["PER_PAYMENT", "draw_complaints"]

PER_PAYMENT = 1 / 1200
#: paid_not_updated, charged_twice, refund, other
_MIX = np.array([0.32, 0.06, 0.34, 0.28])
_MAX_DELAY_MS = 2 * 3_600_000


def draw_complaints(pay: Payments, rng: np.random.Generator) -> Complaints:
    """The complaints that the payments of one block will cause."""
    n = int(rng.poisson(len(pay) * PER_PAYMENT)) if len(pay) else 0
    about = rng.integers(len(pay), size=n) if n else np.zeros(0, dtype=np.int64)
    delay = np.minimum(np.exp(np.log(8 * 60_000) + rng.standard_normal(n)), _MAX_DELAY_MS)
    return Complaints(
        ts_ms=pay.ts_ms[about] + delay.astype(np.int64),
        channel=pay.channel[about],
        merchant=np.where(rng.random(n) < 0.4, pay.merchant[about], -1),
        order=np.where(rng.random(n) < 0.75, pay.order[about], -1),
        category=rng.choice(len(_MIX), size=n, p=_MIX),
    )
