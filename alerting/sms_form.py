"""The shortest form of an alert: one SMS segment (or one phone call) with kind, scope, impact and a link.

An SMS longer than one segment arrives in pieces, late, or not at all, and is billed per piece.
One segment holds 160 characters of the GSM 7-bit alphabet, or 70 UTF-16 units as soon as one
character is outside it (any Chinese), and the provider's own text counts too: Aliyun puts the
signature (``【PayPulse】``) and the template's fixed words around the variables. So
:func:`short_form` is given that text (``around``) and fits the form into what is left, giving
up detail in a fixed order: the money per minute first, then the end of the scope (a hostile
merchant id may be 500 characters long), then the link, then the end of the kind.

Values from the data are made safe for a phone (:func:`sms_text`): one line, no control, bidi,
zero-width or private-use characters, no ``【】`` (which would forge a sender's signature), and
no working link (``://`` and ``www.`` are broken up), since a link in a page has to be ours and
Aliyun refuses a template variable that holds one. The words are the catalogue's
(:func:`alerting.render.short_words`), in the route's language.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from alerting.escape import one_line
from alerting.i18n import ENGLISH, N_, Messages
from alerting.render import short_words
from kernel.alerts import Alert

__all__ = [
    "GSM7_SEGMENT",
    "UCS2_SEGMENT",
    "ShortForm",
    "digest_form",
    "is_gsm7",
    "segment_limit",
    "segment_units",
    "short_form",
    "sms_text",
]

#: Characters in one segment of GSM 7-bit text, and of UCS-2 (UTF-16) text.
GSM7_SEGMENT: Final = 160
UCS2_SEGMENT: Final = 70
#: Longest value of the data the form keeps before fitting (a template variable's usual cap).
FIELD_MAX: Final = 35
_GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: Characters of the GSM extension table: each takes two septets (an escape and itself).
_GSM7_EXTENSION: Final = frozenset("\f^{}\\[~]|€")
_FRAME: Final = N_("{status} {kind}: {scope}, {impact}")
_INVISIBLE: Final = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})
_DEFANG: Final = (("【", "["), ("】", "]"), ("://", ":/ /"), ("www.", "www ."), ("WWW.", "WWW ."))


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM 7-bit alphabet (then a segment holds 160).

    >>> is_gsm7("FIRING: alipay [m42] €5"), is_gsm7("告警"), is_gsm7("…")
    (True, False, False)
    """
    return all(c in _GSM7_BASIC or c in _GSM7_EXTENSION for c in text)


def segment_units(text: str) -> int:
    """What ``text`` takes of a segment: septets in GSM-7, else UTF-16 code units.

    >>> segment_units("a[b]"), segment_units("告警"), segment_units("告😀")
    (6, 2, 3)
    """
    if is_gsm7(text):
        return sum(2 if c in _GSM7_EXTENSION else 1 for c in text)
    return len(text.encode("utf-16-le")) // 2


def segment_limit(text: str) -> int:
    """How much one segment holds for ``text``: 160 for GSM-7, 70 otherwise.

    >>> segment_limit("FIRING"), segment_limit("告警中")
    (160, 70)
    """
    return GSM7_SEGMENT if is_gsm7(text) else UCS2_SEGMENT


def _fits(text: str) -> bool:
    return segment_units(text) <= segment_limit(text)


def sms_text(value: object, limit: int = FIELD_MAX) -> str:
    """A value from the data as a phone shows it safely: one line of visible text, no forged
    signature, no working link, at most ``limit`` characters.

    >>> sms_text("【工商银行】m42\\r\\n\\u200bhttp://evil.example")
    '[工商银行]m42 http:/ /evil.example'
    >>> sms_text("www.evil.example/" + "9" * 50, limit=12)
    'www .evil...'
    """
    line = one_line(value)
    line = "".join(c for c in line if unicodedata.category(c) not in _INVISIBLE)
    for bad, good in _DEFANG:
        line = line.replace(bad, good)
    line = " ".join(line.split())
    return _cut(line, limit) if len(line) > limit else line


def _cut(text: str, units: int) -> str:
    """``text`` cut to at most ``units`` segment units, the cut marked ("…", or "..." in GSM-7).

    >>> _cut("abcdef", 5), _cut("告警中告警中", 4), _cut("abc", 0)
    ('ab...', '告警中…', '')
    """
    mark = "..." if is_gsm7(text) else "…"
    if segment_units(text) <= units:
        return text
    room = units - segment_units(mark)
    if room <= 0:
        return ""
    kept = ""
    for char in text:
        if segment_units(kept + char) > room:
            break
        kept += char
    return kept.rstrip() + mark


@dataclass(frozen=True, slots=True)
class ShortForm:
    """The fields of one segment, each already safe for a phone, and the line they make.

    ``fields()`` is what a provider's template takes as variables (Aliyun's ``TemplateParam`` and
    ``TtsParam``); the link is not one of them, because Aliyun takes links only in a template's
    fixed text, so it is part of ``line`` only.
    """

    status: str
    kind: str
    scope: str
    impact: str
    link: str = ""
    around: str = ""

    def fields(self) -> dict[str, str]:
        return {"status": self.status, "kind": self.kind, "scope": self.scope, "impact": self.impact}

    def line(self, messages: Messages = ENGLISH) -> str:
        """The form as one line in ``messages``' words: what a text-only SMS gateway sends."""
        framed = _framed(messages, self.fields())
        return f"{framed} {self.link}" if self.link else framed


def _framed(m: Messages, fields: dict[str, str]) -> str:
    try:
        return m.gettext(_FRAME).format(**fields)
    except (KeyError, IndexError, ValueError):  # a broken translation: the page still goes, in English
        return _FRAME.format(**fields)


def short_form(
    alert: Alert, messages: Messages = ENGLISH, *, link: str | None = None, around: str = ""
) -> ShortForm:
    """``alert`` in one segment, counting ``around`` (the provider's signature and fixed words).

    ``link`` is ours (the status page or an alert console, from the settings) and is kept whole
    or left out, never cut.

    >>> from datetime import UTC, datetime
    >>> from kernel.alerts import Impact, Scope
    >>> t = datetime(2026, 3, 2, 1, 20, tzinfo=UTC)
    >>> a = Alert("success_rate_drop", Scope("alipay", "m-" + "9" * 80), "firing", "critical", t, t,
    ...           0.79, 0.97, Impact(180.0, 20087.88), "x", "y")
    >>> zh = Messages("zh-CN")
    >>> form = short_form(a, zh, link="https://s.example/p", around="【PayPulse】")
    >>> form.line(zh)
    '告警中：支付成功率下降，支付宝 商户 m-99999999…，每分钟 180 笔 https://s.example/p'
    >>> segment_units("【PayPulse】" + form.line(zh))
    70
    >>> short_form(a, link="https://s.example/p").line()  # doctest: +NORMALIZE_WHITESPACE
    'FIRING Payment success rate drop: Alipay merchant m-999999999999999999999999999999...,
     180 orders/min, CN¥20,087.88 per min https://s.example/p'
    """
    return _fit(messages, short_words(alert, messages, sms_text), link or "", around)


def digest_form(
    alerts: Sequence[Alert], messages: Messages = ENGLISH, *, link: str | None = None, around: str = ""
) -> ShortForm:
    """Several alerts in one segment, for a target that could not take them one by one: how many,
    the first one's kind and scope, and the orders a minute of them all."""
    if not alerts:
        raise ValueError("a digest needs at least one alert")
    m = messages
    first = short_words(alerts[0], m, sms_text)
    n = len(alerts)
    heading = m.ngettext("{count} more alert", "{count} more alerts", n).format(count=m.decimal(n, "#,##0"))
    orders = sum(a.impact.orders_per_min for a in alerts if a.status == "firing")
    impact = m.gettext("{orders} orders/min").format(orders=m.decimal(orders, "#,##0"))
    words = {
        "status": first["status"],
        "kind": heading,
        "scope": f"{first['kind']} {first['scope']}",
        "impact": impact,
        "orders": impact,
    }
    return _fit(m, words, link or "", around)


def _fit(m: Messages, words: dict[str, str], link: str, around: str) -> ShortForm:
    """The most detailed form that fits one segment with ``around``; detail goes in a fixed order."""
    form = ShortForm(words["status"], words["kind"], words["scope"], words["impact"], link, around)

    def fits(candidate: ShortForm) -> bool:
        return _fits(around + candidate.line(m))

    if fits(form):
        return form
    form = ShortForm(form.status, form.kind, form.scope, words["orders"], link, around)
    for linked in (link, "") if link else ("",):
        candidate = ShortForm(form.status, form.kind, "", form.impact, linked, around)
        room = _room(around + candidate.line(m), form.scope)
        if room >= _MIN_SCOPE or not linked:
            scoped = ShortForm(
                form.status, form.kind, _cut(form.scope, max(room, 0)), form.impact, linked, around
            )
            if fits(scoped):
                return scoped
    # Still too long: the kind is data we do not know (or the provider's text is long). Cut it too.
    bare = ShortForm(form.status, "", "", form.impact, "", around)
    room = _room(around + bare.line(m), form.kind)
    cut = ShortForm(form.status, _cut(form.kind, max(room, 0)), "", form.impact, "", around)
    return cut if fits(cut) else ShortForm(form.status, "", "", "", "", around)


#: Fewer units than this left for the scope, and the link makes way for it.
_MIN_SCOPE: Final = 8


def _room(without: str, part: str) -> int:
    """Units left for ``part`` in one segment that also holds ``without``, in the charset of both.

    >>> _room("FIRING: ", "alipay"), _room("告警中：", "alipay")
    (152, 66)
    """
    if is_gsm7(without + part):
        return GSM7_SEGMENT - segment_units(without)
    return UCS2_SEGMENT - len(without.encode("utf-16-le")) // 2
