"""Turn an alert into the words on-call reads: Markdown for robots, HTML for e-mail, one SMS line.

Each template under ``alerting/delivery/templates/`` declares its medium by its name:
``*.md.j2`` (DingTalk, WeCom and Lark robots, ``json://``), ``*.html.j2`` (e-mail) and ``*.txt.j2``
(SMS, e-mail subjects). :mod:`alerting.templates` fills them, running every ``{{ value }}``
through that medium's escaper, so a channel, merchant or order id can reach a message only escaped
for it; :func:`render_template` is the one way to fill one with an alert.

Every word comes from the catalogue (:mod:`alerting.i18n`) in the reader's language: the
templates' labels through ``_()``, and the sentence frames here, which are filled with values
already escaped for the medium (:func:`_frame`), so a translation may put a channel id anywhere in
its sentence and the id still cannot make markup. Numbers, money and times are formatted by Babel
in the reader's locale and zone. Rendering is pure: the same alert and reader give the same text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final

from markupsafe import Markup

from alerting.escape import OwnText, escape_markdown
from alerting.i18n import ACTIONS, ENGLISH, KIND_TITLES, LIST_SEPARATOR, N_, UNITS, WHAT, Messages, english
from alerting.templates import ESCAPERS, Medium, RenderedMessage, fill_template, medium_of
from kernel.alerts import KINDS, Alert, Scope

__all__ = [
    "DIGESTS",
    "DIGEST_LINES",
    "GROUPS",
    "KIND_WORDS",
    "MESSAGES",
    "ack_line",
    "format_value",
    "reminder",
    "render",
    "render_digest",
    "render_group",
    "render_template",
    "short_words",
]

#: Alerts a digest lists one by one; the rest are counted.
DIGEST_LINES: Final = 30

#: Measures other than a kind's usual one: (kind, measure, the English words the summary names it by).
_MEASURES: Final = [(key[0], key[1], english(msgid)) for key, msgid in WHAT.items() if isinstance(key, tuple)]
#: Each kind in English words, and the unit its value and baseline are in.
KIND_WORDS: Final[dict[str, tuple[str, str]]] = {
    kind: (english(KIND_TITLES[kind]), UNITS[kind]) for kind in KINDS
}
assert set(KIND_TITLES) == {key for key in UNITS if isinstance(key, str)} == set(KINDS), "kinds need words"

#: The templates of a whole message by the medium of its body: (title, body). The Markdown title
#: is Markdown too (DingTalk repeats it as a heading); an e-mail's title is its Subject header.
MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "markdown": ("alert.title.md.j2", "alert.md.j2"),
    "html": ("alert.title.txt.j2", "alert.html.j2"),
}
#: The same for a digest: the alerts a rate-limited target could not take one by one.
DIGESTS: Final[dict[str, tuple[str, str]]] = {
    "markdown": ("digest.title.md.j2", "digest.md.j2"),
    "html": ("digest.title.txt.j2", "digest.html.j2"),
}
#: The same for a group's message: the alerts of one group of one route (:mod:`alerting.grouping`).
GROUPS: Final[dict[str, tuple[str, str]]] = {
    "markdown": ("digest.title.md.j2", "group.md.j2"),
    "html": ("digest.title.txt.j2", "group.html.j2"),
}

# Sentence frames: the catalogue's msgids, filled by _frame.
_TITLE: Final = N_("[{status}] {kind} · {scope} ({severity})")
_REMINDER: Final = N_("[REMINDER] {title}")
_HEADLINE: Final = N_("{scope}: {what} {value} vs normal {baseline}, since {since}")
_HEADLINE_RESOLVED: Final = N_("Resolved: {scope}: {what} back to {value} (normal {baseline}) at {resolved}")
_WITH_EVIDENCE: Final = N_("{headline} — {evidence}")
_VALUE_LINE: Final = N_("{value} vs baseline {baseline} ({change})")
_IMPACT: Final = N_("{orders} orders/min, {amount} per min")
_FOOTER: Final = N_("PayPulse · fingerprint {fingerprint} · alert {alert_id}")
_ORDERS: Final = N_("{orders} orders/min")
_ALL_CHANNELS: Final = N_("all channels")
_MERCHANT: Final = N_("merchant {merchant}")
_CHANNEL_MERCHANT: Final = N_("{channel} merchant {merchant}")
_ACK: Final = N_("Acknowledge (stops repeats and escalation)")
_DIGEST_WHY: Final = N_("Sent together: this target takes at most {limit} messages a minute.")

#: The English action of each kind, as the lifecycle writes it into alerts.
_OUR_ACTIONS: Final = {kind: english(msgid) for kind, msgid in ACTIONS.items()}
_STATUSES: Final = frozenset({"firing", "resolved"})
#: Where the lifecycle's summary sentence ends and the detector's evidence begins.
_EVIDENCE: Final = re.compile(r", since \d{2}:\d{2}:\d{2} UTC(?P<evidence>.*)\Z", re.DOTALL)
_CHANNELS_NOTE: Final = re.compile(r"\s*\(channels: [^()]*\)\s*\Z")


def _frame(m: Messages, msgid: str, escape: Callable[[object], str], **parts: object) -> OwnText:
    """The catalogue's sentence ``msgid`` filled in: our words as they are, data escaped for the medium.

    >>> _frame(ENGLISH, _MERCHANT, escape_markdown, merchant="[x](http://evil)")
    'merchant &#91;x&#93;(http&#58;//evil)'
    """
    values = {name: _shown(part, escape) for name, part in parts.items()}
    try:
        return OwnText(m.gettext(msgid).format(**values))
    except (KeyError, IndexError, ValueError):  # a broken translation: the page still goes, in English
        return OwnText(msgid.format(**values))


def format_value(value: float, unit: str, messages: Messages = ENGLISH) -> str:
    """Show a measured value in the unit on-call thinks in, in the reader's words.

    >>> format_value(0.9234, "ratio"), format_value(31.5, "seconds"), format_value(1234.5, "per_min")
    ('92.34%', '31.5 s', '1,234.5/min')
    >>> format_value(88.0, "amount"), format_value(31.5, "seconds", Messages("zh-CN"))
    ('CN¥88.00', '31.5 秒')
    """
    return messages.value(value, unit)


def _shown(part: object, escape: Callable[[object], str]) -> str:
    """Our own text as it is, data escaped for the medium."""
    return part if isinstance(part, OwnText) else escape(part)


def _channel(channel: str, m: Messages) -> str:
    """A channel's display name (ours), or its id (data) when no catalogue or setting names it."""
    name = m.channel(channel)
    return channel if name is None else OwnText(name)


def _scope(scope: Scope, m: Messages, escape: Callable[[object], str]) -> OwnText:
    if scope.merchant_id is None:
        if scope.channel is None:
            return OwnText(m.gettext(_ALL_CHANNELS))
        return OwnText(_shown(_channel(scope.channel, m), escape))
    if scope.channel is None:
        return _frame(m, _MERCHANT, escape, merchant=scope.merchant_id)
    return _frame(
        m, _CHANNEL_MERCHANT, escape, channel=_channel(scope.channel, m), merchant=scope.merchant_id
    )


def _channels(alert: Alert, m: Messages, escape: Callable[[object], str]) -> OwnText:
    names = alert.impact.channels or ([alert.scope.channel] if alert.scope.channel else [])
    if not names:
        return OwnText(m.gettext(_ALL_CHANNELS))
    shown = [_shown(_channel(name, m), escape) for name in names]
    return OwnText(m.pgettext("list separator", LIST_SEPARATOR).join(shown))


def _when(moment: datetime | None, m: Messages) -> OwnText:
    return OwnText("" if moment is None else m.when(moment))


def _headline(alert: Alert, words: dict[str, Any], m: Messages, escape: Callable[[object], str]) -> object:
    """The alert's sentence. English in UTC reads the alert log's own summary as it is; any other
    reader gets the catalogue's frame in their words and zone, followed by the detector's evidence
    (the part of the summary after its frame), which is data."""
    if m.reads_the_log or words["what"] is None:
        return alert.summary
    parts = {
        "scope": words["scope"],
        "what": OwnText(words["what"]),
        "value": words["value"],
        "baseline": words["baseline"],
    }
    if alert.status == "resolved" and alert.resolved_at is not None:
        return _frame(
            m, _HEADLINE_RESOLVED, escape, resolved=OwnText(m.clock_time(alert.resolved_at)), **parts
        )
    headline = _frame(m, _HEADLINE, escape, since=OwnText(m.clock_time(alert.started_at)), **parts)
    found = _EVIDENCE.search(alert.summary)
    evidence = alert.summary if found is None else _unwrap(_CHANNELS_NOTE.sub("", found.group("evidence")))
    return _frame(m, _WITH_EVIDENCE, escape, headline=headline, evidence=evidence) if evidence else headline


def _unwrap(evidence: str) -> str:
    """The detector's evidence without the parentheses around all of it.

    >>> _unwrap(" (cusum 27.2 / 16.5 (late))"), _unwrap("(a) and (b)"), _unwrap("(a); e.g. orders o-1")
    ('cusum 27.2 / 16.5 (late)', '(a) and (b)', '(a); e.g. orders o-1')
    """
    evidence = evidence.strip()
    if not (evidence.startswith("(") and evidence.endswith(")")):
        return evidence
    depth = 0
    for i, char in enumerate(evidence):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and i < len(evidence) - 1:
            return evidence  # the first group closes before the end: not one group
    return evidence[1:-1].strip()


def _title_words(alert: Alert, m: Messages) -> dict[str, Any]:
    """Kind, severity and status in words: ours when PayPulse knows them, data (as given) otherwise.

    A kind, severity or status we do not know came from outside (an outbox row, an alert log)
    and counts as data like ids and summaries do.
    """
    kind_title = m.kind_title(alert.kind)
    severity_word, severity_title = m.severity(alert.severity), m.severity(alert.severity, in_title=True)
    status_word = m.status(alert.status) if alert.status in _STATUSES else None
    return {
        "kind": OwnText(alert.kind) if kind_title else alert.kind,
        "kind_words": OwnText(kind_title) if kind_title else alert.kind.replace("_", " ").capitalize(),
        "severity": OwnText(severity_title) if severity_title else alert.severity,
        "severity_word": OwnText(severity_word) if severity_word else alert.severity,
        "status_word": OwnText(status_word) if status_word else alert.status.upper(),
    }


def _measure(alert: Alert) -> str | None:
    """The measure an alert was raised by when it is not its kind's usual one (the late share of a
    latency alert). The alert keeps it only in its summary, which the lifecycle wrote in English.

    >>> from dataclasses import replace
    >>> from datetime import UTC
    >>> from kernel.alerts import Impact
    >>> t = datetime(2024, 5, 1, tzinfo=UTC)
    >>> late = Alert("callback_latency_high", Scope("alipay"), "firing", "warning", t, t, 0.3, 0.05,
    ...              Impact(1, 1), "x", "alipay: share of late callbacks 30.0% vs normal 5.0%, since ...")
    >>> _measure(late), _measure(replace(late, summary="alipay: callback p95 latency 9.1s vs ..."))
    ('late share', None)
    """
    for kind, measure, what in _MEASURES:
        if kind == alert.kind and f": {what} " in alert.summary:
            return measure
    return None


def _title(alert: Alert, m: Messages, escape: Callable[[object], str]) -> OwnText:
    words = _title_words(alert, m)
    return _frame(
        m,
        _TITLE,
        escape,
        status=words["status_word"],
        kind=words["kind_words"],
        scope=_scope(alert.scope, m, escape),
        severity=words["severity"],
    )


def _context(alert: Alert, m: Messages, medium: Medium) -> dict[str, Any]:
    """The template values: :class:`OwnText` for what we write, plain ``str`` for data."""
    escape = ESCAPERS[medium]
    measure = _measure(alert)
    unit = UNITS.get((alert.kind, measure) if measure else alert.kind, "amount")
    words = _title_words(alert, m)
    impact = alert.impact
    action = m.action(alert.kind) if _OUR_ACTIONS.get(alert.kind) == alert.suggested_action else None
    values = {
        "scope": _scope(alert.scope, m, escape),
        "what": m.what(alert.kind, measure),
        "value": OwnText(format_value(alert.value, unit, m)),
        "baseline": OwnText(format_value(alert.baseline, unit, m)),
    }
    change = OwnText(m.change(alert.value, alert.baseline, unit))
    orders = OwnText(m.decimal(impact.orders_per_min))
    suggested_action = OwnText(action) if action else alert.suggested_action
    return {
        **words,
        "_": lambda msgid: OwnText(m.gettext(msgid)),
        "pgettext": lambda context, msgid: OwnText(m.pgettext(context, msgid)),
        "title": _title(alert, m, escape),
        "headline": _headline(alert, values, m, escape),
        "scope": values["scope"],
        "value_line": _frame(
            m, _VALUE_LINE, escape, value=values["value"], baseline=values["baseline"], change=change
        ),
        "impact": _frame(m, _IMPACT, escape, orders=orders, amount=OwnText(m.money(impact.amount_per_min))),
        "channels": _channels(alert, m, escape),
        "started_at": _when(alert.started_at, m),
        "detected_at": _when(alert.detected_at, m),
        "resolved_at": _when(alert.resolved_at, m),
        "suggested_action": suggested_action,
        "footer": _frame(
            m, _FOOTER, escape, fingerprint=OwnText(alert.fingerprint), alert_id=OwnText(alert.id)
        ),
    }


def render_template(template: str, alert: Alert, messages: Messages = ENGLISH) -> str:
    """``template`` filled with ``alert`` in ``messages``' words, every value from the data escaped
    for the template's medium.

    The one way templates are rendered; :func:`render` and :func:`render_digest` are built on it.
    """
    medium = medium_of(template)
    return fill_template(template, _context(alert, messages, medium))


def render(alert: Alert, medium: Medium = "markdown", messages: Messages = ENGLISH) -> RenderedMessage:
    """The full message: every fact on-call needs to act without opening a dashboard.

    ``medium`` is the body's: ``"markdown"`` for robots and ``json://``, ``"html"`` for e-mail.
    """
    if medium not in MESSAGES:
        raise ValueError(f"no message template for medium {medium!r}; one of {sorted(MESSAGES)}")
    title, body = MESSAGES[medium]
    return RenderedMessage(
        render_template(title, alert, messages), render_template(body, alert, messages), medium
    )


def reminder(title: str, messages: Messages = ENGLISH) -> str:
    """A repeat's title: the same alert, still firing.

    >>> reminder("[FIRING] x"), reminder("[告警中] x", Messages("zh-CN"))
    ('[REMINDER] [FIRING] x', '【提醒】[告警中] x')
    """
    return messages.gettext(_REMINDER).format(title=title)


def short_words(alert: Alert, messages: Messages, escape: Callable[[object], str]) -> dict[str, str]:
    """The parts of the shortest forms (one SMS segment, a phone call), each in the reader's words
    and escaped by ``escape``: ``status``, ``kind``, ``scope``, ``impact`` (orders and money a
    minute) and ``orders`` (orders a minute, for when there is no room for money).

    :mod:`alerting.sms_form` fits them into one segment; the words stay here with the rest.
    """
    m = messages
    words = _title_words(alert, m)
    orders = OwnText(m.decimal(alert.impact.orders_per_min, "#,##0"))
    return {
        "status": _shown(words["status_word"], escape),
        "kind": _shown(words["kind_words"], escape),
        "scope": _scope(alert.scope, m, escape),
        "impact": _frame(
            m, _IMPACT, escape, orders=orders, amount=OwnText(m.money(alert.impact.amount_per_min))
        ),
        "orders": m.gettext(_ORDERS).format(orders=orders),
    }


def render_digest(
    alerts: Sequence[Alert], limit: int, medium: Medium = "markdown", messages: Messages = ENGLISH
) -> RenderedMessage:
    """One message for alerts a target could not take one by one (it takes ``limit`` a minute).

    Lists the first :data:`DIGEST_LINES` by status, kind, scope and severity, and counts the rest.
    """
    if medium not in DIGESTS:
        raise ValueError(f"no digest template for medium {medium!r}; one of {sorted(DIGESTS)}")
    if not alerts:
        raise ValueError("a digest needs at least one alert")
    title, body = DIGESTS[medium]
    m = messages
    n = len(alerts)
    rest = n - DIGEST_LINES
    heading = m.ngettext("{count} more alert", "{count} more alerts", n).format(count=m.decimal(n, "#,##0"))
    more = m.ngettext("… and {count} more", "… and {count} more", rest) if rest > 0 else ""

    def fill(template: str) -> str:
        escape = ESCAPERS[medium_of(template)]
        return fill_template(
            template,
            {
                "_": lambda msgid: OwnText(m.gettext(msgid)),
                "heading": OwnText(heading),
                "why": OwnText(m.gettext(_DIGEST_WHY).format(limit=limit)),
                "lines": [_title(alert, m, escape) for alert in alerts[:DIGEST_LINES]],
                "more": OwnText(more.format(count=m.decimal(rest, "#,##0"))),
            },
        )

    return RenderedMessage(fill(title), fill(body), medium)


def render_group(
    alerts: Sequence[Alert],
    medium: Medium = "markdown",
    messages: Messages = ENGLISH,
    ack_urls: Sequence[str | None] = (),
) -> RenderedMessage:
    """One message for the alerts of one group (firing and resolved): how many of each, then each
    alert's title and sentence, with its acknowledgement link (``ack_urls``, one per alert) if any.

    Lists the first :data:`DIGEST_LINES` and counts the rest, as a digest does.
    """
    if medium not in GROUPS:
        raise ValueError(f"no group template for medium {medium!r}; one of {sorted(GROUPS)}")
    if not alerts:
        raise ValueError("a group needs at least one alert")
    m = messages
    n = len(alerts)
    firing = sum(a.status == "firing" for a in alerts)
    heading = m.ngettext(
        "{count} alert: {firing} firing, {resolved} resolved",
        "{count} alerts: {firing} firing, {resolved} resolved",
        n,
    ).format(
        count=m.decimal(n, "#,##0"),
        firing=m.decimal(firing, "#,##0"),
        resolved=m.decimal(n - firing, "#,##0"),
    )
    links = list(ack_urls) + [None] * (n - len(ack_urls))
    rest = n - DIGEST_LINES
    more = m.ngettext("… and {count} more", "… and {count} more", rest) if rest > 0 else ""

    def fill(template: str) -> str:
        here = medium_of(template)
        items = []
        for alert, link in zip(alerts[:DIGEST_LINES], links, strict=False):
            context = _context(alert, m, here)
            ack = _ack(link, here, m) if link and alert.status == "firing" else ""
            items.append({"title": context["title"], "headline": context["headline"], "ack": ack})
        return fill_template(
            template,
            {
                "_": lambda msgid: OwnText(m.gettext(msgid)),
                "heading": OwnText(heading),
                "items": items,
                "more": OwnText(more.format(count=m.decimal(rest, "#,##0"))),
            },
        )

    title, body = GROUPS[medium]
    return RenderedMessage(fill(title), fill(body), medium)


def _ack(url: str, medium: Medium, m: Messages) -> OwnText | Markup:
    """The acknowledgement link of one alert in a list, built for the medium it goes into."""
    line = ack_line(url, medium, m)
    return Markup(line) if medium == "html" else OwnText(line)


def ack_line(url: str, medium: Medium, messages: Messages = ENGLISH) -> str:
    """The line under a message that acknowledges its alert through a signed link.

    >>> ack_line("https://s.example/api/ack/a1?sig=x&exp=1", "markdown")
    '[Acknowledge (stops repeats and escalation)](https://s.example/api/ack/a1?sig=x&exp=1)'
    >>> ack_line("https://s.example/a?b=1&c=2", "html", Messages("zh-CN"))
    '<p><a href="https://s.example/a?b=1&amp;c=2">确认告警（停止重复通知和升级）</a></p>'
    """
    words = messages.gettext(_ACK)
    if medium == "html":
        return str(Markup('<p><a href="{}">{}</a></p>').format(url, words))
    if medium == "markdown":
        return f"[{escape_markdown(words)}]({url.replace(')', '%29').replace(' ', '%20')})"
    return f"{words}: {url}"
