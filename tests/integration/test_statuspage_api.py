"""The status page API over real HTTP: uvicorn on a free 127.0.0.1 port, httpx as the client.

The client asks for English (``Accept-Language: en``), so texts compare with the English words;
tests/unit/test_statuspage_i18n.py covers the Chinese default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from kernel.clock import ManualClock
from kernel.settings import StatusPageSettings
from statuspage import Banner, create_app
from tests.unit.test_banner import MESSAGE, T0, make_alert

pytestmark = pytest.mark.integration

TOKEN = "s3cret-ops-token"
HOLD = 300.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def settings_for(tmp_path: Path, token: str | None = TOKEN) -> StatusPageSettings:
    return StatusPageSettings(
        db=tmp_path / "banner.sqlite3", hold=HOLD, ops_token=None if token is None else SecretStr(token)
    )


@pytest.fixture
def banner(tmp_path: Path, clock: ManualClock) -> Banner:
    return Banner.from_settings(settings_for(tmp_path), clock)


@pytest.fixture
def client(tmp_path: Path, banner: Banner, serve_asgi: Callable[[Any], str]) -> Iterator[httpx.Client]:
    url = serve_asgi(create_app(settings_for(tmp_path), banner))
    with httpx.Client(base_url=url, timeout=5.0, headers={"Accept-Language": "en"}) as http:
        yield http


def iso(epoch: float) -> str:
    """How the API writes a time: ISO 8601 in UTC."""
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def ops(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


OFF = {
    "on": False,
    "channels": [],
    "channel_names": [],
    "message": None,
    "lang": "en",
    "since": None,
    "source": "none",
    "override_until": None,
    "hold_until": None,
    "updated_at": None,
}


def test_status_is_off_then_follows_alerts(client: httpx.Client, banner: Banner, clock: ManualClock) -> None:
    response = client.get("/api/status")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == OFF

    banner.observe(make_alert())
    assert client.get("/api/status").json() == {
        **OFF,
        "on": True,
        "channels": ["alipay"],
        "channel_names": ["Alipay"],
        "message": MESSAGE,
        "since": iso(T0),
        "source": "auto",
        "updated_at": iso(T0),
    }

    clock.advance(60)
    banner.observe(make_alert("resolved"))
    assert client.get("/api/status").json()["hold_until"] == iso(T0 + 60 + HOLD)
    clock.advance(HOLD)
    assert client.get("/api/status").json() == {**OFF, "updated_at": iso(T0 + 60 + HOLD)}


def test_status_is_readable_from_any_origin_but_override_is_not(client: httpx.Client) -> None:
    response = client.get("/api/status", headers={"Origin": "https://shop.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    preflight = client.options(
        "/api/override",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 400


def test_page_shows_normal_text_or_banner(client: httpx.Client, banner: Banner) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "All payment services are operating normally" in page.text
    assert (
        '<section id="banner" class="banner" role="status" aria-live="polite" '
        'aria-labelledby="banner-title" hidden>' in page.text
    )

    banner.observe(make_alert(channel="wechat"))
    page = client.get("/")
    assert '<section id="normal" class="normal" role="status" aria-live="polite" hidden>' in page.text
    assert MESSAGE.replace("'", "&#39;") in page.text
    assert '<p id="banner-channels" class="banner-channels">Affected: WeChat Pay</p>' in page.text
    assert "Disruption started: WeChat Pay" in page.text
    assert "wechat" not in page.text.split("<body", 1)[1]  # ids are for machines


def test_page_escapes_ops_message(client: httpx.Client) -> None:
    client.post("/api/override", json={"on": True, "message": "<script>alert(1)</script>"}, headers=ops())
    page = client.get("/").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_scripts_and_styles_are_served_locally(client: httpx.Client) -> None:
    page = client.get("/").text
    assert "http" not in page.split("<body")[0]  # no CDN in the head
    embed = client.get("/embed.js")
    assert embed.status_code == 200
    assert embed.headers["content-type"].startswith("text/javascript")
    assert "api/status" in embed.text
    for path in ("/static/status.js", "/static/status.css"):
        assert client.get(path).status_code == 200, path


def test_override_is_refused_without_a_configured_token(
    tmp_path: Path, clock: ManualClock, serve_asgi: Callable[[Any], str]
) -> None:
    settings = settings_for(tmp_path, token=None)
    url = serve_asgi(create_app(settings, Banner.from_settings(settings, clock)))
    for method in ("POST", "DELETE"):
        response = httpx.request(method, f"{url}/api/override", json={"on": True}, headers=ops())
        assert response.status_code == 403
        assert "set statuspage.ops_token" in response.json()["detail"]


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "missing header Authorization"),
        (ops("wrong-token"), "not statuspage.ops_token"),
        ({"Authorization": f"Basic {TOKEN}"}, "missing header Authorization"),
    ],
    ids=["missing", "wrong", "not_bearer"],
)
def test_override_needs_the_ops_token(
    client: httpx.Client, banner: Banner, headers: dict[str, str], detail: str
) -> None:
    for method in ("POST", "DELETE"):
        response = client.request(method, "/api/override", json={"on": True}, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert detail in response.json()["detail"]
    assert banner.state().source == "none"


def test_override_on_with_minutes_then_clear(
    client: httpx.Client, banner: Banner, clock: ManualClock
) -> None:
    response = client.post(
        "/api/override", json={"on": True, "message": "Card payments are down.", "minutes": 30}, headers=ops()
    )
    assert response.status_code == 200
    assert response.json() == {
        **OFF,
        "on": True,
        "channels": ["all"],
        "channel_names": ["all payment methods"],
        "message": "Card payments are down.",
        "since": iso(T0),
        "source": "override",
        "override_until": iso(T0 + 1800),
        "updated_at": iso(T0),
    }
    banner.observe(make_alert())
    assert client.get("/api/status").json()["message"] == "Card payments are down."

    cleared = client.delete("/api/override", headers=ops())
    assert cleared.status_code == 200
    assert (cleared.json()["source"], cleared.json()["message"]) == ("auto", MESSAGE)
    reasons = [t["reason"] for t in client.get("/api/history").json()["transitions"]]
    assert reasons == ["override_cleared", "alert_firing", "override_on"]


def test_override_off_hides_a_firing_banner(client: httpx.Client, banner: Banner) -> None:
    banner.observe(make_alert())
    response = client.post("/api/override", json={"on": False, "by": "oncall"}, headers=ops())
    assert response.json() | {"updated_at": None} == {**OFF, "source": "override"}
    [latest] = client.get("/api/history", params={"limit": 1}).json()["transitions"]
    assert latest == {
        "at": iso(T0),
        "on": False,
        "channel": None,
        "channel_name": None,
        "source": "override",
        "reason": "override_off",
        "detail": "forced off by oncall until cleared",
    }


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "on"),
        ({"on": "yes"}, "valid boolean"),
        ({"on": True, "minutes": 0}, "greater than 0"),
        ({"on": True, "minutes": 100_000}, "less than or equal"),
        ({"on": True, "message": ""}, "at least 1 character"),
        ({"on": True, "message": "   "}, "must not be blank"),
        ({"on": False, "message": "hi"}, "only shown when on is true"),
        ({"on": True, "minute": 5}, "Extra inputs"),
    ],
    ids=["missing_on", "string_on", "zero_minutes", "too_long", "empty_message", "blank", "off_msg", "typo"],
)
def test_bad_override_body_is_a_clear_422(
    client: httpx.Client, banner: Banner, body: dict[str, Any], needle: str
) -> None:
    response = client.post("/api/override", json=body, headers=ops())
    assert response.status_code == 422
    assert needle in str(response.json()["detail"])
    assert banner.state().source == "none"


def test_override_body_must_be_json(client: httpx.Client) -> None:
    response = client.post(
        "/api/override", content=b"on=1", headers={**ops(), "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "JSON" in str(response.json()["detail"])


def test_history_limit_is_checked(client: httpx.Client) -> None:
    assert client.get("/api/history", params={"limit": 0}).status_code == 422
    assert client.get("/api/history").json() == {"transitions": []}


def test_healthz(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"ok": True})


def test_restarted_server_shows_the_same_banner(
    tmp_path: Path, client: httpx.Client, banner: Banner, clock: ManualClock, serve_asgi: Callable[[Any], str]
) -> None:
    banner.observe(make_alert())
    client.post("/api/override", json={"on": True, "message": "We are on it.", "minutes": 10}, headers=ops())
    before = client.get("/api/status").json()

    settings = settings_for(tmp_path)
    url = serve_asgi(create_app(settings, Banner.from_settings(settings, clock)))
    assert httpx.get(f"{url}/api/status", headers={"Accept-Language": "en"}).json() == before
