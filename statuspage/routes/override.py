"""``POST`` / ``DELETE /api/override``: ops force the banner on or off, behind the ops token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, model_validator

from statuspage.deps import BannerDep, LangDep, OpsDep, WordingDep
from statuspage.incidents import plain_text
from statuspage.routes.status import StatusOut, read_status

__all__ = ["MAX_MINUTES", "OverrideIn", "router"]

router = APIRouter(prefix="/api/override", tags=["override"], dependencies=[OpsDep])

#: The longest override with an end: a week. Longer ones are set without ``minutes``, until cleared.
MAX_MINUTES = 7 * 24 * 60


def _plain_text(value: str) -> str:
    """One line of plain text (:func:`statuspage.incidents.plain_text`); a line break is a mistake here.

    (Pydantic itself refuses lone surrogates, which UTF-8 cannot hold.)
    """
    return plain_text(value, lines=False)


class OverrideIn(BaseModel):
    """What ops send; unknown keys are refused so a typo (``"minute"``) is not silently ignored."""

    model_config = ConfigDict(extra="forbid")

    on: StrictBool = Field(description="true forces the banner on, false forces it off")
    message: Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_plain_text)] | None = Field(
        None, description="shown instead of the default message, in every language; only with on = true"
    )
    minutes: float | None = Field(
        None,
        gt=0,
        le=MAX_MINUTES,
        strict=True,  # a number: not true, not "30"
        allow_inf_nan=False,
        description="the override ends after this long; omit to keep it until cleared",
    )
    by: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_plain_text)] = Field(
        "ops", description="who sets it, kept in the history"
    )

    @model_validator(mode="after")
    def _message_needs_on(self) -> OverrideIn:
        if not self.on and self.message is not None:
            raise ValueError("message is only shown when on is true; drop it to force the banner off")
        return self


@router.post("", response_model=StatusOut)
def set_override(body: OverrideIn, banner: BannerDep, wording: WordingDep, lang: LangDep) -> StatusOut:
    until = None if body.minutes is None else banner.clock.now() + body.minutes * 60
    try:
        banner.override(body.on, body.message, until, by=body.by)
    except ValueError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from None
    return read_status(banner, wording, lang)


@router.delete("", response_model=StatusOut)
def clear_override(banner: BannerDep, wording: WordingDep, lang: LangDep) -> StatusOut:
    """Hand the banner back to the alerts; succeeds whether or not an override was set."""
    banner.clear_override(by="ops")
    return read_status(banner, wording, lang)
