"""The status page in Chinese and English, incidents and the embed, in real headless Chromium.

Readers here are in Shanghai with a Chinese browser (``locale="zh-CN"``, ``Asia/Shanghai``), so
times show in their zone. Every page load records Content-Security-Policy violations and the
tests require none. The screenshot test needs a CJK font (``fc-list :lang=zh``), which
scripts/install-system installs: without one Chinese renders as empty boxes, so its absence fails.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser, Page, expect
from pydantic import SecretStr

from kernel.clock import ManualClock
from kernel.settings import StatusPageSettings
from statuspage import Banner, Incidents, create_app
from tests.unit.test_banner import T0, make_alert

pytestmark = pytest.mark.integration

POLL_S = 0.2
TOKEN = "s3cret-ops-token"
BANNER_ZH = "支付可能延迟。如您已付款，请勿重复支付。"
BANNER_EN = "Payments may be delayed. If you have paid, please do not pay again."
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WATCH_CSP = (
    "window.__violations = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def banner(tmp_path: Path, clock: ManualClock) -> Banner:
    return Banner.from_settings(StatusPageSettings(db=tmp_path / "banner.sqlite3"), clock)


@pytest.fixture
def incidents(banner: Banner, clock: ManualClock) -> Incidents:
    return Incidents(banner.store, clock)


@pytest.fixture
def status_url(tmp_path: Path, banner: Banner, serve_asgi: Callable[[Any], str]) -> str:
    settings = StatusPageSettings(db=tmp_path / "banner.sqlite3", ops_token=SecretStr(TOKEN))
    return serve_asgi(create_app(settings, banner, poll_seconds=POLL_S))


def open_page(chromium: Browser, **context: Any) -> Iterator[Page]:
    """A page in a fresh context that records CSP violations."""
    browser_context = chromium.new_context(viewport={"width": 1000, "height": 700}, **context)
    page = browser_context.new_page()
    page.add_init_script(WATCH_CSP)
    try:
        yield page
    finally:
        browser_context.close()


@pytest.fixture
def zh_page(chromium: Browser) -> Iterator[Page]:
    """A reader in Shanghai whose browser asks for Chinese."""
    yield from open_page(chromium, locale="zh-CN", timezone_id="Asia/Shanghai")


@pytest.fixture
def en_page(chromium: Browser) -> Iterator[Page]:
    """A reader in London whose browser asks for English."""
    yield from open_page(chromium, locale="en-GB", timezone_id="Europe/London")


def violations(page: Page) -> list[str]:
    return list(page.evaluate("window.__violations"))


def test_chinese_reader_sees_the_chinese_page_with_payers_names(
    zh_page: Page, status_url: str, banner: Banner
) -> None:
    banner.observe(make_alert())
    page = zh_page
    page.goto(status_url + "/")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    expect(page.locator("h1")).to_have_text("支付状态")
    expect(page.locator("#banner-message")).to_have_text(BANNER_ZH)
    expect(page.locator("#banner-channels")).to_have_text("受影响：支付宝")
    expect(page.locator("#history li span").first).to_have_text("支付宝出现异常")
    page.wait_for_timeout(POLL_S * 3 * 1000)  # the script has polled and re-rendered in Chinese
    expect(page.locator("#banner-channels")).to_have_text("受影响：支付宝")
    expect(page.locator("#freshness")).to_have_text("本页面会自动更新。")
    assert "alipay" not in page.locator("body").inner_text()
    assert violations(page) == []


def test_every_time_is_shown_in_the_readers_zone_in_one_format(
    zh_page: Page, en_page: Page, status_url: str, banner: Banner
) -> None:
    banner.observe(make_alert())  # at T0, 2024-05-01 00:00 UTC: 08:00 in Shanghai, 01:00 in London
    shown = {}
    for page in (zh_page, en_page):
        page.goto(status_url + "/")
        expect(page.locator("#banner-since")).not_to_contain_text("UTC")
        times = page.evaluate("[...document.querySelectorAll('time')].map(t => [t.dateTime, t.textContent])")
        assert {iso for iso, _ in times} == {"2024-05-01T00:00:00Z"}
        assert len({text for _, text in times}) == 1, times  # one instant, one format, everywhere
        shown[page.evaluate("document.documentElement.lang")] = times[0][1]
    assert "08:00" in shown["zh-CN"] and "2024年5月1日" in shown["zh-CN"]
    assert "01:00" in shown["en"] and "2024" in shown["en"]


def test_switching_to_english_works_and_is_remembered(zh_page: Page, status_url: str, banner: Banner) -> None:
    banner.observe(make_alert(channel="wechat"))
    page = zh_page
    page.goto(status_url + "/")
    switch = page.get_by_role("navigation", name="语言")
    english = switch.get_by_role("link", name="English")
    assert (english.get_attribute("hreflang"), english.get_attribute("lang")) == ("en", "en")
    assert switch.get_by_role("link", name="简体中文").get_attribute("aria-current") == "page"

    english.click()
    page.wait_for_url("**/?lang=en")
    assert page.evaluate("document.documentElement.lang") == "en"
    expect(page.locator("#banner-message")).to_have_text(BANNER_EN)
    expect(page.locator("#banner-channels")).to_have_text("Affected: WeChat Pay")
    expect(page.locator("h1")).to_have_text("Payment status")

    page.goto(status_url + "/")  # no ?lang= any more: the cookie keeps English
    assert page.evaluate("document.documentElement.lang") == "en"
    page.wait_for_timeout(POLL_S * 3 * 1000)
    expect(page.locator("#banner-channels")).to_have_text("Affected: WeChat Pay")
    page.get_by_role("navigation", name="Language").get_by_role("link", name="简体中文").click()
    page.wait_for_url("**/?lang=zh-CN")
    expect(page.locator("#banner-message")).to_have_text(BANNER_ZH)
    assert violations(page) == []


def test_incident_updates_show_newest_first_and_follow_without_reload(
    zh_page: Page, status_url: str, incidents: Incidents, clock: ManualClock
) -> None:
    opened = incidents.open(
        {"zh-CN": "银联支付延迟", "en": "UnionPay delays"},
        {"zh-CN": "部分银联支付延迟到账，我们正在调查。", "en": "Some UnionPay payments are late."},
        channels=["unionpay"],
    )
    clock.advance(300)
    incidents.update(opened.id, "identified", {"zh-CN": "银联通道故障。"})
    page = zh_page
    page.goto(status_url + "/")
    incident = page.locator("#incidents .incident").first
    expect(incident.locator(".incident-title")).to_have_text("银联支付延迟")
    expect(incident.locator(".incident-channels")).to_have_text("受影响：银联")
    expect(incident.locator(".updates > li .state")).to_have_text(["已查明原因", "正在调查"])
    loads = page.evaluate("performance.getEntriesByType('navigation').length")

    clock.advance(300)
    posted = httpx.post(
        f"{status_url}/api/incidents/{opened.id}/updates",
        json={
            "state": "monitoring",
            "message": {"zh-CN": "已切换备用通道，持续观察。", "en": "Rerouted; watching."},
        },
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert posted.status_code == 201
    expect(incident.locator(".updates > li .state")).to_have_text(
        ["持续观察", "已查明原因", "正在调查"], timeout=5_000
    )
    expect(incident.locator(".updates .update-message")).to_have_text(
        ["已切换备用通道，持续观察。", "银联通道故障。", "部分银联支付延迟到账，我们正在调查。"]
    )
    times = incident.locator(".updates time").evaluate_all("ts => ts.map(t => t.textContent)")
    assert [t[-5:] for t in times] == ["08:10", "08:05", "08:00"]
    assert page.evaluate("performance.getEntriesByType('navigation').length") == loads

    page.goto(status_url + "/?lang=en")
    expect(incident.locator(".updates > li .state")).to_have_text(
        ["Monitoring", "Identified", "Investigating"]
    )
    message = incident.locator(".updates .update-message")
    expect(message).to_have_text(
        ["Rerouted; watching.", "银联通道故障。", "Some UnionPay payments are late."]
    )
    assert message.nth(1).get_attribute("lang") == "zh-CN"  # no English given: the Chinese, marked as such
    assert violations(page) == []


def test_incident_text_arriving_live_is_shown_as_text(
    zh_page: Page, status_url: str, incidents: Incidents
) -> None:
    page = zh_page
    page.goto(status_url + "/")
    expect(page.locator("#incidents li.empty")).to_have_text("暂无事件通告。")
    hostile = '<img src=x onerror="window.__pwned=1"><b>粗体</b>'
    incidents.open({"zh-CN": hostile}, {"zh-CN": hostile})  # after the page loaded: the script renders it
    expect(page.locator("#incidents .incident-title")).to_have_text(hostile, timeout=5_000)
    expect(page.locator("#incidents .update-message")).to_have_text(hostile)
    assert page.locator("#incidents img, #incidents b").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert violations(page) == []


def shop(status_url: str, html_lang: str, data_lang: str | None = None) -> FastAPI:
    """A merchant's checkout on another origin, in its own language, with the embed."""
    app = FastAPI()
    lang_attr = "" if data_lang is None else f' data-lang="{data_lang}"'

    @app.get("/checkout", response_class=HTMLResponse)
    def checkout() -> str:
        return (
            f'<!doctype html><html lang="{html_lang}"><head><title>Checkout</title></head><body>'
            f'<script src="{status_url}/embed.js" data-interval="1"{lang_attr}></script>'
            "<h1>订单</h1><button id='pay'>支付 128.00</button></body></html>"
        )

    return app


@pytest.mark.parametrize(
    ("html_lang", "data_lang", "message", "channels", "box_lang"),
    [
        ("zh-CN", None, BANNER_ZH, "受影响：微信支付", "zh-CN"),
        ("zh-Hans", None, BANNER_ZH, "受影响：微信支付", "zh-CN"),
        ("en", "zh-CN", BANNER_ZH, "受影响：微信支付", "zh-CN"),
        ("zh-CN", "en", BANNER_EN, "Affected: WeChat Pay", "en"),
        ("en-US", None, BANNER_EN, "Affected: WeChat Pay", "en"),
    ],
    ids=["zh_page", "zh_hans_page", "data_lang_zh", "data_lang_en", "en_page"],
)
def test_embed_speaks_the_host_pages_language(
    en_page: Page,
    status_url: str,
    banner: Banner,
    serve_asgi: Callable[[Any], str],
    html_lang: str,
    data_lang: str | None,
    message: str,
    channels: str,
    box_lang: str,
) -> None:
    """The shopper's browser asks for English here: only the host page decides the embed's language."""
    banner.observe(make_alert(channel="wechat"))
    shop_url = serve_asgi(shop(status_url, html_lang, data_lang))
    page = en_page
    page.goto(shop_url + "/checkout")
    box = page.locator("#paypulse-banner")
    expect(box).to_be_visible(timeout=5_000)
    expect(box.locator("div").first).to_have_text(message)
    expect(box.locator("div").nth(1)).to_have_text(channels)
    assert (box.get_attribute("role"), box.get_attribute("aria-live"), box.get_attribute("lang")) == (
        "status", "polite", box_lang,
    )  # fmt: skip
    expect(page.locator("#pay")).to_be_visible()
    assert violations(page) == []


def test_page_is_accessible_landmarks_live_region_and_contrast(
    zh_page: Page, status_url: str, banner: Banner, incidents: Incidents
) -> None:
    banner.observe(make_alert())
    incidents.open({"zh-CN": "支付宝支付失败"}, {"zh-CN": "正在调查。"}, channels=["alipay"])
    page = zh_page
    page.goto(status_url + "/")
    for role in ("banner", "navigation", "main", "contentinfo"):
        expect(page.get_by_role(role)).to_have_count(1)
    live = page.locator("#banner")
    assert (live.get_attribute("role"), live.get_attribute("aria-live")) == ("status", "polite")
    expect(page.get_by_role("status").filter(has_text=BANNER_ZH)).to_have_count(1)
    expect(page.get_by_role("heading", level=1)).to_have_text("支付状态")
    expect(page.get_by_role("region", name="事件通告")).to_have_count(1)
    too_faint = page.evaluate(CONTRAST_CHECK)
    assert too_faint == [], too_faint


#: Every visible element with its own text: the WCAG 2.1 contrast of its colour on the first opaque
#: background behind it; returns those under 4.5:1.
CONTRAST_CHECK = """() => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map(v => v / 255).map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] === 1) { return c.slice(0, 3); }
    }
    return [255, 255, 255];
  };
  const faint = [];
  for (const el of document.body.querySelectorAll("*")) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) { continue; }
    const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) { faint.push(el.tagName + "." + el.className + " " + ratio.toFixed(2)); }
  }
  return faint;
}"""


# -- the banner as pixels ------------------------------------------------------------------------


def cjk_families() -> set[str]:
    """Font families fontconfig says cover Chinese; none is a setup error, not a skip."""
    try:
        listed = subprocess.run(
            ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.fail(f"fc-list failed ({err}); run scripts/install-system")
    families = {name.strip() for line in listed.splitlines() for name in line.split(",") if name.strip()}
    if not families:
        pytest.fail("no font covers Chinese (fc-list :lang=zh is empty); run scripts/install-system")
    return families


def png_pixels(png: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """(width, height, RGB pixels row by row) of an 8-bit non-interlaced RGB(A) PNG, as Chromium writes."""
    assert png.startswith(PNG_MAGIC)
    position, chunks = len(PNG_MAGIC), []
    width = height = channels = 0
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind, body = png[position + 4 : position + 8], png[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert (depth, color, interlace) in ((8, 2, 0), (8, 6, 0)), (depth, color, interlace)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            chunks.append(body)
    raw, stride = zlib.decompress(b"".join(chunks)), width * channels
    previous, pixels = bytearray(stride), []
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, up_left = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - up_left
                near = min(
                    (abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - up_left), 2, up_left)
                )
                line[i] = (line[i] + near[2]) & 0xFF
        pixels += [tuple(line[x : x + 3]) for x in range(0, stride, channels)]
        previous = line
    return width, height, pixels  # type: ignore[return-value]


def test_banner_renders_in_chinese_glyphs(
    zh_page: Page, status_url: str, banner: Banner, tmp_path: Path
) -> None:
    families = cjk_families()
    banner.observe(make_alert())
    page = zh_page
    page.goto(status_url + "/")
    message = page.locator("#banner-message")
    expect(message).to_have_text(BANNER_ZH)
    assert message.evaluate("el => el.innerText") == BANNER_ZH  # the text as laid out, not just the DOM's

    cdp = page.context.new_cdp_session(page)  # which fonts Chromium drew the text with, glyph by glyph
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#banner-message"})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    drawn_in_cjk = sum(f["glyphCount"] for f in fonts if f["familyName"] in families)
    assert drawn_in_cjk == len(BANNER_ZH), fonts  # every character from a Chinese font: no empty boxes

    shot = message.screenshot(path=tmp_path / "banner-zh.png")
    width, height, pixels = png_pixels(shot)
    box = message.bounding_box()
    assert box is not None and abs(width - box["width"]) < 2 and abs(height - box["height"]) < 2
    ink = [(i % width, i // width) for i, (r, g, b) in enumerate(pixels) if r + g + b < 3 * 110]
    paper = sum(1 for p in pixels if p == (0xFD, 0xEC, 0xEA))  # the banner's background
    assert paper > len(pixels) / 2  # the element itself, not something covering it
    assert len(ink) > len(pixels) / 50  # dark strokes: not blank
    text_width = message.evaluate(
        "el => { const r = document.createRange(); r.selectNodeContents(el);"
        " return r.getBoundingClientRect().width; }"
    )
    columns = {x for x, _ in ink}
    assert max(columns) - min(columns) > 0.9 * text_width  # ink across the whole line of text
    assert violations(page) == []
