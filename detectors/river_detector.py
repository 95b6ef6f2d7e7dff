"""A River model on each scope's success-rate series, exported as an anomaly score.

The sequential tests decide alerts; this gives dashboards a model-agnostic second opinion per
scope, and is the seam where River's online models plug into the engine. River's
``GaussianScorer`` keeps a rolling Gaussian of recent windows; its raw score ``2|F(x) - 1/2|``
saturates near 1 on plain noise, so it is mapped to ``-log10(tail probability) / 6``: 0 for
ordinary windows, 1 at about five standard deviations. A near-constant series (a channel that
never fails) has no spread to judge by, so it scores 0 until the window varies.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from river import anomaly

from detectors.protocol import Observation, Verdict, WindowsOnly

__all__ = ["RiverScoreDetector"]

_MIN_SPREAD = 1e-9


class RiverScoreDetector(WindowsOnly):
    """Scores each window's value against River's rolling Gaussian; never fires by itself."""

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
        self.model = anomaly.GaussianScorer(window_size=window_size, grace_period=grace_period)

    def _score(self, x: float | None) -> float:
        rolling = self.model.gaussian
        if x is None or len(rolling.window) < self.grace_period:
            return 0.0
        # a rolling variance of identical values can come out a hair below zero, and its square
        # root (River's sigma) complex: no spread, nothing to score
        sigma = rolling.obj.sigma
        if not isinstance(sigma, float) or sigma < _MIN_SPREAD:
            return 0.0
        tail = max(1.0 - self.model.score_one(None, x), 1e-12)
        return min(-math.log10(tail) / 6.0, 1.0)

    def assess(self, obs: Observation) -> tuple[float, bool]:
        return self._score(self.value(obs)), False

    def score(self, obs: Observation) -> Verdict:
        x = self.value(obs)
        mean = self.model.gaussian.obj.mu if len(self.model.gaussian.window) else 0.0
        score = self._score(x)
        return Verdict(
            kind=self.kind,
            score=score,
            firing=False,
            started_at_ms=None,
            value=x if x is not None else mean,  # too few payments to measure: report the expectation
            baseline=mean,
            reason=f"river GaussianScorer score {score:.2f}",
        )

    def update(self, obs: Observation) -> None:
        x = self.value(obs)
        if x is not None:
            self.model.learn_one(None, x)

    def snapshot(self) -> dict[str, Any]:
        """The rolling window's values: plain data, replayed into a fresh model on restore."""
        return {"v": 1, "window": [args[0] for args, _kwargs in self.model.gaussian.window]}

    def restore(self, state: dict[str, Any]) -> None:
        self.model = anomaly.GaussianScorer(window_size=self.window_size, grace_period=self.grace_period)
        for x in state["window"]:
            self.model.learn_one(None, x)
