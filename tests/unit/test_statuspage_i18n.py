"""The status page's languages: negotiation, the catalogue's completeness, and the words readers see.

The catalogue tests extract every message from the sources exactly as ``pybabel extract`` does
(``statuspage/babel.cfg``: Python, templates, the page's and the embed's scripts) and compare
them with both ``.po`` files and their compiled ``.mo``. Pages are rendered in process.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from pydantic import SecretStr

from kernel.clock import ManualClock
from kernel.settings import StatusPageSettings
from statuspage import Banner, create_app
from statuspage.i18n import COOKIE, LANGUAGES, LOCALE_DIR, LOCALES, load_catalogues, negotiate
from statuspage.incidents import STATES
from statuspage.wording import DEFAULT_BANNER_MESSAGE, DEFAULT_CHANNEL_NAMES, Wording
from tests.unit.test_banner import MESSAGE, T0, make_alert
from tests.unit.test_statuspage_limits import call

SOURCE_DIR = LOCALE_DIR.parent
BANNER_ZH = "支付可能延迟。如您已付款，请勿重复支付。"
BANNER_EN = "Payments may be delayed. If you have paid, please do not pay again."
PLACEHOLDER = re.compile(r"%\((\w+)\)s")

# -- negotiation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "cookie", "header", "expected"),
    [
        (None, None, None, "zh-CN"),
        (None, None, "", "zh-CN"),
        (None, None, "zh-CN,zh;q=0.9", "zh-CN"),
        (None, None, "zh-TW,en;q=0.8", "zh-CN"),
        (None, None, "zh-Hant-HK", "zh-CN"),
        (None, None, "zh", "zh-CN"),
        (None, None, "en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        (None, None, "en-GB", "en"),
        (None, None, "en;q=0.5, zh;q=0.9", "zh-CN"),
        (None, None, "fr-FR, fr;q=0.9, en;q=0.3", "en"),
        (None, None, "fr, de;q=0.8", "zh-CN"),
        (None, None, "*", "zh-CN"),
        (None, None, "en;q=0, zh-CN;q=0.1", "zh-CN"),
        (None, None, "en;q=2, zh;q=0.5", "zh-CN"),  # a weight above 1 is malformed: dropped
        (None, None, ";;, ,en;q=0.5;level=1", "en"),
        (None, None, "x" * 5000, "zh-CN"),
        (None, "en", "zh-CN", "en"),
        (None, "xx", "en", "en"),
        ("en", "zh-CN", "zh-CN", "en"),
        ("zh-CN", "en", "en", "zh-CN"),
        ("ZH_cn", None, "en", "zh-CN"),
        ("klingon", "en", "zh", "en"),
    ],
)
def test_language_is_query_then_cookie_then_accept_language_then_chinese(
    query: str | None, cookie: str | None, header: str | None, expected: str
) -> None:
    assert negotiate(query=query, cookie=cookie, accept_language=header) == expected


# -- the catalogue -------------------------------------------------------------------------------


@cache
def source_messages() -> dict[str, list[str]]:
    """Every msgid in the sources, with where it is used, as ``pybabel extract -F babel.cfg`` finds them."""
    with (SOURCE_DIR / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        SOURCE_DIR, method_map, options_map
    ):
        assert isinstance(message, str), f"{filename}:{lineno}: plural forms are not used on the page"
        found.setdefault(message, []).append(f"{filename}:{lineno}")
    return found


def read_catalogue(lang: str) -> Catalog:
    with (LOCALE_DIR / LOCALES[lang] / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=LOCALES[lang])


def catalogue_problems(lang: str, catalog: Catalog, used: Iterable[str]) -> list[str]:
    """Why ``catalog`` cannot serve the sources: a message missing, untranslated, fuzzy or broken."""
    used = set(used)
    problems = []
    known = {m.id for m in catalog if m.id}
    problems += [f"{lang}: {msgid!r} is used but not in the catalogue" for msgid in sorted(used - known)]
    problems += [
        f"{lang}: {msgid!r} is in the catalogue but no longer used" for msgid in sorted(known - used)
    ]
    for message in catalog:
        if not message.id:
            continue
        if not message.string:
            problems.append(f"{lang}: {message.id!r} has no translation")
        elif message.fuzzy:
            problems.append(f"{lang}: {message.id!r} is marked fuzzy")
        elif sorted(PLACEHOLDER.findall(message.string)) != sorted(PLACEHOLDER.findall(message.id)):
            problems.append(f"{lang}: {message.id!r} is translated with other placeholders")
    for message, errors in catalog.check():  # Babel's own checks: a %-format that cannot be applied
        problems += [f"{lang}: {message.id!r}: {error}" for error in errors]
    return problems


def test_the_sources_have_messages_from_every_kind_of_file() -> None:
    where = {place.split(":")[0] for places in source_messages().values() for place in places}
    assert {"templates/index.html", "static/status.js", "static/embed.js", "wording.py"} <= where


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_is_translated(lang: str) -> None:
    assert catalogue_problems(lang, read_catalogue(lang), source_messages()) == []


def test_the_check_fails_on_a_message_without_translation() -> None:
    catalog = read_catalogue("zh-CN")
    catalog[DEFAULT_BANNER_MESSAGE].string = ""
    catalog.add("Only in the catalogue", "只在目录里")
    problems = catalogue_problems("zh-CN", catalog, [*source_messages(), "Only in the source"])
    assert problems == [
        "zh-CN: 'Only in the source' is used but not in the catalogue",
        "zh-CN: 'Only in the catalogue' is in the catalogue but no longer used",
        f"zh-CN: {DEFAULT_BANNER_MESSAGE!r} has no translation",
    ]


def test_the_check_fails_on_a_translation_that_drops_a_placeholder() -> None:
    catalog = read_catalogue("zh-CN")
    catalog["Recovered: %(where)s"].string = "已恢复"
    catalog["Disruption started: %(where)s"].string = "%(channel)s出现异常"
    assert catalogue_problems("zh-CN", catalog, source_messages()) == [
        "zh-CN: 'Disruption started: %(where)s' is translated with other placeholders",
        "zh-CN: 'Recovered: %(where)s' is translated with other placeholders",
        "zh-CN: 'Disruption started: %(where)s': unknown named placeholder 'channel'",
    ]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_compiled_catalogue_is_the_po_file(lang: str) -> None:
    """The committed .mo is what `pybabel compile` makes of the .po, so the page shows what was reviewed."""
    compiled = io.BytesIO()
    write_mo(compiled, read_catalogue(lang))
    path = LOCALE_DIR / LOCALES[lang] / "LC_MESSAGES" / "messages.mo"
    assert path.read_bytes() == compiled.getvalue(), "run: pybabel compile -d statuspage/locale"


def test_the_template_lists_exactly_the_source_messages() -> None:
    with (LOCALE_DIR / "messages.pot").open("rb") as pot:
        assert {m.id for m in read_po(pot) if m.id} == set(source_messages())


def test_a_missing_compiled_catalogue_is_a_clear_error(tmp_path: Path) -> None:
    from kernel.errors import StateError

    with pytest.raises(StateError, match=r"zh_CN/LC_MESSAGES/messages.mo cannot be read .*pybabel compile"):
        load_catalogues(tmp_path)


# -- words ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wording() -> Wording:
    return Wording.default()


def test_banner_text_in_both_languages(wording: Wording) -> None:
    assert (wording.banner_message("zh-CN"), wording.banner_message("en")) == (BANNER_ZH, BANNER_EN)


def test_channels_have_their_payers_names(wording: Wording) -> None:
    ids = ["alipay", "wechat", "unionpay", "card"]
    assert wording.channels("zh-CN", ids) == ["支付宝", "微信支付", "银联", "银行卡"]
    assert wording.channels("en", ids) == ["Alipay", "WeChat Pay", "UnionPay", "Bank card"]
    assert wording.channels("zh-CN", ["all"]) == ["所有支付方式"]
    assert list(DEFAULT_CHANNEL_NAMES) == ids


def test_unknown_channel_ids_are_never_shown(wording: Wording) -> None:
    assert wording.channels("zh-CN", ["psp-<b>", "alipay", "other-psp"]) == ["其他支付方式", "支付宝"]


def test_every_incident_state_has_a_label(wording: Wording) -> None:
    assert [wording.state("zh-CN", s) for s in STATES] == ["正在调查", "已查明原因", "持续观察", "已解决"]
    assert [wording.state("en", s) for s in STATES] == [
        "Investigating",
        "Identified",
        "Monitoring",
        "Resolved",
    ]


def test_configured_channel_names_add_to_and_replace_the_defaults() -> None:
    wording = Wording(
        load_catalogues(),
        channel_names={"jdpay": {"zh-CN": "京东支付", "en": "JD Pay"}, "card": {"zh-CN": "信用卡"}},
    )
    assert wording.channels("zh-CN", ["jdpay", "card", "alipay"]) == ["京东支付", "信用卡", "支付宝"]
    assert wording.channels("en", ["jdpay", "card"]) == ["JD Pay", "信用卡"]  # no English: the Chinese name


@pytest.mark.parametrize(
    ("names", "error"),
    [
        ({"jdpay": {"en": "JD Pay"}}, "channel_names['jdpay'] needs a zh-CN name"),
        ({"jdpay": {"zh-CN": "京东支付", "fr": "JD"}}, "channel_names['jdpay']: fr is not one of zh-CN, en"),
    ],
)
def test_bad_channel_names_are_refused(names: dict[str, dict[str, str]], error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("[", r"\[").replace("]", r"\]")):
        Wording(load_catalogues(), channel_names=names)


# -- the page in process -------------------------------------------------------------------------


def make_app(tmp_path: Path, message: str = MESSAGE, **options: Any) -> tuple[Any, Banner]:
    settings = StatusPageSettings(db=tmp_path / "banner.sqlite3", ops_token=SecretStr("t"), message=message)
    banner = Banner.from_settings(settings, ManualClock(T0))
    return create_app(settings, banner, **options), banner


def test_page_language_follows_accept_language(tmp_path: Path) -> None:
    app, banner = make_app(tmp_path)
    banner.observe(make_alert())
    zh = call(app, "GET", "/", headers={"Accept-Language": "zh-TW,en;q=0.8"})
    en = call(app, "GET", "/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="zh-CN">' in zh.text and '<html lang="en">' in en.text
    assert (zh.headers["content-language"], en.headers["content-language"]) == ("zh-CN", "en")
    assert "Accept-Language" in zh.headers["vary"] and "Cookie" in zh.headers["vary"]
    assert BANNER_ZH in zh.text and "受影响：支付宝" in zh.text and "<title>支付状态</title>" in zh.text
    assert BANNER_EN.replace("'", "&#39;") in en.text and "Affected: Alipay" in en.text
    assert "alipay" not in zh.text.split("<body", 1)[1] + en.text.split("<body", 1)[1]


def test_language_switch_links_name_their_language(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    page = call(app, "GET", "/").text
    assert '<nav class="langs" aria-label="语言">' in page
    assert '<a href="?lang=zh-CN" hreflang="zh-CN" lang="zh-CN" aria-current="page">简体中文</a>' in page
    assert '<a href="?lang=en" hreflang="en" lang="en">English</a>' in page


def test_choosing_a_language_is_remembered_in_a_cookie(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    chosen = call(app, "GET", "/?lang=en", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in chosen.text
    cookie = chosen.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=en;")
    assert all(part in cookie for part in ("HttpOnly", "Max-Age=31536000", "Path=/", "SameSite=lax"))
    later = call(app, "GET", "/", headers={"Accept-Language": "zh-CN", "Cookie": f"{COOKIE}=en"})
    assert '<html lang="en">' in later.text
    assert "set-cookie" not in later.headers  # only the switch sets it
    ignored = call(app, "GET", "/?lang=fr", headers={"Accept-Language": "en"})
    assert '<html lang="en">' in ignored.text and "set-cookie" not in ignored.headers


def test_api_speaks_the_negotiated_language(tmp_path: Path) -> None:
    app, banner = make_app(tmp_path)
    banner.observe(make_alert(channel="wechat"))
    zh = call(app, "GET", "/api/status").json()
    en = call(app, "GET", "/api/status", params={"lang": "en"}).json()
    assert (zh["lang"], zh["message"], zh["channel_names"], zh["channels"]) == (
        "zh-CN", BANNER_ZH, ["微信支付"], ["wechat"],
    )  # fmt: skip
    assert (en["lang"], en["message"], en["channel_names"]) == ("en", BANNER_EN, ["WeChat Pay"])
    assert zh["since"] == "2024-05-01T00:00:00Z"
    [transition] = call(app, "GET", "/api/history", params={"lang": "en"}).json()["transitions"]
    assert (transition["at"], transition["channel"], transition["channel_name"]) == (
        "2024-05-01T00:00:00Z", "wechat", "WeChat Pay",
    )  # fmt: skip


def test_catalogue_endpoint_serves_the_scripts_their_words(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    zh = call(app, "GET", "/api/i18n", params={"lang": "zh-Hans"})
    assert zh.json()["lang"] == "zh-CN"
    assert zh.json()["messages"]["Affected: %(channels)s"] == "受影响：%(channels)s"
    assert set(zh.json()["messages"]) == set(source_messages())
    assert call(app, "GET", "/api/i18n", headers={"Accept-Language": "en-GB"}).json()["lang"] == "en"


def test_ops_override_message_is_shown_as_written_in_every_language(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    call(app, "POST", "/api/override", json={"on": True, "message": "银联维护中 / UnionPay maintenance"},
         headers={"Authorization": "Bearer t"})  # fmt: skip
    for lang in LANGUAGES:
        status = call(app, "GET", "/api/status", params={"lang": lang}).json()
        assert status["message"] == "银联维护中 / UnionPay maintenance"


def test_configured_message_is_the_english_text(tmp_path: Path) -> None:
    app, banner = make_app(tmp_path, message="Card payments are slow; please wait before paying again.")
    banner.observe(make_alert())
    zh, en = (call(app, "GET", "/api/status", params={"lang": lang}).json()["message"] for lang in LANGUAGES)
    assert (zh, en) == (BANNER_ZH, "Card payments are slow; please wait before paying again.")


def test_banner_messages_parameter_sets_each_language(tmp_path: Path) -> None:
    app, banner = make_app(
        tmp_path,
        message="Card payments are slow.",
        banner_messages={"zh-CN": "银行卡支付较慢，请稍候。", "en": "Card payments are slow, please wait."},
    )
    banner.observe(make_alert())
    zh, en = (call(app, "GET", "/api/status", params={"lang": lang}).json()["message"] for lang in LANGUAGES)
    assert (zh, en) == ("银行卡支付较慢，请稍候。", "Card payments are slow, please wait.")


def test_channel_names_parameter_reaches_the_page(tmp_path: Path) -> None:
    app, banner = make_app(tmp_path, channel_names={"jdpay": {"zh-CN": "京东支付", "en": "JD Pay"}})
    banner.observe(make_alert(channel="jdpay"))
    assert "受影响：京东支付" in call(app, "GET", "/").text
    assert call(app, "GET", "/api/status", params={"lang": "en"}).json()["channel_names"] == ["JD Pay"]
