"""Count detectors: volume drop and spike, complaint spikes, stuck payments.

Counts per minute are small numbers at night and on small channels, where a Gaussian z-score
lies: 0 complaints against an expected 0.2 is normal, 6 is not, and a z-score cannot tell.
So each trailing minute is tested exactly against a Poisson with the learned rate (scipy's
``pdtr`` / ``pdtrc``), and must also differ by a material ratio, because real traffic is
over-dispersed and a significant-but-tiny deviation is not an incident.

The expected rate is an exponentially weighted mean per window, learned only while the
detector is quiet, so an ongoing incident never becomes the new normal. With ``seasonal`` it is
the same time of day (or week) instead, once a day has been seen (:mod:`detectors.seasonal`),
scaled by how the last half hour compared with its own seasonal expectation: a day that runs
20% above last week is not an anomaly, a nightly maintenance dip seen every day is not either.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

from scipy.special import pdtr, pdtrc

from detectors.budget import AlarmBudget
from detectors.guards import Hysteresis
from detectors.protocol import Observation, Verdict, WindowsOnly
from detectors.seasonal import SeasonalProfile

__all__ = ["CountDetector", "poisson_tail"]


class _Judgement(NamedTuple):
    bad: bool
    observed: float  # over ``windows``
    expected: float
    score: float
    windows: int


def poisson_tail(count: int, mean: float, direction: Literal["up", "down"]) -> float:
    """P(X >= count) for "up", P(X <= count) for "down", X ~ Poisson(mean).

    >>> round(poisson_tail(6, 0.5, "up"), 6)
    1.4e-05
    >>> round(poisson_tail(0, 36.0, "down"), 20) < 1e-15
    True
    """
    if direction == "up":
        return 1.0 if count <= 0 else float(pdtrc(count - 1, mean))
    return float(pdtr(count, mean))


class CountDetector(WindowsOnly):
    """A trailing-window Poisson test of one count against its learned rate, with hysteresis."""

    def __init__(
        self,
        kind: str,
        count: Callable[[Observation], float],
        direction: Literal["up", "down"],
        *,
        span: int = 6,
        ratio: float = 2.0,
        min_count: int = 5,
        budget: AlarmBudget | None = None,
        floor_per_window: float = 0.0,
        fire_after: int = 2,
        resolve_after: int = 6,
        warmup_ms: int = 600_000,
        half_life_ms: int = 1_800_000,
        dispersion: float = 1.0,
        seasonal: SeasonalProfile | None = None,
        longer: tuple[int, ...] = (),
    ) -> None:
        self.kind = kind
        # variance / mean of the counts: payments come in bursts (a big merchant's batch, a
        # promotion push), so volume is tested as a quasi-Poisson with both sides scaled down
        self.dispersion = dispersion
        self.count = count
        self.direction = direction
        self.span = span  # windows in the trailing sum (6 x 10 s = one minute)
        # also judged over these longer spans, the most telling winning: a busy scope's outage
        # shows within the short span, a quiet one's needs the long spans' payments, and a rare
        # count (complaints) is judged on its rate over as long as its evidence needs
        self.spans = (span, *longer)
        self.ratio = ratio  # "up": observed >= ratio x expected; "down": observed <= expected / ratio
        self.min_count = min_count  # over the span: "up" at least this many, "down" this many expected
        self.budget = budget or AlarmBudget()
        self.floor_per_window = floor_per_window  # prior rate, so a zero baseline cannot make 1 an anomaly
        self.warmup_ms = warmup_ms
        self.half_life_ms = half_life_ms
        self.hysteresis = Hysteresis(fire_after, resolve_after)
        self.recent: deque[float] = deque(maxlen=max(self.spans))
        # per span, the sum of the last span - 1 kept counts: kept as they come, so a 15-minute span
        # costs what a 1-minute one does (counts are whole numbers: the sums are exact)
        self._tails = [0.0] * len(self.spans)
        self.mean = 0.0  # EW mean count per window
        self.profile = seasonal
        self.recent_usual: deque[float | None] = deque(maxlen=max(self.spans))  # the profile's, per window
        # EW sums of the count and of the profile's expectation over quiet windows: their ratio is
        # how today runs against the usual (the level)
        self.level = [0.0, 0.0, 0]  # observed, usual, ms learned
        self.learned_ms = 0
        self.started_ms: int | None = None
        self.bad_since_ms: int | None = None
        self._last_judge: tuple[Observation, _Judgement] | None = None

    def _judge(self, obs: Observation) -> _Judgement:
        """The trailing spans ending with ``obs``, judged; ``score`` then ``update`` on the same
        observation compute it once."""
        cached = self._last_judge
        if cached is not None and cached[0] is obs:
            return cached[1]
        result = self._compute_judge(obs)
        self._last_judge = (obs, result)
        return result

    @property
    def _seasonal_ready(self) -> bool:
        """The profile knows this scope's day and the level has been learned for a half-life."""
        return self.profile is not None and self.level[2] >= self.half_life_ms and self.level[1] > 0

    def _expected(self, windows: int, usual_kept: list[float | None] | None, usual: float | None) -> float:
        """Expected count over the trailing ``windows``: seasonal when known, else the trailing mean.
        ``usual_kept`` is the profile's expectation of each kept window, oldest first (None until the
        profile is ready), ``usual`` the current window's."""
        floor = self.floor_per_window * windows
        if usual_kept is not None and usual is not None:
            bases = [*usual_kept[max(len(usual_kept) - windows + 1, 0) :], usual]
            if None not in bases:
                observed, expected, _learned_ms = self.level
                return max(sum(bases) * observed / expected, floor)  # type: ignore[arg-type]
        return max(self.mean * windows, floor)

    def expected_per_window(self, ts_ms: int) -> float:
        """What a window starting at ``ts_ms`` is expected to count (the dashboards' baseline)."""
        usual = self.profile.expected(ts_ms) if self._seasonal_ready else None  # type: ignore[union-attr]
        if usual is None:
            return self.mean
        observed, expected, _learned_ms = self.level
        return usual * observed / expected

    def _usual(self, obs: Observation) -> float | None:
        return None if self.profile is None else self.profile.expected(obs.start_ms)

    def _compute_judge(self, obs: Observation) -> _Judgement:
        """The most telling of the spans. A span that cannot be material is skipped once the first
        span is judged: its judgement (not bad, score 0) never beats one already made, and for a
        rare count (complaints, stuck payments) that is most spans of most windows."""
        best = None
        count = self.count(obs)
        significance = self.budget.significance(obs.end_ms - obs.start_ms)
        kept = len(self.recent)
        seasonal = self._seasonal_ready
        usual_kept = list(self.recent_usual) if seasonal else None
        usual = self._usual(obs) if seasonal else None
        learned = self.learned_ms >= self.warmup_ms
        upward = self.direction == "up"
        for span, tail in zip(self.spans, self._tails, strict=True):
            observed = tail + count
            if best is not None and (not learned or (upward and observed < self.min_count)):
                continue
            windows = min(kept, span - 1) + 1
            expected = self._expected(windows, usual_kept, usual)
            judgement = _Judgement(False, observed, expected, 0.0, windows)
            if learned and expected > 0:
                material, p = self._test(observed, expected, self.direction)
                if material:
                    score = min(1.0, math.log10(max(p, 1e-300)) / math.log10(significance))
                    judgement = _Judgement(p < significance, observed, expected, score, windows)
            if best is None or (judgement.bad, judgement.score) > (best.bad, best.score):
                best = judgement
        return best  # type: ignore[return-value]

    def _test(self, observed: float, expected: float, direction: Literal["up", "down"]) -> tuple[bool, float]:
        """(off by the material ratio, p-value) of ``observed`` against ``expected`` in ``direction``;
        the p-value is only worked out (1.0 otherwise) when the difference is material."""
        if direction == "up":
            material = observed >= self.min_count and observed >= self.ratio * expected
        else:
            material = expected >= self.min_count and observed * self.ratio <= expected
        if not material:
            return False, 1.0
        return True, poisson_tail(round(observed / self.dispersion), expected / self.dispersion, direction)

    def _abnormal_the_other_way(self, observed: float, expected: float, width_ms: int) -> bool:
        """A spike seen by a drop test (or the reverse): not this test's alarm, but not normal
        either, so it is not learned: a three-hour promotion must not make the hour after it
        look like an outage."""
        if self.learned_ms < self.warmup_ms or expected <= 0:
            return False
        material, p = self._test(observed, expected, "down" if self.direction == "up" else "up")
        return material and p < self.budget.significance(width_ms)

    def assess(self, obs: Observation) -> tuple[float, bool]:
        judgement = self._judge(obs)
        return judgement.score, self.hysteresis.peek(judgement.bad)

    def score(self, obs: Observation) -> Verdict:
        bad, observed, expected, score, windows = self._judge(obs)
        firing = self.hysteresis.peek(bad)
        started = self.bad_since_ms if self.bad_since_ms is not None else obs.start_ms
        if self.started_ms is not None and self.hysteresis.firing:
            started = self.started_ms
        per_min = 60_000 / max((obs.end_ms - obs.start_ms) * windows, 1)
        return Verdict(
            kind=self.kind,
            score=score,
            firing=firing,
            started_at_ms=started if firing else None,
            value=observed * per_min,
            baseline=expected * per_min,
            reason=f"{observed:.0f} observed vs {expected:.1f} expected over the last {windows} windows"
            + (" (usual for this time of day and week)" if self._seasonal_ready else ""),
        )

    def update(self, obs: Observation) -> None:
        bad, observed, expected, _score, _windows = self._judge(obs)
        was_firing = self.hysteresis.firing
        if bad and self.bad_since_ms is None:
            self.bad_since_ms = obs.start_ms
        firing = self.hysteresis.step(bad)
        if firing and not was_firing:
            self.started_ms = self.bad_since_ms
        if not bad and not firing:
            self.bad_since_ms = None
            self.started_ms = None
        count = self.count(obs)
        usual = self._usual(obs)
        self._keep(count)
        self.recent_usual.append(usual)
        width = obs.end_ms - obs.start_ms
        quiet = not firing and not bad and not self._abnormal_the_other_way(observed, expected, width)
        if self.profile is not None:
            self.profile.learn(obs.start_ms, count, clean=quiet)
        if quiet:
            self.learned_ms += width
            decay = 0.5 ** (width / self.half_life_ms)
            if self.learned_ms <= self.warmup_ms:  # a plain average first: no single window seeds it
                self.mean += (count - self.mean) * width / self.learned_ms
            else:
                self.mean = decay * self.mean + (1 - decay) * count
            if usual is not None:
                level = self.level
                level[0] = decay * level[0] + count
                level[1] = decay * level[1] + usual
                level[2] += width
        self._last_judge = None

    def _keep(self, count: float) -> None:
        """Append a window's count, moving each span's tail sum along with it."""
        recent, tails = self.recent, self._tails
        for i, span in enumerate(self.spans):
            if span > 1:
                tails[i] += count
                if len(recent) >= span - 1:
                    tails[i] -= recent[-(span - 1)]
        recent.append(count)

    def snapshot(self) -> dict[str, Any]:
        return {
            "v": 1,
            "recent": list(self.recent),
            "mean": self.mean,
            "learned_ms": self.learned_ms,
            "started_ms": self.started_ms,
            "bad_since_ms": self.bad_since_ms,
            "hysteresis": self.hysteresis.snapshot(),
            "recent_usual": list(self.recent_usual),
            "level": list(self.level),
            "profile": None if self.profile is None else self.profile.snapshot(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self._last_judge = None
        for count in state["recent"]:
            self._keep(count)
        self.mean = state["mean"]
        self.learned_ms = state["learned_ms"]
        self.started_ms = state["started_ms"]
        self.bad_since_ms = state["bad_since_ms"]
        self.hysteresis.restore(state["hysteresis"])
        self.recent_usual.extend(state["recent_usual"])
        self.level = list(state["level"])
        if self.profile is not None and state["profile"] is not None:
            self.profile.restore(state["profile"])
