"""Named times of the week (Alertmanager's ``time_intervals``): business hours, nights, weekends.

Routes name them to match only within them (``during``) or to send nothing within them
(``mute_during``). Days and times are read in the interval's own zone (Asia/Shanghai unless it
says otherwise), so "09:00-18:00" means office hours in Beijing whatever zone the server runs in.
The moment tested is the injected clock's, so a replay gives the same routes as the live run did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

from kernel.settings import TimeIntervalSettings

__all__ = ["TimeInterval", "intervals_from_settings"]

_DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weekdays(spec: str) -> set[int]:
    """Weekday numbers (Monday 0) of ``"mon-fri"`` or ``"sat"``; a range may wrap (``"fri-mon"``).

    >>> sorted(_weekdays("mon-fri")), sorted(_weekdays("sunday")), sorted(_weekdays("sat-mon"))
    ([0, 1, 2, 3, 4], [6], [0, 5, 6])
    """
    first, _, last = spec.lower().partition("-")
    start, end = _DAYS.index(first[:3]), _DAYS.index((last or first)[:3])
    return {(start + i) % 7 for i in range((end - start) % 7 + 1)}


def _minutes(clock: str) -> int:
    hours, _, minutes = clock.strip().partition(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True, slots=True)
class TimeInterval:
    """Some days of the week, some spans of those days, in one zone.

    >>> office = TimeInterval("office", frozenset(range(5)), ((540, 1080),), "Asia/Shanghai")
    >>> monday_10_beijing = datetime(2026, 3, 2, 2, 0, tzinfo=UTC).timestamp()
    >>> office.contains(monday_10_beijing), office.contains(monday_10_beijing + 9 * 3600)
    (True, False)
    """

    name: str
    weekdays: frozenset[int]  # empty = every day
    spans: tuple[tuple[int, int], ...]  # minutes of the day, end excluded; empty = all day
    zone: str

    def contains(self, when: float) -> bool:
        local = datetime.fromtimestamp(when, UTC).astimezone(ZoneInfo(self.zone))
        if self.weekdays and local.weekday() not in self.weekdays:
            return False
        minute = local.hour * 60 + local.minute
        return not self.spans or any(start <= minute < end for start, end in self.spans)


def intervals_from_settings(settings: Mapping[str, TimeIntervalSettings]) -> dict[str, TimeInterval]:
    """The named intervals (the settings have checked their days, times and zones)."""
    out = {}
    for name, spec in settings.items():
        days: set[int] = set()
        for day in spec.weekdays:
            days |= _weekdays(day)
        spans = tuple(
            (_minutes(start), _minutes(end)) for start, _, end in (t.partition("-") for t in spec.times)
        )
        out[name] = TimeInterval(name, frozenset(days), spans, spec.zone)
    return out
