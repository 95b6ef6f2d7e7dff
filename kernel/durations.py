"""Durations, written one way everywhere: settings, scenario files and ``--duration`` options.

One parser reads every duration PayPulse is given, so ``lateness = "30s"`` in ``paypulse.toml``,
``duration = "1h30m"`` in a scenario and ``PAYPULSE_WINDOWS__LATENESS=30`` in the environment all
mean what they say. It accepts three spellings of the same thing:

* seconds as a number: ``30``, ``0.2`` (or the same as a string, which is all an environment
  variable can hold: ``"30"``);
* the units people write: ``"500ms"``, ``"30s"``, ``"5m"``, ``"1h30m"``, ``"2d"`` (largest unit
  first, each at most once);
* ISO 8601: ``"PT30S"``, ``"PT5M"``, ``"PT1H30M"``, ``"P1D"``.

A duration is never negative. Whether zero or a week makes sense depends on the setting, so
range checks stay with each field (``Field(gt=..., le=...)``); this module only reads.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any, Final

from pydantic import BeforeValidator

__all__ = ["Duration", "format_duration", "parse_duration"]

_NUMBER: Final = r"(\d+(?:\.\d+)?)"
_SECONDS: Final = re.compile(rf"[+-]?{_NUMBER[1:-1]}")
_UNITS: Final = re.compile(rf"(?:{_NUMBER}d)?(?:{_NUMBER}h)?(?:{_NUMBER}m)?(?:{_NUMBER}s)?(?:{_NUMBER}ms)?")
_UNIT_S: Final = (86_400.0, 3_600.0, 60.0, 1.0, 0.001)
_ISO: Final = re.compile(
    rf"P(?:{_NUMBER}W)?(?:{_NUMBER}D)?(?:T(?=\d)(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?", re.I
)
_ISO_S: Final = (604_800.0, 86_400.0, 3_600.0, 60.0, 1.0)
_HOW: Final = "write it like '20m', '1h30m', '90s', '250ms', 30 (seconds) or 'PT30S'"


def parse_duration(value: Any) -> timedelta:
    """Read a duration: seconds as a number, ``"1h30m"``-style units, or ISO 8601 (``"PT30S"``).

    Why one parser: a setting, a scenario file and a command-line option that each accept a
    different spelling of "five minutes" is a trap; this is the only place durations are read.

    >>> parse_duration(30), parse_duration("30"), parse_duration("30s"), parse_duration("PT30S")
    (datetime.timedelta(seconds=30), datetime.timedelta(seconds=30), \
datetime.timedelta(seconds=30), datetime.timedelta(seconds=30))
    >>> parse_duration("1h30m") == parse_duration("PT1H30M") == parse_duration(5400)
    True
    >>> parse_duration("500ms"), parse_duration(0.2)
    (datetime.timedelta(microseconds=500000), datetime.timedelta(microseconds=200000))
    >>> parse_duration("soon")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: 'soon' is not a duration; write it like '20m', '1h30m', '90s', '250ms', ... or 'PT30S'
    >>> parse_duration(-30)
    Traceback (most recent call last):
    ...
    ValueError: -30 is not a duration: durations cannot be negative
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _seconds_in(value.strip().replace(" ", ""), value)
    else:
        raise ValueError(f"{value!r} is not a duration; {_HOW}")
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError(f"{value!r} is not a duration; {_HOW}")
    if seconds < 0:
        raise ValueError(f"{value!r} is not a duration: durations cannot be negative")
    try:
        return value if isinstance(value, timedelta) else timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{value!r} is too long to be a duration") from None


def _seconds_in(text: str, value: str) -> float:
    """Seconds in a duration string, negative if it starts with ``-``; ValueError if it is not one."""
    if _SECONDS.fullmatch(text):
        return float(text)
    sign, body = (-1.0, text[1:]) if text.startswith("-") else (1.0, text)
    for pattern, units in ((_UNITS, _UNIT_S), (_ISO, _ISO_S)):
        match = pattern.fullmatch(body)
        if match and any(match.groups()):
            return sign * sum(float(n) * unit for n, unit in zip(match.groups(), units, strict=True) if n)
    raise ValueError(f"{value!r} is not a duration; {_HOW}")


def format_duration(duration: timedelta) -> str:
    """The shortest way to write ``duration`` that :func:`parse_duration` reads back.

    Used in messages, so a limit reads ``1h`` rather than ``1:00:00``.

    >>> [format_duration(timedelta(seconds=s)) for s in (0, 0.5, 30, 300, 5400, 86400, 90061.25)]
    ['0s', '500ms', '30s', '5m', '1h30m', '1d', '90061.25s']
    >>> parse_duration(format_duration(timedelta(hours=25))) == timedelta(hours=25)
    True
    """
    if duration < timedelta(0):
        return "-" + format_duration(-duration)
    micro = duration // timedelta(microseconds=1)
    if micro % 1_000_000:
        if micro < 1_000_000 and not micro % 1000:
            return f"{micro // 1000}ms"
        return f"{micro / 1_000_000:.6f}".rstrip("0") + "s"
    seconds = micro // 1_000_000
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


#: A ``timedelta`` field read by :func:`parse_duration`; bound it with ``Field(gt=..., le=...)``.
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
