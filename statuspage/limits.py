"""The request body limit: a body larger than the limit is refused before anyone parses it.

Without it a single 300 MB POST, token or not, is read into memory whole, in the monitor's own
process. :class:`BodyLimit` sits in front of the app as plain ASGI: a declared ``Content-Length``
above the limit gets 413 at once, before the app runs; a body without one (chunked) is counted as
it streams in and cut off at the first byte past the limit. Either way the server reads at most
the limit plus one network chunk, and the 413 says ``Connection: close``, so the server drops the
rest of the body instead of reading it to the end.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DEFAULT_MAX_BODY_BYTES", "BodyLimit", "BodyTooLarge"]

#: Enough for any override (a 500-character message is about 2 KiB as JSON), small enough to be harmless.
DEFAULT_MAX_BODY_BYTES = 64 * 1024


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a streamed body passes the limit.

    It is an HTTPException, so FastAPI, which reads the body itself, answers it as a JSON 413;
    :class:`BodyLimit` answers it when nothing inside does.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large(limit), headers={"Connection": "close"})


class BodyLimit:
    """ASGI middleware refusing request bodies over ``max_bytes`` with 413, before they are read."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            raise ValueError(f"max_bytes must be an integer >= 0 (got {max_bytes!r})")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _refuse(scope, receive, send, self.max_bytes)
            return
        received = 0
        responded = False

        async def limited_receive() -> Message:
            nonlocal received
            if received > self.max_bytes:  # asked again after the refusal: still refused
                raise BodyTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            if responded:  # too late for a 413; the server closes the connection
                raise
            await _refuse(scope, receive, send, self.max_bytes)


def _too_large(limit: int) -> str:
    return f"the request body is larger than {limit} bytes, the most this server accepts"


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = JSONResponse({"detail": _too_large(limit)}, status_code=413, headers={"Connection": "close"})
    await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    """The declared body size, or None when there is none (the server has already refused a bad one)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
