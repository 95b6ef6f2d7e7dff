"""One APIRouter per resource; :func:`statuspage.app.create_app` includes them all."""

from __future__ import annotations

from statuspage.routes import health, history, i18n, incidents, oncall, override, page, status

__all__ = ["ROUTERS"]

ROUTERS = (
    page.router,
    status.router,
    history.router,
    incidents.router,
    i18n.router,
    override.router,
    oncall.router,
    oncall.link_router,
    health.router,
)
