"""One typed settings model: a TOML file plus ``PAYPULSE_*`` environment variables.

Loaded once at start-up by the CLI (:func:`load_settings`) and passed down as an argument;
nothing reads settings at import time, so tests build ``Settings(...)`` directly. Every
section forbids unknown keys, so a typo is an error that names the field, not a silent default.
Environment variables beat the file: ``PAYPULSE_DETECTORS__MIN_ATTEMPTS=50``; a ``PAYPULSE_*``
variable that names no setting is an error too, suggesting the nearest name.

Every duration is read by :func:`kernel.durations.parse_duration` and every duration and count
has a range. A :class:`ConfigError` names the field, the value as written, where it was set
(``in paypulse.toml``, ``from environment variable PAYPULSE_WINDOWS__LATENESS``, ``from the
command line``) and the fix; :meth:`Settings.origin` keeps that for later checks (output paths).
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from kernel.durations import Duration, format_duration
from kernel.errors import ConfigError
from kernel.events import CURRENCY_DECIMALS
from kernel.reconciliation import Policy as ReconciliationSettings

__all__ = [
    "EACH_ALERT",
    "GROUP_LABELS",
    "AlertingSettings",
    "DetectorSettings",
    "EscalationSettings",
    "EventSettings",
    "MetricsSettings",
    "OnCallSettings",
    "ReconciliationSettings",
    "RecoverySettings",
    "RouteNodeSettings",
    "RouteSettings",
    "Settings",
    "SourceSettings",
    "StatusPageSettings",
    "TimeIntervalSettings",
    "WindowSettings",
    "env_names",
    "load_settings",
]


class Section(BaseModel):
    """A settings table: frozen, and a key it does not know is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text


#: An http(s) URL as written (no normalising: a gateway's base URL is used as given).
WebUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+\S*$")]

#: A string that must say something: an empty host or banner message is a mistake, not a choice.
Text = Annotated[str, AfterValidator(_not_blank)]

_ZERO: Final = timedelta(0)
_MINUTE: Final = timedelta(minutes=1)
_HOUR: Final = timedelta(hours=1)
_DAY: Final = timedelta(days=1)


class SourceSettings(Section):
    kind: Literal["file", "stdin", "kafka", "simulator"] = Field("file", description="where events come from")
    path: Path | None = Field(None, description="JSONL file to read when kind = 'file'")
    brokers: list[Text] = Field(
        ["127.0.0.1:9092"], min_length=1, description="Kafka bootstrap servers, host:port"
    )
    topic: Text = Field("payments", description="Kafka topic of payment events")
    kafka_config: dict[str, str] = Field({}, description="extra librdkafka settings, e.g. security")
    scenario: Path | None = Field(None, description="scenario TOML when kind = 'simulator'")
    batch_size: int = Field(1000, ge=1, le=100_000, description="lines handed to the core at once")
    batch_timeout: Duration = Field(
        timedelta(milliseconds=200),
        gt=_ZERO,
        le=_MINUTE,
        description="a partial batch is handed on after this long",
    )


class EventSettings(Section):
    max_amount: float = Field(
        10_000_000.0,
        gt=0,
        le=1e12,
        description="largest plausible payment, in the currency's major unit; above it a line is bad_amount",
    )


class WindowSettings(Section):
    width: Duration = Field(
        timedelta(seconds=10), ge=timedelta(seconds=1), le=_HOUR, description="tumbling event-time window"
    )
    lateness: Duration = Field(
        timedelta(seconds=30),
        ge=_ZERO,
        le=_HOUR,
        description="how out of order events may be; later ones are dead-lettered",
    )
    max_ahead: Duration = Field(
        timedelta(minutes=10),
        gt=_ZERO,
        le=_DAY,
        description="an event this far ahead of the stream that the stream contradicts is clock_ahead",
    )
    top_merchants: int = Field(
        200, ge=0, le=10_000, description="merchants tracked one by one; the rest are pooled as 'other'"
    )
    stuck_timeout: Duration = Field(
        timedelta(minutes=5),
        gt=_ZERO,
        le=_DAY,
        description="a paid order with no processed callback after this is stuck",
    )
    max_pending_orders: int = Field(
        2_000_000, ge=1000, le=100_000_000, description="bound on paid orders awaiting their callback"
    )
    slow_callback: Duration = Field(
        timedelta(seconds=60), gt=_ZERO, le=_DAY, description="a callback later than this counts as delayed"
    )

    @field_validator("width")
    @classmethod
    def _whole_seconds(cls, width: timedelta) -> timedelta:
        if width.total_seconds() % 1:
            raise ValueError("must be a whole number of seconds, e.g. 10, '10s' or 'PT10S'")
        return width


class DetectorSettings(Section):
    min_attempts: int = Field(30, ge=1, le=1_000_000, description="no success-rate verdict on fewer payments")
    min_failures: int = Field(
        10, ge=1, le=1_000_000, description="no success-rate alert on fewer failed payments"
    )
    min_callbacks: int = Field(20, ge=1, le=1_000_000, description="no callback verdict on fewer callbacks")
    warmup: Duration = Field(
        timedelta(minutes=10), ge=_ZERO, le=7 * _DAY, description="learn this long before a scope may alert"
    )
    fire_after: int = Field(
        2, ge=1, le=1000, description="consecutive bad windows before firing (threshold tests)"
    )
    resolve_after: int = Field(6, ge=1, le=1000, description="consecutive good windows before resolving")
    success_rate_drop: float = Field(
        0.03,
        gt=0,
        lt=0.25,
        description="smallest success-rate drop (absolute) worth an alert; a second test covers 4x this",
    )
    false_pages_per_week: float = Field(
        1.0,
        gt=0,
        le=1000,
        description="false pages a week for the whole deployment; every live test gets an equal share",
    )
    max_onset: Duration = Field(
        timedelta(hours=1),
        ge=_MINUTE,
        le=_DAY,
        description="a change whose evidence took longer than this to gather is a drift, not an incident",
    )
    callback_p95_limit: Duration = Field(
        timedelta(seconds=30), gt=_ZERO, le=_HOUR, description="callback p95 latency limit"
    )
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
    amount_ratio: float = Field(
        0.3, gt=0, le=10, description="relative shift of mean ticket size that alerts"
    )
    seasonal: bool = Field(
        True,
        description="judge volume and ticket size against the same time of day and week once a day is seen",
    )
    seasonal_slot: Duration = Field(
        timedelta(minutes=5),
        ge=_MINUTE,
        le=_DAY,
        description="resolution of the seasonal profile; must divide a day",
    )
    complaint_min: int = Field(
        5, ge=1, le=1_000_000, description="complaints a spike needs over the span it is judged on"
    )
    stuck_min: int = Field(
        10, ge=1, le=1_000_000, description="stuck payments an alert needs over the span it is judged on"
    )

    @field_validator("seasonal_slot")
    @classmethod
    def _divides_a_day(cls, slot: timedelta) -> timedelta:
        seconds = slot.total_seconds()
        if seconds < 60 or seconds % 60 or 86_400 % seconds:
            raise ValueError("must be whole minutes that divide a day, e.g. '5m', '15m' or '1h'")
        return slot


Level = Literal["critical", "warning", "info"]
#: What a route may group alerts by (Alertmanager's group_by), and the word for "each alert apart".
GROUP_LABELS: Final = ("kind", "channel", "merchant", "severity")
EACH_ALERT: Final = "..."


class RouteSettings(Section):
    name: str = Field(description="shown in logs and metrics, e.g. 'oncall-dingtalk'")
    urls: list[SecretStr] = Field(description="Apprise URLs (dingtalk://, wecombot://, mailtos://, json://)")
    kinds: list[str] = Field([], description="only these alert kinds; empty = all")
    min_severity: Level = "warning"
    channels: list[Text] = Field([], description="only alerts on these channels; empty = any")
    merchants: list[Text] = Field([], description="only alerts on these merchants; empty = any")
    during: list[Text] = Field([], description="matches only within these alerting.time_intervals")
    mute_during: list[Text] = Field(
        [], description="matches, but sends nothing, within these alerting.time_intervals"
    )
    repeat_interval: Duration | None = Field(
        None,
        gt=_ZERO,
        le=30 * _DAY,
        description="re-notify on this route this often; default the parent route's, at the top alerting's",
    )
    group_by: list[str] | None = Field(
        None,
        description="labels (kind, channel, merchant, severity) whose alerts go out together as one "
        "message; [] = all of the route's in one; ['...'] or unset at the top = each alert on its own",
    )
    group_wait: Duration | None = Field(
        None,
        ge=_ZERO,
        le=_DAY,
        description="a new group waits this long for more alerts before its first message; "
        "default the parent route's, at the top 30s",
    )
    group_interval: Duration | None = Field(
        None,
        gt=_ZERO,
        le=_DAY,
        description="a group's later changes go out together at most this often; "
        "default the parent route's, at the top 5m",
    )
    mention_oncall: bool = Field(
        False, description="chat robots @mention the current on-call primary on firing alerts"
    )
    language: Literal["zh-CN", "en"] | None = Field(
        None, description="of its messages; default by URL: zh-CN for DingTalk, WeCom, Feishu, SMS; else en"
    )
    time_zone: str | None = Field(
        None, description="IANA zone of the times in its messages; default Asia/Shanghai for zh-CN, else UTC"
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, zone: str | None) -> str | None:
        if zone is not None and zone not in available_timezones():
            raise ValueError(f"{zone!r} is not an IANA time zone name such as 'Asia/Shanghai'")
        return zone

    @field_validator("group_by")
    @classmethod
    def _known_labels(cls, labels: list[str] | None) -> list[str] | None:
        if labels is None:
            return None
        unknown = [label for label in labels if label not in (*GROUP_LABELS, EACH_ALERT)]
        if unknown:
            raise ValueError(
                f"{', '.join(map(repr, unknown))} is not a label alerts are grouped by; use"
                f" {', '.join(GROUP_LABELS)}, or ['{EACH_ALERT}'] for each alert on its own"
            )
        if EACH_ALERT in labels and len(labels) > 1:
            raise ValueError(f"'{EACH_ALERT}' means each alert on its own; write it alone, or only labels")
        if len(set(labels)) < len(labels):
            raise ValueError("names a label twice; name each once")
        return labels


class RouteNodeSettings(RouteSettings):
    """A node of the routing tree (Alertmanager's ``route``): children are tried in order, and the
    first that matches takes the alert unless it says ``continue = true``; a node no child takes
    sends to its own ``urls``, inherited from its parent when it has none."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field("", description="shown in logs and metrics; default: its place, 'route.routes[0]'")
    urls: list[SecretStr] = Field([], description="Apprise URLs; empty = the parent's")
    min_severity: Level = "info"
    continue_: bool = Field(
        False, alias="continue", description="after this route matches, try its later siblings too"
    )
    routes: list[RouteNodeSettings] = Field([], description="child routes, tried in order")


_WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class TimeIntervalSettings(Section):
    weekdays: list[str] = Field([], description="'mon-fri', 'sat', 'sun'; empty = every day")
    times: list[str] = Field([], description="'09:00-18:00' (end excluded); empty = all day")
    zone: str = Field("Asia/Shanghai", description="IANA zone the days and times are read in")

    @field_validator("weekdays")
    @classmethod
    def _known_days(cls, days: list[str]) -> list[str]:
        for day in days:
            for part in day.lower().split("-"):
                if part[:3] not in _WEEKDAYS:
                    raise ValueError(f"{day!r} is not a weekday or range; write e.g. 'mon-fri' or 'sat'")
        return days

    @field_validator("times")
    @classmethod
    def _clock_ranges(cls, times: list[str]) -> list[str]:
        for span in times:
            start, sep, end = span.partition("-")
            if not sep or not all(_is_clock(t) for t in (start, end)) or start.strip() >= end.strip():
                raise ValueError(f"{span!r} is not a time range; write e.g. '09:00-18:00' (24h, start < end)")
        return times

    @field_validator("zone")
    @classmethod
    def _iana_zone(cls, zone: str) -> str:
        return _check_zone(zone)


def _is_clock(text: str) -> bool:
    hours, sep, minutes = text.strip().partition(":")
    return bool(sep) and hours.isdigit() and minutes.isdigit() and int(hours) <= 24 and int(minutes) < 60


def _check_zone(zone: str) -> str:
    from zoneinfo import available_timezones

    if zone not in available_timezones():
        raise ValueError(f"{zone!r} is not an IANA time zone; write e.g. 'Asia/Shanghai' or 'UTC'")
    return zone


class PersonSettings(Section):
    name: Text = Field(description="as operators write it in --by and the rotation")
    mobile: str = Field(pattern=r"^\+?\d{5,15}$", description="for SMS, calls and chat @mentions")


class OnCallOverrideSettings(Section):
    start: datetime = Field(description="from (ISO date-time; without an offset, in alerting.oncall.zone)")
    end: datetime = Field(description="until (excluded)")
    primary: str | None = Field(None, description="who is primary then; unset = the rotation's")
    secondary: str | None = Field(None, description="who is secondary then; unset = the rotation's")


class OnCallSettings(Section):
    zone: str = Field("Asia/Shanghai", description="zone of the hand-over time and override times")
    people: list[PersonSettings] = Field([], description="everyone who may be paged")
    rotation: list[str] = Field([], description="names, one week each in turn; the next one is secondary")
    handover: datetime = Field(
        datetime(2026, 1, 5, 10, 0), description="a hand-over moment; weeks of the rotation start from it"
    )
    lead: str | None = Field(None, description="who is paged last")
    overrides: list[OnCallOverrideSettings] = Field([], description="holidays and swaps")
    contacts: dict[str, SecretStr] = Field(
        {}, description="how to reach a person: Apprise URL templates with {mobile}, by name ('sms', 'phone')"
    )

    @field_validator("zone")
    @classmethod
    def _iana_zone(cls, zone: str) -> str:
        return _check_zone(zone)

    @model_validator(mode="after")
    def _names_are_people(self) -> OnCallSettings:
        known = [p.name for p in self.people]
        named = [*self.rotation, *([self.lead] if self.lead else [])]
        named += [n for o in self.overrides for n in (o.primary, o.secondary) if n]
        for name in named:
            if name not in known:
                raise ValueError(
                    f"{name!r} is on call but not in people; add [[alerting.oncall.people]] name = {name!r}"
                    f" with a mobile, or use one of: {', '.join(known) or '(nobody yet)'}"
                )
        for key, url in self.contacts.items():
            if "{mobile}" not in url.get_secret_value():
                raise ValueError(
                    f"contacts.{key} has no {{mobile}} placeholder; put it where the number goes"
                )
        for o in self.overrides:
            if o.end <= o.start:
                raise ValueError(f"an override ends ({o.end}) before it starts ({o.start}); swap them")
        return self


class EscalationLevelSettings(Section):
    after: Duration = Field(gt=_ZERO, le=_DAY, description="unacknowledged this long after the first page")
    notify: Literal["primary", "secondary", "lead"] = Field(description="who is paged at this level")
    via: str = Field(description="a key of alerting.oncall.contacts, e.g. 'sms' or 'phone'")


class EscalationSettings(Section):
    levels: list[EscalationLevelSettings] = Field([], description="in order of 'after'; empty = none")
    min_severity: Level = Field("critical", description="alerts below this severity do not escalate")
    ack_secret: SecretStr | None = Field(None, description="signs acknowledgement links; unset = no links")
    ack_url: str | None = Field(
        None, description="the status page's public base URL, where acknowledgement links point"
    )
    ack_link_ttl: Duration = Field(
        timedelta(hours=24), gt=_ZERO, le=30 * _DAY, description="an acknowledgement link works this long"
    )


class AlertingSettings(Section):
    log: Path = Field(Path("var/alerts.jsonl"), description="alert log, one JSON object per state change")
    outbox: Path = Field(Path("var/outbox.sqlite3"), description="notifications waiting to be delivered")
    routes: list[RouteSettings] = []
    repeat_interval: Duration = Field(
        timedelta(hours=1), gt=_ZERO, le=30 * _DAY, description="re-notify a still-firing alert"
    )
    resolve_hold: Duration = Field(
        timedelta(minutes=2),
        ge=_ZERO,
        le=_DAY,
        description="an alert resolves once its detector has been quiet this long; a flicker stays one alert",
    )
    max_attempts: int = Field(
        12, ge=1, le=1000, description="delivery attempts before a notification is parked"
    )
    retry_backoff: Duration = Field(
        timedelta(seconds=5), gt=_ZERO, le=_HOUR, description="first retry delay; doubles each time"
    )
    rate_limit: int = Field(
        20, ge=1, le=10_000, description="messages a minute per target; the overflow folds into one digest"
    )
    endpoints: dict[str, WebUrl] = Field(
        {},
        description="base URL per scheme (dingtalk, wecombot, feishu, lark, aliyunsms, aliyunvoice, "
        "tencentsms): "
        "a company egress gateway",
    )
    link: WebUrl | None = Field(None, description="ends SMS and calls with room for it: the status page")
    currency: str = Field("CNY", description="ISO 4217 currency of the amounts in messages")
    channel_names: dict[Literal["zh-CN", "en"], dict[str, Text]] = Field(
        {},
        description="display names per language over the built-in ones (支付宝/Alipay, 微信支付/WeChat Pay, "
        '银联/UnionPay, 银行卡/Card), e.g. {"zh-CN" = {"hkpay" = "香港支付"}}',
    )

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, code: str) -> str:
        if code not in CURRENCY_DECIMALS:
            raise ValueError(f"{code!r} is not an ISO 4217 currency code such as 'CNY' or 'USD'")
        return code

    route: RouteNodeSettings | None = Field(
        None, description="a routing tree (Alertmanager's); use it or the flat routes list, not both"
    )
    time_intervals: dict[str, TimeIntervalSettings] = Field(
        {}, description="named times of day and week that routes name in 'during' and 'mute_during'"
    )
    state: Path = Field(
        Path("var/oncall.sqlite3"), description="silences, acknowledgements, escalations, operator audit"
    )
    language: Literal["zh-CN", "en"] = Field("zh-CN", description="language of the operator commands")
    oncall: OnCallSettings = OnCallSettings()
    escalation: EscalationSettings = EscalationSettings()

    @model_validator(mode="after")
    def _routes_fit_together(self) -> AlertingSettings:
        if self.route is not None and self.routes:
            raise ValueError(
                "both the routes list and a route tree are set; move the [[alerting.routes]] entries"
                " under [alerting.route] as [[alerting.route.routes]] with continue = true"
            )
        untimely = _timing_without_grouping(self)
        if untimely:
            raise ValueError(
                f"{untimely[0]} sets group_wait or group_interval, but neither it nor a route above it sets"
                f" group_by, so each alert goes out on its own at once; add group_by (e.g."
                f' ["kind", "channel"]) or remove them'
            )
        known = set(self.time_intervals)
        for where, node in _route_nodes(self):
            for field in ("during", "mute_during"):
                for name in getattr(node, field):
                    if name not in known:
                        raise ValueError(
                            f"{where}.{field} names time interval {name!r}, which is not defined; add"
                            f" [alerting.time_intervals.{name}] or use one of: {', '.join(known) or '(none)'}"
                        )
        contacts = set(self.oncall.contacts)
        for index, level in enumerate(self.escalation.levels):
            if level.via not in contacts:
                raise ValueError(
                    f"escalation.levels[{index}].via = {level.via!r} is not a key of"
                    " alerting.oncall.contacts;"
                    f' add contacts.{level.via} = "<Apprise URL with {{mobile}}>" or use one of:'
                    f" {', '.join(sorted(contacts)) or '(none)'}"
                )
            if level.notify != "lead" and not self.oncall.rotation:
                raise ValueError(
                    f"escalation.levels[{index}] pages the {level.notify}, but oncall.rotation is empty;"
                    " fill [alerting.oncall] rotation with names from people"
                )
            if level.notify == "lead" and not self.oncall.lead:
                raise ValueError(f"escalation.levels[{index}] pages the lead, but oncall.lead is not set")
        return self


def _timing_without_grouping(settings: AlertingSettings) -> list[str]:
    """The routes that set a group's timing where no group_by (their own or inherited) groups."""
    found = [f"routes[{i}]" for i, r in enumerate(settings.routes) if _timed(r) and not _groups(r.group_by)]
    stack = [("route", settings.route, False)] if settings.route else []
    while stack:
        where, node, above = stack.pop(0)
        grouped = above if node.group_by is None else _groups(node.group_by)
        if _timed(node) and not grouped:
            found.append(where)
        stack += [(f"{where}.routes[{i}]", child, grouped) for i, child in enumerate(node.routes)]
    return found


def _timed(route: RouteSettings) -> bool:
    return route.group_wait is not None or route.group_interval is not None


def _groups(group_by: list[str] | None) -> bool:
    return group_by is not None and group_by != [EACH_ALERT]


def _route_nodes(settings: AlertingSettings) -> list[tuple[str, RouteSettings]]:
    """Every route with its dotted path, flat list and tree alike."""
    found: list[tuple[str, RouteSettings]] = [(f"routes[{i}]", r) for i, r in enumerate(settings.routes)]
    stack: list[tuple[str, RouteNodeSettings]] = [("route", settings.route)] if settings.route else []
    while stack:
        where, node = stack.pop(0)
        found.append((where, node))
        stack += [(f"{where}.routes[{i}]", child) for i, child in enumerate(node.routes)]
    return found


class StatusPageSettings(Section):
    host: Text = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    db: Path = Field(Path("var/banner.sqlite3"), description="banner state, survives restarts")
    hold: Duration = Field(
        timedelta(minutes=5), ge=_ZERO, le=_DAY, description="banner stays on this long after recovery"
    )
    message: Text = Field(
        "Payments may be delayed. If you have paid, please do not pay again.",
        max_length=500,
        description="what end users read while the banner is on",
    )
    ops_token: SecretStr | None = Field(None, description="bearer token for the ops override API")

    @field_validator("ops_token")
    @classmethod
    def _token_not_blank(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and not token.get_secret_value().strip():
            raise ValueError("must not be blank; leave it unset to refuse every override")
        return token


class RecoverySettings(Section):
    """Where ``paypulse run`` keeps what it learned and how far it read, to resume after a crash."""

    enabled: bool = Field(True, description="resume where the last run stopped (Kafka and file sources)")
    dir: Path = Field(Path("var/recovery"), description="snapshots and read positions, one folder per source")
    snapshot_every: Duration = Field(
        timedelta(seconds=10),
        gt=_ZERO,
        le=_HOUR,
        description="a crash replays at most this much input (its alerts are not written or sent twice)",
    )


class MetricsSettings(Section):
    host: Text = "127.0.0.1"
    port: int = Field(9464, ge=0, le=65535, description="/metrics is served here by `paypulse run`")


ENV_PREFIX: Final = "PAYPULSE_"
_DEFAULT: Final = "(the default)"
_COMMAND: Final = "from the command line"
#: Settings whose values may hold secrets (list positions left out): a message never repeats them.
_SECRETS: Final = (
    ("alerting", "routes", "urls"),
    ("alerting", "oncall", "contacts"),
    ("alerting", "escalation", "ack_secret"),
    ("source", "kafka_config"),
    ("statuspage", "ops_token"),
)


class Settings(BaseSettings):
    """Everything PayPulse can be told, with defaults a payment ops team can start from."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    dead_letter: Path = Field(Path("var/dead-letter.jsonl"), description="rejected lines and reasons")
    source: SourceSettings = SourceSettings()
    events: EventSettings = EventSettings()
    windows: WindowSettings = WindowSettings()
    detectors: DetectorSettings = DetectorSettings()
    alerting: AlertingSettings = AlertingSettings()
    statuspage: StatusPageSettings = StatusPageSettings()
    metrics: MetricsSettings = MetricsSettings()
    reconciliation: ReconciliationSettings = ReconciliationSettings()
    recovery: RecoverySettings = RecoverySettings()

    # Where each value came from ("in paypulse.toml", "from environment variable ..."), for
    # messages about it later, such as an output path that cannot be written.
    _origins: dict[str, str] = PrivateAttr(default_factory=dict)

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

    def origin(self, field: str) -> str:
        """Where ``field`` (dotted, e.g. ``"alerting.log"``) was set, as messages say it.

        >>> Settings().origin("alerting.log")
        '(the default)'
        >>> Settings().with_origin("from the command line", "alerting.log").origin("alerting.log")
        'from the command line'
        """
        return _origin_of(self._origins, tuple(field.split(".")))

    def with_origin(self, origin: str, *fields: str) -> Settings:
        """A copy noting that ``fields`` were set from ``origin`` (a command-line option, say)."""
        copy = self.model_copy()
        copy._origins = {**self._origins, **dict.fromkeys(fields, origin)}
        return copy


def load_settings(path: Path | None = None, *, defaults: Mapping[str, Any] | None = None) -> Settings:
    """Read the TOML file (if any) and the environment; raise :class:`ConfigError` naming the field.

    ``defaults`` are values the command sets itself (``paypulse demo``'s state directory); the
    file and the environment override them. Every error says where the bad value came from:
    ``in paypulse.toml``, ``from environment variable PAYPULSE_WINDOWS__LATENESS`` or
    ``from the command line``.
    """
    data = _read_toml(path) if path is not None else {}
    environment = _environment()
    origins: dict[str, str] = {}
    _note(origins, (), defaults or {}, _COMMAND)
    _note(origins, (), data, f"in {path}")
    for name, var in environment.items():
        origins[".".join(var.path)] = f"from environment variable {name}"
    values = _merge(dict(defaults or {}), data)
    try:
        settings = Settings(**values)
    except ValidationError as err:
        problems = [_readable(e, origins, environment, values) for e in err.errors()]
        raise ConfigError.from_validation(problems, lambda loc: _origin_of(origins, loc)) from None
    except SettingsError as err:  # a value the environment check did not foresee
        raise ConfigError(f"invalid {ENV_PREFIX}* environment variable: {err}") from None
    settings._origins = origins
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    """The config file as data; every way it can be unreadable is one line naming the file."""
    fix = "pass a TOML file such as a copy of paypulse.example.toml"
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; copy paypulse.example.toml") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory; {fix}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {err.object[err.start]:#04x} at offset "
            f"{err.start}); save it as UTF-8"
        ) from None
    except OSError as err:
        raise ConfigError(f"config file {path} cannot be read: {err.strerror}; {fix}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from None


# --- the environment ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _EnvVar:
    path: tuple[str, ...]  # the setting it names, e.g. ("windows", "lateness")
    value: Any  # as set; decoded from JSON for a list, table or dict


def env_names(model: type[BaseModel] = Settings, prefix: str = ENV_PREFIX) -> dict[str, tuple[str, ...]]:
    """Every environment variable that names a setting, and the setting's path.

    A table can be set whole (as a JSON object) or field by field; a list or dict only whole.

    >>> env_names()["PAYPULSE_WINDOWS__LATENESS"], env_names()["PAYPULSE_ALERTING__ROUTES"]
    (('windows', 'lateness'), ('alerting', 'routes'))
    """
    names: dict[str, tuple[str, ...]] = {}
    for field, info in model.model_fields.items():
        name = f"{prefix}{field.upper()}"
        names[name] = (field,)
        if _is_section(info.annotation):
            inner = env_names(info.annotation, f"{name}__")  # type: ignore[arg-type]
            names.update({n: (field, *path) for n, path in inner.items()})
    return names


def _environment() -> dict[str, _EnvVar]:
    """The ``PAYPULSE_*`` variables set, checked: an unknown name or malformed JSON is an error."""
    known = env_names()
    found: dict[str, _EnvVar] = {}
    for name, value in sorted(os.environ.items()):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        path = known.get(name.upper())
        if path is None:
            raise ConfigError(_unknown_variable(name, known))
        if _is_complex(_annotation(path)):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as err:
                shown = "" if _is_secret(path) else f" = {value!r}"
                raise ConfigError(
                    f"invalid setting {'.'.join(path)}{shown} from environment variable {name}: not valid "
                    f"JSON ({err.msg} at character {err.pos}); write it as JSON, e.g. {_json_example(path)}"
                ) from None
        found[name] = _EnvVar(path, value)
    return found


def _unknown_variable(name: str, known: Mapping[str, tuple[str, ...]]) -> str:
    """The message for a ``PAYPULSE_*`` variable that names no setting, with the nearest that does."""
    tails = {n.removeprefix(ENV_PREFIX): n for n in known}
    close = difflib.get_close_matches(name.upper().removeprefix(ENV_PREFIX), tails, n=1, cutoff=0.6)
    hint = (
        f"did you mean {tails[close[0]]}?"
        if close
        else f"{ENV_PREFIX}<SECTION>__<FIELD> names a setting, e.g. {ENV_PREFIX}WINDOWS__LATENESS"
    )
    return f"unknown environment variable {name}: PayPulse has no such setting; {hint} (or unset it)"


def _json_example(path: tuple[str, ...]) -> str:
    annotation = _annotation(path)
    if get_origin(annotation) is list:
        inner = get_args(annotation)[0]
        if _is_section(inner):
            return """'[{"name": "oncall", "urls": ["json://host/"]}]'"""
        return """'["127.0.0.1:9092"]'"""
    if get_origin(annotation) is dict:
        return """'{"security.protocol": "SASL_SSL"}'"""
    return """'{"field": "value"}'"""


# --- model walking -----------------------------------------------------------------------------


def _is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_complex(annotation: Any) -> bool:
    """True for what pydantic-settings reads as JSON from the environment: tables, lists, dicts."""
    if _is_section(annotation) or get_origin(annotation) in (list, tuple, set, frozenset, dict):
        return True
    return get_origin(annotation) in (Union, UnionType) and any(map(_is_complex, get_args(annotation)))


def _annotation(path: tuple[Any, ...]) -> Any:
    """The type of the setting at ``path``, or None where the path leaves the model."""
    model: Any = Settings
    annotation: Any = None
    for part in path:
        if not _is_section(model) or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        model = get_args(annotation)[0] if get_origin(annotation) is list else annotation
    return annotation


def _field_info(loc: tuple[Any, ...]) -> FieldInfo | None:
    """The pydantic field at ``loc`` (list indices skipped), for its bounds."""
    model: Any = Settings
    info = None
    for part in loc:
        if isinstance(part, int):
            continue
        if not _is_section(model) or part not in model.model_fields:
            return None
        info = model.model_fields[part]
        model = get_args(info.annotation)[0] if get_origin(info.annotation) is list else info.annotation
    return info


def _siblings(loc: tuple[Any, ...]) -> list[str]:
    """The keys the table holding ``loc`` accepts."""
    model: Any = Settings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not _is_section(model) or part not in model.model_fields:
            return []
        annotation = model.model_fields[part].annotation
        model = get_args(annotation)[0] if get_origin(annotation) is list else annotation
    return list(model.model_fields) if _is_section(model) else []


# --- errors, readable --------------------------------------------------------------------------


def _note(origins: dict[str, str], prefix: tuple[str, ...], data: Mapping[str, Any], origin: str) -> None:
    """Record ``origin`` for every key (and table) in ``data``."""
    for key, value in data.items():
        path = (*prefix, str(key))
        origins[".".join(path)] = origin
        if isinstance(value, Mapping) and _is_section(_annotation(path)):
            _note(origins, path, value, origin)


def _origin_of(origins: Mapping[str, str], loc: tuple[Any, ...]) -> str:
    """The origin of the longest recorded prefix of ``loc``."""
    parts = [str(p) for p in loc]
    for n in range(len(parts), 0, -1):
        found = origins.get(".".join(parts[:n]))
        if found is not None:
            return found
    return _DEFAULT


def _dig(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return data


_MISSING: Final = object()


def _readable(
    err: Mapping[str, Any],
    origins: Mapping[str, str],
    environment: Mapping[str, _EnvVar],
    values: Mapping[str, Any],
) -> dict[str, Any]:
    """One pydantic error as ConfigError wants it: the value as written, and a message saying the fix."""
    loc = tuple(err.get("loc", ()))
    out: dict[str, Any] = {"loc": loc, "msg": _message(err, loc)}
    if _is_secret(loc):
        return out  # no "input": the value is not shown
    origin = _origin_of(origins, loc)
    var = environment.get(origin.removeprefix("from environment variable "))
    written = _dig(var.value, loc[len(var.path) :]) if var else _dig(values, loc)
    value = err.get("input", _MISSING) if written is _MISSING else written
    if value is not _MISSING and not isinstance(value, Mapping):
        out["input"] = value
    return out


def _is_secret(loc: tuple[Any, ...]) -> bool:
    """True if the value at ``loc`` is, or holds, a secret (a route URL, a token).

    >>> _is_secret(("alerting", "routes", 0, "urls", 1)), _is_secret(("alerting", "routes"))
    (True, True)
    >>> _is_secret(("alerting", "routes", 0, "min_severity"))
    False
    """
    names = tuple(p for p in loc if not isinstance(p, int))
    if names[:2] == ("alerting", "route") and ("urls" in names or len(names) < 3 or names[-1] == "routes"):
        return True  # a tree node's URLs, or a node holding them
    return any(names[: len(s)] == s or s[: len(names)] == names for s in _SECRETS)


def _message(err: Mapping[str, Any], loc: tuple[Any, ...]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        siblings = _siblings(loc)
        close = difflib.get_close_matches(str(loc[-1]), siblings, n=1, cutoff=0.6)
        where = ".".join(str(p) for p in loc[:-1])
        if close:
            return f"no such setting; did you mean {where + '.' if where else ''}{close[0]}?"
        known = f"[{where}] has" if where else "the tables are"
        return f"no such setting; {known} {', '.join(siblings)}"
    if kind == "missing":
        return "is required"
    if kind == "too_short" and (err.get("ctx") or {}).get("min_length") == 1:
        return "must not be empty"
    info = _field_info(loc)
    bounds = _range(info) if info is not None else ""
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal") and bounds:
        return bounds
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ").replace("Input should be", "must be")
    return f"{msg}; it {bounds}" if bounds else msg


def _range(info: FieldInfo) -> str:
    """A field's bounds in one phrase, ``must be at least 0s and at most 1h``; empty if it has none."""
    phrases = []
    for bound in info.metadata:
        for attr, words in (("gt", "more than"), ("ge", "at least"), ("lt", "less than"), ("le", "at most")):
            limit = getattr(bound, attr, None)
            if limit is not None:
                shown = format_duration(limit) if isinstance(limit, timedelta) else str(limit)
                phrases.append(f"{words} {shown}")
    return "must be " + " and ".join(phrases) if phrases else ""


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, table by table."""
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            base[key] = _merge(dict(base[key]), value)
        else:
            base[key] = value
    return base
