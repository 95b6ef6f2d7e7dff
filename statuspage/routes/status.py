"""``GET /api/status``: the banner as JSON, polled by the page and by merchants' embed script.

``channels`` are ids, for machines (the embed filters on them); ``channel_names`` and ``message``
are what a reader sees, in the negotiated ``lang``. Times are ISO 8601 in UTC; the page and the
embed show them in the reader's own time zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from statuspage.banner import Banner
from statuspage.deps import BannerDep, LangDep, WordingDep
from statuspage.routes._private import utc
from statuspage.wording import Wording

__all__ = ["StatusOut", "read_status", "router"]

router = APIRouter(prefix="/api/status", tags=["status"])


class StatusOut(BaseModel):
    on: bool
    channels: list[str] = Field(description="affected channel ids; ['all'] for every payment method")
    channel_names: list[str] = Field(description="what readers call them, in lang; never ids")
    message: str | None = Field(description="the banner's text in lang, or ops' own words")
    lang: str
    since: datetime | None
    source: Literal["auto", "override", "none"]
    override_until: datetime | None
    hold_until: datetime | None
    updated_at: datetime | None


def read_status(banner: Banner, wording: Wording, lang: str) -> StatusOut:
    """The banner state now, in ``lang``, plus when it last changed.

    The banner's own message is replaced by its text in ``lang``; a message ops gave with an
    override is theirs and shown as they wrote it.
    """
    state = banner.state()
    message = state.message
    if message is not None and message == banner.message:
        message = wording.banner_message(lang)
    return StatusOut(
        on=state.on,
        channels=list(state.channels),
        channel_names=wording.channels(lang, state.channels),
        message=message,
        lang=lang,
        since=utc(state.since),
        source=state.source,
        override_until=utc(state.override_until),
        hold_until=utc(state.hold_until),
        updated_at=utc(banner.updated_at()),
    )


@router.get("", response_model=StatusOut)
def get_status(banner: BannerDep, wording: WordingDep, lang: LangDep, response: Response) -> StatusOut:
    """Never cached: a stale "all is well" is the one thing this page must not show."""
    response.headers["Cache-Control"] = "no-store"
    return read_status(banner, wording, lang)
