"""Seasonal baselines: the same time of day and week, learned online, never from an incident."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from detectors.counts import CountDetector
from detectors.seasonal import DAY_MS, SeasonalProfile
from detectors.sequential import SequentialRateDetector
from kernel.alerts import Scope
from kernel.observation import Observation

WINDOW_MS = 10_000
DAY_WINDOWS = DAY_MS // WINDOW_MS


def _feed(profile: SeasonalProfile, days: int, value, *, first_day: int = 0) -> None:
    for w in range(first_day * DAY_WINDOWS, (first_day + days) * DAY_WINDOWS):
        profile.learn(w * WINDOW_MS, value(w))


def test_the_day_slot_is_used_until_the_week_slot_has_been_seen() -> None:
    profile = SeasonalProfile()
    _feed(profile, 1, lambda w: 10.0)  # day 0 (a Thursday in epoch days)
    assert profile.expected(3 * DAY_MS) == 10.0  # day 3: the week slot is unseen, the day's is known
    _feed(profile, 7, lambda w: 40.0 if (w // DAY_WINDOWS) % 7 == 3 else 10.0, first_day=1)
    assert profile.expected(10 * DAY_MS + 60_000) == 40.0  # day 10 = day 3 next week
    assert profile.expected(11 * DAY_MS + 60_000) == 10.0


def test_a_slot_that_was_mostly_abnormal_is_not_learned() -> None:
    profile = SeasonalProfile()
    _feed(profile, 1, lambda w: 10.0)
    for w in range(DAY_WINDOWS, 2 * DAY_WINDOWS):  # day 1: one hour of incident at noon, flagged
        noon = 12 * 360 <= w % DAY_WINDOWS < 13 * 360
        profile.learn(w * WINDOW_MS, 0.0 if noon else 10.0, clean=not noon)
    profile.learn(2 * DAY_MS, 10.0)
    assert profile.expected(2 * DAY_MS + 12 * 3_600_000) == 10.0
    assert profile.day_seen[12 * 12] == 1  # the noon slot kept day 0 only


def test_recent_days_weigh_more_so_a_new_habit_is_learned_within_a_week() -> None:
    profile = SeasonalProfile()
    _feed(profile, 14, lambda w: 10.0)
    _feed(profile, 7, lambda w: 20.0, first_day=14)
    assert profile.day_mean[0] == pytest.approx(20.0, rel=0.15)  # the day's slots: within a week
    assert profile.expected(21 * DAY_MS) == pytest.approx(10 + 10 / 3)  # a week's slot: one visit in three


def test_snapshot_restores_the_same_expectations() -> None:
    profile = SeasonalProfile()
    _feed(profile, 2, lambda w: float(w % 360))
    copy = SeasonalProfile()
    copy.restore(profile.snapshot())
    for ts in range(0, DAY_MS, 3_600_000):
        assert copy.expected(2 * DAY_MS + ts) == profile.expected(2 * DAY_MS + ts)
    with pytest.raises(ValueError, match="slots a day"):
        SeasonalProfile(slot_ms=600_000).restore(profile.snapshot())


def test_a_slot_must_divide_the_day() -> None:
    with pytest.raises(ValueError, match="must divide a day"):
        SeasonalProfile(slot_ms=7 * 60_000)


def _volume_drops(seasonal: bool, incident_day: int | None = None) -> list[int]:
    """Days (0-based) on which a volume-drop alert began, over four days of a channel whose
    traffic follows a daily shape and falls to 5% every night for a 23:30-24:00 maintenance."""
    rng = np.random.default_rng(5)
    detector = CountDetector(
        "volume_drop",
        lambda o: o.attempts,
        "down",
        span=18,
        ratio=2.0,
        dispersion=2.0,
        min_count=30,
        seasonal=SeasonalProfile() if seasonal else None,
    )
    fired: list[int] = []
    firing = False
    for w in range(4 * DAY_WINDOWS):
        of_day = w % DAY_WINDOWS
        mean = 20.0 + 15.0 * np.sin(2 * np.pi * of_day / DAY_WINDOWS)
        if of_day >= DAY_WINDOWS - 180:
            mean *= 0.05
        if w // DAY_WINDOWS == incident_day and 10 * 360 <= of_day < 10 * 360 + 120:  # 20 min at 10:00
            mean *= 0.3
        obs = Observation(Scope("card"), w * WINDOW_MS, (w + 1) * WINDOW_MS, attempts=int(rng.poisson(mean)))
        now_firing = detector.score(obs).firing
        if now_firing and not firing:
            fired.append(w // DAY_WINDOWS)
        firing = now_firing
        detector.update(obs)
    return fired


def test_a_nightly_habit_alerts_every_night_on_a_trailing_baseline() -> None:
    assert _volume_drops(seasonal=False) == [0, 1, 2, 3]


def test_a_seasonal_baseline_learns_the_habit_after_two_nights() -> None:
    assert _volume_drops(seasonal=True) == [0, 1]


def test_a_seasonal_baseline_still_catches_a_real_drop() -> None:
    assert _volume_drops(seasonal=True, incident_day=3) == [0, 1, 3]


def test_a_one_off_incident_is_held_back_and_never_learned() -> None:
    profile = SeasonalProfile()
    _feed(profile, 1, lambda w: 10.0)
    for day in (1, 3):  # incidents at noon two days apart: not a habit
        for w in range(day * DAY_WINDOWS, (day + 1) * DAY_WINDOWS):
            noon = 12 * 360 <= w % DAY_WINDOWS < 13 * 360
            profile.learn(w * WINDOW_MS, 0.0 if noon else 10.0, clean=not noon)
    profile.learn(4 * DAY_MS, 10.0)
    assert profile.expected(4 * DAY_MS + 12 * 3_600_000) == 10.0


def _success_rate_alerts(seasonal: bool, incident_day: int | None = None) -> list[int]:
    """Days on which a success-rate alert began, over four days of 2 payments a second that fail
    3% of the time, except 9% every night from 22:00 to 24:00 (stricter risk rules at night)."""
    rng = np.random.default_rng(11)
    detector = SequentialRateDetector(
        "success_rate_drop",
        "payments",
        lambda o: (o.attempts, o.attempts - o.successes),
        rise=0.03,
        seasonal=SeasonalProfile(3_600_000) if seasonal else None,
    )
    fired: list[int] = []
    for w in range(4 * DAY_WINDOWS):
        day, of_day = divmod(w, DAY_WINDOWS)
        fail = 0.09 if of_day >= 22 * 360 else 0.03
        if day == incident_day and 10 * 360 <= of_day < 10 * 360 + 90:  # 15 minutes at 10:00
            fail += 0.10
        outcomes = rng.random(rng.poisson(20)) < fail
        start = w * WINDOW_MS
        for i, bad in enumerate(outcomes.tolist()):
            was = detector.firing
            detector.step(bad, start + i * 400)
            if detector.firing and not was:
                fired.append(day)
        obs = Observation(Scope("card"), start, start + WINDOW_MS, attempts=len(outcomes))
        detector.update(replace(obs, successes=len(outcomes) - int(outcomes.sum())))
    return fired


def test_a_nightly_success_rate_habit_alerts_every_night_on_a_trailing_baseline() -> None:
    assert _success_rate_alerts(seasonal=False) == [0, 1, 2, 3]


def test_the_success_rate_baseline_learns_the_hour_of_day() -> None:
    assert _success_rate_alerts(seasonal=True) == [0, 1]
    assert _success_rate_alerts(seasonal=True, incident_day=3) == [0, 1, 3]


def test_a_slot_with_too_little_weight_is_not_trusted() -> None:
    profile = SeasonalProfile(slot_ms=3_600_000)
    for w in range(DAY_WINDOWS):  # one failure in 50 payments an hour: a rate from almost nothing
        profile.learn(w * WINDOW_MS, 1.0 if w % 360 == 0 else 0.0, weight=50 / 360)
    profile.learn(DAY_MS, 0.0)
    assert profile.expected(DAY_MS + 60_000) == pytest.approx(0.02)
    assert profile.expected(DAY_MS + 60_000, min_weight=1_000) is None
