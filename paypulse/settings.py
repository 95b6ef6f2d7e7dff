"""One typed settings model: a TOML file plus ``PAYPULSE_*`` environment variables.

Loaded once at start-up by the CLI (:func:`load_settings`) and passed down as an argument;
nothing reads settings at import time, so tests build ``Settings(...)`` directly. Every
section forbids unknown keys, so a typo is an error that names the field, not a silent default.
Environment variables beat the file: ``PAYPULSE_DETECTORS__MIN_ATTEMPTS=50``.
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from paypulse.errors import ConfigError

__all__ = [
    "AlertingSettings",
    "DetectorSettings",
    "MetricsSettings",
    "RouteSettings",
    "Settings",
    "SourceSettings",
    "StatusPageSettings",
    "WindowSettings",
    "load_settings",
]


class Section(BaseModel):
    """A settings table: frozen, and a key it does not know is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSettings(Section):
    kind: Literal["file", "stdin", "kafka", "simulator"] = Field("file", description="where events come from")
    path: Path | None = Field(None, description="JSONL file to read when kind = 'file'")
    brokers: list[str] = Field(["127.0.0.1:9092"], description="Kafka bootstrap servers, host:port")
    topic: str = Field("payments", description="Kafka topic of payment events")
    kafka_config: dict[str, str] = Field({}, description="extra librdkafka settings, e.g. security")
    scenario: Path | None = Field(None, description="scenario TOML when kind = 'simulator'")
    batch_size: int = Field(1000, ge=1, le=100_000, description="lines handed to the core at once")
    batch_timeout: timedelta = Field(
        timedelta(milliseconds=200), description="a partial batch is handed on after this long"
    )


class WindowSettings(Section):
    width: timedelta = Field(timedelta(seconds=10), description="tumbling event-time window")
    lateness: timedelta = Field(
        timedelta(seconds=30), description="how out of order events may be; later ones are dead-lettered"
    )
    max_ahead: timedelta = Field(
        timedelta(minutes=10),
        description="events further ahead of the stream wait for it to confirm them (a sender's clock)",
    )
    top_merchants: int = Field(
        200, ge=0, le=10_000, description="merchants tracked one by one; the rest are pooled as 'other'"
    )
    stuck_timeout: timedelta = Field(
        timedelta(minutes=5), description="a paid order with no processed callback after this is stuck"
    )
    max_pending_orders: int = Field(
        2_000_000, ge=1000, description="bound on paid orders awaiting their callback"
    )
    slow_callback: timedelta = Field(
        timedelta(seconds=60), description="a callback later than this counts as delayed"
    )

    @field_validator("width")
    @classmethod
    def _whole_seconds(cls, width: timedelta) -> timedelta:
        if width.total_seconds() < 1 or width.total_seconds() % 1:
            raise ValueError("must be a whole number of seconds >= 1, e.g. 10 or 'PT10S'")
        return width


class DetectorSettings(Section):
    min_attempts: int = Field(30, ge=1, description="no success-rate verdict on fewer payments")
    min_failures: int = Field(10, ge=1, description="no success-rate alert on fewer failed payments")
    min_callbacks: int = Field(20, ge=1, description="no callback verdict on fewer callbacks")
    warmup: timedelta = Field(timedelta(minutes=10), description="learn this long before a scope may alert")
    fire_after: int = Field(2, ge=1, description="consecutive bad windows before firing (threshold tests)")
    resolve_after: int = Field(6, ge=1, description="consecutive good windows before resolving")
    success_rate_drop: float = Field(
        0.03,
        gt=0,
        lt=0.25,
        description="smallest success-rate drop (absolute) worth an alert; a second test covers 4x this",
    )
    false_alarm_days: float = Field(
        30.0, gt=0, description="mean time between false alarms per scope the sequential tests aim for"
    )
    callback_p95_limit: timedelta = Field(timedelta(seconds=30), description="callback p95 latency limit")
    callback_failure_limit: float = Field(
        0.05, gt=0, lt=0.25, description="smallest callback failure-rate rise worth an alert (4x covered too)"
    )
    callback_late_share: float = Field(
        0.03,
        gt=0,
        lt=0.25,
        description="smallest rise in the share of callbacks later than windows.slow_callback worth an alert",
    )
    volume_ratio: float = Field(
        0.5, gt=0, lt=1, description="volume alerts need observed/baseline below this or above its inverse"
    )
    amount_ratio: float = Field(0.3, gt=0, description="relative shift of mean ticket size that alerts")
    seasonal: bool = Field(
        True,
        description="judge volume and ticket size against the same time of day and week once a day is seen",
    )
    seasonal_slot: timedelta = Field(
        timedelta(minutes=5), description="resolution of the seasonal profile; must divide a day"
    )
    complaint_min: int = Field(5, ge=1, description="complaints in a minute before a spike can alert")
    stuck_min: int = Field(10, ge=1, description="stuck payments in a minute before an alert")
    significance: float = Field(1e-6, gt=0, lt=0.01, description="p-value a count test must beat")

    @field_validator("seasonal_slot")
    @classmethod
    def _divides_a_day(cls, slot: timedelta) -> timedelta:
        seconds = slot.total_seconds()
        if seconds < 60 or seconds % 60 or 86_400 % seconds:
            raise ValueError("must be whole minutes that divide a day, e.g. 'PT5M', 'PT15M' or 'PT1H'")
        return slot


class RouteSettings(Section):
    name: str = Field(description="shown in logs and metrics, e.g. 'oncall-dingtalk'")
    urls: list[SecretStr] = Field(description="Apprise URLs (dingtalk://, wecom://, mailto://, json://)")
    kinds: list[str] = Field([], description="only these alert kinds; empty = all")
    min_severity: Literal["critical", "warning", "info"] = "warning"


class AlertingSettings(Section):
    log: Path = Field(Path("var/alerts.jsonl"), description="alert log, one JSON object per state change")
    outbox: Path = Field(Path("var/outbox.sqlite3"), description="notifications waiting to be delivered")
    routes: list[RouteSettings] = []
    repeat_interval: timedelta = Field(timedelta(hours=1), description="re-notify a still-firing alert")
    resolve_hold: timedelta = Field(
        timedelta(minutes=2),
        description="an alert resolves once its detector has been quiet this long; a flicker stays one alert",
    )
    max_attempts: int = Field(12, ge=1, description="delivery attempts before a notification is parked")
    retry_backoff: timedelta = Field(timedelta(seconds=5), description="first retry delay; doubles each time")


class StatusPageSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    db: Path = Field(Path("var/banner.sqlite3"), description="banner state, survives restarts")
    hold: timedelta = Field(timedelta(minutes=5), description="banner stays on this long after recovery")
    message: str = "Payments may be delayed. If you have paid, please do not pay again."
    ops_token: SecretStr | None = Field(None, description="bearer token for the ops override API")


class MetricsSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(9464, ge=0, le=65535, description="/metrics is served here by `paypulse run`")


class Settings(BaseSettings):
    """Everything PayPulse can be told, with defaults a payment ops team can start from."""

    model_config = SettingsConfigDict(
        env_prefix="PAYPULSE_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    dead_letter: Path = Field(Path("var/dead-letter.jsonl"), description="rejected lines and reasons")
    source: SourceSettings = SourceSettings()
    windows: WindowSettings = WindowSettings()
    detectors: DetectorSettings = DetectorSettings()
    alerting: AlertingSettings = AlertingSettings()
    statuspage: StatusPageSettings = StatusPageSettings()
    metrics: MetricsSettings = MetricsSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)


def load_settings(path: Path | None = None) -> Settings:
    """Read the TOML file (if any) and the environment; raise :class:`ConfigError` naming the field."""
    data = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist; copy paypulse.example.toml") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"config file {path} is not valid TOML: {err}") from None
    try:
        return Settings(**data)
    except ValidationError as err:
        raise ConfigError.from_validation(err.errors(), path) from None
