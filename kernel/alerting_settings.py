"""The alerting tables of the settings: routes and their tree, time intervals, the on-call
schedule, escalation, and ``[alerting]`` itself.

Kept apart from :mod:`kernel.settings` (which loads the whole model and explains its errors)
because on-call configuration is most of what an operator writes; :mod:`kernel.settings`
re-exports every name here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Final, Literal
from zoneinfo import available_timezones

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from kernel.durations import Duration
from kernel.events import CURRENCY_DECIMALS
from kernel.section import DAY, HOUR, ZERO, Section, Text, WebUrl

__all__ = [
    "EACH_ALERT",
    "GROUP_LABELS",
    "AlertingSettings",
    "EscalationSettings",
    "OnCallSettings",
    "RouteNodeSettings",
    "RouteSettings",
    "TimeIntervalSettings",
]


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
        gt=ZERO,
        le=30 * DAY,
        description="re-notify on this route this often; default the parent route's, at the top alerting's",
    )
    group_by: list[str] | None = Field(
        None,
        description="labels (kind, channel, merchant, severity) whose alerts go out together as one "
        "message; [] = all of the route's in one; ['...'] or unset at the top = each alert on its own",
    )
    group_wait: Duration | None = Field(
        None,
        ge=ZERO,
        le=DAY,
        description="a new group waits this long for more alerts before its first message; "
        "default the parent route's, at the top 30s",
    )
    group_interval: Duration | None = Field(
        None,
        gt=ZERO,
        le=DAY,
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
    after: Duration = Field(gt=ZERO, le=DAY, description="unacknowledged this long after the first page")
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
        timedelta(hours=24), gt=ZERO, le=30 * DAY, description="an acknowledgement link works this long"
    )


class AlertingSettings(Section):
    log: Path = Field(Path("var/alerts.jsonl"), description="alert log, one JSON object per state change")
    outbox: Path = Field(Path("var/outbox.sqlite3"), description="notifications waiting to be delivered")
    routes: list[RouteSettings] = Field([])
    repeat_interval: Duration = Field(
        timedelta(hours=1), gt=ZERO, le=30 * DAY, description="re-notify a still-firing alert"
    )
    resolve_hold: Duration = Field(
        timedelta(minutes=2),
        ge=ZERO,
        le=DAY,
        description="an alert resolves once its detector has been quiet this long; a flicker stays one alert",
    )
    max_attempts: int = Field(
        12, ge=1, le=1000, description="delivery attempts before a notification is parked"
    )
    retry_backoff: Duration = Field(
        timedelta(seconds=5), gt=ZERO, le=HOUR, description="first retry delay; doubles each time"
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
