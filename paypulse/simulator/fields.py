"""The building blocks of scenario files: strict tables and durations written as people say them."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Final

from pydantic import BaseModel, BeforeValidator, ConfigDict

__all__ = ["Duration", "Table", "parse_duration"]

_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")
_UNIT_S: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> timedelta:
    """Read a duration written as ``"1h30m"``, ``"20m"``, ``"90s"``, ``"250ms"`` or a number of seconds.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    >>> parse_duration(2.5)
    datetime.timedelta(seconds=2, microseconds=500000)
    >>> parse_duration("soon")
    Traceback (most recent call last):
    ...
    ValueError: 'soon' is not a duration; write it like '20m', '1h30m', '90s' or '250ms'
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        parts = _DURATION.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            return timedelta(seconds=sum(float(n) * _UNIT_S[u] for n, u in parts))
    raise ValueError(f"{value!r} is not a duration; write it like '20m', '1h30m', '90s' or '250ms'")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class Table(BaseModel):
    """A scenario table: frozen, and a key it does not know is an error naming it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
