"""The one-segment form: any alert, in either language, fits one SMS segment with the provider's text.

A segment is 160 GSM-7 septets, or 70 UTF-16 units once any character is outside GSM-7. The
property runs hostile merchant ids, long channel names, unknown kinds and both languages through
:func:`short_form` and checks the count the way a handset would, from the characters alone.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.i18n import LANGUAGES, Messages
from alerting.sms_form import digest_form, is_gsm7, segment_units, short_form, sms_text
from kernel.alerts import KINDS, Alert, Impact, Scope

T0 = datetime(2026, 3, 2, 1, 20, tzinfo=UTC)
LINK = "https://status.example.cn/p"
#: What Aliyun adds: a signature, and a template's fixed words (counted as Chinese).
AROUNDS = ["", "【PayPulse】", "【支付监控平台】" + "\u3000" * 12]
GSM_EXT = "^{}\\[~]|€"

ids = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from(GSM_EXT),
    max_size=300,
)
channels = st.sampled_from(["alipay", "wechat_pay", "unionpay", "card", "渠道" * 40, "x" * 300]) | ids


def alert(
    channel: str | None,
    merchant: str | None,
    kind: str = "success_rate_drop",
    status: str = "firing",
    orders: float = 180.0,
    amount: float = 20087.88,
) -> Alert:
    return Alert(
        kind=kind,
        scope=Scope(channel, merchant),
        status=status,  # type: ignore[arg-type]
        severity="critical",
        started_at=T0,
        detected_at=T0,
        value=0.79,
        baseline=0.97,
        impact=Impact(orders, amount, (channel,) if channel else ()),
        suggested_action="x",
        summary="y",
    )


def handset_units(text: str) -> tuple[int, int]:
    """(units taken, units a segment holds), counted from 3GPP TS 23.038 independently of the code."""
    basic = set(
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    )
    if all(c in basic or c in GSM_EXT for c in text):
        return sum(2 if c in GSM_EXT else 1 for c in text), 160
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text), 70


@settings(max_examples=300, deadline=None)
@given(
    channel=st.none() | channels,
    merchant=st.none() | ids,
    kind=st.sampled_from(KINDS) | ids.filter(bool),
    status=st.sampled_from(["firing", "resolved"]),
    orders=st.floats(0, 1e9),
    amount=st.floats(0, 1e12),
    language=st.sampled_from(LANGUAGES),
    link=st.sampled_from([None, LINK]),
    around=st.sampled_from(AROUNDS),
)
def test_any_alert_fits_one_segment_in_either_language(
    channel: str | None,
    merchant: str | None,
    kind: str,
    status: str,
    orders: float,
    amount: float,
    language: str,
    link: str | None,
    around: str,
) -> None:
    m = Messages(language)  # type: ignore[arg-type]
    form = short_form(alert(channel, merchant, kind, status, orders, amount), m, link=link, around=around)
    line = form.line(m)
    used, holds = handset_units(around + line)
    assert used <= holds, (around + line, used, holds)
    # one line of visible text: no control, format, private-use or bidi character reaches a phone
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") for c in line)
    assert "【" not in line and "】" not in line and "://" not in line.replace(LINK, "")
    assert form.status  # the status is never given up
    short_words = len(channel or "") < 12 and is_gsm7(channel or "") and merchant is None and kind in KINDS
    if link and not around and short_words and orders < 10_000:
        assert line.endswith(" " + LINK)  # short words leave room for the link


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(1, 500), merchant=ids, language=st.sampled_from(LANGUAGES), around=st.sampled_from(AROUNDS)
)
def test_a_digest_fits_one_segment(n: int, merchant: str, language: str, around: str) -> None:
    m = Messages(language)  # type: ignore[arg-type]
    alerts = [alert("alipay", merchant)] * n
    line = digest_form(alerts, m, link=LINK, around=around).line(m)
    used, holds = handset_units(around + line)
    assert used <= holds


def test_chinese_reader_gets_chinese_words_and_70_units() -> None:
    zh = Messages("zh-CN")
    form = short_form(alert("alipay", None), zh, link=LINK)
    assert form.line(zh) == f"告警中：支付成功率下降，支付宝，每分钟 180 笔订单、¥20,087.88 {LINK}"
    assert form.fields() == {
        "status": "告警中",
        "kind": "支付成功率下降",
        "scope": "支付宝",
        "impact": "每分钟 180 笔订单、¥20,087.88",
    }


def test_latin_form_uses_the_160_character_segment() -> None:
    line = short_form(alert("alipay", "m42"), Messages("en"), link=LINK).line()
    words = "FIRING Payment success rate drop: Alipay merchant m42, 180 orders/min, CN¥20,087.88 per min"
    assert line == f"{words} {LINK}"
    assert is_gsm7(line) and 70 < segment_units(line) <= 160


def test_a_hostile_merchant_id_is_cut_first_and_shown_safely() -> None:
    zh = Messages("zh-CN")
    hostile = "【工商银行】您的账户异常\r\n请点击 http://evil.example/login\u202e" + "9" * 400
    form = short_form(alert("alipay", hostile), zh, around="【PayPulse】")
    assert form.fields()["scope"].startswith("支付宝 商户 [工商银行]您的账户异常")
    assert form.fields()["scope"].endswith("…")
    assert "\r" not in form.line(zh) and "\u202e" not in form.line(zh)
    assert segment_units("【PayPulse】" + form.line(zh)) <= 70


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("m42", "m42"),
        ("a\x00b\x1bc\u200bd\ue000e", "abcde"),
        ("line\nbreak\u2028here", "line break here"),
        ("【银行】", "[银行]"),
        ("http://x.example", "http:/ /x.example"),
        ("www.x.example", "www .x.example"),
        ("<b>**bold**</b>", "<b>**bold**</b>"),  # plain text: nothing renders markup
    ],
)
def test_sms_text_makes_data_safe_for_a_phone(value: str, shown: str) -> None:
    assert sms_text(value) == shown
