"""The status page web app: a thin FastAPI edge over :class:`statuspage.banner.Banner`.

``create_app`` takes its settings and banner as arguments (never built at import), so the CLI
wires the real ones and tests build one app per test. Reading endpoints allow any origin, because
merchants' checkout pages fetch ``/api/status`` through ``/embed.js``; writing ones need the ops
token and are not offered to browsers on other origins.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from paypulse.settings import StatusPageSettings
from statuspage.banner import Banner
from statuspage.routes import ROUTERS
from statuspage.routes.page import STATIC_DIR

__all__ = ["create_app"]


def create_app(settings: StatusPageSettings, banner: Banner, *, poll_seconds: float = 5.0) -> FastAPI:
    """Build the app. ``poll_seconds`` is how often an open page asks for the state again."""
    if poll_seconds <= 0:
        raise ValueError(f"poll_seconds must be > 0 (got {poll_seconds})")
    app = FastAPI(
        title="PayPulse status",
        description="Whether payments work right now, for payers and merchants.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.banner = banner
    app.state.poll_seconds = poll_seconds
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"], max_age=600)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        app.include_router(router)
    return app
