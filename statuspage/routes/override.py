"""``POST`` / ``DELETE /api/override``: ops force the banner on or off, behind the ops token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from statuspage.deps import BannerDep, OpsDep
from statuspage.routes.status import StatusOut, read_status

__all__ = ["OverrideIn", "router"]

router = APIRouter(prefix="/api/override", tags=["override"], dependencies=[OpsDep])


class OverrideIn(BaseModel):
    """What ops send; unknown keys are refused so a typo (``"minute"``) is not silently ignored."""

    model_config = ConfigDict(extra="forbid")

    on: StrictBool = Field(description="true forces the banner on, false forces it off")
    message: Annotated[str, Field(min_length=1, max_length=500)] | None = Field(
        None, description="shown instead of the default message; only with on = true"
    )
    minutes: float | None = Field(
        None,
        gt=0,
        le=7 * 24 * 60,
        description="the override ends after this long; omit to keep it until cleared",
    )
    by: str = Field("ops", min_length=1, max_length=100, description="who sets it, kept in the history")

    @model_validator(mode="after")
    def _message_needs_on(self) -> OverrideIn:
        if not self.on and self.message is not None:
            raise ValueError("message is only shown when on is true; drop it to force the banner off")
        if self.message is not None and not self.message.strip():
            raise ValueError("message must not be blank")
        return self


@router.post("", response_model=StatusOut)
def set_override(body: OverrideIn, banner: BannerDep) -> StatusOut:
    until = None if body.minutes is None else banner.clock.now() + body.minutes * 60
    try:
        banner.override(body.on, body.message, until, by=body.by)
    except ValueError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from None
    return read_status(banner)


@router.delete("", response_model=StatusOut)
def clear_override(banner: BannerDep) -> StatusOut:
    """Hand the banner back to the alerts; succeeds whether or not an override was set."""
    banner.clear_override(by="ops")
    return read_status(banner)
