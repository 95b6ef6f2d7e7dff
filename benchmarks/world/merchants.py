"""The shop's merchants: a few big ones and a long tail, each with its own habits.

Sizes are lognormal with a wide spread (σ = 1.7), so out of 300 merchants the largest carries
about a tenth of the traffic and half of them together less than a tenth. Each merchant has a
success-rate offset (most within about ±1 point, one in seven 1.5-3 points off), a channel mix
(six in ten take most of their payments through one channel, the rest spread theirs) and a ticket
size: a lognormal price with its own median (6 to 600 CNY) and spread.
"""

from __future__ import annotations

import numpy as np

from benchmarks.world.channels import CHANNELS, SHARES

__all__ = ["Merchants"]


class Merchants:
    """``count`` merchants drawn from ``rng``; arrays are indexed by merchant."""

    def __init__(self, count: int, rng: np.random.Generator) -> None:
        n_channels = len(CHANNELS)
        self.ids = [f"mch{n:04d}" for n in rng.permutation(count) + 1]
        self.size = rng.lognormal(0.0, 1.7, size=count)
        self.size /= self.size.sum()
        focused = rng.random(count) < 0.6
        primary = rng.choice(n_channels, size=count, p=SHARES)
        spread = rng.dirichlet(SHARES * 6, size=count)
        mix = np.where(focused[:, None], 0.12 * spread, spread)
        mix[np.arange(count), primary] += np.where(focused, 0.88, 0.0)
        self.mix = mix / mix.sum(axis=1, keepdims=True)
        outlier = rng.random(count) < 0.15
        self.offset = np.where(
            outlier,
            rng.choice([-1.0, 1.0], size=count) * rng.uniform(0.015, 0.03, size=count),
            rng.normal(0.0, 0.006, size=count),
        )
        self.log_price = rng.uniform(np.log(6.0), np.log(600.0), size=count)
        self.price_sigma = rng.uniform(0.5, 1.1, size=count)
        # who pays through channel c: P(merchant | channel) ∝ size x the merchant's share of c
        weights = self.size[:, None] * self.mix
        self.by_channel = (weights / weights.sum(axis=0, keepdims=True)).T.copy()
        self._cumulative = np.cumsum(self.by_channel, axis=1)
        self._cumulative[:, -1] = 1.0

    def pick(self, channel: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A merchant for each payment, given its channel."""
        out = np.empty(channel.shape, dtype=np.int64)
        u = rng.random(channel.shape)
        for c in range(len(CHANNELS)):
            sel = channel == c
            out[sel] = np.searchsorted(self._cumulative[c], u[sel], side="right")
        return np.minimum(out, len(self.ids) - 1)

    def largest(self, n: int) -> np.ndarray:
        """Indices of the ``n`` merchants with the most payments, largest first."""
        return np.argsort(-self.volume_share(), kind="stable")[:n]

    def volume_share(self) -> np.ndarray:
        """Each merchant's share of all payments."""
        return SHARES @ self.by_channel
