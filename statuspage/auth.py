"""The ops token: who may change the banner, decided from the headers alone, before any body is read.

FastAPI reads and parses a request's body before it solves the route's dependencies, so a
dependency alone would check the token only after an anonymous client had uploaded its body.
:class:`OpsGuard` runs in front of the app instead: every request that could write (any method but
GET, HEAD and OPTIONS) needs ``Authorization: Bearer <statuspage.ops_token>``, and one without
it is answered with 401 (403 while no token is configured) and ``Connection: close``; a body
over 64 KiB is never read (a smaller one is read and dropped, so the client gets the answer
rather than a connection reset). :func:`ops_refusal` is the one rule; the route dependency
applies it again, so the override router stays guarded wherever it is mounted.

>>> ops_refusal("s3cret", b"Bearer s3cret") is None
True
>>> ops_refusal("s3cret", b"Bearer guess").status
401
>>> ops_refusal("", b"Bearer s3cret").status
403
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from pydantic import SecretStr
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["READ_METHODS", "SIGNED_PATHS", "OpsGuard", "Refusal", "ops_refusal"]

#: Methods that cannot change anything; every other method needs the ops token.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Paths whose requests carry their own proof instead (an acknowledgement link's signature, checked
#: by the route; the link's button posts no body, and the body limit still applies).
SIGNED_PATHS = ("/api/ack/",)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request may not write: the status, the message and the headers to answer with."""

    status: int
    detail: str
    headers: dict[str, str] = field(default_factory=dict)


def ops_refusal(token: str, authorization: bytes | None) -> Refusal | None:
    """None when ``authorization`` (the raw header) carries ``token`` as a bearer token, else why not.

    Both sides are hashed before the constant-time compare, so neither the token's bytes nor its
    length show in the response time.
    """
    if not token:
        return Refusal(
            403,
            "the override API is disabled: set statuspage.ops_token "
            "(or PAYPULSE_STATUSPAGE__OPS_TOKEN) to enable it",
        )
    scheme, _, given = (authorization or b"").partition(b" ")
    given = given.strip()
    if scheme.lower() != b"bearer" or not given:
        return Refusal(
            401,
            "missing header Authorization: Bearer <statuspage.ops_token>",
            {"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(hashlib.sha256(given).digest(), hashlib.sha256(token.encode()).digest()):
        return Refusal(
            401,
            "the bearer token is not statuspage.ops_token",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return None


class OpsGuard:
    """ASGI middleware: a request that could write gets through only with the ops token."""

    def __init__(self, app: ASGIApp, token: SecretStr | None) -> None:
        self.app = app
        self._token = "" if token is None else token.get_secret_value()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] not in READ_METHODS
            and not scope["path"].startswith(SIGNED_PATHS)
        ):
            header = next((value for name, value in scope["headers"] if name == b"authorization"), None)
            refusal = ops_refusal(self._token, header)
            if refusal is not None:
                await _drain_small_body(scope, receive)
                headers = {**refusal.headers, "Connection": "close"}  # a larger body is dropped, not read
                response = JSONResponse({"detail": refusal.detail}, refusal.status, headers=headers)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


#: A refused request's body up to this size is read and thrown away before the answer, so a client
#: still sending it gets the 401 rather than a connection reset; a larger one is never read.
_DRAINED_BYTES = 64 * 1024


async def _drain_small_body(scope: Scope, receive: Receive) -> None:
    """Read and discard the body of a refused request that says it is small."""
    length = next((value for name, value in scope["headers"] if name == b"content-length"), None)
    if length is None or not length.isdigit() or int(length) > _DRAINED_BYTES:
        return
    left = int(length)
    while left > 0:
        message = await receive()
        left -= len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
