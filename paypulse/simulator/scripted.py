"""What a scenario scripts on top of normal traffic: labelled incidents and unlabelled habits.

An incident starts either at an offset from the simulation start (``"20m"``) or at an RFC 3339
time; a habit repeats every local day at a time of day.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, Field, field_validator, model_validator

from kernel.alerts import KINDS
from kernel.events import COMPLAINT_CATEGORIES
from paypulse.simulator.fields import Duration, Table, parse_duration

__all__ = ["SIZE_RANGES", "Habit", "Incident"]


def _parse_start(value: Any) -> timedelta | datetime:
    """An incident start: an offset (``"20m"``) or an aware RFC 3339 time."""
    if isinstance(value, datetime | timedelta):
        return value
    try:
        return parse_duration(value)
    except ValueError:
        pass
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is neither an offset like '20m' nor an RFC 3339 time")


# What ``size`` means per kind, and the range ``low < size <= high`` it must fall in.
SIZE_RANGES: Final[dict[str, tuple[float, float, str]]] = {
    "success_rate_drop": (0.0, 1.0, "absolute drop of the success rate, e.g. 0.15"),
    "callback_latency_high": (1.0, 1000.0, "latency multiplier > 1, e.g. 20"),
    "callback_failure_high": (0.0, 1.0, "callback failure rate, e.g. 0.2"),
    "volume_drop": (0.0, 1.0, "fraction of traffic removed, e.g. 0.6"),
    "volume_spike": (1.0, 1000.0, "traffic multiplier > 1, e.g. 3"),
    "amount_deviation": (0.0, 1000.0, "ticket-size multiplier != 1, e.g. 2.5 or 0.3"),
    "complaint_spike": (0.0, 100_000.0, "extra complaints per minute, e.g. 12"),
    "stuck_payments": (0.0, 1.0, "share of succeeded payments with no callback, e.g. 0.3"),
}


class Incident(Table):
    """One scripted anomaly on one scope (channel and/or merchant; neither = everything)."""

    kind: str
    channel: str | None = None
    merchant_id: str | None = None
    start: Annotated[timedelta | datetime, BeforeValidator(_parse_start)]
    duration: Duration
    size: float
    category: str | None = Field(None, description="complaint_spike only; default paid_not_updated")

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in KINDS:
            raise ValueError(f"unknown kind; use one of {list(KINDS)}")
        return value

    @field_validator("start")
    @classmethod
    def _aware(cls, value: timedelta | datetime) -> timedelta | datetime:
        if isinstance(value, datetime) and value.utcoffset() is None:
            raise ValueError("an RFC 3339 start needs a zone, e.g. 2026-03-02T10:00:00+08:00")
        if isinstance(value, timedelta) and value < timedelta(0):
            raise ValueError("an offset start must be >= 0")
        return value

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be > 0")
        return value

    @model_validator(mode="after")
    def _size_and_category(self) -> Incident:
        low, high, meaning = SIZE_RANGES[self.kind]
        if not (low < self.size <= high) or (self.kind == "amount_deviation" and self.size == 1):
            raise ValueError(f"size {self.size} out of range for {self.kind}: {meaning}")
        if self.category is not None:
            if self.kind != "complaint_spike":
                raise ValueError("category applies to complaint_spike only")
            if self.category not in COMPLAINT_CATEGORIES:
                raise ValueError(f"unknown category {self.category!r}; use {list(COMPLAINT_CATEGORIES)}")
        return self

    def window(self, sim_start: datetime) -> tuple[datetime, datetime]:
        """Absolute ``[start, end)`` of the incident, aware UTC."""
        begin = sim_start + self.start if isinstance(self.start, timedelta) else self.start
        begin = begin.astimezone(UTC)
        return begin, begin + self.duration


class Habit(Table):
    """A daily change of volume that is normal, not an incident: a bank's nightly maintenance
    window (``volume_drop``), a daily 10:00 flash sale (``volume_spike``). It repeats every local
    day of the simulation and gets no label: a monitor should learn it, not alert on it."""

    kind: str = Field(description="volume_drop or volume_spike")
    channel: str | None = None
    at: str = Field(description="local start time of day, 'HH:MM'")
    duration: Duration
    size: float

    @field_validator("kind")
    @classmethod
    def _volume(cls, value: str) -> str:
        if value not in ("volume_drop", "volume_spike"):
            raise ValueError("a habit is a volume_drop or a volume_spike")
        return value

    @field_validator("at")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", value)
        if match is None:
            raise ValueError("write the local time of day like '23:30'")
        return value

    @model_validator(mode="after")
    def _size(self) -> Habit:
        low, high, meaning = SIZE_RANGES[self.kind]
        if not low < self.size <= high:
            raise ValueError(f"size {self.size} out of range for {self.kind}: {meaning}")
        if not timedelta(0) < self.duration < timedelta(days=1):
            raise ValueError("duration must be between 0 and a day")
        return self

    def incidents(self, sim_start: datetime, days: int) -> list[Incident]:
        """The habit as one unlabelled incident per local day from the day ``sim_start`` falls on."""
        hour, minute = map(int, self.at.split(":"))
        first = sim_start.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return [
            Incident(
                kind=self.kind,
                channel=self.channel,
                start=first + timedelta(days=day),
                duration=self.duration,
                size=self.size,
            )
            for day in range(-1, days + 1)  # the day before too: a habit may run over midnight
        ]
