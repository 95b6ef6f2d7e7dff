"""The run: a shop's traffic over whole days, block by block, into a JSON Lines stream.

Each 5-minute block draws its payments, their callbacks and the complaints they will cause,
applies the incidents, encodes the lines, gives each its arrival time and puts it in a
:class:`~benchmarks.world.delivery.Pending` buffer; the lines that arrive before the block ends go
out. So memory holds one block plus what is still in flight, whatever the run's length, and the
stream ends at the end of the last day (what arrives later is cut, as a recording would be).

Every random draw comes from a generator seeded by ``(seed, part)`` or ``(seed, block)``: the
same configuration always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import numpy as np
import orjson

from benchmarks.world.callbacks import draw_callbacks
from benchmarks.world.complaints import draw_complaints
from benchmarks.world.delivery import Pending, duplicate, transit_ms
from benchmarks.world.encode import Encoder
from benchmarks.world.incidents import Incident
from benchmarks.world.merchants import Merchants
from benchmarks.world.payments import draw_payments
from benchmarks.world.plan import parse_incidents, place_incidents
from benchmarks.world.records import concat
from benchmarks.world.traffic import Traffic

__all__ = ["Counts", "World", "WorldConfig", "write_world"]

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class WorldConfig:
    """What to generate: a shop peaking at ``peak`` payments/s for ``days`` from local midnight."""

    peak: float = 4.0
    days: int = 1
    start: date = date(2026, 3, 2)
    seed: int = 7
    merchants: int = 300
    incidents: str = ""  # see benchmarks.world.plan
    block_s: int = 300

    def __post_init__(self) -> None:
        if not self.peak > 0:
            raise ValueError(f"peak must be > 0 payments/s (got {self.peak})")
        if self.days < 1 or self.merchants < 10 or self.block_s < 10:
            raise ValueError("days must be >= 1, merchants >= 10 and block_s >= 10")


@dataclass
class Counts:
    """What a run generated (events) and wrote (lines: less what would arrive after the end)."""

    lines: int = 0
    payments: int = 0
    callbacks: int = 0
    complaints: int = 0
    duplicates: int = 0


class World:
    """One configured run; :meth:`lines` streams it, :meth:`labels` says what was scripted."""

    def __init__(self, config: WorldConfig) -> None:
        self.config = config
        seed = config.seed
        midnight = datetime.combine(config.start, time(0), tzinfo=LOCAL_ZONE)
        self.start_ms = int(midnight.astimezone(UTC).timestamp() * 1000)
        self.end_ms = self.start_ms + config.days * _DAY_MS
        self.traffic = Traffic(config.peak, self.start_ms, config.days, np.random.default_rng([seed, 1]))
        self.merchants = Merchants(config.merchants, np.random.default_rng([seed, 2]))
        self.incidents: list[Incident] = place_incidents(
            parse_incidents(config.incidents),
            self.start_ms,
            config.days,
            self.merchants,
            config.peak,
            np.random.default_rng([seed, 3]),
        )
        self.encoder = Encoder(self.merchants.ids, tag=f"w{seed}")
        self.counts = Counts()

    def labels(self) -> list[dict[str, Any]]:
        """One label per scripted incident, in time order."""
        return [i.label() for i in sorted(self.incidents, key=lambda i: i.start_ms)]

    def blocks(self) -> Iterator[list[str]]:
        """The stream in arrival order, a block's worth of lines at a time (lines without newline)."""
        pending = Pending()
        block_ms = self.config.block_s * 1000
        next_order = 0
        counts = self.counts
        for index, t0 in enumerate(range(self.start_ms, self.end_ms, block_ms)):
            t1 = min(t0 + block_ms, self.end_ms)
            rng = np.random.default_rng([self.config.seed, 100, index])
            pay = draw_payments(self.traffic, self.merchants, self.incidents, t0, t1, next_order, rng)
            next_order += len(pay)
            cb = draw_callbacks(pay, self.incidents, rng)
            parts = [draw_complaints(pay, rng)]
            for incident in self.incidents:
                extra = incident.complaints(t0, t1, rng, next_order)
                if extra is not None:
                    parts.append(extra)
            comp = concat(parts)
            for ts, lines, resent in (
                (pay.ts_ms, self.encoder.payments(pay), True),
                (cb.ts_ms, self.encoder.callbacks(cb), True),
                (comp.ts_ms, self.encoder.complaints(comp), False),
            ):
                arrival = ts + transit_ms(len(ts), rng)
                pending.add(arrival, lines)
                if resent:
                    again, copies = duplicate(arrival, lines, rng)
                    pending.add(again, copies)
                    counts.duplicates += len(copies)
            counts.payments += len(pay)
            counts.callbacks += len(cb)
            counts.complaints += len(comp)
            out = pending.before(t1)
            counts.lines += len(out)
            yield out
        # what would arrive after the last day is not part of the recording

    def lines(self) -> Iterator[str]:
        for block in self.blocks():
            yield from block


def write_world(config: WorldConfig, out: IO[bytes] | Path, labels_out: Path | None = None) -> World:
    """Write ``config``'s stream to ``out`` (a path or a binary file) and its labels to ``labels_out``."""
    world = World(config)
    if labels_out is not None:
        labels_out.write_bytes(b"".join(orjson.dumps(label) + b"\n" for label in world.labels()))
    if isinstance(out, Path):
        with out.open("wb") as f:
            _write(world, f)
    else:
        _write(world, out)
    return world


def _write(world: World, f: IO[bytes]) -> None:
    for block in world.blocks():
        if block:
            f.write(("\n".join(block) + "\n").encode())
