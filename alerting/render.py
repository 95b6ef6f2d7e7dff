"""Turn an alert into the words on-call reads: one Markdown message for every channel, one SMS line.

DingTalk and WeCom robots take Markdown, Apprise converts Markdown to HTML for e-mail, and
``json://`` carries it as is, so one :func:`render` serves them all and channels cannot drift
apart. The wording lives in Jinja2 templates under ``alerting/delivery/templates/``; this module
prepares the values (units, percentages, UTC times) so the templates stay free of logic.
Rendering is pure: the same alert always gives the same text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import jinja2

from alerting.model import KINDS, Alert

__all__ = ["KIND_WORDS", "SHORT_MAX", "RenderedMessage", "format_value", "render", "render_short"]

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

_SEVERITY_WORDS: Final = {"critical": "Critical", "warning": "Warning", "info": "Info"}
_TEMPLATES: Final = Path(__file__).parent / "delivery" / "templates"
_ENV: Final = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_TEMPLATES),
    undefined=jinja2.StrictUndefined,  # a misspelt variable fails the tests, not a page at 3 a.m.
    autoescape=False,  # Markdown, not HTML; Apprise escapes where the channel needs it
    trim_blocks=True,
    keep_trailing_newline=False,
)


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """A title (one line, the DingTalk preview and e-mail subject) and a Markdown body."""

    title: str
    body: str


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
    words, unit = KIND_WORDS.get(alert.kind, (alert.kind.replace("_", " ").capitalize(), "amount"))
    impact = alert.impact
    return {
        "kind": alert.kind,
        "kind_words": words,
        "scope": alert.scope.label,
        "severity": alert.severity,
        "severity_word": _SEVERITY_WORDS.get(alert.severity, alert.severity),
        "status_word": alert.status.upper(),
        "value": format_value(alert.value, unit),
        "baseline": format_value(alert.baseline, unit),
        "change": _change(alert.value, alert.baseline, unit),
        "orders_per_min": f"{impact.orders_per_min:,.1f}",
        "amount_per_min": f"{impact.amount_per_min:,.2f}",
        "channels": ", ".join(impact.channels)
        if impact.channels
        else (alert.scope.channel or "all channels"),
        "started_at": _when(alert.started_at),
        "detected_at": _when(alert.detected_at),
        "resolved_at": _when(alert.resolved_at),
        "suggested_action": alert.suggested_action,
        "summary": alert.summary,
        "fingerprint": alert.fingerprint,
        "alert_id": alert.id,
    }


def render(alert: Alert) -> RenderedMessage:
    """The full message: every fact on-call needs to act without opening a dashboard."""
    context = _context(alert)
    title = _ENV.get_template("alert.title.j2").render(context).strip()
    body = _ENV.get_template("alert.md.j2").render(context).strip()
    return RenderedMessage(title=title, body=body)


def render_short(alert: Alert) -> str:
    """One line of at most :data:`SHORT_MAX` characters for SMS; the action is cut first."""
    line = " ".join(_ENV.get_template("alert.short.j2").render(_context(alert)).split())
    if len(line) <= SHORT_MAX:
        return line
    return line[: SHORT_MAX - 1].rstrip() + "…"
