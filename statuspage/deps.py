"""Dependencies of the status page routes, named once as ``Annotated`` aliases.

The app carries its settings and banner on ``app.state`` (set by :func:`statuspage.app.create_app`),
so nothing here reads settings at import and tests build as many apps as they like.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from paypulse.settings import StatusPageSettings
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
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let only ops change the banner: 403 while no token is configured, 401 for a missing or wrong one.

    The token is compared in constant time, so response timing does not leak it.
    """
    token = settings.ops_token.get_secret_value() if settings.ops_token is not None else ""
    if not token:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "the override API is disabled: set statuspage.ops_token "
            "(or PAYPULSE_STATUSPAGE__OPS_TOKEN) to enable it",
        )
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing header Authorization: Bearer <statuspage.ops_token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not secrets.compare_digest(credentials.credentials.encode(), token.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the bearer token is not statuspage.ops_token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )


OpsDep = Depends(require_ops)
