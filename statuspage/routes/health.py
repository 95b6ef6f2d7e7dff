"""``GET /healthz``: the process answers and the banner store can be read."""

from __future__ import annotations

import sqlite3

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from kernel.errors import StateError
from statuspage.deps import BannerDep

__all__ = ["router"]

router = APIRouter(prefix="/healthz", tags=["health"])


@router.get("")
def healthz(banner: BannerDep) -> JSONResponse:
    try:
        banner.state()
    except (sqlite3.Error, StateError) as err:
        return JSONResponse({"ok": False, "error": f"banner store unreadable: {err}"}, status_code=503)
    return JSONResponse({"ok": True})
