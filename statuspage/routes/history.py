"""``GET /api/history``: the latest banner transitions, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from statuspage.deps import BannerDep, LangDep, WordingDep
from statuspage.routes._private import utc

__all__ = ["HistoryOut", "TransitionOut", "router"]

router = APIRouter(prefix="/api/history", tags=["history"])


class TransitionOut(BaseModel):
    at: datetime
    on: bool
    channel: str | None
    channel_name: str | None = Field(description="the channel as readers call it, in the negotiated language")
    source: Literal["auto", "override"]
    reason: str
    detail: str


class HistoryOut(BaseModel):
    transitions: list[TransitionOut]


@router.get("", response_model=HistoryOut)
def get_history(
    banner: BannerDep,
    wording: WordingDep,
    lang: LangDep,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> HistoryOut:
    response.headers["Cache-Control"] = "no-store"
    return HistoryOut(
        transitions=[
            TransitionOut(
                **{**t.to_json(), "at": utc(t.at)},
                channel_name=None if t.channel is None else wording.channel(lang, t.channel),
            )
            for t in banner.history(limit)
        ]
    )
