"""Rendering: every fact on-call needs is in the Markdown and the e-mail message; SMS fits 140 chars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerting.render import KIND_WORDS, render
from kernel.alerts import KINDS, Alert, Impact, Scope

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def alert(
    status: str = "firing", kind: str = "success_rate_drop", action: str = "Fail over to acquirer B"
) -> Alert:
    return Alert(
        kind=kind,
        scope=Scope("alipay", "m42"),
        status=status,  # type: ignore[arg-type]
        severity="critical",
        started_at=T0,
        detected_at=T0 + timedelta(seconds=90),
        resolved_at=T0 + timedelta(minutes=25) if status == "resolved" else None,
        value=0.82,
        baseline=0.975,
        impact=Impact(orders_per_min=1234.5, amount_per_min=98765.4, channels=("alipay", "wechat")),
        suggested_action=action,
        summary="Success rate on alipay merchant m42 fell from 97.5% to 82.0%",
    )


def test_firing_message_states_every_required_fact() -> None:
    msg = render(alert())
    assert msg.title == "[FIRING] Payment success rate drop · Alipay merchant m42 (critical)"
    for fact in [
        "Payment success rate drop",  # kind in words
        "`success_rate_drop`",
        "Alipay merchant m42",  # scope, the channel by its display name
        "Critical",
        "**FIRING**",
        "82.00% vs baseline 97.50% (-15.50 pts)",  # value vs baseline
        "1,234.5 orders/min",
        "CN¥98,765.40 per min",  # money per minute, with its currency
        "**Channels:** Alipay, WeChat Pay",
        "**Started:** 2024-05-01 08:00:00 UTC",
        "**Detected:** 2024-05-01 08:01:30 UTC",
        "**First action:** Fail over to acquirer B",
        "Success rate on alipay merchant m42 fell from 97.5% to 82.0%",
    ]:
        assert fact in msg.body, fact
    assert "Resolved" not in msg.body
    assert "RESOLVED" not in msg.body


def test_email_message_states_the_same_facts_in_html() -> None:
    msg = render(alert(), "html")
    assert msg.medium == "html"
    assert msg.title == render(alert()).title  # the subject line
    for fact in [
        "<p><strong>FIRING</strong> · Critical · Payment success rate drop on <strong>Alipay merchant m42",
        "<p>Success rate on alipay merchant m42 fell from 97.5% to 82.0%</p>",
        "<li><strong>Anomaly:</strong> Payment success rate drop (<code>success_rate_drop</code>)</li>",
        "<li><strong>Value:</strong> 82.00% vs baseline 97.50% (-15.50 pts)</li>",
        "<li><strong>Impact:</strong> 1,234.5 orders/min, CN¥98,765.40 per min</li>",
        "<li><strong>Channels:</strong> Alipay, WeChat Pay</li>",
        "<li><strong>Detected:</strong> 2024-05-01 08:01:30 UTC</li>",
        "<p><strong>First action:</strong> Fail over to acquirer B</p>",
    ]:
        assert fact in msg.body, fact
    assert "Resolved" not in msg.body
    resolved = render(alert("resolved"), "html").body
    assert "<li><strong>Resolved:</strong> 2024-05-01 08:25:00 UTC</li>" in resolved


def test_resolved_message_says_resolved_and_when() -> None:
    msg = render(alert("resolved"))
    assert msg.title.startswith("[RESOLVED] ")
    assert "**RESOLVED**" in msg.body
    assert "**Resolved:** 2024-05-01 08:25:00 UTC" in msg.body
    assert "FIRING" not in msg.body


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_in_words(kind: str) -> None:
    msg = render(alert(kind=kind))
    assert KIND_WORDS[kind][0] in msg.title
    assert "_" not in msg.title  # no raw kind identifiers in the headline


def test_render_is_deterministic() -> None:
    assert render(alert()) == render(alert())
