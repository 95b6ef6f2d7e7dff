"""What a series usually is at this minute of the day and of the week, learned online.

Payment traffic has a strong daily shape (a night trough at 15% of the evening peak) and often
a weekly one (weekends), plus habits that a trailing average cannot know: a bank's nightly
maintenance window, a daily 10:00 flash sale. A trailing mean lags the ramps and reads every
such habit as an anomaly, every day. So each detector that compares a level keeps a profile:
one estimate per 5-minute slot of the day and one per slot of the week, each an exponentially
weighted average over the days (weeks) that slot was seen. The week's slot is used once seen,
the day's until then, and nothing (the caller's trailing mean) on the first day.

Memory is fixed: 2 x (288 + 2016) doubles per profile (means and weights), whatever the traffic.
"""

from __future__ import annotations

from array import array
from typing import Any

__all__ = ["DAY_MS", "SeasonalProfile"]

DAY_MS = 86_400_000
_WEEK_DAYS = 7


class SeasonalProfile:
    """Mean of a per-window value in each slot of the day and of the week (UTC, so no time zone).

    ``learn`` takes every closed window of the scope, in event time, with ``clean=False`` for
    windows the detector found abnormal: they count toward the slot but not into its mean, and
    a slot that was abnormal for half its windows or more is held back, so a one-off incident
    never becomes tomorrow's normal. Held back twice on consecutive days, the slot is a habit
    (a nightly maintenance window, a daily flash sale) and both days are learned. A value is a
    sum over ``weight`` (1 per window for counts; payments for a mean ticket size), so a slot's
    mean is ``sum / weight``.

    >>> p = SeasonalProfile()
    >>> for window in range(2 * 8_640):  # two days of 10 s windows: busy first hour, then quiet
    ...     p.learn(window * 10_000, 30.0 if window % 8_640 < 360 else 10.0)
    >>> p.expected(2 * DAY_MS + 1_000), p.expected(2 * DAY_MS + 7_200_000)
    (30.0, 10.0)
    >>> SeasonalProfile().expected(0) is None
    True
    """

    def __init__(self, slot_ms: int = 300_000, min_alpha: float = 0.25) -> None:
        if DAY_MS % slot_ms:
            raise ValueError(f"slot_ms={slot_ms} must divide a day (86,400,000 ms), e.g. 300000")
        self.slot_ms = slot_ms
        self.day_slots = DAY_MS // slot_ms
        self.week_slots = _WEEK_DAYS * self.day_slots
        # a plain average over the first visits, then this weight for the newest: about the last
        # 1 / min_alpha days (weeks) count, so a lasting change of habit is learned within a week
        self.min_alpha = min_alpha
        self.day_mean = array("d", bytes(8 * self.day_slots))
        self.day_weight = array("d", bytes(8 * self.day_slots))  # weight a slot's day usually has
        self.day_seen = array("H", bytes(2 * self.day_slots))
        self.week_mean = array("d", bytes(8 * self.week_slots))
        self.week_weight = array("d", bytes(8 * self.week_slots))
        self.week_seen = array("H", bytes(2 * self.week_slots))
        self._slot: int | None = None  # the slot being accumulated (absolute index)
        self._sum = 0.0  # of the clean windows
        self._weight = 0.0
        self._all = [0.0, 0.0]  # sum and weight of every window, abnormal ones too
        self._windows = 0
        self._clean = 0
        # slot of the day -> (day, mean, weight) held back
        self.held: dict[int, tuple[int, float, float]] = {}

    def learn(self, ts_ms: int, value: float, weight: float = 1.0, *, clean: bool = True) -> None:
        """Take one window starting at ``ts_ms``; a slot is folded in when the next one begins."""
        slot = ts_ms // self.slot_ms
        if slot != self._slot:
            self._fold()
            self._slot = slot
        self._windows += 1
        self._all[0] += value
        self._all[1] += weight
        if clean:
            self._clean += 1
            self._sum += value
            self._weight += weight

    def expected(self, ts_ms: int, min_weight: float = 0.0) -> float | None:
        """The usual value per unit of weight at ``ts_ms``: the week's slot, else the day's, else None.

        ``min_weight``: a slot whose days usually hold less weight than this is not trusted (a
        rate from a handful of payments is noise), and None is returned.
        """
        slot = ts_ms // self.slot_ms
        week = slot % self.week_slots
        if self.week_seen[week]:
            return self.week_mean[week] if self.week_weight[week] >= min_weight else None
        day = slot % self.day_slots
        if self.day_seen[day]:
            return self.day_mean[day] if self.day_weight[day] >= min_weight else None
        return None

    def _fold(self) -> None:
        slot = self._slot
        if slot is not None:
            day, of_day = divmod(slot, self.day_slots)
            if self._weight > 0 and 2 * self._clean > self._windows:
                self._learn(slot, self._sum / self._weight, self._all[1])
                self.held.pop(of_day, None)
            elif self._all[1] > 0:
                mean, weight = self._all[0] / self._all[1], self._all[1]
                before = self.held.pop(of_day, None)
                if before is not None and before[0] == day - 1:  # the same time yesterday: a habit
                    self._learn(slot - self.day_slots, before[1], before[2])
                    self._learn(slot, mean, weight)
                else:
                    self.held[of_day] = (day, mean, weight)
        self._sum = self._weight = 0.0
        self._all = [0.0, 0.0]
        self._windows = self._clean = 0

    def _learn(self, slot: int, mean: float, weight: float) -> None:
        for means, weights, seen, index in (
            (self.day_mean, self.day_weight, self.day_seen, slot % self.day_slots),
            (self.week_mean, self.week_weight, self.week_seen, slot % self.week_slots),
        ):
            n = min(seen[index] + 1, 65_535)
            alpha = max(1.0 / n, self.min_alpha)
            means[index] += alpha * (mean - means[index])
            weights[index] += alpha * (weight - weights[index])
            seen[index] = n

    def snapshot(self) -> dict[str, Any]:
        return {
            "v": 1,
            "day": [list(self.day_mean), list(self.day_seen), list(self.day_weight)],
            "week": [list(self.week_mean), list(self.week_seen), list(self.week_weight)],
            "open": [self._slot, self._sum, self._weight, self._windows, self._clean, self._all],
            "held": [[of_day, *held] for of_day, held in self.held.items()],
        }

    def restore(self, state: dict[str, Any]) -> None:
        if len(state["day"][0]) != self.day_slots:
            raise ValueError(
                f"seasonal profile has {len(state['day'][0])} slots a day, this build {self.day_slots}"
            )
        for name, (means, seen, weights) in (("day", state["day"]), ("week", state["week"])):
            setattr(self, f"{name}_mean", array("d", means))
            setattr(self, f"{name}_seen", array("H", seen))
            setattr(self, f"{name}_weight", array("d", weights))
        self._slot, self._sum, self._weight, self._windows, self._clean, self._all = state["open"]
        self.held = {of_day: (day, mean, weight) for of_day, day, mean, weight in state["held"]}
