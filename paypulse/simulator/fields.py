"""The building blocks of scenario files: strict tables and durations written as people say them.

Durations are :mod:`kernel.durations`' (``"20m"``, ``"1h30m"``, ``90``, ``"PT90S"``), re-exported here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

# Scenario files read durations with the same parser as the settings and `--duration`.
from kernel.durations import Duration, parse_duration

__all__ = ["Duration", "Table", "parse_duration"]


class Table(BaseModel):
    """A scenario table: frozen, and a key it does not know is an error naming it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
