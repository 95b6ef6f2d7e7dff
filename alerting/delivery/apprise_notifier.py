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

Secrets never leave this module: :attr:`AppriseNotifier.name` is the plugin's
``url(privacy=True)``, a bad URL is reported masked by :func:`mask_url`, and the failure detail
keeps WARNING lines only (DEBUG lines carry request URLs with tokens).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Final

import apprise

from alerting.notifications import DeliveryResult, Notification
from alerting.render import Medium, render
from paypulse.errors import ConfigError

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
}


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
    """Sends the rendered message through one Apprise plugin built from one URL."""

    def __init__(self, url: str, route: str = "") -> None:
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
        if plugin is None:
            where = f"route {route!r}: " if route else ""
            raise ConfigError(
                f"{where}{mask_url(url)} is not a valid Apprise URL (unknown scheme or bad token); "
                "see https://appriseit.com/services/ for the URL format"
            )
        self.name: str = plugin.url(privacy=True)
        self.route = route
        self.medium: Medium = medium_for(plugin)
        self._apprise = apprise.Apprise()
        self._apprise.add(plugin)

    def __repr__(self) -> str:
        return f"AppriseNotifier({self.name!r})"

    def send(self, n: Notification) -> DeliveryResult:
        message = render(n.alert, self.medium)
        title = message.title if n.reason != "repeat_elapsed" else f"[REMINDER] {message.title}"
        notify_type = _NOTIFY_TYPE.get((n.alert.status, n.alert.severity), apprise.NotifyType.SUCCESS)
        result = self._apprise.notify(
            body=message.body,
            title=title,
            notify_type=notify_type,
            body_format=_BODY_FORMAT[self.medium],
            log_level=logging.DEBUG,
        )
        try:
            lines = [(entry.level, entry.message) for entry in result.logs()]
            timed_out = result.status == apprise.AppriseResultStatus.TIMEOUT
            return classify(bool(result), timed_out, lines)
        finally:
            result.close()
