"""One false-alarm budget for the whole deployment, shared out among the tests that are live.

Operators count false pages per week for the whole shop, not per series: a test that is wrong
once a month is fine alone and a pager storm when 600 of them run (four channels, all payments
and 200 merchants, each with several detectors). So the budget is set once, in false pages per
week (``detectors.false_pages_per_week``, one by default), and every test gets an equal share:
with ``K`` live tests each may be wrong once in ``7 K / budget`` days. That is the Bonferroni
split, and it costs only ``ln K`` of evidence: a CUSUM's threshold ``h = ln(ARL)`` grows by
``ln K``, a count test's p-value shrinks by ``K``. The engine keeps ``live_tests`` current as
scopes come and go, and each test reads its share when it re-tunes, once a window.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TYPICAL_LIVE_TESTS", "AlarmBudget"]

_WEEK_MS = 7 * 86_400_000
#: Live tests of a typical shop (4 channels and all payments with 11 each, 200 merchants with 3):
#: the share a detector built on its own (a test, a benchmark) assumes.
TYPICAL_LIVE_TESTS = 5 * 11 + 200 * 3


@dataclass
class AlarmBudget:
    """False pages a week for the deployment, and how many tests share them.

    >>> budget = AlarmBudget(pages_per_week=1.0, live_tests=700)
    >>> round(budget.days_between_false_alarms)   # each test: once in 13 years
    4900
    >>> f"{budget.significance(window_ms=10_000):.1e}"   # per test and 10-second window
    '2.4e-08'
    """

    pages_per_week: float = 1.0
    live_tests: int = TYPICAL_LIVE_TESTS

    @property
    def days_between_false_alarms(self) -> float:
        """The mean time between false alarms each live test may have."""
        return 7.0 * max(self.live_tests, 1) / self.pages_per_week

    def significance(self, window_ms: int) -> float:
        """The p-value a test judged once per ``window_ms`` must beat to keep its share."""
        return self.pages_per_week * window_ms / (_WEEK_MS * max(self.live_tests, 1))
