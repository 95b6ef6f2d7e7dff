"""One APIRouter per resource; :func:`statuspage.app.create_app` includes them all."""

from __future__ import annotations

from statuspage.routes import health, history, i18n, incidents, override, page, status

__all__ = ["ROUTERS"]

ROUTERS = (
    page.router,
    status.router,
    history.router,
    incidents.router,
    i18n.router,
    override.router,
    health.router,
)
