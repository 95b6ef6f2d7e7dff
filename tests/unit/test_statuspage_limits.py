"""The status page's guards in front of FastAPI, driven with real ASGI messages (no network).

Each guard runs in front of a recording app, so a test can say exactly what was read: how many
body messages the guard pulled, whether the app ran at all. The whole app is driven through
httpx's in-process ASGI transport.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from kernel.clock import ManualClock
from kernel.settings import StatusPageSettings
from statuspage import Banner, create_app
from statuspage.auth import OpsGuard, ops_refusal
from statuspage.headers import SECURITY_HEADERS, SecurityHeaders
from statuspage.limits import DEFAULT_MAX_BODY_BYTES, BodyLimit, BodyTooLarge
from statuspage.routes.override import MAX_MINUTES, OverrideIn

TOKEN = "s3cret-ops-token"
T0 = 1_714_521_600.0

Message = dict[str, Any]


class Recorder:
    """An ASGI app that reads the whole body (as FastAPI does) and answers 200 with its size."""

    def __init__(self) -> None:
        self.called = False
        self.raised: BaseException | None = None

    async def __call__(
        self, scope: Message, receive: Callable[[], Any], send: Callable[[Message], Any]
    ) -> None:
        self.called = True
        size = 0
        try:
            while True:
                message = await receive()
                size += len(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        except BodyTooLarge as err:
            self.raised = err
            raise
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})


def run_asgi(
    app: Callable[..., Coroutine[Any, Any, None]],
    chunks: list[bytes],
    *,
    method: str = "POST",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> tuple[list[Message], int]:
    """Send ``chunks`` as the body; return the messages sent back and how many chunks were read."""
    scope = {"type": "http", "method": method, "path": "/api/override", "headers": headers or []}
    pending = list(chunks)
    read = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        read += 1
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent, read


def status_of(sent: list[Message]) -> int:
    return int(sent[0]["status"])


def header(sent: list[Message], name: bytes) -> bytes | None:
    return dict(sent[0]["headers"]).get(name)


def body_of(sent: list[Message]) -> Any:
    return json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


# -- BodyLimit -----------------------------------------------------------------------------------


def test_declared_oversize_body_is_refused_before_the_app_runs() -> None:
    inner = Recorder()
    sent, read = run_asgi(
        BodyLimit(inner, max_bytes=1000), [b"x" * 1000] * 3, headers=[(b"content-length", b"300000000")]
    )
    assert (status_of(sent), read, inner.called) == (413, 0, False)
    assert header(sent, b"connection") == b"close"
    assert body_of(sent) == {
        "detail": "the request body is larger than 1000 bytes, the most this server accepts"
    }


def test_streamed_body_is_cut_at_the_first_chunk_past_the_limit() -> None:
    inner = Recorder()
    sent, read = run_asgi(BodyLimit(inner, max_bytes=2500), [b"x" * 1000] * 300)  # no content-length
    assert (status_of(sent), read) == (413, 3)  # 3000 bytes read, the other 297 chunks never
    assert isinstance(inner.raised, BodyTooLarge)
    assert header(sent, b"connection") == b"close"


def test_body_at_the_limit_passes_whole() -> None:
    sent, read = run_asgi(
        BodyLimit(Recorder(), max_bytes=3000), [b"x" * 1000] * 3, headers=[(b"content-length", b"3000")]
    )
    assert (status_of(sent), body_of(sent), read) == (200, 3000, 3)


def test_default_limit_is_64_kib() -> None:
    assert DEFAULT_MAX_BODY_BYTES == 65_536
    assert BodyLimit(Recorder()).max_bytes == 65_536


@pytest.mark.parametrize("bad", [-1, 1.5, True, None])
def test_body_limit_refuses_a_nonsense_limit(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_bytes must be an integer >= 0"):
        BodyLimit(Recorder(), max_bytes=bad)


# -- OpsGuard ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "authorization", "refused"),
    [
        (TOKEN, f"Bearer {TOKEN}".encode(), None),
        (TOKEN, f"bearer  {TOKEN} ".encode(), None),
        (TOKEN, None, (401, "missing header Authorization")),
        (TOKEN, b"Bearer ", (401, "missing header Authorization")),
        (TOKEN, f"Basic {TOKEN}".encode(), (401, "missing header Authorization")),
        (TOKEN, b"Bearer wrong-token", (401, "not statuspage.ops_token")),
        (TOKEN, f"Bearer {TOKEN}x".encode(), (401, "not statuspage.ops_token")),
        (TOKEN, f"Bearer {TOKEN[:-1]}".encode(), (401, "not statuspage.ops_token")),
        (TOKEN, b"Bearer \xff\xfe", (401, "not statuspage.ops_token")),
        ("", f"Bearer {TOKEN}".encode(), (403, "set statuspage.ops_token")),
    ],
    ids=["ok", "lowercase", "missing", "empty", "basic", "wrong", "longer", "shorter", "binary", "unset"],
)
def test_ops_refusal(token: str, authorization: bytes | None, refused: tuple[int, str] | None) -> None:
    refusal = ops_refusal(token, authorization)
    if refused is None:
        assert refusal is None
    else:
        assert refusal is not None
        assert refusal.status == refused[0]
        assert refused[1] in refusal.detail


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_write_without_token_is_refused_without_reading_the_body(method: str) -> None:
    inner = Recorder()
    sent, read = run_asgi(OpsGuard(inner, SecretStr(TOKEN)), [b"{}"] * 5, method=method)
    assert (status_of(sent), read, inner.called) == (401, 0, False)
    assert header(sent, b"connection") == b"close"
    assert header(sent, b"www-authenticate") == b"Bearer"


def test_write_with_token_reaches_the_app() -> None:
    auth = [(b"authorization", f"Bearer {TOKEN}".encode())]
    sent, read = run_asgi(OpsGuard(Recorder(), SecretStr(TOKEN)), [b"{}"], headers=auth)
    assert (status_of(sent), body_of(sent), read) == (200, 2, 1)


def test_reads_need_no_token() -> None:
    for method in ("GET", "HEAD", "OPTIONS"):
        sent, _ = run_asgi(OpsGuard(Recorder(), SecretStr(TOKEN)), [b""], method=method)
        assert status_of(sent) == 200, method


def test_writes_are_refused_while_no_token_is_configured() -> None:
    auth = [(b"authorization", f"Bearer {TOKEN}".encode())]
    inner = Recorder()
    sent, read = run_asgi(OpsGuard(inner, None), [b"{}"], headers=auth)
    assert (status_of(sent), read, inner.called) == (403, 0, False)


# -- SecurityHeaders -----------------------------------------------------------------------------


def test_security_headers_are_added_to_a_bare_response() -> None:
    sent, _ = run_asgi(SecurityHeaders(Recorder()), [b""])
    names = {name.decode().lower(): value.decode() for name, value in sent[0]["headers"]}
    assert names == {name.lower(): value for name, value in SECURITY_HEADERS.items()}


# -- the whole app, in process -------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Any:
    settings = StatusPageSettings(db=tmp_path / "banner.sqlite3", ops_token=SecretStr(TOKEN))
    return create_app(settings, Banner.from_settings(settings, ManualClock(T0)), max_body_bytes=1024)


def call(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://page") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


OPS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def test_app_answers_nan_with_a_422_naming_the_field(app: Any) -> None:
    response = call(app, "POST", "/api/override", content=b'{"on": true, "minutes": NaN}', headers=OPS)
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"type": "finite_number", "loc": ["body", "minutes"], "msg": "Input should be a finite number"}
        ]
    }


def test_app_limit_is_a_create_app_parameter(app: Any) -> None:
    small = call(app, "POST", "/api/override", content=b'{"on": true}' + b" " * 1000, headers=OPS)
    large = call(app, "POST", "/api/override", content=b'{"on": true}' + b" " * 1100, headers=OPS)
    assert (small.status_code, large.status_code) == (200, 413)
    assert "larger than 1024 bytes" in large.json()["detail"]


def test_app_refuses_a_negative_limit(tmp_path: Path) -> None:
    settings = StatusPageSettings(db=tmp_path / "banner.sqlite3")
    with pytest.raises(ValueError, match="max_body_bytes must be >= 0"):
        create_app(settings, Banner.from_settings(settings, ManualClock(T0)), max_body_bytes=-1)


def test_app_puts_security_headers_on_its_own_500(app: Any) -> None:
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    response = call(app, "GET", "/boom")
    assert response.status_code == 500
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_app_has_no_swagger_page_but_keeps_its_schema(app: Any) -> None:
    assert call(app, "GET", "/api/docs").status_code == 404
    schema = call(app, "GET", "/api/openapi.json").json()
    assert "/api/override" in schema["paths"]


# -- OverrideIn ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"on": True, "minutes": math.nan}, "finite number"),
        ({"on": True, "minutes": math.inf}, "finite number"),
        ({"on": True, "minutes": -math.inf}, "finite number"),
        ({"on": True, "minutes": -5}, "greater than 0"),
        ({"on": True, "minutes": 0}, "greater than 0"),
        ({"on": True, "minutes": MAX_MINUTES + 1}, "less than or equal to 10080"),
        ({"on": True, "minutes": 10**40}, "less than or equal to 10080"),
        ({"on": True, "minutes": True}, "valid number"),
        ({"on": True, "minutes": "30"}, "valid number"),
        ({"on": 1}, "valid boolean"),
        ({"on": True, "message": ""}, "at least 1 character"),
        ({"on": True, "message": " \t "}, "control characters"),
        ({"on": True, "message": "   "}, "must not be blank"),
        ({"on": True, "message": "x" * 501}, "at most 500 characters"),
        ({"on": True, "message": "down\x00"}, r"U\+0000"),
        ({"on": True, "message": "\x1b[31mred"}, r"U\+001B"),
        ({"on": True, "message": "\ud800"}, "valid string"),
        ({"on": True, "by": ""}, "at least 1 character"),
        ({"on": True, "by": "  "}, "must not be blank"),
        ({"on": True, "by": "x" * 101}, "at most 100 characters"),
        ({"on": False, "message": "hi"}, "only shown when on is true"),
        ({"on": True, "until": 5}, "Extra inputs"),
    ],
)
def test_override_body_refuses_bad_values(body: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        OverrideIn.model_validate(body)


def test_override_body_keeps_good_values_stripped() -> None:
    body = OverrideIn.model_validate(
        {"on": True, "message": " 银联暂不可用 ", "minutes": 30, "by": " oncall "}
    )
    assert (body.message, body.minutes, body.by) == ("银联暂不可用", 30.0, "oncall")
    assert OverrideIn.model_validate({"on": False, "minutes": MAX_MINUTES}).minutes == MAX_MINUTES
