"""What a simulation plays: a TOML scenario of normal traffic plus scripted incidents.

The scenario is untrusted input from a file, so it is a pydantic model that forbids unknown
keys: a typo such as ``rate_per_sec`` is an error naming the field, not a silent default.
Durations are written the way people say them (``"20m"``, ``"1h30m"``), and an incident
starts either at an offset from the simulation start or at an RFC 3339 time.
"""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from alerting.model import KINDS
from paypulse.errors import ConfigError
from paypulse.events import COMPLAINT_CATEGORIES

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

_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")
_UNIT_S: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_OFFSET: Final = re.compile(r"^([+-])(\d{2}):(\d{2})$")


def parse_duration(value: Any) -> timedelta:
    """Read a duration written as ``"1h30m"``, ``"20m"``, ``"90s"``, ``"250ms"`` or a number of seconds.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    >>> parse_duration(2.5)
    datetime.timedelta(seconds=2, microseconds=500000)
    >>> parse_duration("soon")
    Traceback (most recent call last):
    ...
    ValueError: 'soon' is not a duration; write it like '20m', '1h30m', '90s' or '250ms'
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        parts = _DURATION.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            return timedelta(seconds=sum(float(n) * _UNIT_S[u] for n, u in parts))
    raise ValueError(f"{value!r} is not a duration; write it like '20m', '1h30m', '90s' or '250ms'")


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


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def merchant_id(rank: int) -> str:
    """The id of the merchant with this volume rank; rank 1 is the busiest.

    >>> merchant_id(1), merchant_id(2000)
    ('m00001', 'm02000')
    """
    return f"m{rank:05d}"


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelSpec(_Table):
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


class MerchantSpec(_Table):
    """Merchants ``m00001`` … with Zipf-like volume: a few big ones and a long tail."""

    count: int = Field(2000, ge=1, le=99_999)
    zipf_exponent: float = Field(1.0, ge=0, le=3, description="weight of rank r is 1 / r**exponent")


class DailyCycle(_Table):
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


class CallbackSpec(_Table):
    """Provider notifications for succeeded payments."""

    latency_median: Duration = Field(timedelta(seconds=1.5), description="median callback latency")
    latency_sigma: float = Field(0.8, gt=0, le=3, description="lognormal sigma of the latency")
    max_latency: Duration = Field(timedelta(minutes=10), description="latencies are capped here")
    failure_rate: float = Field(0.003, ge=0, le=1, description="callbacks with status failed, later retried")
    retry_median: Duration = Field(timedelta(seconds=20), description="median delay of the retry")
    lost_rate: float = Field(0.0002, ge=0, le=1, description="callbacks that never arrive")


class ComplaintSpec(_Table):
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


class Incident(_Table):
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


class Habit(_Table):
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


class Scenario(_Table):
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
