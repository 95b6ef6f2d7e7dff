"""Scripted incidents: what each kind does to the traffic of its scope during its window.

An incident touches only events whose own time falls in ``[start, end)`` and whose channel
and merchant match its scope, so an evaluation can say exactly where an alert should fire.
Where it costs little the effect is made realistic: failed payments and missing callbacks
also bring a few ``paid_not_updated`` complaints, as real customers write in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np

from paypulse.simulator.scenario import Scenario
from paypulse.simulator.traffic import Traffic

__all__ = ["ActiveIncident", "Incidents", "compile_incidents", "label_of"]

#: Chance that one extra failed payment (success-rate incident) turns into a complaint.
COMPLAINT_PER_EXTRA_FAILURE: Final = 0.004
#: Chance that one stuck payment (no callback) turns into a complaint.
COMPLAINT_PER_STUCK: Final = 0.005


@dataclass(frozen=True, slots=True)
class ActiveIncident:
    """An incident resolved against the scenario: indices instead of names, epoch-ms window."""

    kind: str
    channel: int | None  # index into the scenario's channels
    merchant: int | None  # merchant rank - 1
    start_ms: int
    end_ms: int
    size: float
    category: str

    def overlaps(self, t0: int, t1: int) -> bool:
        return self.start_ms < t1 and t0 < self.end_ms

    def mask(self, ts: np.ndarray, channel: np.ndarray, merchant: np.ndarray) -> np.ndarray:
        """Which events are in this incident's scope and window."""
        hit = (ts >= self.start_ms) & (ts < self.end_ms)
        if self.channel is not None:
            hit &= channel == self.channel
        if self.merchant is not None:
            hit &= merchant == self.merchant
        return hit


def compile_incidents(scenario: Scenario) -> list[ActiveIncident]:
    """Resolve every incident of the scenario, and every day of its habits, to indices and
    epoch-ms windows."""
    names = [c.name for c in scenario.channels]
    compiled = []
    local_start = scenario.start.astimezone(scenario.daily.tz)
    habits = [i for h in scenario.habits for i in h.incidents(local_start, scenario.duration.days + 1)]
    for inc in (*scenario.incidents, *habits):
        begin, end = inc.window(scenario.start)
        compiled.append(
            ActiveIncident(
                kind=inc.kind,
                channel=None if inc.channel is None else names.index(inc.channel),
                merchant=None if inc.merchant_id is None else int(inc.merchant_id[1:]) - 1,
                start_ms=_ms(begin),
                end_ms=_ms(end),
                size=inc.size,
                category=inc.category or "paid_not_updated",
            )
        )
    return compiled


def label_of(scenario: Scenario, index: int) -> dict[str, Any] | None:
    """The evaluation label of incident ``index``, clipped to the simulated time, or None if outside."""
    inc = scenario.incidents[index]
    begin, end = inc.window(scenario.start)
    sim_start = scenario.start.astimezone(UTC)
    sim_end = sim_start + scenario.duration
    begin, end = max(begin, sim_start), min(end, sim_end)
    if begin >= end:
        return None
    return {
        "kind": inc.kind,
        "scope": {"channel": inc.channel, "merchant_id": inc.merchant_id},
        "start": _iso(begin),
        "end": _iso(end),
    }


class Incidents:
    """The incidents active in one block of event time, applied to arrays of events."""

    def __init__(self, incidents: list[ActiveIncident], traffic: Traffic, t0: int, t1: int) -> None:
        self._all = [inc for inc in incidents if inc.overlaps(t0, t1)]
        self._traffic = traffic

    def __bool__(self) -> bool:
        return bool(self._all)

    def of(self, kind: str) -> list[ActiveIncident]:
        return [inc for inc in self._all if inc.kind == kind]

    def total(self, kind: str, ts: np.ndarray, channel: np.ndarray, merchant: np.ndarray) -> np.ndarray:
        """Sum of the sizes of ``kind`` incidents hitting each event (0 where none)."""
        out = np.zeros(ts.size)
        for inc in self.of(kind):
            out[inc.mask(ts, channel, merchant)] += inc.size
        return out

    def factor(self, kind: str, ts: np.ndarray, channel: np.ndarray, merchant: np.ndarray) -> np.ndarray:
        """Product of the sizes of ``kind`` incidents hitting each event (1 where none)."""
        out = np.ones(ts.size)
        for inc in self.of(kind):
            out[inc.mask(ts, channel, merchant)] *= inc.size
        return out

    def probability(
        self, kind: str, base: float, ts: np.ndarray, channel: np.ndarray, merchant: np.ndarray
    ) -> np.ndarray:
        """Per-event probability: the largest of ``base`` and the sizes of ``kind`` incidents."""
        out = np.full(ts.size, base)
        for inc in self.of(kind):
            hit = inc.mask(ts, channel, merchant)
            out[hit] = np.maximum(out[hit], inc.size)
        return out

    def keep_after_drop(
        self, rng: np.random.Generator, ts: np.ndarray, channel: np.ndarray, merchant: np.ndarray
    ) -> np.ndarray:
        """volume_drop: which payments survive (each is removed with probability ``size``)."""
        keep = np.ones(ts.size, dtype=bool)
        for inc in self.of("volume_drop"):
            hit = inc.mask(ts, channel, merchant)
            keep[hit & (rng.random(ts.size) < inc.size)] = False
        return keep

    def spike_arrivals(
        self, rng: np.random.Generator, second_starts: np.ndarray, rates: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """volume_spike: extra payments in scope, so its volume becomes ``size`` times normal."""
        return self._extra(
            rng,
            "volume_spike",
            second_starts,
            lambda inc: rates * (inc.size - 1.0) * self._scope_share(inc),
        )

    def spike_complaints(
        self, rng: np.random.Generator, second_starts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """complaint_spike: ``size`` extra complaints per minute in scope, with its category."""
        parts = []
        for inc in self.of("complaint_spike"):
            rates = np.full(second_starts.size, inc.size / 60.0)
            ts, ch, mer = self._extra(
                rng, "complaint_spike", second_starts, lambda _, rates=rates: rates, only=inc
            )
            parts.append((ts, ch, mer, [inc.category] * ts.size))
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, []
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
            [c for p in parts for c in p[3]],
        )

    def _scope_share(self, inc: ActiveIncident) -> float:
        share = 1.0
        if inc.channel is not None:
            share *= self._traffic.channel_shares[inc.channel]
        if inc.merchant is not None:
            share *= self._traffic.merchant_shares[inc.merchant]
        return float(share)

    def _extra(
        self,
        rng: np.random.Generator,
        kind: str,
        second_starts: np.ndarray,
        rates_of: Callable[[ActiveIncident], np.ndarray],
        only: ActiveIncident | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Poisson arrivals in each incident's scope and window, at the rates ``rates_of(inc)``."""
        ts_parts, ch_parts, mer_parts = [], [], []
        for inc in [only] if only is not None else self.of(kind):
            active = (second_starts >= inc.start_ms) & (second_starts < inc.end_ms)
            ts = self._traffic.arrivals(rng, second_starts[active], rates_of(inc)[active])
            n = ts.size
            ch = (
                np.full(n, inc.channel, dtype=np.int64)
                if inc.channel is not None
                else self._traffic.channels(rng, n)
            )
            mer = (
                np.full(n, inc.merchant, dtype=np.int64)
                if inc.merchant is not None
                else self._traffic.merchants(rng, n)
            )
            ts_parts.append(ts)
            ch_parts.append(ch)
            mer_parts.append(mer)
        if not ts_parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        return np.concatenate(ts_parts), np.concatenate(ch_parts), np.concatenate(mer_parts)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _iso(when: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``.

    >>> _iso(datetime(2026, 3, 2, 1, 20, tzinfo=UTC))
    '2026-03-02T01:20:00Z'
    """
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{when.microsecond // 1000:03d}Z" if when.microsecond else "Z"
    )
