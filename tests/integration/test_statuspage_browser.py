"""The status page and the merchant embed in real headless Chromium, against the app on 127.0.0.1.

Chromium asks for English (its default locale is en-US); tests/integration/test_statuspage_i18n_browser.py
drives the Chinese page and the language switch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.sync_api import Page, expect

from kernel.clock import ManualClock
from kernel.settings import StatusPageSettings
from statuspage import Banner, create_app
from tests.unit.test_banner import MESSAGE, T0, make_alert

pytestmark = pytest.mark.integration

HOLD = 300.0
POLL_S = 0.2
NORMAL = "All payment services are operating normally"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def banner(tmp_path: Path, clock: ManualClock) -> Banner:
    return Banner.from_settings(StatusPageSettings(db=tmp_path / "banner.sqlite3", hold=HOLD), clock)


@pytest.fixture
def status_url(tmp_path: Path, banner: Banner, serve_asgi: Callable[[Any], str]) -> str:
    settings = StatusPageSettings(db=tmp_path / "banner.sqlite3", hold=HOLD)
    return serve_asgi(create_app(settings, banner, poll_seconds=POLL_S))


def shop_app(status_url: str) -> FastAPI:
    """A merchant's checkout page on another origin, including the embed as merchants are told to."""
    shop = FastAPI()

    @shop.get("/checkout", response_class=HTMLResponse)
    def checkout(channels: str = "") -> str:
        return (
            "<!doctype html><html><head><title>Checkout</title></head><body>"
            f'<script src="{status_url}/embed.js" data-interval="1" data-channels="{channels}"></script>'
            "<h1>Your order</h1><button id='pay'>Pay 128.00</button></body></html>"
        )

    return shop


def test_page_follows_the_banner_without_reload(
    chromium_page: Page, status_url: str, banner: Banner, clock: ManualClock, tmp_path: Path
) -> None:
    page = chromium_page
    page.goto(status_url + "/")
    expect(page.locator("#normal")).to_have_text(NORMAL)
    expect(page.locator("#normal")).to_be_visible()
    expect(page.locator("#banner")).to_be_hidden()
    loads = page.evaluate("performance.getEntriesByType('navigation').length")

    banner.observe(make_alert())
    expect(page.locator("#banner")).to_be_visible(timeout=5_000)
    expect(page.locator("#banner-message")).to_have_text(MESSAGE)
    expect(page.locator("#banner-channels")).to_have_text("Affected: Alipay")
    expect(page.locator("#normal")).to_be_hidden()
    expect(page.locator("#history li span").first).to_have_text("Disruption started: Alipay")
    shot = page.screenshot(path=tmp_path / "status-banner-on.png", full_page=True)
    assert shot.startswith(PNG_MAGIC)

    banner.observe(make_alert("resolved"))
    clock.advance(HOLD - 1)
    page.wait_for_timeout(POLL_S * 3 * 1000)  # several polls during the hold: still on
    expect(page.locator("#banner")).to_be_visible()
    clock.advance(1)
    expect(page.locator("#normal")).to_be_visible(timeout=5_000)
    expect(page.locator("#banner")).to_be_hidden()
    expect(page.locator("#history li span").first).to_have_text("Recovered: Alipay")
    assert page.evaluate("performance.getEntriesByType('navigation').length") == loads  # never reloaded


def test_page_says_when_the_service_cannot_be_reached(
    chromium_page: Page, status_url: str, banner: Banner
) -> None:
    page = chromium_page
    page.goto(status_url + "/")
    page.route("**/api/status?*", lambda route: route.abort())
    expect(page.locator("#freshness")).to_have_text(
        "Cannot reach the status service; retrying.", timeout=5_000
    )
    expect(page.locator("#normal")).to_be_visible()


def test_embed_shows_the_banner_on_a_merchant_page(
    chromium_page: Page, status_url: str, banner: Banner, serve_asgi: Callable[[Any], str]
) -> None:
    shop_url = serve_asgi(shop_app(status_url))
    page = chromium_page
    banner.observe(make_alert(channel="wechat"))

    page.goto(shop_url + "/checkout")
    box = page.locator("#paypulse-banner")
    expect(box).to_be_visible(timeout=5_000)
    expect(box).to_contain_text(MESSAGE)
    expect(box).to_contain_text("Affected: WeChat Pay")
    assert page.evaluate("document.body.firstElementChild.id") == "paypulse-banner"
    expect(page.locator("#pay")).to_be_visible()  # the checkout itself is untouched

    banner.override(False, None, until=None, by="ops")
    expect(box).to_be_hidden(timeout=5_000)


def test_embed_only_shows_channels_the_merchant_asked_for(
    chromium_page: Page, status_url: str, banner: Banner, serve_asgi: Callable[[Any], str]
) -> None:
    shop_url = serve_asgi(shop_app(status_url))
    page = chromium_page
    banner.observe(make_alert(channel="wechat"))

    page.goto(shop_url + "/checkout?channels=alipay,unionpay")
    expect(page.locator("#paypulse-banner")).to_have_attribute("data-status", "on", timeout=5_000)
    expect(page.locator("#paypulse-banner")).to_be_hidden()

    banner.observe(make_alert(channel=None, kind="stuck_payments"))  # all channels: everyone's business
    expect(page.locator("#paypulse-banner")).to_be_visible(timeout=5_000)
    expect(page.locator("#paypulse-banner")).to_contain_text("Affected: all payment methods")
