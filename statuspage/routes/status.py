"""``GET /api/status``: the banner as JSON, polled by the page and by merchants' embed script."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel

from statuspage.banner import Banner
from statuspage.deps import BannerDep

__all__ = ["StatusOut", "read_status", "router"]

router = APIRouter(prefix="/api/status", tags=["status"])


class StatusOut(BaseModel):
    on: bool
    channels: list[str]
    message: str | None
    since: float | None
    source: Literal["auto", "override", "none"]
    override_until: float | None
    hold_until: float | None
    updated_at: float | None


def read_status(banner: Banner) -> StatusOut:
    """The banner state now, plus when it last changed."""
    state = banner.state()
    return StatusOut(**state.to_json(), updated_at=banner.updated_at())


@router.get("", response_model=StatusOut)
def get_status(banner: BannerDep, response: Response) -> StatusOut:
    """Never cached: a stale "all is well" is the one thing this page must not show."""
    response.headers["Cache-Control"] = "no-store"
    return read_status(banner)
