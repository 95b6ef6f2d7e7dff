"""Turn an alert into the words on-call reads: Markdown for robots, HTML for e-mail, one SMS line.

Each template under ``alerting/delivery/templates/`` declares its medium by its name:
``*.md.j2`` (DingTalk, WeCom and Lark robots, ``json://``), ``*.html.j2`` (e-mail) and ``*.txt.j2``
(SMS, e-mail subjects). :func:`render_template` is the one way to render any of them: it runs
every ``{{ value }}`` through that medium's escaper (:mod:`alerting.escape`; HTML with Jinja's
autoescape), so a channel, merchant or order id can reach a message only escaped for it. Text
we write ourselves is :class:`~alerting.escape.OwnText` and shows as written. This module
prepares the values (units, percentages, UTC times) so the templates stay free of logic.
Rendering is pure: the same alert always gives the same text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import jinja2

from alerting.escape import OwnText, clean_text, escape_markdown, one_line
from alerting.lifecycle import SUGGESTED_ACTIONS
from alerting.model import KINDS, Alert

__all__ = [
    "KIND_WORDS",
    "MESSAGES",
    "SHORT_MAX",
    "Medium",
    "RenderedMessage",
    "format_value",
    "medium_of",
    "render",
    "render_short",
    "render_template",
]

#: Longest SMS line :func:`render_short` returns.
SHORT_MAX: Final = 140

#: Each kind in words, and the unit its value and baseline are in.
KIND_WORDS: Final[dict[str, tuple[str, str]]] = {
    "success_rate_drop": ("Payment success rate drop", "ratio"),
    "callback_latency_high": ("Slow payment callbacks", "seconds"),
    "callback_failure_high": ("Payment callbacks failing", "ratio"),
    "volume_drop": ("Payment volume drop", "per_min"),
    "volume_spike": ("Payment volume spike", "per_min"),
    "amount_deviation": ("Unusual ticket size", "amount"),
    "complaint_spike": ("Customer complaint spike", "per_min"),
    "stuck_payments": ("Payments stuck without callback", "per_min"),
}
assert set(KIND_WORDS) == set(KINDS), "every alert kind needs words"

Medium = Literal["markdown", "html", "text"]
#: What a template's name ends with says which medium it renders for.
_SUFFIXES: Final[dict[str, Medium]] = {".md.j2": "markdown", ".html.j2": "html", ".txt.j2": "text"}
#: What every value from the data goes through, per medium. HTML then gets Jinja's autoescape.
_ESCAPERS: Final[dict[Medium, Callable[[object], str]]] = {
    "markdown": escape_markdown,
    "html": one_line,
    "text": clean_text,
}
#: The templates of a whole message by the medium of its body: (title, body). The Markdown title
#: is Markdown too (DingTalk repeats it as a heading); an e-mail's title is its Subject header.
MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "markdown": ("alert.title.md.j2", "alert.md.j2"),
    "html": ("alert.title.txt.j2", "alert.html.j2"),
}

_SEVERITY_WORDS: Final = {"critical": "Critical", "warning": "Warning", "info": "Info"}
_STATUSES: Final = frozenset({"firing", "resolved"})
_OUR_ACTIONS: Final = frozenset(SUGGESTED_ACTIONS.values())
_TEMPLATES: Final = Path(__file__).parent / "delivery" / "templates"


def medium_of(template: str) -> Medium:
    """The medium a template renders for, from its name.

    >>> medium_of("alert.md.j2"), medium_of("alert.html.j2"), medium_of("alert.short.txt.j2")
    ('markdown', 'html', 'text')
    """
    for suffix, medium in _SUFFIXES.items():
        if template.endswith(suffix):
            return medium
    raise ValueError(f"template {template!r} declares no medium: name it *.md.j2, *.html.j2 or *.txt.j2")


def _environment(medium: Medium) -> jinja2.Environment:
    escape = _ESCAPERS[medium]

    def finalize(value: object) -> object:
        """Every ``{{ value }}``: our own text as it is, data through the medium's escaper."""
        return value if isinstance(value, OwnText) else escape(value)

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        undefined=jinja2.StrictUndefined,  # a misspelt variable fails the tests, not a page at 3 a.m.
        autoescape=medium == "html",  # markupsafe, after finalize; our own text is escaped too
        finalize=finalize,
        trim_blocks=True,
        keep_trailing_newline=False,
    )


_ENVIRONMENTS: Final = {medium: _environment(medium) for medium in _ESCAPERS}


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """A title (one line: the DingTalk preview, the e-mail subject) and a body in ``medium``."""

    title: str
    body: str
    medium: Medium = "markdown"


def format_value(value: float, unit: str) -> str:
    """Show a measured value in the unit on-call thinks in.

    >>> format_value(0.9234, "ratio"), format_value(31.5, "seconds"), format_value(1234.5, "per_min")
    ('92.34%', '31.5 s', '1,234.5/min')
    >>> format_value(88.0, "amount")
    '88.00'
    """
    if unit == "ratio":
        return f"{value * 100:.2f}%"
    if unit == "seconds":
        return f"{value:,.1f} s"
    if unit == "per_min":
        return f"{value:,.1f}/min"
    return f"{value:,.2f}"


def _change(value: float, baseline: float, unit: str) -> str:
    """The gap in words: percentage points for rates, relative change otherwise.

    >>> _change(0.85, 0.97, "ratio"), _change(30.0, 10.0, "seconds"), _change(1.0, 0.0, "per_min")
    ('-12.00 pts', '+200.0%', 'no baseline')
    """
    if unit == "ratio":
        return f"{(value - baseline) * 100:+.2f} pts"
    if baseline == 0:
        return "no baseline"
    return f"{(value - baseline) / abs(baseline) * 100:+.1f}%"


def _when(moment: datetime | None) -> str:
    """UTC to the second; on-call compares it with dashboards that are in UTC too.

    >>> _when(datetime(2024, 5, 1, 8, 3, 9, 500, tzinfo=UTC))
    '2024-05-01 08:03:09 UTC'
    """
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _context(alert: Alert) -> dict[str, Any]:
    """The template values: :class:`OwnText` for what we write, plain ``str`` for data.

    A kind, severity or status we do not know, and an action that is not one of ours, came from
    outside (an outbox row, an alert log) and count as data like ids and summaries do.
    """
    known = alert.kind in KIND_WORDS
    words, unit = KIND_WORDS.get(alert.kind, (alert.kind.replace("_", " ").capitalize(), "amount"))
    severity_word = _SEVERITY_WORDS.get(alert.severity)
    impact = alert.impact
    ours = {
        "value": format_value(alert.value, unit),
        "baseline": format_value(alert.baseline, unit),
        "change": _change(alert.value, alert.baseline, unit),
        "orders_per_min": f"{impact.orders_per_min:,.1f}",
        "amount_per_min": f"{impact.amount_per_min:,.2f}",
        "started_at": _when(alert.started_at),
        "detected_at": _when(alert.detected_at),
        "resolved_at": _when(alert.resolved_at),
        "fingerprint": alert.fingerprint,
        "alert_id": alert.id,
    }
    return {name: OwnText(text) for name, text in ours.items()} | {
        "kind": OwnText(alert.kind) if known else alert.kind,
        "kind_words": OwnText(words) if known else words,
        "severity": OwnText(alert.severity) if severity_word else alert.severity,
        "severity_word": OwnText(severity_word) if severity_word else alert.severity,
        "status_word": (OwnText if alert.status in _STATUSES else str)(alert.status.upper()),
        "suggested_action": (OwnText if alert.suggested_action in _OUR_ACTIONS else str)(
            alert.suggested_action
        ),
        # Data: ids, names and free text from the events and the detectors.
        "scope": alert.scope.label,
        "channels": ", ".join(impact.channels or [alert.scope.channel or "all channels"]),
        "summary": alert.summary,
    }


def render_template(template: str, alert: Alert) -> str:
    """``template`` filled with ``alert``, every value from the data escaped for the template's medium.

    The one way templates are rendered; :func:`render` and :func:`render_short` are built on it.
    """
    environment = _ENVIRONMENTS[medium_of(template)]
    return environment.get_template(template).render(_context(alert)).strip()


def render(alert: Alert, medium: Medium = "markdown") -> RenderedMessage:
    """The full message: every fact on-call needs to act without opening a dashboard.

    ``medium`` is the body's: ``"markdown"`` for robots and ``json://``, ``"html"`` for e-mail.
    """
    if medium not in MESSAGES:
        raise ValueError(f"no message template for medium {medium!r}; one of {sorted(MESSAGES)}")
    title, body = MESSAGES[medium]
    return RenderedMessage(render_template(title, alert), render_template(body, alert), medium)


def render_short(alert: Alert) -> str:
    """One line of at most :data:`SHORT_MAX` characters for SMS; the action is cut first."""
    line = " ".join(render_template("alert.short.txt.j2", alert).split())
    if len(line) <= SHORT_MAX:
        return line
    return line[: SHORT_MAX - 1].rstrip() + "…"
