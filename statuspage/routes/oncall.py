"""The on-call API: silences and acknowledgements over HTTP, behind the ops token, and the signed
acknowledgement link that messages carry (which needs no token: its signature is the proof).

Each call goes through :class:`~alerting.desk.Desk`, the same rules and audit records as
`paypulse silence` and `paypulse ack`. The routes answer 404 while the app was built without the
on-call desk (``create_app(..., desk=...)``); a mistake is a 422 naming the field and the fix.
"""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from alerting.desk import Desk
from alerting.silences import Silence
from kernel.durations import Duration
from kernel.errors import UsageError
from statuspage.deps import OpsDep

__all__ = ["AckIn", "SilenceIn", "SilenceOut", "link_router", "router"]

router = APIRouter(prefix="/api", tags=["oncall"], dependencies=[OpsDep])
link_router = APIRouter(prefix="/api/ack", tags=["oncall"])


def get_desk(request: Request) -> Desk:
    desk: Desk | None = getattr(request.app.state, "desk", None)
    if desk is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the on-call API is not served by this status page")
    return desk


DeskDep = Annotated[Desk, Depends(get_desk)]


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matchers: dict[str, str] = Field(min_length=1, description="kind, channel, merchant, severity -> value")
    duration: Duration | None = Field(None, description="how long; or give ends_at")
    starts_at: float | None = Field(None, description="epoch seconds; default now")
    ends_at: float | None = Field(None, description="epoch seconds; or give duration")
    comment: str = Field(min_length=1, max_length=500)
    by: str = Field(min_length=1, max_length=100)


class SilenceOut(BaseModel):
    id: str
    matchers: dict[str, str]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    state: str


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str = Field(min_length=1, max_length=100)


def _out(silence: Silence, now: float) -> SilenceOut:
    return SilenceOut(
        id=silence.id,
        matchers=dict(silence.matchers),
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
        created_by=silence.created_by,
        comment=silence.comment,
        state=silence.state(now),
    )


def _refused(err: UsageError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err))


@router.get("/silences", response_model=list[SilenceOut])
def list_silences(desk: DeskDep) -> list[SilenceOut]:
    now = desk.clock.now()
    return [_out(s, now) for s in desk.silences.current()]


@router.post("/silences", response_model=SilenceOut, status_code=status.HTTP_201_CREATED)
def add_silence(body: SilenceIn, desk: DeskDep) -> SilenceOut:
    try:
        silence = desk.silence(
            [f"{name}={value}" for name, value in body.matchers.items()],
            by=body.by,
            comment=body.comment,
            duration=body.duration,
            ends_at=body.ends_at,
            starts_at=body.starts_at,
        )
    except UsageError as err:
        raise _refused(err) from None
    return _out(silence, desk.clock.now())


@router.delete("/silences/{silence_id}", response_model=SilenceOut)
def expire_silence(
    silence_id: str, desk: DeskDep, by: Annotated[str, Query(min_length=1)] = "ops"
) -> SilenceOut:
    try:
        silence = desk.expire(silence_id, by=by)
    except UsageError as err:
        raise _refused(err) from None
    return _out(silence, desk.clock.now())


@router.post("/alerts/{alert_id}/ack")
def ack_alert(alert_id: str, body: AckIn, desk: DeskDep) -> dict[str, object]:
    try:
        entry, ack, made = desk.ack(alert_id, by=body.by, via="api")
    except UsageError as err:
        raise _refused(err) from None
    return {"alert_id": entry.alert.id, "by": ack.by, "at": ack.at, "new": made}


LinkQuery = tuple[int, str, str]


def _link(
    exp: Annotated[int, Query()],
    sig: Annotated[str, Query(min_length=64, max_length=64)],
    by: Annotated[str, Query(max_length=100)] = "",
) -> LinkQuery:
    return exp, sig, by


LinkDep = Annotated[LinkQuery, Depends(_link)]

_CONFIRM = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>PayPulse</title></head>
<body><p>确认告警 {alert_id}（{by}）？ / Acknowledge alert {alert_id} as {by}?</p>
<form method="post"><button type="submit">确认 / Acknowledge</button></form></body></html>
"""


@link_router.get("/{alert_id}", response_class=HTMLResponse)
def confirm_ack_link(alert_id: str, desk: DeskDep, link: LinkDep) -> HTMLResponse:
    """The link in a message opens a page with one button: opening the link changes nothing, since a
    chat app's link preview or a mail scanner fetches it too; the button posts to the same URL."""
    exp, sig, by = link
    try:
        desk.check_ack_link(alert_id, by, exp, sig)
    except UsageError as err:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(err)) from None
    return HTMLResponse(_CONFIRM.format(alert_id=html.escape(alert_id), by=html.escape(by or "link")))


@link_router.post("/{alert_id}")
def ack_by_link(alert_id: str, desk: DeskDep, link: LinkDep) -> dict[str, object]:
    """The button of the link's page: acknowledges when the signature holds and it has not expired."""
    exp, sig, by = link
    try:
        entry, ack, made = desk.ack_by_link(alert_id, by, exp, sig)
    except UsageError as err:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(err)) from None
    return {"alert_id": entry.alert.id, "by": ack.by, "at": ack.at, "new": made}
