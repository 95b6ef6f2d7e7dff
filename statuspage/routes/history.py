"""``GET /api/history``: the latest banner transitions, newest first."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from statuspage.deps import BannerDep

__all__ = ["HistoryOut", "TransitionOut", "router"]

router = APIRouter(prefix="/api/history", tags=["history"])


class TransitionOut(BaseModel):
    at: float
    on: bool
    channel: str | None
    source: Literal["auto", "override"]
    reason: str
    detail: str


class HistoryOut(BaseModel):
    transitions: list[TransitionOut]


@router.get("", response_model=HistoryOut)
def get_history(
    banner: BannerDep, response: Response, limit: Annotated[int, Query(ge=1, le=500)] = 20
) -> HistoryOut:
    response.headers["Cache-Control"] = "no-store"
    return HistoryOut(transitions=[TransitionOut(**t.to_json()) for t in banner.history(limit)])
