"""``GET /``: the status page end users read, and ``GET /embed.js``: the banner for merchants' checkouts.

The page is rendered with the current state, so it is right without JavaScript; a few lines of
local JavaScript then poll ``/api/status`` so an open page follows the incident without reloads.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from statuspage.deps import BannerDep

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "router"]

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
_templates = Jinja2Templates(directory=TEMPLATES_DIR)


def _utc(epoch: float | None) -> str:
    """Server-side time text; the page's script rewrites it in the reader's own time zone."""
    return "" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(epoch: float | None) -> str:
    return "" if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


_templates.env.filters["utc"] = _utc
_templates.env.filters["iso"] = _iso

router = APIRouter(tags=["page"])


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def status_page(request: Request, banner: BannerDep) -> HTMLResponse:
    state = banner.state()
    context = {
        "state": state,
        "updated_at": banner.updated_at(),
        "history": banner.history(10),
        "poll_ms": int(request.app.state.poll_seconds * 1000),
    }
    return _templates.TemplateResponse(request, "index.html", context, headers={"Cache-Control": "no-store"})


@router.get("/embed.js", include_in_schema=False)
def embed_script() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "embed.js",
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )
