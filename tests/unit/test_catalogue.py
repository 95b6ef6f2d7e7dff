"""The message catalogue: every word a person reads is in it, translated, and formatted for its reader.

The messages are extracted from the code and the templates the way ``pybabel extract`` would
(``N_``, ``C_``, ``gettext``/``ngettext``/``pgettext`` calls, ``_()`` in Jinja), so a word added to a
template without a translation, a translation of a message the code no longer uses, or a
translation that loses a ``{placeholder}`` fails here.
"""

from __future__ import annotations

import re
import string
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from alerting.delivery.dispatcher import build_notifiers
from alerting.i18n import (
    ACTIONS,
    CHANNEL_NAMES,
    KIND_TITLES,
    LANGUAGES,
    LOCALE_DIR,
    WHAT,
    Messages,
)
from alerting.lifecycle import SUGGESTED_ACTIONS
from alerting.render import format_value, render, render_digest
from alerting.routing import language_for, zone_for
from alerting.sms_form import short_form
from kernel.alerts import KINDS, Alert, Impact, Scope
from kernel.settings import AlertingSettings

ALERTING = Path(__file__).parents[2] / "alerting"
TEMPLATES = ALERTING / "delivery" / "templates"
KEYWORDS = {**DEFAULT_KEYWORDS, "C_": ((1, "c"), 2)}
METHODS = [("delivery/templates/**.j2", "jinja2"), ("**.py", "python")]
PO_LOCALES = {"zh-CN": "zh_CN", "en": "en"}
CJK = re.compile(r"[\u4e00-\u9fff]")
T0 = datetime(2026, 3, 2, 1, 20, tzinfo=UTC)


def extracted() -> dict[tuple[str | None, str], str | None]:
    """(context, msgid) -> msgid_plural of every message marked in ``alerting/``."""
    found: dict[tuple[str | None, str], str | None] = {}
    for _file, _line, message, _comments, context in extract_from_dir(
        str(ALERTING), METHODS, keywords=KEYWORDS
    ):
        singular, plural = (message[0], message[1]) if isinstance(message, tuple) else (message, None)
        found[(context, singular)] = plural
    return found


def catalogue(language: str) -> Catalog:
    path = LOCALE_DIR / PO_LOCALES[language] / "LC_MESSAGES" / "paypulse.po"
    with path.open("rb") as source:
        return read_po(source, locale=PO_LOCALES[language])


def entries(cat: Catalog) -> dict[tuple[str | None, str], object]:
    return {(m.context, m.id[0] if isinstance(m.id, tuple) else m.id): m for m in cat if m.id}


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def alert(kind: str = "success_rate_drop", status: str = "firing", channel: str | None = "alipay") -> Alert:
    return Alert(
        kind=kind,
        scope=Scope(channel),
        status=status,  # type: ignore[arg-type]
        severity="critical",
        started_at=T0,
        detected_at=T0 + timedelta(seconds=42),
        resolved_at=T0 + timedelta(minutes=9) if status == "resolved" else None,
        value=0.7879,
        baseline=0.9697,
        impact=Impact(180.0, 20087.88, (channel,) if channel else ("alipay", "wechat", "unionpay")),
        suggested_action=SUGGESTED_ACTIONS[kind],
        summary=f"{channel or 'all channels'}: payment success rate 78.8% vs normal 97.0%, "
        "since 01:20:00 UTC (cusum 27.2 / 16.5 after 165 outcomes, 35 bad)",
    )


# -- completeness -------------------------------------------------------------------------------------


def test_the_code_marks_the_words_it_shows() -> None:
    found = extracted()
    for kind in KINDS:
        assert (None, KIND_TITLES[kind]) in found and (None, ACTIONS[kind]) in found
    assert {(None, msgid) for msgid in WHAT.values()} <= set(found)
    assert {("channel", channel) for channel in CHANNEL_NAMES} <= set(found)
    assert (None, "First action:") in found and ("headline", "on") in found  # from the templates
    assert found[(None, "{count} more alert")] == "{count} more alerts"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_has_a_translation(language: str) -> None:
    found = extracted()
    have = entries(catalogue(language))
    missing = sorted(str(key) for key in set(found) - set(have))
    unused = sorted(str(key) for key in set(have) - set(found))
    assert missing == [], f"{language} lacks {missing}"
    assert unused == [], f"{language} translates messages the code no longer uses: {unused}"
    for key, message in have.items():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)  # type: ignore[attr-defined]
        assert all(strings), f"{language}: {key} is not translated"
        assert not message.fuzzy, f"{language}: {key} is fuzzy"  # type: ignore[attr-defined]
        plural = message.id[1] if isinstance(message.id, tuple) else None  # type: ignore[attr-defined]
        assert plural == found[key], f"{language}: {key} has plural {plural!r}, the code {found[key]!r}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_every_placeholder(language: str) -> None:
    for message in catalogue(language):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            assert fields(text) == fields(ids[0]), f"{language}: {message.id!r} -> {text!r}"
    assert list(catalogue(language).check()) == []


def test_chinese_words_are_chinese() -> None:
    zh = Messages("zh-CN")
    for kind in KINDS:
        for words in (zh.kind_title(kind), zh.what(kind), zh.action(kind)):
            assert words and CJK.search(words), (kind, words)
    assert zh.what("callback_latency_high", "late share") == "回调超时占比"
    assert [zh.severity(s) for s in ("critical", "warning", "info")] == ["严重", "警告", "提示"]
    assert [zh.status(s) for s in ("firing", "resolved")] == ["告警中", "已恢复"]


def test_the_compiled_catalogue_is_the_po_source() -> None:
    for language in LANGUAGES:
        messages = Messages(language)  # type: ignore[arg-type]
        for message in catalogue(language):
            if message.id and not isinstance(message.id, tuple):
                shown = (
                    messages.pgettext(message.context, message.id)
                    if message.context
                    else messages.gettext(message.id)
                )
                assert shown == message.string


def test_templates_hold_no_untranslated_words() -> None:
    """Outside ``{{ }}`` and ``{% %}`` a template has markup and the product's name, no words."""
    for path in TEMPLATES.glob("*.j2"):
        literal = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", path.read_text())
        literal = re.sub(r"</?[a-z0-9]+>", " ", literal).replace("PayPulse", " ")
        assert not re.search(r"[A-Za-z]", literal), (path.name, literal)


# -- the words of a message ---------------------------------------------------------------------------


def test_chinese_message_reads_chinese_with_beijing_time_and_yuan() -> None:
    zh = Messages("zh-CN")
    message = render(alert(), messages=zh)
    assert message.title == "【告警中】支付成功率下降 · 支付宝（严重）"
    body = message.body
    for fact in [
        "**告警中** · 严重 · 支付成功率下降 · **支付宝**",
        "支付宝：支付成功率 78.79%，正常为 96.97%，09:20:00 起。"
        "依据：cusum 27.2 / 16.5 after 165 outcomes, 35 bad",
        "- **数值：** 78.79%，基线 96.97%（-18.18 个百分点）",
        "- **影响：** 每分钟 180.0 笔订单、¥20,087.88",
        "- **开始：** 2026-03-02 09:20:00 UTC+08:00",
        "- **发现：** 2026-03-02 09:20:42 UTC+08:00",
        "**首要处置：** 查看该渠道的错误码和服务商状态页；失败持续时把流量切到备用渠道。",
        "`PayPulse · 指纹 adcba3c07cacfb53 · 告警 ",
    ]:
        assert fact in body, fact
    # Past the detector's evidence, code spans (kind id, fingerprint) and the zone, no English is left.
    frame_words = re.sub(r"依据：.*|`[^`]*`|UTC", "", body)
    assert re.findall(r"[A-Za-z]+", frame_words) == []


def test_resolved_and_shop_wide_messages_in_chinese() -> None:
    zh = Messages("zh-CN")
    resolved = render(alert(status="resolved"), messages=zh)
    assert resolved.title == "【已恢复】支付成功率下降 · 支付宝（严重）"
    assert "已恢复：支付宝：支付成功率 于 09:29:00 回到 78.79%（正常为 96.97%）" in resolved.body
    assert "- **恢复：** 2026-03-02 09:29:00 UTC+08:00" in resolved.body
    shop = alert(channel=None)
    shop_wide = render(shop, messages=zh).body
    assert "**全部渠道**" in shop_wide and "- **渠道：** 支付宝、微信支付、银联" in shop_wide


def test_a_latency_alert_raised_by_the_late_share_shows_a_share() -> None:
    late = replace(
        alert("callback_latency_high"),
        value=0.3,
        baseline=0.05,
        summary="alipay: share of late callbacks 30.0% vs normal 5.0%, since 01:20:00 UTC (late 30 of 100)",
    )
    assert "- **Value:** 30.00% vs baseline 5.00% (+25.00 pts)" in render(late).body
    zh = render(late, messages=Messages("zh-CN")).body
    assert "支付宝：回调超时占比 30.00%，正常为 5.00%，09:20:00 起。依据：late 30 of 100" in zh


def test_every_kind_renders_in_both_languages() -> None:
    for language in LANGUAGES:
        messages = Messages(language)  # type: ignore[arg-type]
        for kind in KINDS:
            message = render(alert(kind), messages=messages)
            assert messages.kind_title(kind) in message.title
            assert f"{messages.action(kind)}" in message.body


def test_sms_line_and_digest_in_chinese() -> None:
    zh = Messages("zh-CN")
    assert short_form(alert(), zh).line(zh) == "告警中：支付成功率下降，支付宝，每分钟 180 笔订单、¥20,087.88"
    digest = render_digest([alert(), alert("volume_drop", channel="wechat")] * 3, 20, messages=zh)
    assert digest.title == "另有 6 条告警"
    assert "- 【告警中】支付量下降 · 微信支付（严重）" in digest.body
    english = render_digest([alert()] * 31, 20, messages=Messages("en", zone="UTC"))
    assert english.title == "31 more alerts"
    assert english.body.count("- [FIRING] Payment success rate drop · Alipay (critical)") == 30
    assert "- … and 1 more" in english.body and "takes at most 20 messages a minute" in english.body


# -- formats ------------------------------------------------------------------------------------------


def test_money_goes_through_babel_with_its_currency() -> None:
    assert Messages("zh-CN").money(1234.5) == "¥1,234.50"
    assert Messages("en").money(1234.5) == "CN¥1,234.50"
    assert Messages("zh-CN", currency="USD").money(20087.876) == "US$20,087.88"
    assert format_value(88.0, "amount", Messages("zh-CN")) == "¥88.00"


def test_times_are_shown_in_the_configured_zone() -> None:
    moment = datetime(2024, 12, 31, 20, 0, 5, tzinfo=UTC)
    assert Messages("zh-CN").when(moment) == "2025-01-01 04:00:05 UTC+08:00"
    assert Messages("en", zone="UTC").when(moment) == "2024-12-31 20:00:05 UTC"
    assert Messages("en", zone="America/New_York").when(moment) == "2024-12-31 15:00:05 UTC-05:00"
    with pytest.raises(Exception, match="Mars"):
        Messages("en", zone="Mars/Olympus")


def test_units_and_changes_in_both_languages() -> None:
    zh, en = Messages("zh-CN"), Messages("en")
    assert [
        format_value(v, u, zh) for v, u in [(0.9234, "ratio"), (31.5, "seconds"), (1234.5, "per_min")]
    ] == [
        "92.34%",
        "31.5 秒",
        "1,234.5/分钟",
    ]
    assert [
        format_value(v, u, en) for v, u in [(0.9234, "ratio"), (31.5, "seconds"), (1234.5, "per_min")]
    ] == [
        "92.34%",
        "31.5 s",
        "1,234.5/min",
    ]


def test_channel_names_come_from_the_catalogue_and_can_be_configured() -> None:
    zh = Messages("zh-CN")
    assert [zh.channel(c) for c in ("alipay", "wechat", "unionpay", "card")] == [
        "支付宝",
        "微信支付",
        "银联",
        "银行卡",
    ]
    assert zh.channel("jdpay") is None  # an id nobody named is shown as it is, as data
    named = Messages("zh-CN", channel_names={"jdpay": "京东支付", "card": "银行卡快捷"})
    assert (named.channel("jdpay"), named.channel("card"), named.channel("alipay")) == (
        "京东支付",
        "银行卡快捷",
        "支付宝",
    )
    title = render(alert(channel="jdpay"), messages=named).title
    assert title == "【告警中】支付成功率下降 · 京东支付（严重）"


@pytest.mark.parametrize(
    ("url", "language", "zone"),
    [
        ("dingtalk://token/", "zh-CN", "Asia/Shanghai"),
        ("wecombot://key", "zh-CN", "Asia/Shanghai"),
        ("feishu://token", "zh-CN", "Asia/Shanghai"),
        ("sns://key/secret/us-east-1/+8613800000000", "zh-CN", "Asia/Shanghai"),
        ("twilio://sid:token@+15551234567/+8613800000000", "zh-CN", "Asia/Shanghai"),
        ("lark://token", "en", "UTC"),
        ("json://127.0.0.1:8000/hook", "en", "UTC"),
        ("mailto://user:pass@example.com", "en", "UTC"),
    ],
)
def test_a_target_reads_the_language_of_its_scheme(url: str, language: str, zone: str) -> None:
    assert (language_for(url), zone_for(url)) == (language, zone)


def test_a_route_names_its_language_and_zone_and_alerting_its_currency_and_channel_names() -> None:
    """What settings say reaches the words: a DingTalk route read in English on Berlin time, amounts
    in US dollars, a channel by the shop's own name; an untouched route keeps Chinese by its URL."""
    settings = AlertingSettings(
        routes=[
            {
                "name": "global",
                "urls": ["dingtalk://token1/"],
                "language": "en",
                "time_zone": "Europe/Berlin",
            },
            {"name": "china", "urls": ["dingtalk://token2/"]},
        ],
        currency="USD",
        channel_names={"en": {"alipay": "Alipay+"}, "zh-CN": {"alipay": "支付宝国际"}},
    )
    by_route = {n.route: n.messages for n in build_notifiers(settings).values()}  # type: ignore[attr-defined]
    english = render(alert(), messages=by_route["global"])
    assert "Alipay+" in english.title and "$20,087.88" in english.body and "UTC+01:00" in english.body
    chinese = render(alert(), messages=by_route["china"])
    assert "支付宝国际" in chinese.title and "US$20,087.88" in chinese.body and "UTC+08:00" in chinese.body
