"""Per-merchant state stays bounded at 100k merchants, and the pooled tail still raises channel alerts.

The engine tracks the heaviest ``windows.top_merchants`` merchants one by one, picked by a
Misra-Gries summary of ``10 x top_merchants`` counters, and counts every other merchant only in
its channel. These tests feed the real :class:`~engine.core.Engine` simulated streams of
99,999 and 1,000 merchants through ``process`` in batches of 1,000 lines, as ``paypulse replay``
does, and check the bounds after every batch: no timing, no RSS, only what the engine holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import msgspec
import orjson
import pytest

from engine.core import Engine
from kernel.alerts import Alert, Scope
from kernel.settings import DetectorSettings, Settings, WindowSettings
from paypulse.simulator import Scenario, Simulator

pytestmark = pytest.mark.integration

TOP = 50  # tracked merchants; the Misra-Gries summary then holds at most 500 counters
START = datetime.fromisoformat("2026-03-02T12:00:00+08:00")  # the noon peak
INCIDENT_START, INCIDENT_END = START + timedelta(minutes=6), START + timedelta(minutes=10)
BATCH = 1000


def _settings(top: int = TOP) -> Settings:
    # a 3-minute warm-up instead of 10 keeps the stream short; everything else is the default
    return Settings(
        windows=WindowSettings(top_merchants=top), detectors=DetectorSettings(warmup=timedelta(minutes=3))
    )


def _stream(merchants: int) -> list[bytes]:
    """13 minutes at 200 payments/s over a flat Zipf tail (exponent 0.6), about 300k lines, with
    WeChat Pay's success rate down 20 points from minute 6 to 10."""
    scenario = Scenario(
        start=START,
        duration="13m",
        seed=3,
        rate_per_s=200,
        merchants={"count": merchants, "zipf_exponent": 0.6},
        incidents=[
            {"kind": "success_rate_drop", "channel": "wechat", "start": "6m", "duration": "4m", "size": 0.2}
        ],
    )
    return list(Simulator(scenario).lines())


class _Run:
    """An engine fed a stream batch by batch, with what the bounds need recorded along the way."""

    def __init__(self, lines: list[bytes], top: int = TOP) -> None:
        self.engine = Engine(_settings(top))
        self.alerts: list[Alert] = []
        self.ever_firing: set[Scope] = set()  # merchant scopes that fired at some point
        self.ever_scoped: set[str] = set()  # merchants that had detectors at some point
        self.max_merchant_scopes = 0
        self.max_heavy = 0
        self.violations: list[str] = []
        for start in range(0, len(lines), BATCH):
            self.alerts += self.engine.process(lines[start : start + BATCH]).alerts
            self._check(start + BATCH)
        self.alerts += self.engine.finish().alerts
        self._check(len(lines))

    def _check(self, seen: int) -> None:
        """Record bound violations after one batch (collected, so a failure shows them all)."""
        engine = self.engine
        self.ever_firing |= {s for _k, s in engine.lifecycle.firing if s.merchant_id is not None}
        tracked = {Scope(None, m) for m in engine.windows.tracked}
        scopes = {s for s in engine.detectors if s.merchant_id is not None}
        self.ever_scoped |= {s.merchant_id for s in scopes if s.merchant_id is not None}
        self.max_merchant_scopes = max(self.max_merchant_scopes, len(scopes))
        self.max_heavy = max(self.max_heavy, len(engine.heavy.counts))
        if len(tracked) > engine.top_merchants:
            self.violations.append(f"after {seen} lines: {len(tracked)} merchants tracked")
        if len(engine.heavy.counts) > engine.heavy.capacity:
            self.violations.append(f"after {seen} lines: {len(engine.heavy.counts)} heavy-hitter counters")
        untracked = scopes - tracked - self.ever_firing
        if untracked:
            names = sorted(str(s.merchant_id) for s in untracked)
            self.violations.append(f"after {seen} lines: detectors for untracked merchants {names}")
        if len(scopes) > engine.top_merchants + len(self.ever_firing):
            self.violations.append(f"after {seen} lines: {len(scopes)} merchant detector scopes")

    def snapshot_bytes(self) -> int:
        return len(orjson.dumps(self.engine.snapshot()))

    def channel_alerts(self, kind: str, channel: str) -> list[tuple[str, datetime]]:
        return [(a.status, a.started_at) for a in self.alerts if a.kind == kind and a.scope == Scope(channel)]


class _Payment(msgspec.Struct):
    type: str
    channel: str
    merchant_id: str | None = None
    event_id: str | None = None


def _payments_by_channel(lines: list[bytes]) -> tuple[dict[str, int], set[str]]:
    """Distinct payments per channel (a retried line counts once) and the merchants that paid."""
    decoder = msgspec.json.Decoder(_Payment)
    seen: set[str | None] = set()
    per_channel: dict[str, int] = {}
    merchants: set[str] = set()
    for line in lines:
        event = decoder.decode(line)
        if event.type != "payment" or event.event_id in seen:
            continue
        seen.add(event.event_id)
        per_channel[event.channel] = per_channel.get(event.channel, 0) + 1
        if event.merchant_id is not None:
            merchants.add(event.merchant_id)
    return per_channel, merchants


@pytest.fixture(scope="module")
def many() -> tuple[list[bytes], _Run]:
    lines = _stream(99_999)
    return lines, _Run(lines)


@pytest.fixture(scope="module")
def few() -> _Run:
    return _Run(_stream(1_000))


def test_tracked_merchants_detectors_and_counters_stay_within_top_k_at_99999_merchants(
    many: tuple[list[bytes], _Run],
) -> None:
    lines, run = many
    _per_channel, merchants = _payments_by_channel(lines)
    assert len(merchants) > 60_000  # most of the 99,999 merchants paid at least once
    assert run.violations == []
    assert run.max_heavy <= 10 * TOP
    assert run.max_merchant_scopes <= TOP + len(run.ever_firing)
    # the bound is not empty: some merchants were busy enough to get their own detectors
    assert run.max_merchant_scopes >= 1


def test_snapshot_at_99999_merchants_is_no_bigger_than_twice_the_one_at_1000(
    many: tuple[list[bytes], _Run], few: _Run
) -> None:
    _lines, run = many
    assert run.snapshot_bytes() <= 2 * few.snapshot_bytes()
    # the merchant-keyed parts on their own, which would carry a per-merchant leak
    big, small = run.engine.snapshot(), few.engine.snapshot()
    for part in ("heavy", "merchant_minutes", "detectors"):
        assert len(orjson.dumps(big[part])) <= 2 * len(orjson.dumps(small[part])) + 10_000, part


def test_the_pooled_tail_is_counted_in_its_channel_and_a_channel_incident_is_still_found(
    many: tuple[list[bytes], _Run], few: _Run
) -> None:
    lines, run = many
    per_channel, _merchants = _payments_by_channel(lines)
    # every payment of every untracked merchant is in its channel's totals: nothing is dropped
    assert {c: o.attempts for c, o in run.engine.totals.items()} == per_channel
    for found in (run, few):
        alerts = found.channel_alerts("success_rate_drop", "wechat")
        assert [status for status, _ in alerts] == ["firing", "resolved"]
        started = alerts[0][1]
        assert INCIDENT_START - timedelta(seconds=30) <= started < INCIDENT_END
        # no other channel is blamed for it
        assert {
            a.scope for a in found.alerts if a.kind == "success_rate_drop" and a.scope.merchant_id is None
        } == {Scope("wechat")}


# -- merchants that leave the top-K ---------------------------------------------------------------


def _rotating_stream(phases: int, busy: int, minutes_per_phase: int, tail_per_minute: int) -> Iterator[bytes]:
    """Each phase, a new set of ``busy`` merchants pays 120 times a minute (all succeeded, each
    with a processed callback a second later) while ``tail_per_minute`` one-off merchants pay once;
    the tail overflows the Misra-Gries counters, so the merchants of past phases lose their counts
    and the top-K moves on to the new ones."""
    t0 = int(START.timestamp() * 1000)
    order = 0
    for phase in range(phases):
        for minute in range(minutes_per_phase):
            base = t0 + (phase * minutes_per_phase + minute) * 60_000
            events = []
            for i in range(120):
                for b in range(busy):
                    merchant = f"busy-{phase}-{b}"
                    ts = base + i * 500 + b
                    events.append((ts, _payment(order, ts, merchant)))
                    events.append((ts + 1000, _callback(order, ts, merchant)))
                    order += 1
            for i in range(tail_per_minute):
                ts = base + i * 60_000 // tail_per_minute
                events.append((ts, _payment(order, ts, f"tail-{order}")))
                events.append((ts + 1000, _callback(order, ts, f"tail-{order}")))
                order += 1
            events.sort(key=lambda e: e[0])
            yield from (line for _ts, line in events)


def _payment(order: int, ts: int, merchant: str) -> bytes:
    return orjson.dumps(
        {
            "type": "payment",
            "event_id": f"p{order}",
            "ts": ts,
            "channel": "alipay",
            "merchant_id": merchant,
            "order_id": f"o{order}",
            "amount": 50.0,
            "status": "succeeded",
        }
    )


def _callback(order: int, paid: int, merchant: str) -> bytes:
    return orjson.dumps(
        {
            "type": "callback",
            "event_id": f"c{order}",
            "ts": paid + 1000,
            "channel": "alipay",
            "merchant_id": merchant,
            "order_id": f"o{order}",
            "paid_at": paid,
            "status": "processed",
        }
    )


def test_merchants_that_leave_the_top_k_leave_no_state_behind() -> None:
    top = 2
    run = _Run(list(_rotating_stream(phases=12, busy=top, minutes_per_phase=3, tail_per_minute=600)), top=top)
    engine = run.engine
    # the premise: the top-K moved on many times, and no merchant alert kept a scope alive
    assert len({m.split("-")[1] for m in run.ever_scoped if m.startswith("busy-")}) >= 8
    assert run.ever_firing == set()
    assert run.violations == []
    # what the engine still keeps per merchant is bounded by the merchants tracked now
    tracked = {Scope(None, m) for m in engine.windows.tracked}
    assert {s for s in engine.history if s.merchant_id is not None} <= tracked
    assert {s for _kind, s in engine.scores if s.merchant_id is not None} <= tracked
