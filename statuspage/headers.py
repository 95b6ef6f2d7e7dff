"""Security headers on every response of the status page.

The page is plain HTML with one local script and one local stylesheet, and its script fetches
``api/status`` and ``api/history`` from its own origin: the policy allows exactly that and no
inline code, other origin or frame. ``X-Frame-Options: DENY`` and ``frame-ancestors 'none'`` keep
the page out of other sites' frames. The merchants' banner is unaffected: they load ``/embed.js``
with a ``<script>`` tag into their own page, where their page's policy applies, not ours, and
the script reads ``/api/status`` through CORS, which no header here restricts.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "SecurityHeaders"]

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",  # static/status.js
        "style-src 'self'",  # static/status.css
        "connect-src 'self'",  # the page polling api/status and api/history
        "base-uri 'none'",
        "form-action 'self'",  # the acknowledgement link's one button posts to its own URL
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
