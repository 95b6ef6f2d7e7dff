"""Every value from the data reaches a message escaped for its medium: hostile ids make no markup.

Markdown is judged by a CommonMark parser (markdown-it-py, with GFM tables and strikethrough), HTML
by the standard library's parser: a hostile value must leave the message with the same structure
as a harmless one, and come back out of the parser as the very text it was, on one line.
"""

from __future__ import annotations

import dataclasses
import itertools
import unicodedata
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from alerting.escape import TEXT_VALUE_MAX, clean_text, escape_markdown, one_line
from alerting.i18n import Messages
from alerting.lifecycle import SUGGESTED_ACTIONS
from alerting.render import render, render_digest, render_template
from alerting.templates import medium_of
from kernel.alerts import Alert, Impact, Scope

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
TEMPLATES = Path(__file__).parents[2] / "alerting" / "delivery" / "templates"
MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])

HOSTILE = {
    "script": "<script>alert(1)</script>",
    "img_onerror": '"><img src=x onerror=alert(1)>',
    "link": "[click](http://evil)",
    "image": "![x](http://evil/x.png)",
    "reference_link": "[click][1] [1]: http://evil",
    "autolink": "<http://evil> http://evil.example/login www.evil.example",
    "bold": "**bold**",
    "emphasis": "_it_ *it* __b__",
    "strike": "~~gone~~",
    "code": "`rm -rf /` ```",
    "table": "o-1 | o-2\n|---|---|\n| a | b |",
    "heading": "# heading",
    "setext": "x\n===",
    "list": "- a\n+ b\n* c",
    "ordered": "1. one\n2) two",
    "quote": "> quoted",
    "thematic_break": "---",
    "newline_mention": "o-981\n@all",
    "mention_all": "@all please",
    "dingtalk_mobile": "@13800000000",
    "lark_at": '<at user_id="all">all</at>',
    "wecom_at": "<@zhangsan>",
    "entity": "&lt;script&gt; &#64;all",
    "backslash": "o-1\\\\\n\\*",
    "indented_code": "    code",
    "html_comment": "<!-- x -->",
    "bidi": "o-\u202e189\u202c",
    "controls": "o-1\x00\x1b[31m\x7f\u0085\u2028end",
    "header_injection": "m42\r\nBcc: victim@example.com",
}
#: Markup that, found in a message, could only have come from a value.
LIVE_MARKDOWN = ("<script", "<img", "<at", "<@", "](", "][", "@all", "@138", "~~", "```", "**bold**")


def hostile_alert(value: str, kind: str = "success_rate_drop", action: str | None = None) -> Alert:
    """``value`` in every field that carries data: channel, merchant, channels, summary."""
    return Alert(
        kind=kind,
        scope=Scope(value, value),
        status="firing",
        severity="critical",
        started_at=T0,
        detected_at=T0 + timedelta(seconds=90),
        value=0.82,
        baseline=0.975,
        impact=Impact(orders_per_min=120.0, amount_per_min=15320.0, channels=(value, "wechat")),
        suggested_action=SUGGESTED_ACTIONS[kind] if action is None else action,
        summary=value,
    )


HARMLESS = hostile_alert("alipay")


def markdown_shape(text: str) -> list[str]:
    """The token types a CommonMark parser finds, text runs merged: the message's structure."""
    shape: list[str] = []
    for token in MARKDOWN.parse(text):
        shape.append(token.type)
        for child in token.children or []:
            if child.type == "text" and (not child.content or shape[-1] == "text"):
                continue
            shape.append(child.type)
    return shape


def summary_text(markdown: str) -> list[tuple[str, str]]:
    """The inline tokens of the message's second paragraph, where the summary stands alone."""
    tokens = MARKDOWN.parse(markdown)
    inlines = [t for before, t in itertools.pairwise(tokens) if before.type == "paragraph_open"]
    return [(c.type, c.content) for c in inlines[1].children or []]


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, str, list[tuple[str, str | None]]]] = []
        self.paragraphs: list[str] = []
        self._in_p = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(("start", tag, attrs))
        if tag == "p":
            self._in_p = True
            self.paragraphs.append("")

    def handle_endtag(self, tag: str) -> None:
        self.tags.append(("end", tag, []))
        self._in_p = self._in_p and tag != "p"

    def handle_data(self, data: str) -> None:
        if self._in_p:
            self.paragraphs[-1] += data

    def handle_comment(self, data: str) -> None:
        self.tags.append(("comment", data, []))


def parse_html(html: str) -> _Html:
    parser = _Html()
    parser.feed(html)
    parser.close()
    return parser


def markdown_message(alert: Alert) -> str:
    """What DingTalk's robot receives: the title as a heading, then the body (Apprise's layout)."""
    message = render(alert)
    return f"# {message.title}\n{message.body}"


def is_one_visible_line(text: str) -> bool:
    return all(unicodedata.category(c) != "Cc" and c not in "\u2028\u2029\u202e" for c in text)


# -- the table: hostile value x medium ---------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_markdown_gets_no_markup_from_a_hostile_value(value: str) -> None:
    text = markdown_message(hostile_alert(value))
    assert markdown_shape(text) == markdown_shape(markdown_message(HARMLESS))
    for live in LIVE_MARKDOWN:
        assert live not in text, live
    assert summary_text(text) == [("text", one_line(value))]  # shown as it was, one inline span


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_html_gets_no_markup_from_a_hostile_value(value: str) -> None:
    html = render(hostile_alert(value), "html").body
    parsed = parse_html(html)
    assert parsed.tags == parse_html(render(HARMLESS, "html").body).tags  # no element, attribute or comment
    assert "<script" not in html and "<img" not in html and "<at" not in html
    assert parsed.paragraphs[1] == one_line(value)


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_plain_text_gets_one_line_from_a_hostile_value(value: str) -> None:
    subject = render(hostile_alert(value), "html").title
    assert is_one_visible_line(subject)
    assert "\n" not in subject and "\r" not in subject
    assert one_line(value)[: TEXT_VALUE_MAX - 1].rstrip() in subject


def test_header_injection_stays_in_the_subject_line() -> None:
    subject = render(hostile_alert(HOSTILE["header_injection"]), "html").title
    assert subject == (
        "[FIRING] Payment success rate drop · m42 Bcc: victim@example.com merchant m42 Bcc: "
        "victim@example.com (critical)"
    )


def test_markdown_escapes_show_the_value_unchanged_in_a_commonmark_renderer() -> None:
    body = render(hostile_alert("[click](http://evil) **bold** @all <at>")).body
    html = MARKDOWN.render(body)
    assert "<p>[click](http://evil) **bold** @all &lt;at&gt;</p>" in html
    assert "<a " not in html and "<strong>bold" not in html


def test_ordinary_summary_reads_the_same_in_every_medium() -> None:
    summary = (
        "alipay: payment success rate 78.8% vs normal 97.0%, since 01:20:00 UTC "
        "(cusum 27.2 / 16.5 after 165 outcomes, 35 bad); e.g. orders o-981, o_982"
    )
    alert = dataclasses.replace(HARMLESS, summary=summary)
    assert f"\n{summary}\n" in render(alert).body
    assert f"<p>{summary}</p>" in render(alert, "html").body


# -- Chinese readers and digests: sentence frames filled with escaped values ------------------------

CHINESE = Messages("zh-CN")


def chinese_markdown(alert: Alert) -> str:
    message = render(alert, messages=CHINESE)
    return f"# {message.title}\n{message.body}"


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_chinese_markdown_gets_no_markup_from_a_hostile_value(value: str) -> None:
    text = chinese_markdown(hostile_alert(value))
    assert markdown_shape(text) == markdown_shape(chinese_markdown(HARMLESS))
    for live in LIVE_MARKDOWN:
        assert live not in text, live
    tokens = MARKDOWN.parse(text)
    headline = [t for before, t in itertools.pairwise(tokens) if before.type == "paragraph_open"][1]
    shown = "".join(child.content for child in headline.children or [] if child.type == "text")
    assert one_line(value) in shown  # a CommonMark renderer shows the value as it came, as text


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_chinese_html_gets_no_markup_from_a_hostile_value(value: str) -> None:
    html = render(hostile_alert(value), "html", CHINESE).body
    assert parse_html(html).tags == parse_html(render(HARMLESS, "html", CHINESE).body).tags
    assert "<script" not in html and "<img" not in html and "<at" not in html


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_digest_lines_get_no_markup_from_a_hostile_value(value: str) -> None:
    for messages in (CHINESE, Messages("en")):
        digest = render_digest([hostile_alert(value), HARMLESS], 20, "markdown", messages)
        harmless = render_digest([HARMLESS, HARMLESS], 20, "markdown", messages)
        assert markdown_shape(digest.body) == markdown_shape(harmless.body)
        for live in LIVE_MARKDOWN:
            assert live not in digest.body, live
        html = render_digest([hostile_alert(value), HARMLESS], 20, "html", messages).body
        assert (
            parse_html(html).tags == parse_html(render_digest([HARMLESS] * 2, 20, "html", messages).body).tags
        )


# -- ours versus data --------------------------------------------------------------------------------


def test_our_own_action_shows_as_written_and_any_other_is_data() -> None:
    ours = SUGGESTED_ACTIONS["stuck_payments"]
    assert f"**First action:** {ours}" in render(hostile_alert("alipay", kind="stuck_payments")).body
    foreign = render(hostile_alert("alipay", action="**Pay** [here](http://evil) @all")).body
    assert "**First action:** &#42;&#42;Pay&#42;&#42; &#91;here&#93;(http&#58;//evil) &#64;all" in foreign


def test_unknown_kind_and_severity_are_data() -> None:
    alert = Alert(
        kind="`x`](http://evil)",
        scope=Scope("alipay"),
        status="firing",
        severity="<b>loud</b>",  # type: ignore[arg-type]
        started_at=T0,
        detected_at=T0,
        value=1.0,
        baseline=2.0,
        impact=Impact(1.0, 2.0),
        suggested_action="x",
        summary="y",
    )
    markdown = markdown_message(alert)
    assert "`x`" not in markdown and "](" not in markdown and "<b>" not in markdown
    assert "(`&#96;x&#96;&#93;(http&#58;//evil)`)" in markdown  # a backtick cannot close our code span
    html = render(alert, "html").body
    assert "<b>" not in html and "&lt;b&gt;loud&lt;/b&gt;" in html


def test_every_template_declares_its_medium() -> None:
    names = sorted(p.name for p in TEMPLATES.glob("*.j2"))
    assert names, TEMPLATES
    assert {name: medium_of(name) for name in names} == {
        "alert.html.j2": "html",
        "alert.md.j2": "markdown",
        "alert.title.md.j2": "markdown",
        "alert.title.txt.j2": "text",
        "digest.html.j2": "html",
        "digest.md.j2": "markdown",
        "digest.title.md.j2": "markdown",
        "digest.title.txt.j2": "text",
        "group.html.j2": "html",
        "group.md.j2": "markdown",
    }


def test_a_template_without_a_medium_is_refused() -> None:
    with pytest.raises(ValueError, match="declares no medium"):
        render_template("alert.j2", HARMLESS)


def test_escapers_on_their_own() -> None:
    assert escape_markdown("1) a") == "1&#41; a"
    assert escape_markdown("=== x") == "&#61;== x"
    assert escape_markdown("snake_case_id __init__") == "snake_case_id &#95;&#95;init&#95;&#95;"
    assert escape_markdown("WWW.evil.example ftp://x") == "WWW&#46;evil.example ftp&#58;//x"
    assert clean_text("a\u2028b\tc\x00") == "a b c"
    assert clean_text("x" * 300) == "x" * (TEXT_VALUE_MAX - 1) + "…"


# -- properties over any text ------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_reaches_markdown_only_escaped(value: str) -> None:
    assume(one_line(value))
    text = markdown_message(hostile_alert(value))
    assert markdown_shape(text) == markdown_shape(markdown_message(HARMLESS))
    assert summary_text(text) == [("text", one_line(value))]
    escaped = escape_markdown(value)
    assert not set(escaped) & set("\\`*[]|~@<>\n\r")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_reaches_html_only_escaped(value: str) -> None:
    assume(one_line(value))
    html = render(hostile_alert(value), "html").body
    parsed = parse_html(html)
    assert parsed.tags == parse_html(render(HARMLESS, "html").body).tags
    assert parsed.paragraphs[1] == one_line(value)
