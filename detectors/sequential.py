"""Per-event Bernoulli CUSUM: a rate rise detected as each outcome arrives, not at window close.

Windows close only after the event-time watermark has passed them (the allowed lateness, 30 s
by default), which would put a 30-second floor under every detection. Outcomes of payments are
exchangeable, so their order does not matter to the test: the engine feeds each payment (or
callback) to :meth:`SequentialRateDetector.step` in arrival order, and the alarm rings on the
outcome that crosses ``h``. Closed windows still teach the baseline (``update``), so learning
stays in event time and the detector remains a normal :class:`~detectors.protocol.Detector`.

Page's CUSUM is optimal for this (Lorden): for a given false-alarm rate no test detects a
shift of that size sooner on average. ``h = ln(ARL)`` where ARL is the number of outcomes
between false alarms we accept, so the threshold adapts to the scope's volume instead of being
a magic number. The cost per outcome is a few float operations per test, about 0.3 µs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from detectors.budget import AlarmBudget
from detectors.protocol import Observation, Verdict
from detectors.seasonal import SeasonalProfile

__all__ = ["SequentialRateDetector", "alarm_threshold", "baseline_rate"]

_SEASONAL_MIN_OUTCOMES = 5_000  # per hour of the day: 150 failures at 3%
_MIN_RATE = 0.002
_MAX_RATE = 0.6
_BASELINE_Z = 2.0  # the baseline is taken this many standard errors on the bad side of its estimate


def baseline_rate(ew_bad: float, ew_total: float, prior_rate: float, prior_weight: float) -> float:
    """The learned bad rate, shrunk toward a prior while history is short, clamped to a sane range.

    A scope with 0 failures in its first 20 payments is not a 0% scope: the prior is worth
    ``prior_weight`` outcomes.

    >>> baseline_rate(0, 20, prior_rate=0.05, prior_weight=200)
    0.045454545454545456
    """
    rate = (ew_bad + prior_rate * prior_weight) / (ew_total + prior_weight)
    return min(max(rate, _MIN_RATE), _MAX_RATE)


def alarm_threshold(rate_per_ms: float, false_alarm_days: float) -> float:
    """``ln`` of the outcomes between false alarms we accept (at least 5): Lorden's CUSUM bound.

    >>> round(alarm_threshold(50 / 1000, 30.0), 2)
    18.68
    """
    per_day = rate_per_ms * 86_400_000
    return max(math.log(max(per_day * false_alarm_days, 1.0)), 5.0)


class _Cusum:
    """One CUSUM of a degraded rate against the baseline, with its current run.

    A run may not reach back further than ``max_run_ms``: evidence that took longer than that to
    gather is a slow drift of the normal rate (a merchant's mix, the time of day), not an
    incident, so an older run starts again from the outcome at hand.
    """

    __slots__ = ("llr_bad", "llr_good", "max_run_ms", "run_bad", "run_start_ms", "run_total", "s")

    def __init__(self, max_run_ms: int = 3_600_000) -> None:
        self.max_run_ms = max_run_ms
        self.s = 0.0
        self.llr_bad = 0.0
        self.llr_good = 0.0
        self.run_start_ms: int | None = None
        self.run_total = 0
        self.run_bad = 0

    def add(self, bad: bool, ts_ms: int) -> float:
        start = self.run_start_ms
        if start is not None and ts_ms - start > self.max_run_ms:
            self.reset()
        s = self.s + (self.llr_bad if bad else self.llr_good)
        if s <= 0.0:
            if self.s:
                self.reset()
            return 0.0
        if self.run_start_ms is None or ts_ms < self.run_start_ms:  # arrivals are out of order
            self.run_start_ms = ts_ms
        self.s = s
        self.run_total += 1
        self.run_bad += bad
        return s

    def reset(self) -> None:
        self.s, self.run_start_ms, self.run_total, self.run_bad = 0.0, None, 0, 0

    def tune(self, q0: float, q1: float) -> None:
        self.llr_bad = math.log(q1 / q0)
        self.llr_good = math.log((1 - q1) / (1 - q0))

    def snapshot(self) -> list:
        return [self.s, self.llr_bad, self.llr_good, self.run_start_ms, self.run_total, self.run_bad]

    def restore(self, state: list) -> None:
        self.s, self.llr_bad, self.llr_good, self.run_start_ms, self.run_total, self.run_bad = state


class SequentialRateDetector:
    """Per-outcome CUSUMs of a bad-outcome rate (payment or callback failures) against its baseline.

    ``stream`` says which events the engine steps it with: ``"payments"`` or ``"callbacks"``.
    The baseline bad rate ``q0`` is an exponentially weighted ratio of window counts, shrunk
    toward ``prior_rate`` while history is short, and frozen while firing or suspicious (a CUSUM
    above half its threshold); a run older than ``max_onset_ms`` starts again, so a slow drift
    of the normal rate is learned, not paged. The tests compare against that
    baseline only as far as it is known: they are tuned two standard errors above it (``z``),
    so a merchant seen for 1,000 payments, whose rate is known to about a point, is not paged
    for a "drop" of a point that is only its own normal, while a channel seen for a million
    payments is judged against its baseline almost exactly.

    A CUSUM is fastest for the shift it is tuned for and slow for others: tuned for 5 points it
    almost never sees a 2-point drop, and it spends a 20-point one at half speed. So two run side
    by side, tuned for ``rise`` and ``4 x rise``; each keeps at least ~80% of the optimal speed
    over the range between, for ``ln 2`` more threshold. ``h = ln(ARL) + ln 2`` with ARL the
    outcomes between the false alarms its share of the deployment's ``budget`` allows. Recovery
    is the mirrored CUSUM of the small-drop test, crossing ``ln(resolve_arl)``: the rate must be
    back near normal, not merely below 4x rise.
    """

    def __init__(
        self,
        kind: str,
        stream: str,
        outcomes: Callable[[Observation], tuple[int, int]],
        *,
        rise: float = 0.03,
        budget: AlarmBudget | None = None,
        min_total: int = 30,
        min_bad: int = 10,
        warmup_ms: int = 600_000,
        half_life_ms: int = 1_800_000,
        resolve_arl: float = 1000.0,
        prior_rate: float = 0.05,
        prior_weight: float = 50.0,
        invert_value: bool = False,
        seasonal: SeasonalProfile | None = None,
        max_onset_ms: int = 3_600_000,
    ) -> None:
        self.kind = kind
        self.stream = stream
        self.outcomes = outcomes
        self.rise = rise
        self.budget = budget or AlarmBudget()
        self.min_total = min_total
        self.min_bad = min_bad
        self.warmup_ms = warmup_ms
        self.half_life_ms = half_life_ms
        self.resolve_h = math.log(resolve_arl)
        self.prior_rate = prior_rate
        self.prior_weight = prior_weight
        self.invert_value = invert_value
        # learned from windows
        self.first_ms: int | None = None
        self.ew_total = 0.0
        self.ew_bad = 0.0
        self.rate_per_ms = 0.0
        # time of day: the usual bad rate of this hour (seasonal profile), scaled by how the
        # last half hour ran against its own usual rates; both learned from quiet windows only
        self.profile = seasonal
        self.level = [0.0, 0.0]  # EW bad outcomes, EW bad outcomes the profile expected
        self.usual_q0: float | None = None  # the seasonal baseline for the next window, if known
        self.armed = False
        self.h = math.inf
        # the sequential state: a small-shift and a large-shift test
        self.small = _Cusum(max_onset_ms)
        self.large = _Cusum(max_onset_ms)
        self.fired: _Cusum | None = None  # the test that fired, while firing
        self.r = 0.0
        self.firing = False
        # True while a good outcome would change nothing (unarmed, or not firing with both tests
        # at 0): the engine skips the call then, which is about 2 steps in 3 on a normal day
        self.resting = True

    @property
    def s(self) -> float:
        return max(self.small.s, self.large.s)

    # -- per outcome ----------------------------------------------------------------------------

    def step(self, bad: bool, ts_ms: int) -> bool:
        """Take one outcome, in arrival order; True when it flipped firing."""
        if not self.armed or (self.resting and not bad):
            return False
        if self.fired is not None:
            # recovered = back below the smallest drop worth an alert, whichever test fired: a
            # 20-point incident easing to 10 points has not recovered
            small = self.small
            r = self.r - (small.llr_bad if bad else small.llr_good)
            self.r = r if r > 0.0 else 0.0
            if self.r > self.resolve_h:
                self.firing, self.fired, self.r = False, None, 0.0
                self.small.reset()
                self.large.reset()
                self.resting = True
                return True
            return False
        small, large = self.small, self.large
        for test in (small, large):
            if (
                test.add(bad, ts_ms) > self.h
                and test.run_total >= self.min_total
                and test.run_bad >= self.min_bad
            ):
                self.firing, self.fired, self.r = True, test, 0.0
                self.resting = False
                return True
        self.resting = not small.s and not large.s
        return False

    def steppers(self) -> tuple[SequentialRateDetector, ...]:
        return (self,)

    def _rest(self) -> None:
        """Recompute ``resting`` after the state changed outside :meth:`step`."""
        self.resting = not self.armed or (self.fired is None and not self.small.s and not self.large.s)

    # -- the Detector contract ------------------------------------------------------------------

    @property
    def q0(self) -> float:
        """The normal bad rate now: this time of day's when known, else the trailing one."""
        if self.usual_q0 is not None:
            return self.usual_q0
        return baseline_rate(self.ew_bad, self.ew_total, self.prior_rate, self.prior_weight)

    def _learn_seasonal(self, obs: Observation, total: int, bad: int, quiet: bool, decay: float) -> None:
        """Teach the profile this window; look up the next window's usual rate."""
        profile = self.profile
        if profile is None:
            return
        # an hour's rate is trusted once its days hold enough outcomes to estimate it within ~15%
        usual = profile.expected(obs.start_ms, _SEASONAL_MIN_OUTCOMES)
        profile.learn(obs.start_ms, bad, total, clean=quiet)
        if quiet and usual is not None:
            self.level[0] = decay * self.level[0] + bad
            self.level[1] = decay * self.level[1] + usual * total
        upcoming = profile.expected(obs.end_ms, _SEASONAL_MIN_OUTCOMES)
        observed, expected = self.level
        # the level must rest on some failures before it scales anything
        if upcoming is None or expected < self.min_bad:
            self.usual_q0 = None
        else:
            self.usual_q0 = min(max(upcoming * observed / expected, _MIN_RATE), _MAX_RATE)

    def _shown(self) -> tuple[_Cusum, float]:
        """The test a verdict reports (the one that fired, else the higher), and the threshold."""
        test = self.fired or (self.small if self.small.s >= self.large.s else self.large)
        return test, self.h if math.isfinite(self.h) else 0.0

    def assess(self, obs: Observation) -> tuple[float, bool]:
        test, h = self._shown()
        return (min(test.s / h, 1.0) if h else 0.0), self.firing

    def score(self, obs: Observation) -> Verdict:
        q0 = self.q0
        test, h = self._shown()
        if test.run_total:
            rate = test.run_bad / test.run_total
        else:
            total, bad = self.outcomes(obs)
            rate = bad / total if total else q0
        value, baseline = (1 - rate, 1 - q0) if self.invert_value else (rate, q0)
        return Verdict(
            kind=self.kind,
            score=min(test.s / h, 1.0) if h else 0.0,
            firing=self.firing,
            started_at_ms=test.run_start_ms if self.firing else None,
            value=value,
            baseline=baseline,
            reason=f"cusum {test.s:.1f} / {h:.1f} after {test.run_total} outcomes, {test.run_bad} bad",
        )

    def update(self, obs: Observation) -> None:
        """Learn the baseline and the volume from a closed window; re-tune the tests."""
        total, bad = self.outcomes(obs)
        width = max(obs.end_ms - obs.start_ms, 1)
        if self.first_ms is None:
            self.first_ms = obs.start_ms
        decay = 0.5 ** (width / self.half_life_ms)
        self.rate_per_ms = decay * self.rate_per_ms + (1 - decay) * total / width
        # suspicious (a test above half its threshold): not learned either, or a small scope would
        # take a developing incident into its baseline within minutes; a slow drift of the normal
        # rate is learned once its run passes max_onset and starts again
        quiet = not self.firing and self.s <= self.h / 2
        if quiet:
            self.ew_total = decay * self.ew_total + total
            self.ew_bad = decay * self.ew_bad + bad
        self._learn_seasonal(obs, total, bad, quiet, decay)
        self.armed = obs.end_ms - self.first_ms >= self.warmup_ms
        if not self.firing:  # the firing test keeps its tuning until it recovers
            q0 = self.q0
            q0 = min(q0 + _BASELINE_Z * math.sqrt(q0 * (1 - q0) / (self.ew_total + self.prior_weight)), 0.9)
            self.small.tune(q0, min(q0 + self.rise, 0.95))
            self.large.tune(q0, min(q0 + 4 * self.rise, 0.95))
        self.h = alarm_threshold(self.rate_per_ms, self.budget.days_between_false_alarms) + math.log(2)
        self._rest()

    _STATE = ("first_ms", "ew_total", "ew_bad", "rate_per_ms", "armed", "r", "firing", "level", "usual_q0")

    def snapshot(self) -> dict[str, Any]:
        state = {name: getattr(self, name) for name in self._STATE}
        return {
            "v": 1,
            **state,
            "h": None if math.isinf(self.h) else self.h,
            "small": self.small.snapshot(),
            "large": self.large.snapshot(),
            "fired": None if self.fired is None else ("small" if self.fired is self.small else "large"),
            "profile": None if self.profile is None else self.profile.snapshot(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        for name in self._STATE:
            setattr(self, name, state[name])
        self.h = math.inf if state["h"] is None else state["h"]
        self.small.restore(state["small"])
        self.large.restore(state["large"])
        self.fired = None if state["fired"] is None else getattr(self, state["fired"])
        if self.profile is not None and state["profile"] is not None:
            self.profile.restore(state["profile"])
        self._rest()
