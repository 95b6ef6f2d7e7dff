"""The hardened status page as deployed: `paypulse statuspage` as a real process on 127.0.0.1.

One process serves the whole module. Floods go through raw sockets, so the test controls every
byte and sees when the server stops taking them; the server's memory is read from
``/proc/<pid>/status``. The monitor's side is a :class:`Banner` on the same SQLite file, fed
alerts exactly as `paypulse run` feeds it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.sync_api import Page, expect

from kernel.clock import SystemClock
from kernel.settings import StatusPageSettings
from statuspage import Banner
from statuspage.headers import SECURITY_HEADERS
from tests.unit.test_banner import MESSAGE, make_alert

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-ops-token"
FLOOD_BYTES = 300 * 2**20
CHUNK = b" " * 65_536  # JSON whitespace: a body a server could only reject by its size
RSS_GROWTH_LIMIT_MB = 20.0


@dataclass
class PageProcess:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    db: Path

    def memory_mb(self) -> tuple[float, float]:
        """(VmRSS, VmHWM) in MiB: resident now, and the most it has ever been."""
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        )
        return tuple(int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM"))  # type: ignore[return-value]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageProcess]:
    folder = tmp_path_factory.mktemp("statuspage")
    db = folder / "banner.sqlite3"
    config = folder / "paypulse.toml"
    config.write_text(f'[statuspage]\ndb = "{db}"\nport = 0\nhold = "PT0S"\nops_token = "{TOKEN}"\n')
    process = subprocess.Popen(
        [sys.executable, "-m", "paypulse", "statuspage", "--config", str(config)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline().decode()  # "status page: http://127.0.0.1:PORT/  banner store: ..."
        assert line.startswith("status page: http://127.0.0.1:"), line + process.stderr.read().decode()
        url = line.split()[2].rstrip("/")
        _wait_until_healthy(url)
        yield PageProcess(url, int(url.rsplit(":", 1)[1]), process, db)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def monitor(page: PageProcess) -> Iterator[Banner]:
    """The monitor's banner: the same file, the same settings, fed as `paypulse run` feeds it."""
    banner = Banner.from_settings(StatusPageSettings(db=page.db, hold="PT0S"), SystemClock())
    yield banner
    banner.close()


def _wait_until_healthy(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


@dataclass
class Flood:
    status: int | None  # of the server's answer; None if it gave none
    sent: int  # body bytes the server took before it closed the connection


def flood(
    port: int, head: bytes, *, chunked: bool, total: int = FLOOD_BYTES, send_body: bool = True
) -> Flood:
    """Send ``head`` and then up to ``total`` body bytes, while a second thread reads the answer.

    The answer is read as it arrives: a server that refuses a body closes the connection with
    bytes unread, and the reset that follows would otherwise lose the answer.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    answer = bytearray()
    answered = threading.Event()

    def read() -> None:
        try:
            while b"\r\n" not in answer:
                data = sock.recv(4096)
                if not data:
                    break
                answer.extend(data)
        except OSError:
            pass
        answered.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sent = 0
    frame = (b"%x\r\n" % len(CHUNK)) + CHUNK + b"\r\n" if chunked else CHUNK
    try:
        sock.sendall(head)
        while send_body and sent < total:
            sock.sendall(frame)
            sent += len(CHUNK)
        if send_body and chunked:
            sock.sendall(b"0\r\n\r\n")
    except OSError:  # the server closed the connection: what a refusal should do
        pass
    answered.wait(15)
    sock.close()
    status_line = bytes(answer).split(b"\r\n", 1)[0].split()
    return Flood(int(status_line[1]) if len(status_line) > 1 else None, sent)


def post_head(*, length: int | None, token: str | None) -> bytes:
    lines = [b"POST /api/override HTTP/1.1", b"Host: 127.0.0.1", b"Content-Type: application/json"]
    lines.append(b"Transfer-Encoding: chunked" if length is None else b"Content-Length: %d" % length)
    if token is not None:
        lines.append(f"Authorization: Bearer {token}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


# -- (a) floods ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "token", "status"),
    [(None, None, 401), (None, TOKEN, 413), (FLOOD_BYTES, None, 413), (FLOOD_BYTES, TOKEN, 413)],
    ids=["chunked-anonymous", "chunked-with-token", "content-length-anonymous", "content-length-with-token"],
)
def test_300_mb_post_is_refused_without_being_read(
    page: PageProcess, length: int | None, token: str | None, status: int
) -> None:
    httpx.get(f"{page.url}/api/status")
    rss_before, _ = page.memory_mb()
    result = flood(page.port, post_head(length=length, token=token), chunked=length is None)
    rss_after, peak_after = page.memory_mb()
    print(
        f"{length=} token={token is not None}: {result.status}, "
        f"sent {result.sent / 2**20:.1f} MiB before the hang-up; "
        f"RSS {rss_before:.1f} -> {rss_after:.1f} MiB, peak {peak_after:.1f} MiB"
    )
    assert result.status == status
    assert result.sent < FLOOD_BYTES / 10  # the server hung up instead of draining the body
    assert rss_after - rss_before < RSS_GROWTH_LIMIT_MB
    assert peak_after - rss_before < RSS_GROWTH_LIMIT_MB
    assert httpx.get(f"{page.url}/healthz").json() == {"ok": True}


@pytest.mark.parametrize("token", [None, TOKEN], ids=["anonymous", "with-token"])
def test_huge_content_length_is_refused_before_any_body_byte(page: PageProcess, token: str | None) -> None:
    result = flood(page.port, post_head(length=FLOOD_BYTES, token=token), chunked=False, send_body=False)
    assert (result.status, result.sent) == (413, 0)


# -- (b) bad values ------------------------------------------------------------------------------

OPS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b'{"on": true, "minutes": NaN}', 422, "finite number"),
        (b'{"on": true, "minutes": Infinity}', 422, "finite number"),
        (b'{"on": true, "minutes": -Infinity}', 422, "finite number"),
        (b'{"on": true, "minutes": 1e400}', 422, "finite number"),
        (b'{"on": true, "minutes": -30}', 422, "greater than 0"),
        (b'{"on": true, "minutes": 1e300}', 422, "less than or equal to 10080"),
        (b'{"on": true, "minutes": 1' + b"0" * 4000 + b"}", 422, "valid number"),  # no float holds it
        (b'{"on": true, "minutes": 1e-300}', 422, "is not after now"),
        (b'{"on": true, "minutes": "30"}', 422, "valid number"),
        (b'{"on": true, "minutes": true}', 422, "valid number"),
        (b'{"on": true, "message": ""}', 422, "at least 1 character"),
        (b'{"on": true, "message": "   "}', 422, "must not be blank"),
        (b'{"on": true, "message": "' + b"x" * 501 + b'"}', 422, "at most 500 characters"),
        (b'{"on": true, "message": "a\\u0000b"}', 422, "control characters"),
        (b'{"on": true, "message": "\\ud800"}', 422, "valid string"),
        (b'{"on": true, "by": "' + b"x" * 101 + b'"}', 422, "at most 100 characters"),
        (b'{"on": true, "by": "\\t"}', 422, "control characters"),
        (b"[]", 422, "valid dictionary"),
        (b"null", 422, "valid dictionary"),
        (b"{on: true}", 422, "JSON decode error"),
        (b"\xff\xfe{", 400, "error parsing the body"),  # a UTF-16 mark, then not UTF-16
        (b"[" * 60_000, 400, "error parsing the body"),
    ],
    ids=lambda v: v.decode("latin-1")[:40] if isinstance(v, bytes) else None,
)
def test_bad_value_is_a_4xx_not_a_500(page: PageProcess, body: bytes, status: int, needle: str) -> None:
    response = httpx.post(f"{page.url}/api/override", content=body, headers=OPS)
    assert response.status_code == status, response.text
    assert needle in str(response.json()["detail"])
    assert httpx.get(f"{page.url}/api/status").json()["source"] == "none"


def test_non_json_body_is_a_422(page: PageProcess) -> None:
    response = httpx.post(
        f"{page.url}/api/override", content=b"\xff on=1", headers={**OPS, "Content-Type": "text/plain"}
    )
    assert response.status_code == 422
    assert "valid dictionary" in str(response.json()["detail"])


@pytest.mark.parametrize("limit", ["NaN", "inf", "-1", "0", "501", "1e400", "9" * 400, ""])
def test_bad_history_limit_is_a_422(page: PageProcess, limit: str) -> None:
    response = httpx.get(f"{page.url}/api/history", params={"limit": limit})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]


# -- (c) security headers ------------------------------------------------------------------------


def test_security_headers_on_every_response(page: PageProcess) -> None:
    responses = {
        "page": httpx.get(f"{page.url}/"),
        "status": httpx.get(f"{page.url}/api/status"),
        "history": httpx.get(f"{page.url}/api/history"),
        "embed": httpx.get(f"{page.url}/embed.js"),
        "script": httpx.get(f"{page.url}/static/status.js"),
        "style": httpx.get(f"{page.url}/static/status.css"),
        "health": httpx.get(f"{page.url}/healthz"),
        "not_found": httpx.get(f"{page.url}/nope"),
        "anonymous_write": httpx.post(f"{page.url}/api/override", json={"on": True}),
        "bad_value": httpx.post(f"{page.url}/api/override", content=b'{"on": 1}', headers=OPS),
        "too_large": httpx.post(f"{page.url}/api/override", content=CHUNK * 2, headers=OPS),
    }
    assert {name: r.status_code for name, r in responses.items()} == {
        "page": 200, "status": 200, "history": 200, "embed": 200, "script": 200, "style": 200,
        "health": 200, "not_found": 404, "anonymous_write": 401, "bad_value": 422, "too_large": 413,
    }  # fmt: skip
    for name, response in responses.items():
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, (name, header)
    csp = responses["page"].headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert responses["embed"].headers["content-type"].startswith("text/javascript")  # nosniff accepts it
    assert responses["style"].headers["content-type"].startswith("text/css")
    cross_origin = httpx.get(f"{page.url}/api/status", headers={"Origin": "https://shop.example"})
    assert cross_origin.headers["access-control-allow-origin"] == "*"  # the embed still reads it


def test_page_and_embed_work_under_the_policy(
    page: PageProcess, monitor: Banner, chromium_page: Page, serve_asgi: Callable[[Any], str]
) -> None:
    """Chromium enforces the headers: the page's own script and style load, nothing is refused,
    and a merchant's page on another origin still shows the banner through /embed.js."""
    browser = chromium_page
    browser.add_init_script(
        "window.__violations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    shop = FastAPI()

    @shop.get("/checkout", response_class=HTMLResponse)
    def checkout() -> str:
        embed = f'<script src="{page.url}/embed.js" data-interval="1"></script>'
        return f"<!doctype html><html><body>{embed}<h1>Your order</h1></body></html>"

    shop_url = serve_asgi(shop)
    monitor.observe(make_alert(channel="wechat"))
    try:
        browser.goto(page.url + "/")
        expect(browser.locator("#banner")).to_be_visible()
        expect(browser.locator("#freshness")).to_have_text("This page updates itself.")
        width = browser.evaluate("getComputedStyle(document.querySelector('main')).maxWidth")
        assert width != "none"  # status.css applied
        assert browser.evaluate("window.__violations") == []

        browser.goto(shop_url + "/checkout")
        expect(browser.locator("#paypulse-banner")).to_be_visible(timeout=5_000)
        expect(browser.locator("#paypulse-banner")).to_contain_text("Affected: WeChat Pay")
    finally:
        monitor.observe(make_alert("resolved", channel="wechat"))
    expect(browser.locator("#paypulse-banner")).to_be_hidden(timeout=5_000)


# -- (d) the page in its own process, on the monitor's store -------------------------------------


def test_separate_page_follows_the_monitor_and_its_overrides_reach_the_monitor(
    page: PageProcess, monitor: Banner
) -> None:
    assert httpx.get(f"{page.url}/api/status").json()["on"] is False

    monitor.observe(make_alert())  # what `paypulse run` does with a critical alert
    status = httpx.get(f"{page.url}/api/status", params={"lang": "en"}).json()
    assert (status["on"], status["channels"], status["message"], status["source"]) == (
        True, ["alipay"], MESSAGE, "auto",
    )  # fmt: skip
    html = httpx.get(f"{page.url}/").text  # zh-CN, the page's default
    assert '<p id="banner-channels" class="banner-channels">受影响：支付宝</p>' in html
    assert "支付宝出现异常" in html

    forced = httpx.post(
        f"{page.url}/api/override", json={"on": False, "by": "oncall", "minutes": 10}, headers=OPS
    )
    assert forced.status_code == 200
    assert (forced.json()["on"], forced.json()["source"]) == (False, "override")
    assert (monitor.state().on, monitor.state().source) == (False, "override")  # written to the shared file

    assert httpx.delete(f"{page.url}/api/override", headers=OPS).status_code == 200
    assert (monitor.state().on, monitor.state().channels) == (True, ("alipay",))
    monitor.observe(make_alert("resolved"))  # a zero hold: off at once
    assert httpx.get(f"{page.url}/api/status").json()["on"] is False
    history = httpx.get(f"{page.url}/api/history", params={"limit": 4}).json()["transitions"]
    reasons = [t["reason"] for t in history]
    assert reasons == ["recovered", "override_cleared", "override_off", "alert_firing"]


def test_command_says_when_its_port_is_taken(tmp_path: Path, page: PageProcess) -> None:
    config = tmp_path / "paypulse.toml"
    config.write_text(f'[statuspage]\ndb = "{tmp_path / "banner.sqlite3"}"\nport = {page.port}\n')
    done = subprocess.run(
        [sys.executable, "-m", "paypulse", "statuspage", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{page.port}".encode() in done.stderr
    assert b"give this one another port (--port)" in done.stderr
