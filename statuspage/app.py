"""The status page web app: a thin FastAPI edge over :class:`statuspage.banner.Banner`.

``create_app`` takes its settings and banner as arguments (never built at import), so the CLI
wires the real ones and tests build one app per test. Reading endpoints allow any origin, because
merchants' checkout pages fetch ``/api/status`` through ``/embed.js``; writing ones (the override,
incidents and their updates) need the ops token and are not offered to browsers on other origins.
The page and the API speak zh-CN and English (:mod:`statuspage.i18n`), and name channels as payers
know them (:mod:`statuspage.wording`).

Requests pass three plain ASGI layers before FastAPI sees them, outermost first:
:class:`~statuspage.headers.SecurityHeaders` (on every response, a 500 included),
:class:`~statuspage.limits.BodyLimit` (413 for a body over the limit) and
:class:`~statuspage.auth.OpsGuard` (401 for a write without the ops token). The last two answer
from the headers alone, so an oversized or anonymous body is never read. A bad value in what
does get through is a 422 naming the field, never a 500.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from alerting.desk import Desk
from kernel.settings import StatusPageSettings
from statuspage.auth import OpsGuard
from statuspage.banner import Banner
from statuspage.headers import SecurityHeaders
from statuspage.i18n import load_catalogues
from statuspage.incidents import Incidents
from statuspage.limits import DEFAULT_MAX_BODY_BYTES, BodyLimit
from statuspage.routes import ROUTERS
from statuspage.routes.page import STATIC_DIR, page_templates
from statuspage.wording import DEFAULT_BANNER_MESSAGE, Wording

__all__ = ["create_app"]


class _StatusApp(FastAPI):
    """FastAPI with the security headers outside every other layer, so its own 500 page has them too."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def create_app(
    settings: StatusPageSettings,
    banner: Banner,
    *,
    poll_seconds: float = 5.0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    incidents: Incidents | None = None,
    channel_names: Mapping[str, Mapping[str, str]] | None = None,
    banner_messages: Mapping[str, str] | None = None,
    desk: Desk | None = None,
) -> FastAPI:
    """Build the app.

    ``poll_seconds`` is how often an open page asks for the state again; ``max_body_bytes`` is
    the largest request body accepted (64 KiB; an override is well under 1 KiB). ``incidents``
    defaults to the incidents in the banner's own store.

    ``channel_names`` names channels per language (``{"alipay": {"zh-CN": "支付宝", "en":
    "Alipay"}}``), over the defaults for alipay, wechat, unionpay and card. ``banner_messages``
    is the banner's text per language; without it each language gets the catalogue's text,
    except that a ``statuspage.message`` changed from its (English) default is the English text.
    ``desk`` serves the on-call API (silences, acknowledgements, signed ack links).
    """
    if poll_seconds <= 0:
        raise ValueError(f"poll_seconds must be > 0 (got {poll_seconds})")
    if max_body_bytes < 0:
        raise ValueError(f"max_body_bytes must be >= 0 (got {max_body_bytes})")
    app = _StatusApp(
        title="PayPulse status",
        description="Whether payments work right now, for payers and merchants.",
        docs_url=None,  # Swagger UI needs inline and CDN scripts, which the page's policy forbids
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    catalogues = load_catalogues()
    messages = dict(banner_messages or {})
    if settings.message != DEFAULT_BANNER_MESSAGE:
        messages.setdefault("en", settings.message)
    app.state.settings = settings
    app.state.banner = banner
    app.state.incidents = incidents if incidents is not None else Incidents(banner.store, banner.clock)
    app.state.wording = Wording(catalogues, channel_names, messages)
    app.state.templates = page_templates(catalogues)
    app.state.poll_seconds = poll_seconds
    app.state.desk = desk
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    # add_middleware puts each layer outside the ones added before it
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"], max_age=600)
    app.add_middleware(OpsGuard, token=settings.ops_token)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        app.include_router(router)
    return app


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming each bad field and why, without echoing the value.

    FastAPI's default echoes it, and a NaN or infinite number cannot be written as JSON: the
    answer to ``{"minutes": NaN}`` was a 500. Nor does anyone need a 60 KiB string sent back.
    """
    errors = [{"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)
