"""Which routes an alert goes to: a route is a filter by kind, severity, channel, merchant and time.

In the flat table (``alerting.routes``) an alert goes to *every* route it matches (Alertmanager's
``continue: true`` on every node); :mod:`alerting.route_tree` nests routes as Alertmanager does.
Each (route, alert change) becomes one notification, and
each of the route's Apprise URLs is one delivery target in the outbox.

Targets are identified by :func:`target_key`, a hash of the URL: the outbox must remember which
URL a row is for across restarts, but the URL holds tokens and may never be stored or logged.

Each target also has a reader: :func:`language_for` and :func:`zone_for` choose the language and
time zone of its messages from the URL's scheme. Chat robots and SMS gateways reach on-call in
China, so they read Chinese (zh-CN) with Beijing time; everything else (``json://`` hooks,
``mailto://``, Lark, Slack) reads English with UTC times, the terms of the alert log. A route may
name both explicitly; the choice is made here so the settings only have to pass it on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from zoneinfo import available_timezones

from pydantic import SecretStr

from alerting.i18n import DEFAULT_ZONE, LANGUAGES, Language
from alerting.intervals import TimeInterval, intervals_from_settings
from kernel.alerts import KINDS, Alert, Severity
from kernel.errors import ConfigError
from kernel.settings import EACH_ALERT, AlertingSettings, RouteSettings

__all__ = [
    "CHINESE_SCHEMES",
    "DEFAULT_GROUP_INTERVAL",
    "DEFAULT_GROUP_WAIT",
    "SEVERITY_RANK",
    "SMS_SCHEMES",
    "TOP",
    "VOICE_SCHEMES",
    "Route",
    "Timing",
    "language_for",
    "match_routes",
    "route_from",
    "routes_from_settings",
    "scheme_of",
    "severity_at_least",
    "target_key",
    "zone_for",
]

#: Apprise schemes of SMS gateways.
SMS_SCHEMES: Final = frozenset(
    {
        "sns", "twilio", "d7sms", "smseagle", "smseagles", "httpsms", "sinch", "plivo", "clicksend",
        "bulksms", "bulkvs", "msg91", "kavenegar", "vonage", "nexmo", "seven", "smpp", "smpps", "infobip",
        "telnyx", "clickatell", "burstsms", "kudosity", "46elks", "elks", "msgbird", "atalk", "smsmgr",
        "smsmanager", "serwersms", "smsc", "smstunnel", "kaleyra", "klr", "mobilemessage", "mobilemsg",
        "voipms", "telesign", "octopush", "notifyre", "exotel", "cm", "aliyunsms", "tencentsms",
    }
)  # fmt: skip
#: Schemes that phone on-call and read the alert out (the last level of an escalation).
VOICE_SCHEMES: Final = frozenset({"aliyunvoice"})
#: Schemes whose readers get Chinese and Beijing time unless the route says otherwise: the
#: DingTalk, WeCom (robot and app) and Feishu robots, SMS and phone calls.
CHINESE_SCHEMES: Final = frozenset({"dingtalk", "wecombot", "wecom", "feishu"}) | SMS_SCHEMES | VOICE_SCHEMES

#: Alertmanager's defaults for a route that groups and says no more.
DEFAULT_GROUP_WAIT: Final = 30.0
DEFAULT_GROUP_INTERVAL: Final = 300.0

#: Higher is more urgent; ``min_severity`` lets through its own rank and above.
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


def severity_at_least(severity: str, minimum: str) -> bool:
    """True when ``severity`` is at least as urgent as ``minimum``.

    >>> severity_at_least("critical", "warning"), severity_at_least("info", "warning")
    (True, False)
    """
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[minimum]


def target_key(url: str) -> str:
    """A stable, non-reversible id for one Apprise URL, stored in outbox rows instead of the URL.

    >>> target_key("json://127.0.0.1:8000/hook")
    'd1b21500e066033a'
    """
    return hashlib.sha256(url.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Timing:
    """What a route takes from its parent when it does not say itself, as Alertmanager's
    ``dispatch/route.go`` does: grouping (``group_by``, ``group_wait``, ``group_interval``) and
    ``repeat_interval``. The top of the tree (and each route of the flat list) starts from
    :data:`TOP`: each alert on its own, and ``alerting.repeat_interval``.

    >>> from kernel.settings import RouteSettings
    >>> from datetime import timedelta
    >>> parent = TOP.under(RouteSettings(name="p", urls=[], group_by=["kind"], group_wait=timedelta(0, 9)))
    >>> child = parent.under(RouteSettings(name="c", urls=[], group_interval=timedelta(minutes=1)))
    >>> child.group_by, child.group_wait, child.group_interval, child.repeat_interval
    (('kind',), 9.0, 60.0, None)
    >>> child.under(RouteSettings(name="g", urls=[], group_by=["..."])).group_by is None
    True
    """

    group_by: tuple[str, ...] | None = None
    group_wait: float = DEFAULT_GROUP_WAIT
    group_interval: float = DEFAULT_GROUP_INTERVAL
    repeat_interval: float | None = None

    def under(self, rs: RouteSettings) -> Timing:
        """The timing of a route with settings ``rs`` below one with this timing."""
        group_by = self.group_by if rs.group_by is None else tuple(rs.group_by)
        return Timing(
            None if group_by == (EACH_ALERT,) else group_by,
            self.group_wait if rs.group_wait is None else rs.group_wait.total_seconds(),
            self.group_interval if rs.group_interval is None else rs.group_interval.total_seconds(),
            self.repeat_interval if rs.repeat_interval is None else rs.repeat_interval.total_seconds(),
        )


#: Where inheritance starts.
TOP: Final = Timing()


def scheme_of(url: str) -> str:
    """The URL's scheme in lower case, or "" when it has none.

    >>> scheme_of("DingTalk://token/"), scheme_of("not a url")
    ('dingtalk', '')
    """
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep else ""


def language_for(url: str, configured: str | None = None) -> Language:
    """The language a target's messages are written in: the route's, else by the URL's scheme.

    >>> language_for("dingtalk://token/"), language_for("json://127.0.0.1/hook")
    ('zh-CN', 'en')
    >>> language_for("sns://key", "en")
    'en'
    """
    if configured is not None:
        for language in LANGUAGES:
            if configured == language:
                return language
        raise ConfigError(f"language {configured!r} is not one of {', '.join(LANGUAGES)}")
    return "zh-CN" if scheme_of(url) in CHINESE_SCHEMES else "en"


def zone_for(url: str, configured: str | None = None, language: Language | None = None) -> str:
    """The IANA time zone a target's times are shown in: the route's, else Asia/Shanghai for
    Chinese readers and UTC (the alert log's) for English ones; the readers' ``language`` is the
    route's when it names one, else the URL's.

    >>> zone_for("wecombot://key"), zone_for("mailto://a@b.example"), zone_for("json://h", "Europe/Berlin")
    ('Asia/Shanghai', 'UTC', 'Europe/Berlin')
    >>> zone_for("dingtalk://token/", language="en")
    'UTC'
    """
    if configured is not None:
        if configured not in available_timezones():
            raise ConfigError(f"time zone {configured!r} is not an IANA zone name such as {DEFAULT_ZONE}")
        return configured
    return DEFAULT_ZONE if (language or language_for(url)) == "zh-CN" else "UTC"


@dataclass(frozen=True, slots=True)
class Route:
    """A named filter over alerts plus the delivery targets (by :func:`target_key`) it sends to.

    ``during`` limits when it matches; ``mute_during`` keeps it matching but silent (decision
    ``muted``), as Alertmanager's ``mute_time_intervals`` do. Times are the injected clock's.
    """

    name: str
    targets: tuple[str, ...]
    kinds: frozenset[str] = frozenset()  # empty = every kind
    min_severity: Severity = "warning"
    channels: frozenset[str] = frozenset()  # empty = any channel (all-payments alerts too)
    merchants: frozenset[str] = frozenset()  # empty = any merchant, or none
    during: tuple[TimeInterval, ...] = ()
    mute_during: tuple[TimeInterval, ...] = ()
    repeat_interval: float | None = None  # seconds; None = alerting.repeat_interval
    mention_oncall: bool = False
    group_by: tuple[str, ...] | None = None  # None = each alert on its own, at once (alerting.grouping)
    group_wait: float = DEFAULT_GROUP_WAIT
    group_interval: float = DEFAULT_GROUP_INTERVAL

    @property
    def groups(self) -> bool:
        """True when the route sends its alerts in groups rather than each on its own at once."""
        return self.group_by is not None

    def matches(self, alert: Alert, now: float | None = None) -> bool:
        """Kind is listed (or no list), severity is at least ``min_severity``, the channel and
        merchant are listed (or no list), and ``now`` is within ``during`` (if it says).

        >>> from kernel.alerts import Scope, Impact
        >>> from datetime import datetime, UTC
        >>> t = datetime(2024, 5, 1, tzinfo=UTC)
        >>> a = Alert("volume_drop", Scope("alipay"), "firing", "warning", t, t, 1.0, 2.0,
        ...           Impact(1.0, 2.0), "check", "volume down")
        >>> Route("ops", ("k",)).matches(a), Route("pay", ("k",), frozenset({"stuck_payments"})).matches(a)
        (True, False)
        >>> Route("m", ("k",), merchants=frozenset({"m42"})).matches(a)
        False
        """
        if self.kinds and alert.kind not in self.kinds:
            return False
        if self.channels and alert.scope.channel not in self.channels:
            return False
        if self.merchants and alert.scope.merchant_id not in self.merchants:
            return False
        if self.during and now is not None and not any(i.contains(now) for i in self.during):
            return False
        return severity_at_least(alert.severity, self.min_severity)

    def muted(self, now: float) -> bool:
        return any(interval.contains(now) for interval in self.mute_during)


def match_routes(routes: Iterable[Route], alert: Alert, now: float | None = None) -> list[Route]:
    """Every route the alert goes to, in table order; an empty list means ``"no_route"``."""
    return [route for route in routes if route.matches(alert, now)]


def routes_from_settings(settings: AlertingSettings) -> list[Route]:
    """Build the flat routing table, refusing what would silently drop alerts.

    A misspelt kind would match nothing and a route without URLs would deliver nowhere, so both
    are :class:`ConfigError` at start-up, naming the route and the fix.
    """
    intervals = intervals_from_settings(settings.time_intervals)
    routes: list[Route] = []
    seen: set[str] = set()
    for index, rs in enumerate(settings.routes):
        where = f"alerting.routes[{index}] (name {rs.name!r})"
        if not rs.urls:
            raise ConfigError(f"{where}: urls is empty; give at least one Apprise URL")
        routes.append(route_from(rs, rs.name, rs.urls, where, seen, intervals, TOP.under(rs)))
    return routes


def route_from(
    rs: RouteSettings,
    name: str,
    urls: Sequence[SecretStr],
    where: str,
    seen: set[str],
    intervals: Mapping[str, TimeInterval],
    timing: Timing = TOP,
) -> Route:
    """One route from its settings; ``seen`` collects names, which must be unique. ``timing`` is
    the route's own, its parent's filled in (:meth:`Timing.under`)."""
    if not name.strip():
        raise ConfigError(f"{where}: name must not be empty; it labels logs and metrics")
    if name in seen:
        raise ConfigError(f"{where}: duplicate route name; names label metrics and must be unique")
    seen.add(name)
    unknown = sorted(set(rs.kinds) - set(KINDS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown alert kind(s) {', '.join(unknown)}; choose from {', '.join(KINDS)}"
        )
    targets = _unique(target_key(url.get_secret_value()) for url in urls)
    return Route(
        name,
        targets,
        frozenset(rs.kinds),
        rs.min_severity,
        frozenset(rs.channels),
        frozenset(rs.merchants),
        tuple(intervals[n] for n in rs.during),
        tuple(intervals[n] for n in rs.mute_during),
        timing.repeat_interval,
        rs.mention_oncall,
        timing.group_by,
        timing.group_wait,
        timing.group_interval,
    )


def _unique(keys: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for key in keys:
        if key not in out:
            out.append(key)
    return tuple(out)
