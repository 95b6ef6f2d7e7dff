"""``/api/incidents``: ops post incidents and their updates (with the ops token); anyone reads them.

``POST /api/incidents`` opens one with its first update, ``POST /api/incidents/{id}/updates``
adds an update (``"state": "resolved"`` closes it), ``GET /api/incidents`` lists the latest and
``GET /api/incidents/{id}`` reads one. Titles and messages are given per language, zh-CN
required: ``{"zh-CN": "...", "en": "..."}``. Answers: 404 for an unknown id, 409 for an update to a
resolved incident, 422 naming the field for a bad value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from statuspage.deps import IncidentsDep, LangDep, OpsDep, WordingDep
from statuspage.i18n import LANGUAGES
from statuspage.incidents import (
    MAX_BY,
    MAX_CHANNELS,
    MAX_MESSAGE,
    MAX_TITLE,
    Incident,
    IncidentError,
    State,
    plain_text,
)
from statuspage.routes._private import utc
from statuspage.wording import Wording

__all__ = ["IncidentIn", "IncidentOut", "IncidentsOut", "UpdateIn", "router"]

router = APIRouter(prefix="/api/incidents", tags=["incidents"])

_STATUS = {"not_found": 404, "resolved": 409}  # every other IncidentError reason is a 422


def _line(value: str) -> str:
    return plain_text(value, lines=False)


def _lines(value: str) -> str:
    return plain_text(value, lines=True)


TitleText = Annotated[str, Field(min_length=1, max_length=MAX_TITLE), AfterValidator(_line)]
MessageText = Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE), AfterValidator(_lines)]
ChannelId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
By = Annotated[
    str,
    Field(min_length=1, max_length=MAX_BY, description="who posts it; kept, not shown"),
    AfterValidator(_line),
]


class TitleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zh_CN: TitleText = Field(alias="zh-CN")
    en: TitleText | None = None


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zh_CN: MessageText = Field(alias="zh-CN")
    en: MessageText | None = None


class IncidentIn(BaseModel):
    """A new incident and its first update; unknown keys are refused, so a typo is not ignored."""

    model_config = ConfigDict(extra="forbid")

    title: TitleIn
    message: MessageIn
    state: Literal["investigating", "identified", "monitoring"] = "investigating"
    channels: list[ChannelId] = Field(default_factory=list, max_length=MAX_CHANNELS)
    by: By = "ops"


class UpdateIn(BaseModel):
    """One update; ``resolved`` is the last an incident takes."""

    model_config = ConfigDict(extra="forbid")

    state: State
    message: MessageIn
    by: By = "ops"


class UpdateOut(BaseModel):
    id: int
    state: State
    state_label: str = Field(description="the state's name in the negotiated language")
    message: dict[str, str] = Field(description="language -> text; zh-CN always, en when given")
    at: datetime


class IncidentOut(BaseModel):
    id: int
    title: dict[str, str]
    channels: list[str]
    channel_names: list[str] = Field(description="the channels as readers call them, in lang")
    state: State
    state_label: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    updates: list[UpdateOut] = Field(description="newest first")


class IncidentsOut(BaseModel):
    lang: str
    incidents: list[IncidentOut] = Field(description="unresolved first, then by latest update")


def incident_out(incident: Incident, wording: Wording, lang: str) -> IncidentOut:
    return IncidentOut(
        id=incident.id,
        title=dict(incident.title),
        channels=list(incident.channels),
        channel_names=wording.channels(lang, incident.channels),
        state=incident.state,  # type: ignore[arg-type]
        state_label=wording.state(lang, incident.state),
        created_at=utc(incident.created_at),
        updated_at=utc(incident.updated_at),
        resolved_at=utc(incident.resolved_at),
        updates=[
            UpdateOut(
                id=u.id,
                state=u.state,  # type: ignore[arg-type]
                state_label=wording.state(lang, u.state),
                message=dict(u.message),
                at=utc(u.at),
            )
            for u in incident.updates
        ],
    )


def _texts(texts: TitleIn | MessageIn) -> dict[str, str | None]:
    return {lang: value for lang, value in texts.model_dump(by_alias=True).items() if lang in LANGUAGES}


def _refused(err: IncidentError) -> HTTPException:
    return HTTPException(_STATUS.get(err.reason, 422), str(err))


IncidentId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("", response_model=IncidentsOut)
def list_incidents(
    incidents: IncidentsDep,
    wording: WordingDep,
    lang: LangDep,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> IncidentsOut:
    response.headers["Cache-Control"] = "no-store"
    return IncidentsOut(
        lang=lang, incidents=[incident_out(i, wording, lang) for i in incidents.latest(limit)]
    )


@router.get("/{incident_id}", response_model=IncidentOut)
def get_incident(
    incident_id: IncidentId, incidents: IncidentsDep, wording: WordingDep, lang: LangDep, response: Response
) -> IncidentOut:
    response.headers["Cache-Control"] = "no-store"
    try:
        return incident_out(incidents.get(incident_id), wording, lang)
    except IncidentError as err:
        raise _refused(err) from None


@router.post("", response_model=IncidentOut, status_code=201, dependencies=[OpsDep])
def open_incident(
    body: IncidentIn, incidents: IncidentsDep, wording: WordingDep, lang: LangDep
) -> IncidentOut:
    try:
        incident = incidents.open(
            _texts(body.title), _texts(body.message), state=body.state, channels=body.channels, by=body.by
        )
    except IncidentError as err:
        raise _refused(err) from None
    return incident_out(incident, wording, lang)


@router.post("/{incident_id}/updates", response_model=IncidentOut, status_code=201, dependencies=[OpsDep])
def add_update(
    incident_id: IncidentId, body: UpdateIn, incidents: IncidentsDep, wording: WordingDep, lang: LangDep
) -> IncidentOut:
    try:
        incident = incidents.update(incident_id, body.state, _texts(body.message), by=body.by)
    except IncidentError as err:
        raise _refused(err) from None
    return incident_out(incident, wording, lang)
