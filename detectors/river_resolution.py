"""A series' unit of change: the floor under every error scale of the series scorer.

An error scale learned as an exponentially weighted mean of residuals shrinks without limit while a
series repeats one value, and a robust (clipped) scale can then grow back by only a few percent a
point. A count that sat at 0 for an hour has not become infinitely precise, yet against such a
scale its next 1 reads as a million scales, the calibration learns those as typical and real
bursts no longer stand out (14 of NAB's 58 series went blind this way). The floor is a low quantile
of the nonzero steps between consecutive values: 1 for a count, the measurement step for a
quantised gauge, and for a continuous series a value far below its noise, where it changes nothing.

The quantile is tracked in log space by a stochastic estimate: a step below it pulls it down by
``rate * (1 - q)``, a step above pushes it up by ``rate * q``, so it settles where a share ``q`` of
the steps fall below it. A low quantile, not the smallest step ever seen: two values that happen to
lie close together once must not shrink the unit for good. It starts as the smallest of the first
``start`` steps (the least of 20 draws sits near their 5th percentile) and is used from then on.

>>> unit = Resolution()
>>> for i in range(500):
...     unit.learn(abs(float((i * 7) % 5 - 2)))  # steps of 0, 1 and 2
>>> round(unit.value, 1), unit.floor(1e-9) == unit.value, unit.floor(5.0)
(1.0, True, 5.0)
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["Resolution"]


class Resolution:
    """A low quantile ``q`` of a series' nonzero steps; two numbers of state."""

    def __init__(self, *, q: float = 0.05, rate: float = 0.05, start: int = 20) -> None:
        self._down = math.exp(-rate * (1.0 - q))
        self._up = math.exp(rate * q)
        self.start = start
        self.reset()

    def reset(self) -> None:
        """Forget every step seen."""
        self.value = math.inf
        self.steps = 0

    def learn(self, step: float) -> None:
        """Take the absolute step between two consecutive values; a zero step says nothing."""
        if step <= 0.0:
            return
        self.steps += 1
        if self.steps <= self.start:
            self.value = min(self.value, step)
        else:
            self.value *= self._down if step < self.value else self._up

    def floor(self, default: float) -> float:
        """The larger of ``default`` and the unit of change, once enough steps have been seen."""
        return self.value if self.steps >= self.start and self.value > default else default

    def snapshot(self) -> list[Any]:
        """``[value or None, steps]``, plain data."""
        return [self.value if self.value < math.inf else None, self.steps]

    def restore(self, state: list[Any]) -> None:
        """Load a :meth:`snapshot`; raises ``TypeError`` or ``ValueError`` on malformed data."""
        value, steps = state
        self.value = math.inf if value is None else float(value)
        self.steps = int(steps)
