"""What a simulation plays: a TOML scenario of normal traffic plus scripted incidents.

The scenario is untrusted input from a file, so it is a pydantic model that forbids unknown
keys: a typo such as ``rate_per_sec`` is an error naming the field, not a silent default.
Durations are written the way people say them (``"20m"``, ``"1h30m"``); incidents and habits
are in :mod:`paypulse.simulator.scripted`.
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

from pydantic import (
    AwareDatetime,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from kernel.errors import ConfigError
from kernel.events import COMPLAINT_CATEGORIES
from paypulse.simulator.fields import Duration, Table, parse_duration
from paypulse.simulator.scripted import Habit, Incident

__all__ = [
    "CallbackSpec",
    "ChannelSpec",
    "ComplaintSpec",
    "DailyCycle",
    "Habit",
    "Incident",
    "MerchantSpec",
    "Scenario",
    "load_scenario",
    "merchant_id",
    "parse_duration",
    "validate_scenario",
]

_OFFSET: Final = re.compile(r"^([+-])(\d{2}):(\d{2})$")


def merchant_id(rank: int) -> str:
    """The id of the merchant with this volume rank; rank 1 is the busiest.

    >>> merchant_id(1), merchant_id(2000)
    ('m00001', 'm02000')
    """
    return f"m{rank:05d}"


class ChannelSpec(Table):
    """One payment channel: its share of traffic, normal success rate and ticket size."""

    name: str = Field(min_length=1, max_length=64)
    share: float = Field(gt=0, le=1, description="fraction of all payments")
    success_rate: float = Field(gt=0, le=1, description="normal probability a payment succeeds")
    amount_median: float = Field(60.0, gt=0, description="median ticket size, CNY")
    amount_sigma: float = Field(1.0, gt=0, le=3, description="lognormal sigma of the ticket size")


DEFAULT_CHANNELS: Final = (
    ChannelSpec(name="alipay", share=0.45, success_rate=0.97, amount_median=60.0, amount_sigma=1.0),
    ChannelSpec(name="wechat", share=0.35, success_rate=0.965, amount_median=45.0, amount_sigma=1.0),
    ChannelSpec(name="unionpay", share=0.12, success_rate=0.94, amount_median=180.0, amount_sigma=1.1),
    ChannelSpec(name="card", share=0.08, success_rate=0.92, amount_median=220.0, amount_sigma=1.2),
)


class MerchantSpec(Table):
    """Merchants ``m00001`` … with Zipf-like volume: a few big ones and a long tail."""

    count: int = Field(2000, ge=1, le=99_999)
    zipf_exponent: float = Field(1.0, ge=0, le=3, description="weight of rank r is 1 / r**exponent")


class DailyCycle(Table):
    """Traffic over the local day: a night trough and bumps at the peak hours."""

    utc_offset: str = Field("+08:00", description="local time zone of the traffic, e.g. '+08:00'")
    night_ratio: float = Field(0.15, ge=0, le=1, description="night trough as a fraction of the peak")
    peak_hours: tuple[float, ...] = Field((12.0, 20.0), min_length=1, description="local hours of peaks")
    peak_width_h: float = Field(3.0, gt=0, le=12, description="how wide each peak is (hours, 1 sigma)")
    weekend_ratio: float = Field(1.0, gt=0, le=10, description="traffic on local Saturdays and Sundays, x")

    @field_validator("utc_offset")
    @classmethod
    def _offset(cls, value: str) -> str:
        if not _OFFSET.match(value):
            raise ValueError("write the offset like '+08:00' or '-05:00'")
        return value

    @field_validator("peak_hours")
    @classmethod
    def _hours(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 <= h < 24 for h in value):
            raise ValueError("peak hours are local hours in [0, 24)")
        return value

    @property
    def offset(self) -> timedelta:
        sign, hours, minutes = _OFFSET.match(self.utc_offset).groups()  # type: ignore[union-attr]
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        return -delta if sign == "-" else delta

    @property
    def tz(self) -> timezone:
        return timezone(self.offset)


class CallbackSpec(Table):
    """Provider notifications for succeeded payments."""

    latency_median: Duration = Field(timedelta(seconds=1.5), description="median callback latency")
    latency_sigma: float = Field(0.8, gt=0, le=3, description="lognormal sigma of the latency")
    max_latency: Duration = Field(timedelta(minutes=10), description="latencies are capped here")
    failure_rate: float = Field(0.003, ge=0, le=1, description="callbacks with status failed, later retried")
    retry_median: Duration = Field(timedelta(seconds=20), description="median delay of the retry")
    lost_rate: float = Field(0.0002, ge=0, le=1, description="callbacks that never arrive")


class ComplaintSpec(Table):
    """Customer complaints: rare, minutes after the payment they are about."""

    per_minute_at_peak: float = Field(
        0.3, ge=0, description="complaints per minute over all channels at peak"
    )
    delay_median: Duration = Field(timedelta(minutes=10), description="median time from payment to complaint")
    categories: dict[str, float] = Field(
        {"paid_not_updated": 0.5, "refund": 0.2, "charged_twice": 0.15, "other": 0.15},
        description="relative weights of the categories",
    )

    @field_validator("categories")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(COMPLAINT_CATEGORIES))
        if unknown:
            raise ValueError(f"unknown categories {unknown}; use {list(COMPLAINT_CATEGORIES)}")
        if not value or any(w < 0 for w in value.values()) or sum(value.values()) <= 0:
            raise ValueError("weights must be >= 0 with a positive sum")
        return value


class Scenario(Table):
    """Everything one simulation run needs; the same scenario and seed give the same bytes."""

    start: AwareDatetime = Field(
        datetime.fromisoformat("2026-03-02T00:00:00+08:00"), description="event time of the first second"
    )
    duration: Duration = Field(timedelta(hours=1), description="how much event time to simulate")
    seed: int = Field(0, ge=0, description="random seed; same seed, same output")
    rate_per_s: float = Field(50.0, gt=0, le=100_000, description="payments per second at the daily peak")
    channels: tuple[ChannelSpec, ...] = Field(DEFAULT_CHANNELS, min_length=1)
    merchants: MerchantSpec = MerchantSpec()
    daily: DailyCycle = DailyCycle()
    callbacks: CallbackSpec = CallbackSpec()
    complaints: ComplaintSpec = ComplaintSpec()
    max_jitter: Duration = Field(
        timedelta(seconds=8), description="events reach the stream at most this late (< 25 s)"
    )
    decimal_string_rate: float = Field(0.2, ge=0, le=1, description="amounts written as strings like '12.50'")
    duplicate_rate: float = Field(0.001, ge=0, le=0.5, description="lines sent twice, byte for byte")
    bad_line_rate: float = Field(
        0.0, ge=0, le=0.5, description="extra malformed lines, for dead-letter tests"
    )
    incidents: tuple[Incident, ...] = ()
    habits: tuple[Habit, ...] = Field((), description="daily volume changes that are normal (not labelled)")
    learn_for: Duration = Field(
        timedelta(0), description="the first part of the run is for learning: evaluations skip its alerts"
    )

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= value <= timedelta(days=366):
            raise ValueError("must be between 1s and 366d")
        return value

    @field_validator("max_jitter")
    @classmethod
    def _jitter(cls, value: timedelta) -> timedelta:
        if not timedelta(0) <= value <= timedelta(seconds=25):
            raise ValueError("must be between 0s and 25s, so events stay within the 30 s lateness")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise ValueError(f"channels: names must be unique, got {names}")
        total = sum(c.share for c in self.channels)
        if abs(total - 1.0) > 0.01:
            raise ValueError(f"channels: shares must sum to 1, got {total:.4f}")
        for i, habit in enumerate(self.habits):
            if habit.channel is not None and habit.channel not in names:
                raise ValueError(f"habits.{i}.channel: unknown channel {habit.channel!r}; use one of {names}")
        known = {merchant_id(r) for r in range(1, self.merchants.count + 1)}
        for i, inc in enumerate(self.incidents):
            if inc.channel is not None and inc.channel not in names:
                raise ValueError(
                    f"incidents.{i}.channel: unknown channel {inc.channel!r}; use one of {names}"
                )
            if inc.merchant_id is not None and inc.merchant_id not in known:
                raise ValueError(
                    f"incidents.{i}.merchant_id: unknown merchant {inc.merchant_id!r}; "
                    f"ids run m00001 (busiest) to {merchant_id(self.merchants.count)}"
                )
        return self

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return self.start_ms + int(self.duration.total_seconds() * 1000)


def load_scenario(path: Path, **overrides: Any) -> Scenario:
    """Read a scenario TOML file; raise :class:`ConfigError` naming the field that is wrong.

    ``overrides`` (e.g. ``seed=7``, ``duration="10m"``) replace the file's values, as the CLI's
    options do.
    """
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"scenario file {path} does not exist; see scenarios/*.toml") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"scenario file {path} is not valid TOML: {err}") from None
    data.update({k: v for k, v in overrides.items() if v is not None})
    return validate_scenario(data, Path(path))


def validate_scenario(data: dict[str, Any], source: Path | None = None) -> Scenario:
    """Build a :class:`Scenario` from plain data, turning validation errors into :class:`ConfigError`."""
    try:
        return Scenario(**data)
    except ValidationError as err:
        raise ConfigError.from_validation(_readable(err.errors()), source) from None


_FIELD_FIRST: Final = re.compile(r"^([\w.]+): (.*)$", re.S)


def _readable(errors: list[Any]) -> list[dict[str, Any]]:
    """Drop pydantic's ``Value error, `` prefix, and give cross-field errors their field's name.

    A check across fields runs on the whole model, so pydantic reports it at the top level; its
    message starts with the field (``incidents.0.channel: ...``), which becomes the location.
    """
    readable = []
    for err in errors:
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        match = _FIELD_FIRST.match(msg)
        if not err.get("loc") and match:
            err = {**err, "loc": tuple(match.group(1).split(".")), "input": {}}
            msg = match.group(2)
        readable.append({**err, "msg": msg})
    return readable
