"""The one :class:`~alerting.notifications.Notifier` PayPulse ships: one Apprise plugin per URL.

Apprise knows 100+ services (``dingtalk://``, ``wecombot://``, ``mailto://``, ``json://``) but
answers a send with success or failure only. The outbox needs more: a 503 or a refused
connection should be retried, a 400 or a revoked token should be parked at once. Apprise 2
captures each service's log lines into its result (``notify(log_level=...)``), and every HTTP
plugin logs ``error=<status>`` on a non-2xx answer and "connection error" on a socket failure,
so :func:`classify` reads the outcome from those lines. An unknown failure counts as retryable:
``max_attempts`` still bounds it, and parking a page that would have gone through is worse.

Each service gets the body in the medium it takes (:func:`medium_for`): HTML for e-mail, from
our HTML template with every value escaped by markupsafe, and Markdown for the rest. Apprise is
never left to turn our Markdown into HTML: its converter would pass any raw HTML through.

Each target reads its own language, zone and currency (:class:`~alerting.i18n.Messages`), and can
take several notifications as one digest (:meth:`AppriseNotifier.send_digest`) when the dispatcher
paces it, or as one group's message (:meth:`AppriseNotifier.send_group`) on a route that groups.
The chat robots (DingTalk, WeCom, Feishu, Lark) are this project's Apprise plugins
(:mod:`alerting.delivery.robots`): they read the robot's reply body, and the notifier takes the
outcome from the plugin instead of from log lines; their endpoints may point at a gateway.

SMS and phone targets (:data:`~alerting.routing.SMS_SCHEMES`, :data:`~alerting.routing.VOICE_SCHEMES`)
get the one-segment form instead (:func:`~alerting.sms_form.short_form`), with ``link`` when one
is configured; the cloud SMS and voice plugins (:mod:`alerting.delivery.aliyun`,
:mod:`alerting.delivery.tencent`) take its fields as their
template's variables and fit them around their signature and template text.

Secrets never leave this module: :attr:`AppriseNotifier.name` is the plugin's
``url(privacy=True)``, a bad URL is reported masked by :func:`mask_url`, and the failure detail
keeps WARNING lines only (DEBUG lines carry request URLs with tokens).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

import apprise
from apprise.plugins import url_to_dict

from alerting.delivery import aliyun, cloud, tencent
from alerting.delivery.cloud import CloudPlugin
from alerting.delivery.robot_protocol import DEFAULT_ENDPOINTS
from alerting.delivery.robots import ROBOTS, RobotPlugin
from alerting.i18n import ENGLISH, Messages
from alerting.notifications import DeliveryResult, Notification
from alerting.render import ack_line, reminder, render, render_digest, render_group
from alerting.routing import SMS_SCHEMES, VOICE_SCHEMES, scheme_of
from alerting.sms_form import ShortForm, digest_form, short_form
from alerting.templates import Medium, RenderedMessage
from kernel.alerts import Alert
from kernel.clock import Clock
from kernel.errors import ConfigError

__all__ = ["AppriseNotifier", "classify", "mask_url", "medium_for"]

#: Client errors that are worth another try: timeout at the server, too early, rate limited.
RETRYABLE_4XX: Final = frozenset({408, 425, 429})
_STATUS = re.compile(r"\berror=(\d{3})\b")
_CONNECTION = re.compile(r"connection error|socket exception|timed? ?out", re.IGNORECASE)
_NOTIFY_TYPE: Final = {
    ("firing", "critical"): apprise.NotifyType.FAILURE,
    ("firing", "warning"): apprise.NotifyType.WARNING,
    ("firing", "info"): apprise.NotifyType.INFO,
}
_MAX_DETAIL: Final = 300
_BODY_FORMAT: Final[dict[Medium, apprise.NotifyFormat]] = {
    "markdown": apprise.NotifyFormat.MARKDOWN,
    "html": apprise.NotifyFormat.HTML,
    "text": apprise.NotifyFormat.TEXT,
}
#: The cloud SMS and voice plugins by scheme.
CLOUD: Final = {**aliyun.ALIYUN, **tencent.TENCENT}
#: Schemes that take a robot's or a cloud service's endpoint (a gateway standing in for the service).
ENDPOINT_SCHEMES: Final = (*DEFAULT_ENDPOINTS, *aliyun.DEFAULT_ENDPOINTS, *tencent.DEFAULT_ENDPOINTS)


def mask_url(url: str) -> str:
    """Show enough of a URL to recognise it in an error, and none of its secrets.

    >>> mask_url("dingtalk://secret@abcdef123/13800000000")
    'dingtalk://s...t@a...3/1...0'
    >>> mask_url("not a url")
    'n...l'
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    parts = re.split(r"([/@:?&=])", rest)
    shown = "".join(p if len(p) <= 1 else f"{p[0]}...{p[-1]}" for p in parts)
    return f"{scheme}{sep}{shown}"


def classify(ok: bool, timed_out: bool, messages: Iterable[tuple[str, str]]) -> DeliveryResult:
    """Decide ok / retryable / permanent from the plugin's captured (level, message) lines.

    >>> classify(False, False, [("WARNING", "Failed to send JSON notification: error=503.")])
    DeliveryResult(ok=False, retryable=True, detail='HTTP 503: Failed to send JSON notification: error=503.')
    >>> classify(False, False, [("WARNING", "Failed to send: Bad Request - error=400.")]).retryable
    False
    >>> classify(False, False, [("WARNING", "A Connection error occurred sending JSON.")]).retryable
    True
    """
    lines = list(messages)
    warnings = [msg for level, msg in lines if level in ("WARNING", "ERROR", "CRITICAL")]
    said = " | ".join(warnings)[:_MAX_DETAIL]
    if ok:
        return DeliveryResult(True, False, "delivered")
    if timed_out:
        return DeliveryResult(False, True, f"timed out{': ' + said if said else ''}")
    for msg in reversed(warnings):
        found = _STATUS.search(msg)
        if found:
            status = int(found.group(1))
            retryable = status >= 500 or status in RETRYABLE_4XX or status < 400
            return DeliveryResult(False, retryable, f"HTTP {status}: {said}")
    if any(_CONNECTION.search(msg) for _, msg in lines):
        return DeliveryResult(False, True, f"connection failed: {said or 'no detail'}")
    return DeliveryResult(False, True, f"failed without a known cause (will retry): {said or 'no detail'}")


def medium_for(plugin: apprise.plugins.NotifyBase) -> Medium:
    """The medium of the body a service is sent: HTML where it would turn Markdown into HTML.

    >>> medium_for(apprise.Apprise.instantiate("mailto://user:pass@example.com"))
    'html'
    >>> medium_for(apprise.Apprise.instantiate("dingtalk://token123/")), medium_for(
    ...     apprise.Apprise.instantiate("wecombot://key123"))
    ('markdown', 'markdown')
    """
    html = plugin.resolve_format(apprise.NotifyFormat.MARKDOWN) == apprise.NotifyFormat.HTML
    return "html" if html else "markdown"


class AppriseNotifier:
    """Sends the rendered message through one Apprise plugin built from one URL.

    ``messages`` are the reader's language, zone and currency; ``endpoints`` maps a robot scheme
    (``dingtalk``, ``wecombot``, ``feishu``, ``lark``) to the base URL that stands in for the robot
    (a company gateway), and so do ``aliyunsms``/``aliyunvoice``/``tencentsms``; ``clock`` signs
    robot and cloud requests. ``link`` (the status page, an alert console) ends an SMS that has room for it.
    """

    def __init__(
        self,
        url: str,
        route: str = "",
        messages: Messages = ENGLISH,
        *,
        endpoints: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        link: str | None = None,
    ) -> None:
        plugin = _instantiate(url, route, endpoints or {}, clock)
        if plugin is None:
            where = f"route {route!r}: " if route else ""
            raise ConfigError(
                f"{where}{mask_url(url)} is not a valid Apprise URL (unknown scheme or bad token); "
                "see https://appriseit.com/services/ for the URL format"
            )
        self.name: str = plugin.url(privacy=True)
        self.route = route
        self.messages = messages
        self.short = scheme_of(url) in SMS_SCHEMES | VOICE_SCHEMES
        self.medium: Medium = "text" if self.short else medium_for(plugin)
        self.link = link
        self._plugin = plugin
        self._apprise = apprise.Apprise()
        self._apprise.add(plugin)

    def __repr__(self) -> str:
        return f"AppriseNotifier({self.name!r})"

    def send(self, n: Notification) -> DeliveryResult:
        if self.short:
            return self._notify_short(short_form(n.alert, self.messages, **self._fitting()), [n.alert])
        message = render(n.alert, self.medium, self.messages)
        title = message.title if n.reason != "repeat_elapsed" else reminder(message.title, self.messages)
        if n.ack_url:
            link = ack_line(n.ack_url, self.medium, self.messages)
            message = replace(message, body=f"{message.body}\n\n{link}")
        if isinstance(self._plugin, RobotPlugin):
            self._plugin.mobiles_now = n.mentions
        return self._notify(message, title, [n.alert])

    def send_group(self, notifications: Sequence[Notification]) -> DeliveryResult:
        """A route's group as one message listing its alerts, each with its acknowledgement link;
        a robot @mentions whom the notifications name. SMS and calls get the digest's one segment."""
        alerts = [n.alert for n in notifications]
        if self.short:
            return self._notify_short(digest_form(alerts, self.messages, **self._fitting()), alerts)
        links = [n.ack_url for n in notifications]
        message = render_group(alerts, self.medium, self.messages, links)
        if isinstance(self._plugin, RobotPlugin):
            self._plugin.mobiles_now = next((n.mentions for n in notifications if n.mentions), ())
        return self._notify(message, message.title, alerts)

    def send_digest(self, notifications: Sequence[Notification], limit: int) -> DeliveryResult:
        """The notifications as one message that lists them (the target takes ``limit`` a minute)."""
        alerts = [n.alert for n in notifications]
        if self.short:
            return self._notify_short(digest_form(alerts, self.messages, **self._fitting()), alerts)
        message = render_digest(alerts, limit, self.medium, self.messages)
        return self._notify(message, message.title, alerts)

    def _fitting(self) -> dict[str, str | None]:
        """How this target's short form is fitted: around a cloud SMS's signature and template text
        (whose fixed words hold the link), else with the link at its end."""
        if isinstance(self._plugin, CloudPlugin):
            return {"around": self._plugin.around}
        return {"link": self.link}

    def _notify_short(self, form: ShortForm, alerts: Sequence[Alert]) -> DeliveryResult:
        """One segment: a line for any SMS gateway, and the fields for a cloud SMS's template."""
        message = RenderedMessage("", form.line(self.messages), "text")
        if not isinstance(self._plugin, CloudPlugin):
            return self._notify(message, "", alerts)
        self._plugin.fields = form.fields()
        try:
            return self._notify(message, "", alerts)
        finally:
            self._plugin.fields = None

    def _notify(self, message: RenderedMessage, title: str, alerts: Sequence[Alert]) -> DeliveryResult:
        # A robot mentions everyone (when told to) for the most urgent alert in the message.
        notify_type = min(
            (_NOTIFY_TYPE.get((a.status, a.severity), apprise.NotifyType.SUCCESS) for a in alerts),
            key=_URGENCY.index,
        )
        result = self._apprise.notify(
            body=message.body,
            title=title,
            notify_type=notify_type,
            body_format=_BODY_FORMAT[message.medium],
            log_level=logging.DEBUG,
        )
        try:
            if isinstance(self._plugin, RobotPlugin | CloudPlugin) and self._plugin.last_reply is not None:
                return self._plugin.last_reply  # the service's own reply, read by the plugin
            lines = [(entry.level, entry.message) for entry in result.logs()]
            timed_out = result.status == apprise.AppriseResultStatus.TIMEOUT
            return classify(bool(result), timed_out, lines)
        finally:
            result.close()


_URGENCY: Final = (
    apprise.NotifyType.FAILURE,
    apprise.NotifyType.WARNING,
    apprise.NotifyType.INFO,
    apprise.NotifyType.SUCCESS,
)


def _instantiate(url: str, route: str, endpoints: Mapping[str, str], clock: Clock | None) -> Any:
    """The Apprise plugin for ``url``; a robot or cloud plugin gets its endpoint and the clock that signs."""
    scheme = url.partition("://")[0].lower()
    unknown = sorted(set(endpoints) - set(ENDPOINT_SCHEMES))
    if unknown:
        raise ConfigError(
            f"alerting.endpoints names {', '.join(unknown)}: choose from {', '.join(ENDPOINT_SCHEMES)}"
        )
    if scheme in CLOUD:
        try:
            return cloud.build(CLOUD, url, endpoints.get(scheme), clock)
        except cloud.CloudUrlError as err:
            where = f"route {route!r}: " if route else ""
            raise ConfigError(f"{where}{mask_url(url)}: {err}") from None
    if scheme not in ROBOTS:
        return apprise.Apprise.instantiate(url, suppress_exceptions=True)
    results = url_to_dict(url, secure_logging=True)
    if results is None:
        return None
    results.update(endpoint=endpoints.get(scheme), clock=clock)
    return apprise.Apprise.instantiate(results, suppress_exceptions=True)
