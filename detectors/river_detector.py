"""A River model on each scope's success-rate series, exported as an anomaly score.

The sequential tests decide alerts; this gives dashboards a model-agnostic second opinion per
scope, and is the seam where River's online models plug into the engine. It is River's
``GaussianScorer`` taken apart: a rolling variance (``utils.Rolling(stats.Var)``, as the scorer
keeps inside its ``proba.Gaussian``) of recent windows, and the Gaussian's two-sided tail. Built
from River's statistics directly, it does not load ``river.proba``, which imports ``scipy.stats``:
two seconds of start-up in every process that runs the engine, for one ``erf``.

The raw score ``2|F(x) - 1/2|`` saturates near 1 on plain noise, so it is mapped to
``-log10(tail probability) / 6``: 0 for ordinary windows, 1 at about five standard deviations. A
near-constant series (a channel that never fails) has no spread to judge by, so it scores 0 until
the window varies.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from river import stats, utils
from river.utils.math import norm_cdf

from detectors.protocol import Observation, Verdict, WindowsOnly

__all__ = ["RiverScoreDetector"]

_MIN_SPREAD = 1e-9


class RiverScoreDetector(WindowsOnly):
    """Scores each window's value against a rolling Gaussian; never fires by itself."""

    def __init__(
        self,
        kind: str,
        value: Callable[[Observation], float | None],
        *,
        window_size: int = 360,
        grace_period: int = 30,
    ) -> None:
        self.kind = kind
        self.value = value
        self.window_size = window_size
        self.grace_period = grace_period
        self.rolling = self._fresh()

    def _fresh(self) -> utils.Rolling:
        return utils.Rolling(stats.Var, window_size=self.window_size, ddof=1)

    def _score(self, x: float | None) -> float:
        rolling = self.rolling
        if x is None or len(rolling.window) < self.grace_period:
            return 0.0
        # a rolling variance of identical values can come out a hair below zero: no spread,
        # nothing to score
        variance = rolling.obj.get()
        if variance < 0:
            return 0.0
        sigma = variance**0.5
        if sigma < _MIN_SPREAD:
            return 0.0
        two_sided = 2 * abs(norm_cdf((x - rolling.obj.mean.get()) / sigma) - 0.5)
        tail = max(1.0 - two_sided, 1e-12)
        return min(-math.log10(tail) / 6.0, 1.0)

    def assess(self, obs: Observation) -> tuple[float, bool]:
        return self._score(self.value(obs)), False

    def score(self, obs: Observation) -> Verdict:
        x = self.value(obs)
        mean = self.rolling.obj.mean.get() if len(self.rolling.window) else 0.0
        score = self._score(x)
        return Verdict(
            kind=self.kind,
            score=score,
            firing=False,
            started_at_ms=None,
            value=x if x is not None else mean,  # too few payments to measure: report the expectation
            baseline=mean,
            reason=f"river rolling Gaussian score {score:.2f}",
        )

    def update(self, obs: Observation) -> None:
        x = self.value(obs)
        if x is not None:
            self.rolling.update(x)

    def snapshot(self) -> dict[str, Any]:
        """The rolling window's values: plain data, replayed into a fresh model on restore."""
        return {"v": 1, "window": [args[0] for args, _kwargs in self.rolling.window]}

    def restore(self, state: dict[str, Any]) -> None:
        self.rolling = self._fresh()
        for x in state["window"]:
            self.rolling.update(x)
