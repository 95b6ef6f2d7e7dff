"""The detector contract: every detector the suite builds passes the same checks.

As River's ``check_estimator`` runs one list of checks on every estimator it discovers, this
module asks :func:`detectors.suite.build_detectors` what it builds for a channel and for a
merchant (with default settings) and runs each check on each. A new detector is therefore in
the suite from its first commit, and needs only a shift of its kind in ``streams.SHIFTS``.

Channels are fed 10-second windows, merchants 1-minute roll-ups, as the engine does.

A detector whose kind is not an alert kind (:data:`kernel.alerts.KINDS`) is score-only: the
lifecycle has no words for it, so it must never fire, and "fires on shift" becomes "its score
reacts to the shift".
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import pytest

from detectors.protocol import Detector, Observation, Verdict
from detectors.suite import build_detectors
from kernel.alerts import KINDS, UNSCORED_KINDS, Scope
from kernel.settings import DetectorSettings
from tests.contract.streams import NORMAL, SHIFTS, T0, TINY, observations

WINDOW_MS = 10_000
SETTINGS = DetectorSettings()
WARMUP_MIN = int(SETTINGS.warmup.total_seconds() // 60)
SHIFT_AT_MIN = 60  # a full hour of baseline first, well past the warm-up
SHIFT_MINUTES = 30
STATIONARY_MINUTES = 180
START_TOLERANCE_MS = 2 * 60_000


@dataclass(frozen=True)
class Case:
    """One detector of one scope, and how to build a fresh instance of it."""

    scope: Scope
    index: int  # position in build_detectors' list
    kind: str

    @property
    def width_ms(self) -> int:
        return 60_000 if self.scope.merchant_id is not None else WINDOW_MS

    def make(self) -> Detector:
        return build_detectors(self.scope, SETTINGS, WINDOW_MS)[self.index]

    def stream(self, **kwargs) -> tuple[Observation, ...]:
        return observations(self.scope, width_ms=self.width_ms, **kwargs)

    def __str__(self) -> str:
        return f"{self.scope.label.replace(' ', '-')}-{self.kind}"


def discover() -> list[Case]:
    cases = []
    for scope in (Scope("alipay"), Scope(None, "m1")):
        for index, detector in enumerate(build_detectors(scope, SETTINGS, WINDOW_MS)):
            cases.append(Case(scope, index, detector.kind))
    return cases


CASES = discover()


def run(detector: Detector, stream) -> list[Verdict]:
    """What the engine does with each window: step a per-event detector with the window's
    outcomes as they arrive, then judge, then learn."""
    verdicts = []
    parts = list(getattr(detector, "parts", {}).values()) or [detector]
    stepped = [part for part in parts if hasattr(part, "step")]
    for obs in stream:
        for part in stepped:
            for bad, ts in outcomes_of(part, obs):
                part.step(bad, ts)
        verdicts.append(detector.score(obs))
        detector.update(obs)
    return verdicts


def outcomes_of(detector: Detector, obs: Observation) -> list[tuple[bool, int]]:
    """The window's outcomes one by one, the bad ones spread evenly, with times inside the window."""
    total, bad = detector.outcomes(obs)  # type: ignore[attr-defined]
    width = obs.end_ms - obs.start_ms
    every = total / bad if bad else math.inf
    spaced = [bad > 0 and math.floor((i + 1) / every) > math.floor(i / every) for i in range(total)]
    return [(is_bad, obs.start_ms + i * width // max(total, 1)) for i, is_bad in enumerate(spaced)]


def shift_stream(case: Case, seed: int = 7):
    return case.stream(
        seed=seed,
        minutes=SHIFT_AT_MIN + SHIFT_MINUTES,
        shift=case.kind,
        shift_at_min=SHIFT_AT_MIN,
    )


def stationary_stream(case: Case, seed: int = 7):
    return case.stream(seed=seed, minutes=STATIONARY_MINUTES)


def _dump(state: dict) -> bytes:
    """A snapshot as JSON with sorted keys, to compare two or measure one: orjson, as the checks
    take one per window."""
    return orjson.dumps(state, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def _firing(verdicts: list[Verdict], stream) -> list[str]:
    return [
        f"{(o.start_ms - T0) / 60_000:.1f} min: {v.reason}"
        for v, o in zip(verdicts, stream, strict=True)
        if v.firing
    ]


# -- the checks ----------------------------------------------------------------------------------


def score_is_pure(case: Case) -> None:
    """``score`` changes nothing: twice gives the same verdict, the snapshot is untouched, and
    judging some other window first does not change the verdict on this one."""
    stream = shift_stream(case)
    detector, twin = case.make(), case.make()
    probe = stream[len(stream) // 2]
    for obs in stream:
        before = _dump(detector.snapshot())
        detector.score(probe)
        first = detector.score(obs)
        assert detector.score(obs) == first
        assert _dump(detector.snapshot()) == before
        assert twin.score(obs) == first
        detector.update(obs)
        twin.update(obs)


def assess_agrees_with_score(case: Case) -> None:
    """``assess`` is ``score``'s score and firing, exactly (the engine exports the one and alerts
    on the other), through warm-up, the shift and firing; and it changes nothing either."""
    stream = shift_stream(case)
    detector = case.make()
    parts = list(getattr(detector, "parts", {}).values()) or [detector]
    stepped = [part for part in parts if hasattr(part, "step")]
    firing = 0
    for obs in stream:
        for part in stepped:
            for bad, ts in outcomes_of(part, obs):
                part.step(bad, ts)
        before = _dump(detector.snapshot())
        verdict = detector.score(obs)
        assert detector.assess(obs) == (verdict.score, verdict.firing), (obs, verdict)
        assert _dump(detector.snapshot()) == before
        firing += verdict.firing
        detector.update(obs)
    assert firing or case.kind not in KINDS, "the shift never fired, so firing verdicts went unchecked"


def snapshot_roundtrip_continues_identically(case: Case) -> None:
    """A JSON round trip of the snapshot onto a fresh instance, at any point (warming up,
    learning, firing), gives the same verdicts on the rest of the stream."""
    stream = shift_stream(case)
    n = len(stream)
    shift_index = SHIFT_AT_MIN * 60_000 // case.width_ms
    for cut in (n // 20, shift_index - 1, shift_index + max(n // 30, 3), n - 2):
        original = case.make()
        run(original, stream[:cut])
        state = original.snapshot()
        assert state["v"] == 1
        resumed = case.make()
        resumed.restore(json.loads(json.dumps(state)))
        assert json.loads(json.dumps(resumed.snapshot())) == json.loads(json.dumps(state))
        for i, (got, want) in enumerate(
            zip(run(resumed, stream[cut:]), run(original, stream[cut:]), strict=True)
        ):
            assert _same(got, want), f"cut at window {cut}, {i} windows later: {got} != {want}"


def _same(a: Verdict, b: Verdict) -> bool:
    """Equal decisions and words; numbers equal up to float rounding (1e-9 relative), which a
    state rebuilt by replaying its window (River's rolling statistics) cannot avoid."""

    def close(x: float, y: float) -> bool:
        return x == y or math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(x) and math.isnan(y))

    return (
        (a.kind, a.firing, a.started_at_ms, a.reason) == (b.kind, b.firing, b.started_at_ms, b.reason)
        and close(a.score, b.score)
        and close(a.value, b.value)
        and close(a.baseline, b.baseline)
    )


def state_is_bounded(case: Case) -> None:
    """The snapshot does not grow with the length of the stream: the second 90 minutes need no
    more room than the first (state bounded by time or count fills up within the first)."""
    stream = stationary_stream(case)
    detector = case.make()
    sizes = []
    for obs in stream:
        detector.score(obs)
        detector.update(obs)
        sizes.append(len(_dump(detector.snapshot())))
    half = len(sizes) // 2
    first, second = max(sizes[:half]), max(sizes[half:])
    assert second <= first * 1.1 + 64, f"snapshot grew from {first} to {second} bytes"


def score_in_unit_interval(case: Case) -> None:
    for stream in (
        stationary_stream(case),
        shift_stream(case),
        case.stream(seed=3, minutes=60, profile=TINY),
    ):
        for verdict in run(case.make(), stream):
            assert 0.0 <= verdict.score <= 1.0, verdict
            assert verdict.kind == case.kind
            assert math.isfinite(verdict.value) and math.isfinite(verdict.baseline), verdict


def silent_on_stationary_noise(case: Case) -> None:
    """Three hours of steady traffic with its ordinary noise: never firing."""
    for seed in (7, 11):
        stream = stationary_stream(case, seed)
        fired = _firing(run(case.make(), stream), stream)
        assert not fired, f"seed {seed}: {len(fired)} firing windows, first {fired[:3]}"


def fires_on_shift(case: Case) -> None:
    """A shift of the detector's own kind fires, dates its start within two minutes of the true
    change point, and nothing fired before it."""
    stream = shift_stream(case)
    verdicts = run(case.make(), stream)
    change_ms = T0 + SHIFT_AT_MIN * 60_000
    if case.kind not in KINDS:
        _score_reacts(case, verdicts, stream, change_ms)
        return
    before = [v for v, o in zip(verdicts, stream, strict=True) if v.firing and o.end_ms <= change_ms]
    assert not before, f"fired before the change: {before[:2]}"
    fired = [(v, o) for v, o in zip(verdicts, stream, strict=True) if v.firing]
    assert fired, f"no alert in {SHIFT_MINUTES} min of {case.kind}; last reason: {verdicts[-1].reason}"
    verdict, obs = fired[0]
    delay_s = (obs.end_ms - change_ms) / 1000
    assert verdict.started_at_ms is not None
    error_s = (verdict.started_at_ms - change_ms) / 1000
    assert abs(error_s) * 1000 <= START_TOLERANCE_MS, (
        f"started_at is {error_s:+.0f} s from the change (fired after {delay_s:.0f} s: {verdict.reason})"
    )


def _score_reacts(case: Case, verdicts: list[Verdict], stream, change_ms: int) -> None:
    """For a score-only detector: never firing, and the score in the two minutes after the change
    well above its level in the hour before."""
    assert not any(v.firing for v in verdicts), f"score-only {case.kind} fired"
    before = [
        v.score
        for v, o in zip(verdicts, stream, strict=True)
        if change_ms - 3_600_000 <= o.start_ms < change_ms
    ]
    after = [
        v.score
        for v, o in zip(verdicts, stream, strict=True)
        if change_ms <= o.start_ms < change_ms + 120_000
    ]
    mean_before, mean_after = sum(before) / len(before), sum(after) / len(after)
    assert mean_after >= max(0.5, 3 * mean_before), (
        f"score {mean_before:.2f} before vs {mean_after:.2f} after"
    )


def respects_min_volume(case: Case) -> None:
    """The same shift on a trickle of traffic (below the volume guards) never fires."""
    for seed in (7, 11):
        stream = case.stream(
            seed=seed,
            minutes=SHIFT_AT_MIN + SHIFT_MINUTES,
            profile=TINY,
            shift=case.kind,
            shift_at_min=SHIFT_AT_MIN,
        )
        fired = _firing(run(case.make(), stream), stream)
        assert not fired, f"seed {seed}: fired on tiny volume: {fired[:3]}"


CHECKS: list[Callable[[Case], None]] = [
    score_is_pure,
    assess_agrees_with_score,
    snapshot_roundtrip_continues_identically,
    state_is_bounded,
    score_in_unit_interval,
    silent_on_stationary_noise,
    fires_on_shift,
    respects_min_volume,
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_detector_contract(case: Case, check: Callable[[Case], None]) -> None:
    check(case)


def test_every_built_detector_has_a_known_kind_and_a_shift_to_test_it() -> None:
    kinds = {case.kind for case in CASES}
    assert kinds <= set(SHIFTS), f"no shift generator for {kinds - set(SHIFTS)}"
    assert {c.kind for c in CASES if c.scope.merchant_id is None} >= set(KINDS) - UNSCORED_KINDS, (
        "a channel watches every kind a detector scores"
    )


def test_streams_are_seeded_and_shaped_as_profiled() -> None:
    a = observations(Scope("alipay"), seed=1, minutes=30)
    assert a == observations(Scope("alipay"), seed=1, minutes=30)
    assert a != observations(Scope("alipay"), seed=2, minutes=30)
    per_min = sum(o.attempts for o in a) / 30
    assert per_min == pytest.approx(NORMAL.payments_per_min, rel=0.05)
    rate = sum(o.successes for o in a) / sum(o.attempts for o in a)
    assert rate == pytest.approx(NORMAL.success_rate, abs=0.01)
    shifted = observations(Scope("alipay"), seed=1, minutes=30, shift="volume_drop", shift_at_min=15)
    assert shifted[:90] == a[:90]
    assert sum(o.attempts for o in shifted[90:]) < 0.4 * sum(o.attempts for o in a[90:])
