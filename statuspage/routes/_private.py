"""Helpers the routes share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

__all__ = ["utc"]


@overload
def utc(epoch: float) -> datetime: ...
@overload
def utc(epoch: None) -> None: ...
@overload
def utc(epoch: float | None) -> datetime | None: ...
def utc(epoch: float | None) -> datetime | None:
    """An epoch time as an aware UTC datetime, which the API sends as ISO 8601 (``...Z``).

    >>> utc(1714521600.0).isoformat(), utc(None)
    ('2024-05-01T00:00:00+00:00', None)
    """
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)
