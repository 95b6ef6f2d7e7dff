"""A second, independent model of a payment shop's traffic, for judging detection only.

PayPulse's own simulator is what its detectors were tuned on; a detector that only works there
is fitted to one author's idea of traffic. This package is written from a plain description of a
shop (four channels, a daily and weekly rhythm, a few hundred merchants of very different sizes,
callbacks with retries, complaints, late and repeated events) and of incidents, and it is used to
evaluate, never to choose defaults. ``python -m benchmarks.world --help`` writes a stream and its
labels; :class:`World` does the same in-process.

Modules, one job each: ``channels`` (what is usual per channel), ``traffic`` (the daily, weekly
and slow rhythm), ``merchants``, ``payments``, ``callbacks``, ``complaints``, ``incidents`` (what
each kind does, and its label), ``plan`` (``--incidents`` parsed and placed), ``delivery``
(transit delays, duplicates, arrival order), ``encode`` (JSON Lines) and ``world`` (the run).
"""

from benchmarks.world.incidents import KINDS, Incident
from benchmarks.world.plan import DAY_PLAN, PlanError, parse_incidents
from benchmarks.world.world import Counts, World, WorldConfig, write_world

__all__ = [
    "DAY_PLAN",
    "KINDS",
    "Counts",
    "Incident",
    "PlanError",
    "World",
    "WorldConfig",
    "parse_incidents",
    "write_world",
]
