"""Dependencies of the status page routes, named once as ``Annotated`` aliases.

The app carries its settings and banner on ``app.state`` (set by :func:`statuspage.app.create_app`),
so nothing here reads settings at import and tests build as many apps as they like.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from paypulse.settings import StatusPageSettings
from statuspage.auth import ops_refusal
from statuspage.banner import Banner

__all__ = ["BannerDep", "OpsDep", "SettingsDep", "get_banner", "get_settings", "require_ops"]

_bearer = HTTPBearer(auto_error=False, description="statuspage.ops_token")


def get_banner(request: Request) -> Banner:
    banner: Banner = request.app.state.banner
    return banner


def get_settings(request: Request) -> StatusPageSettings:
    settings: StatusPageSettings = request.app.state.settings
    return settings


BannerDep = Annotated[Banner, Depends(get_banner)]
SettingsDep = Annotated[StatusPageSettings, Depends(get_settings)]


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
