"""The per-event CUSUM's ``resting`` flag, which lets the engine skip good outcomes that change nothing."""

from __future__ import annotations

import random
from dataclasses import replace

from detectors.sequential import SequentialRateDetector
from kernel.alerts import Scope
from kernel.observation import Observation

WINDOW_MS = 10_000


def _detector() -> SequentialRateDetector:
    return SequentialRateDetector(
        "success_rate_drop", "payments", lambda o: (o.attempts, o.attempts - o.successes), warmup_ms=60_000
    )


def _really_resting(d: SequentialRateDetector) -> bool:
    return not d.armed or (d.fired is None and d.small.s == 0 and d.large.s == 0)


def test_resting_is_kept_true_to_the_state_through_firing_recovery_and_restore() -> None:
    rng = random.Random(5)
    detector = _detector()
    seen = {"rest": 0, "busy": 0, "fired": 0, "resolved": 0}
    for w in range(600):  # 100 minutes at 20 payments per window; 10 minutes at 30% failures
        start = w * WINDOW_MS
        fail = 0.30 if 300 <= w < 360 else 0.03
        outcomes = [rng.random() < fail for _ in range(20)]
        for i, bad in enumerate(outcomes):
            was = detector.firing
            detector.step(bad, start + i * 500)
            assert detector.resting == _really_resting(detector)
            seen["rest" if detector.resting else "busy"] += 1
            seen["fired"] += detector.firing and not was
            seen["resolved"] += was and not detector.firing
        obs = Observation(Scope("card"), start, start + WINDOW_MS, attempts=len(outcomes))
        detector.update(replace(obs, successes=len(outcomes) - sum(outcomes)))
        assert detector.resting == _really_resting(detector)
        if w in (330, 599):  # firing, and back to normal: a restored copy agrees
            copy = _detector()
            copy.restore(detector.snapshot())
            assert copy.resting == detector.resting == _really_resting(copy)
    assert seen["fired"] == 1 and seen["resolved"] == 1
    assert seen["rest"] > 1000 and seen["busy"] > 1000


def test_a_good_outcome_changes_nothing_while_resting() -> None:
    detector = _detector()
    for w in range(12):  # armed after the one-minute warm-up on clean windows
        start = w * WINDOW_MS
        detector.update(Observation(Scope("card"), start, start + WINDOW_MS, attempts=20, successes=20))
    assert detector.armed and detector.resting
    before = detector.snapshot()
    detector.step(False, 200_000)
    assert detector.snapshot() == before
    detector.step(True, 200_001)
    assert not detector.resting and detector.small.run_bad == 1
