"""The guards every detector shares: warm-up and hysteresis.

They are what make an alert trustworthy rather than merely sensitive: no verdict before the
scope has a baseline, and no flapping when a statistic hovers at its threshold.
"""

from __future__ import annotations

__all__ = ["Hysteresis"]


class Hysteresis:
    """Fire after ``fire_after`` bad steps in a row, resolve after ``resolve_after`` good ones.

    >>> h = Hysteresis(fire_after=2, resolve_after=3)
    >>> [h.step(bad) for bad in [True, False, True, True, False, False, True, False, False, False]]
    [False, False, False, True, True, True, True, True, True, False]
    """

    __slots__ = ("bad_run", "fire_after", "firing", "good_run", "resolve_after")

    def __init__(self, fire_after: int, resolve_after: int) -> None:
        self.fire_after = fire_after
        self.resolve_after = resolve_after
        self.firing = False
        self.bad_run = 0
        self.good_run = 0

    def peek(self, bad: bool) -> bool:
        """What ``step(bad)`` would return, without taking the step."""
        if bad:
            return self.firing or self.bad_run + 1 >= self.fire_after
        return self.firing and self.good_run + 1 < self.resolve_after

    def step(self, bad: bool) -> bool:
        firing = self.peek(bad)
        self.bad_run = self.bad_run + 1 if bad else 0
        self.good_run = 0 if bad else self.good_run + 1
        if firing != self.firing:
            self.bad_run = self.good_run = 0
        self.firing = firing
        return firing

    def snapshot(self) -> list:
        return [self.firing, self.bad_run, self.good_run]

    def restore(self, state: list) -> None:
        self.firing, self.bad_run, self.good_run = state
