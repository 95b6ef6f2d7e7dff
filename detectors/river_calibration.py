"""From a raw anomaly statistic to a score in [0, 1] that means the same on any series.

A raw statistic (residual in scale units, as :class:`detectors.river_models.SeriesScorer` computes
it) is comparable across series only up to each series' own tails: a heavy-tailed series routinely
sees values that a Gaussian one never does. So the raw value is divided by a high quantile of the
series' own past raw values, and a logistic maps that ratio to [0, 1].

The quantile comes from a fixed log-spaced histogram of past raw values with exponential
forgetting: bounded memory, plain data in a snapshot, and old regimes fade. It is recomputed every
few learned points (it moves slowly) and never drops below ``ref_floor``, so a series that has been
quiet for a long time does not alarm on the first ordinary wobble. The logistic is shifted so that
0 maps to 0: "typical for this series" sits near 0 and a raw value ``midpoint`` times the typical
extreme scores 0.5. During the first ``warmup`` points every score is 0, and the reference is
inflated by ``1 + warmup / n`` afterwards, so a new series starts quiet rather than at 1.

>>> calibration = ScoreCalibration(quantile=0.99, half_life=2000, ref_floor=3.0, midpoint=1.5,
...                                steepness=6.0, warmup=10)
>>> calibration.score(100.0, n=5), calibration.score(0.0, n=100), calibration.score(30.0, n=100) > 0.99
(0.0, 0.0, True)
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["BINS", "RAW_TOP", "ScoreCalibration"]

# Histogram of log2(raw) from _LO to _LO + BINS / _PER_OCTAVE, i.e. 1/8 .. ~2^13.
_LO = -3.0
_PER_OCTAVE = 4
BINS = 64
#: The largest raw value the histogram tells apart (2^13); callers cap raw values here.
RAW_TOP = 2.0 ** (_LO + BINS / _PER_OCTAVE)
_REF_EVERY = 8  # recompute the calibration quantile every few learned points


class ScoreCalibration:
    """The forgetting histogram of past raw values and the logistic that turns a raw value into a score.

    Params are fixed at construction; ``bins``, ``weight``, ``total`` and ``ref`` are the learned
    state, a fixed size whatever the length of the series.
    """

    def __init__(
        self,
        *,
        quantile: float,
        half_life: int,
        ref_floor: float,
        midpoint: float,
        steepness: float,
        warmup: int,
    ) -> None:
        self.quantile = quantile
        self.ref_floor = ref_floor
        self.midpoint = midpoint
        self.steepness = steepness
        self.warmup = warmup
        self._growth = 2.0 ** (1.0 / half_life)
        self._zero = 1.0 / (1.0 + math.exp(steepness * midpoint))  # the logistic at 0, mapped to score 0
        self.reset()

    def reset(self) -> None:
        """Forget every raw value learned so far."""
        self.bins = [0.0] * BINS
        self.weight = 1.0
        self.total = 0.0
        self.ref = self.ref_floor

    def score(self, raw: float, n: int) -> float:
        """The score of ``raw`` after ``n`` learned points: 0 during warm-up, then the shifted logistic."""
        if n < self.warmup:
            return 0.0
        ratio = raw / (self.ref * (1.0 + self.warmup / n))
        return (1.0 / (1.0 + math.exp(-self.steepness * (ratio - self.midpoint))) - self._zero) / (
            1.0 - self._zero
        )

    def learn(self, raw: float, n: int) -> None:
        """Add ``raw`` (the ``n``-th learned point's statistic) with a weight that grows, so old ones fade."""
        if raw > 0:
            index = int((math.log2(raw) - _LO) * _PER_OCTAVE)
            index = 0 if index < 0 else BINS - 1 if index >= BINS else index
        else:
            index = 0
        self.bins[index] += self.weight
        self.total += self.weight
        self.weight *= self._growth
        if self.weight > 1e200:  # renormalise the growing weight (exponential forgetting)
            self.bins = [b / self.weight for b in self.bins]
            self.total /= self.weight
            self.weight = 1.0
        if n % _REF_EVERY == 0:
            self.ref = max(self.ref_floor, self.value_at(self.quantile))

    def value_at(self, q: float) -> float:
        """The raw value below which a share ``q`` of the (weighted) learned values lie."""
        target = q * self.total
        acc = 0.0
        for index, count in enumerate(self.bins):
            if acc + count >= target and count > 0:  # interpolate geometrically inside the bin
                return 2.0 ** (_LO + (index + (target - acc) / count) / _PER_OCTAVE)
            acc += count
        return RAW_TOP

    def snapshot(self) -> dict[str, Any]:
        """Learned state as plain JSON-able data."""
        return {"bins": list(self.bins), "weight": self.weight, "total": self.total, "ref": self.ref}

    def restore(self, state: dict[str, Any]) -> None:
        """Load a :meth:`snapshot`; raises ``KeyError``, ``TypeError`` or ``ValueError`` on malformed state.

        The caller checks ``len(bins) == BINS`` and wraps the errors, as part of its own state.
        """
        self.bins = [float(v) for v in state["bins"]]
        self.weight, self.total, self.ref = (
            float(state["weight"]),
            float(state["total"]),
            float(state["ref"]),
        )
