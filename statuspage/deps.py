"""Dependencies of the status page routes, named once as ``Annotated`` aliases.

The app carries its settings and banner on ``app.state`` (set by :func:`statuspage.app.create_app`),
so nothing here reads settings at import and tests build as many apps as they like.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kernel.settings import StatusPageSettings
from statuspage.auth import ops_refusal
from statuspage.banner import Banner
from statuspage.i18n import COOKIE, LANGUAGES, negotiate
from statuspage.incidents import Incidents
from statuspage.wording import Wording

__all__ = [
    "BannerDep",
    "IncidentsDep",
    "LangDep",
    "OpsDep",
    "SettingsDep",
    "WordingDep",
    "get_banner",
    "get_incidents",
    "get_lang",
    "get_settings",
    "get_wording",
    "require_ops",
    "say_language",
]

_bearer = HTTPBearer(auto_error=False, description="statuspage.ops_token")


def get_banner(request: Request) -> Banner:
    banner: Banner = request.app.state.banner
    return banner


def get_settings(request: Request) -> StatusPageSettings:
    settings: StatusPageSettings = request.app.state.settings
    return settings


def get_incidents(request: Request) -> Incidents:
    incidents: Incidents = request.app.state.incidents
    return incidents


def get_wording(request: Request) -> Wording:
    wording: Wording = request.app.state.wording
    return wording


def get_lang(
    request: Request,
    response: Response,
    lang: Annotated[
        str | None,
        Query(description=f"{' or '.join(LANGUAGES)}; any other value falls back to the reader's language"),
    ] = None,
) -> str:
    """The reader's language: ``?lang=``, the language switch's cookie, ``Accept-Language``, zh-CN.

    Says so in the response headers (see :func:`say_language`), for routes returning data;
    a route returning its own Response calls :func:`say_language` itself.
    """
    chosen = negotiate(
        query=lang, cookie=request.cookies.get(COOKIE), accept_language=request.headers.get("accept-language")
    )
    say_language(response, chosen)
    return chosen


def say_language(response: Response, lang: str) -> None:
    """``Content-Language``, and ``Vary`` so a cache never serves one reader's language to another."""
    response.headers["Content-Language"] = lang
    response.headers.add_vary_header("Accept-Language")
    response.headers.add_vary_header("Cookie")


BannerDep = Annotated[Banner, Depends(get_banner)]
SettingsDep = Annotated[StatusPageSettings, Depends(get_settings)]
IncidentsDep = Annotated[Incidents, Depends(get_incidents)]
WordingDep = Annotated[Wording, Depends(get_wording)]
LangDep = Annotated[str, Depends(get_lang)]


def require_ops(
    request: Request,
    settings: SettingsDep,
    _scheme: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> None:
    """Let only ops change the banner: 403 while no token is configured, 401 for a missing or wrong one.

    :class:`statuspage.auth.OpsGuard` has applied the same rule before the body was read; this
    second check keeps the routes guarded wherever they are mounted. ``_scheme`` only declares
    the bearer scheme in the OpenAPI document.
    """
    token = settings.ops_token.get_secret_value() if settings.ops_token is not None else ""
    header = request.headers.get("authorization")
    refusal = ops_refusal(token, None if header is None else header.encode("latin-1"))
    if refusal is not None:
        raise HTTPException(refusal.status, refusal.detail, headers=refusal.headers or None)


OpsDep = Depends(require_ops)
