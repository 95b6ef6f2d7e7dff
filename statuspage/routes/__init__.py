"""One APIRouter per resource; :func:`statuspage.app.create_app` includes them all."""

from __future__ import annotations

from statuspage.routes import health, history, override, page, status

__all__ = ["ROUTERS"]

ROUTERS = (page.router, status.router, history.router, override.router, health.router)
