"""Hostile ids through the real outbox, dispatcher and Apprise, to a real HTTP receiver and SMTP server.

The alert carries markup in every field that comes from the data: a channel that is a Markdown
link, a merchant id that is a script tag with a mail header after a line break, order ids with
pipes, backticks, ``@all`` and Lark/WeCom mention tags. What the robots, the ``json://`` hook
and the mailbox receive must show those values as text and contain no markup built from them.
"""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from markdown_it import MarkdownIt
from pydantic import SecretStr

from alerting.delivery import Dispatcher
from alerting.i18n import Messages
from alerting.lifecycle import SUGGESTED_ACTIONS
from alerting.notifications import AlertFanout
from alerting.outbox import Outbox
from alerting.render import render
from kernel.alerts import Alert, Impact, Scope
from kernel.clock import ManualClock
from kernel.settings import AlertingSettings, RouteSettings
from tests.fixtures.receiver import Receiver

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
CHANNEL = "[click](http://evil)"
MERCHANT = "<script>alert(1)</script>\r\nBcc: victim@example.com"
ORDERS = 'o-1|o-2, `rm -rf /`, o-3\n@all <at user_id="all">all</at> <@zhangsan> ![x](http://evil/x.png)'
SCOPE = Scope(CHANNEL, MERCHANT)
HOSTILE = Alert(
    kind="stuck_payments",
    scope=SCOPE,
    status="firing",
    severity="critical",
    started_at=T0,
    detected_at=T0 + timedelta(seconds=90),
    value=12.0,
    baseline=1.0,
    impact=Impact(orders_per_min=12.0, amount_per_min=720.0, channels=(CHANNEL, "**bold**")),
    suggested_action=SUGGESTED_ACTIONS["stuck_payments"],
    summary=f"{SCOPE.label}: stuck payments 12.0/min vs normal 1.0 (E_TIMEOUT|>5min); e.g. orders {ORDERS}",
)
#: Text that, found in what a service received, is markup built from the data.
LIVE = ("<script", "<at", "<@", "](", "![", "@all", "**bold**", "`rm", "|o-2", "\nBcc")
#: Token types our Markdown template never makes: any of them would come from a value.
FOREIGN_TOKENS = {
    "link_open",
    "image",
    "html_inline",
    "html_block",
    "table_open",
    "blockquote_open",
    "s_open",
    "em_open",
    "code_block",
    "fence",
    "hr",
    "ordered_list_open",
}
MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def assert_no_live_markdown(text: str) -> None:
    for live in LIVE:
        assert live not in text, live
    tokens = MARKDOWN.parse(text)
    types = [t.type for t in tokens] + [c.type for t in tokens for c in t.children or []]
    assert not FOREIGN_TOKENS & set(types), FOREIGN_TOKENS & set(types)
    assert types.count("heading_open") <= 1  # DingTalk's title heading, no other
    assert types.count("code_inline") <= 2  # our kind and fingerprint spans, no other


def route(url: str) -> AlertingSettings:
    routes = [RouteSettings(name="oncall", urls=[SecretStr(url)], min_severity="warning")]
    return AlertingSettings(routes=routes, retry_backoff=timedelta(seconds=5))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000.0)


def deliver(url: str, outbox: Outbox, clock: ManualClock, endpoints: dict[str, str] | None = None) -> None:
    """The production path: fan-out into the SQLite outbox, then the dispatcher sends through Apprise."""
    settings = route(url)
    AlertFanout(settings, outbox, clock).submit(HOSTILE)
    outcomes = Dispatcher.from_settings(settings, outbox, clock, endpoints=endpoints).run_once()
    assert [o.outcome for o in outcomes] == ["delivered"]


@dataclass
class Mailbox:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every envelope it accepts."""

    port: int
    envelopes: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mailbox = Mailbox(port)
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str | None]] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += attrs

    def handle_data(self, data: str) -> None:
        self.text += data


def test_json_hook_gets_the_hostile_values_as_text(
    receiver: Receiver, outbox: Outbox, clock: ManualClock
) -> None:
    deliver(f"json://{receiver.netloc}/hooks/paypulse", outbox, clock)
    (request,) = receiver.requests
    payload = request.json
    assert (payload["title"], payload["message"]) == (render(HOSTILE).title, render(HOSTILE).body)
    assert_no_live_markdown(payload["title"])
    assert_no_live_markdown(payload["message"])
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Bcc: victim&#64;example.com" in payload["message"]
    assert "&#91;click&#93;(http&#58;//evil)" in payload["message"]


def test_dingtalk_robot_gets_markdown_that_shows_the_values_and_makes_no_markup(
    receiver: Receiver, outbox: Outbox, clock: ManualClock
) -> None:
    deliver("dingtalk://a1b2c3d4token/", outbox, clock, {"dingtalk": receiver.url})
    (request,) = receiver.requests
    payload = request.json
    assert payload["msgtype"] == "markdown"
    assert payload["at"] == {"atMobiles": [], "isAtAll": False}
    text = payload["markdown"]["text"]
    assert_no_live_markdown(payload["markdown"]["title"])
    assert_no_live_markdown(text)
    # A CommonMark renderer shows on-call the ids exactly as they came, as text on one line.
    html = MARKDOWN.render(text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Bcc: victim@example.com" in html
    assert (
        "o-1|o-2, `rm -rf /`, o-3 @all &lt;at user_id=&quot;all&quot;&gt;all&lt;/at&gt; &lt;@zhangsan&gt;"
        in html
    )
    assert "<a " not in html and "<img" not in html


def test_wecom_robot_gets_text_with_no_mention_or_tag(
    receiver: Receiver, outbox: Outbox, clock: ManualClock
) -> None:
    deliver("wecombot://wecomkey123", outbox, clock, {"wecombot": receiver.url})
    (request,) = receiver.requests
    payload = request.json
    content = payload["text"]["content"]
    chinese = render(HOSTILE, messages=Messages("zh-CN"))
    assert content == f"{chinese.title}\r\n{chinese.body}"
    assert not payload["text"].get("mentioned_list") and not payload["text"].get("mentioned_mobile_list")
    assert_no_live_markdown(content.replace("\r\n", "\n", 1))


def test_email_html_escapes_every_value_and_headers_stay_ours(
    smtp: Mailbox, outbox: Outbox, clock: ManualClock
) -> None:
    url = f"mailto://127.0.0.1:{smtp.port}?mode=insecure&from=alerts@paypulse.test&to=oncall@paypulse.test"
    deliver(url, outbox, clock)
    (envelope,) = smtp.envelopes
    assert envelope.rcpt_tos == ["oncall@paypulse.test"]  # no recipient smuggled in through an id
    mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    assert "Bcc" not in mail
    assert mail["Subject"] == render(HOSTILE, "html").title
    assert "\n" not in str(mail["Subject"]) and "Bcc: victim@example.com" in str(mail["Subject"])
    html_part = mail.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "<script" not in html and "<at" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Bcc: victim@example.com" in html
    tags = _Tags()
    tags.feed(html)
    assert tags.tags <= {"p", "strong", "ul", "li", "code"}  # our template's elements only
    assert tags.attributes == []
    assert f"{CHANNEL} merchant <script>alert(1)</script> Bcc: victim@example.com" in tags.text
    # Apprise derives the text/plain alternative from our HTML: the ids show there as plain text.
    plain_part = mail.get_body(("plain",))
    assert plain_part is not None and plain_part.get_content_type() == "text/plain"
    assert "<script>alert(1)</script> Bcc: victim@example.com" in plain_part.get_content()
