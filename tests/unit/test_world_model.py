"""The evaluation traffic model (benchmarks/world): valid events, the shape asked for, honest labels.

One two-day stream at a peak of 2 payments/s with the full day of incidents is generated once for
the module (about 180,000 lines, a second or two) and parsed by the product's own parser; the rest
works on single blocks or on the model's parts.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import orjson
import pytest

from benchmarks.world import DAY_PLAN, KINDS, PlanError, World, WorldConfig, parse_incidents
from benchmarks.world.__main__ import main as world_main
from benchmarks.world.callbacks import draw_callbacks
from benchmarks.world.payments import draw_payments
from benchmarks.world.records import concat
from kernel.events import Callback, Complaint, Payment, parse_batch

pytestmark = pytest.mark.integration  # long streams through the engine or simulator: not the fast loop

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
LOCAL_MS = 8 * HOUR_MS


@pytest.fixture(scope="module")
def two_days() -> tuple[World, list[bytes]]:
    world = World(WorldConfig(peak=2.0, days=2, seed=11, incidents="all"))
    lines = [line.encode() for line in world.lines()]
    return world, lines


@pytest.fixture(scope="module")
def parsed(two_days: tuple[World, list[bytes]]) -> list:
    events, _raws, dead = parse_batch(two_days[1])
    assert dead == []
    return events


def test_every_line_is_an_event_the_parser_accepts(two_days, parsed) -> None:
    _world, lines = two_days
    assert len(parsed) == len(lines)
    kinds = Counter(type(e).__name__ for e in parsed)
    assert set(kinds) == {"Payment", "Callback", "Complaint"}
    for raw in lines[:2000]:
        assert set(orjson.loads(raw)) >= {"type", "ts", "channel"}
    payments = [e for e in parsed if type(e) is Payment]
    assert {e.channel for e in payments} == {"alipay", "wechat", "unionpay", "card"}
    assert {e.currency for e in payments} == {"CNY"}
    assert all(e.error_code for e in payments if e.status == "failed")
    assert not any(e.error_code for e in payments if e.status == "succeeded")


def test_disorder_stays_within_the_lateness_and_duplicates_are_about_one_in_a_thousand(parsed) -> None:
    ts = np.array([e.ts for e in parsed])
    behind = np.maximum.accumulate(ts) - ts
    assert 0.02 < float(np.mean(behind > 3000)) < 0.2  # out of order by more than a few seconds
    assert 15_000 < int(behind.max()) < 30_000  # some ~20 s late, none past the 30 s lateness
    ids = [e.event_id for e in parsed if e.event_id is not None]
    repeated = len(ids) - len(set(ids))
    assert 0.0005 < repeated / len(ids) < 0.002


def test_the_engine_rejects_no_line_and_counts_the_duplicates() -> None:
    from engine.core import Engine
    from kernel.settings import Settings

    world = World(WorldConfig(peak=30.0, days=1, seed=5))
    engine = Engine(Settings())
    for block in itertools.islice(world.blocks(), 3):  # 00:00-00:15 local, ~25,000 lines
        engine.process([line.encode() for line in block])
    assert engine.stats.rejected == {}
    assert engine.stats.duplicates > 0


def _rate(world: World, local_hour: float, rng: np.random.Generator) -> float:
    """Payments/s drawn over the hour from ``local_hour`` on the first day."""
    t0 = world.start_ms + int(local_hour * HOUR_MS)
    pay = draw_payments(world.traffic, world.merchants, [], t0, t0 + HOUR_MS, 0, rng)
    return len(pay) / 3600


@pytest.mark.parametrize("peak", [4.0, 30.0])
def test_the_evening_peak_is_the_rate_asked_for_and_the_night_trough_a_tenth_of_it(peak: float) -> None:
    world = World(WorldConfig(peak=peak, days=1, start=date(2026, 3, 3), seed=3))  # a Tuesday
    rng = np.random.default_rng(1)
    evening = _rate(world, 20.25, rng)
    assert evening == pytest.approx(peak, rel=0.1)
    assert 0.05 <= _rate(world, 3.5, rng) / evening <= 0.1
    assert _rate(world, 12.0, rng) > 1.2 * _rate(world, 15.0, rng)  # the lunchtime bump


def test_weekends_are_busier_in_the_afternoon() -> None:
    world = World(WorldConfig(peak=4.0, days=7, start=date(2026, 3, 2), seed=3))  # Monday to Sunday
    monday = world.start_ms + 15 * HOUR_MS + np.arange(0, HOUR_MS, 60_000)
    saturday = monday + 5 * DAY_MS
    assert world.traffic.expected(saturday).sum() > 1.3 * world.traffic.expected(monday).sum()
    # the night trough is the same on both
    assert world.traffic.shape(monday - 11 * HOUR_MS).mean() < 0.1
    assert world.traffic.shape(saturday - 11 * HOUR_MS).mean() < 0.1


def test_channel_wobbles_and_day_levels_stay_within_a_few_percent() -> None:
    world = World(WorldConfig(peak=4.0, days=7, seed=9))
    t = world.start_ms + np.arange(0, 7 * DAY_MS, 60_000)
    wobble = world.traffic.wobble(t)
    assert 0.02 < float(np.abs(wobble - 1).max()) <= 0.05
    assert float(np.abs(world.traffic.level(t) - 1).max()) <= 0.03


def test_merchants_are_heavy_tailed_with_their_own_success_and_channels() -> None:
    world = World(WorldConfig(peak=4.0, merchants=300, seed=2))
    m = world.merchants
    share = np.sort(m.volume_share())[::-1]
    assert 0.04 < share[0] < 0.3 and share[:10].sum() > 0.3 and share[150:].sum() < 0.1
    assert np.mean(np.abs(m.offset) <= 0.012) > 0.75 and np.abs(m.offset).max() > 0.02
    assert np.mean(m.mix.max(axis=1) > 0.8) > 0.4  # many take most of their payments through one channel


def test_labels_are_the_incidents_injected_on_the_last_day(two_days) -> None:
    world, _lines = two_days
    labels = world.labels()
    assert len(labels) == len(DAY_PLAN)
    assert {label["kind"] for label in labels} == set(KINDS)
    second_day = world.start_ms + DAY_MS
    for label, incident in zip(labels, sorted(world.incidents, key=lambda i: i.start_ms), strict=True):
        assert incident.start_ms >= second_day and incident.label_end_ms <= world.end_ms
        assert label["kind"] == incident.kind
        assert set(label) >= {"kind", "scope", "start", "end"}
        assert set(label["scope"]) == {"channel", "merchant_id"}
    spikes = [label for label in labels if label["kind"] == "volume_spike"]
    assert {s["scope"]["channel"] for s in spikes} == {"card", None}  # one channel, and every channel
    merchant = [label for label in labels if label["scope"]["merchant_id"]]
    assert [m["kind"] for m in merchant] == ["success_rate_drop"]
    assert merchant[0]["scope"]["channel"] is None


def _window(parsed: list, label: dict, kind: type) -> list:
    start, end = (np.datetime64(label[k].rstrip("Z"), "ms").astype(np.int64) for k in ("start", "end"))
    return [e for e in parsed if type(e) is kind and start <= e.ts < end]


def test_the_stream_shows_each_incident_where_its_label_says(two_days, parsed) -> None:
    world, _lines = two_days
    by_kind: dict[str, list[dict]] = {}
    for label in world.labels():
        by_kind.setdefault(label["kind"], []).append(label)

    def same_hour_day_one(label: dict, kind: type) -> list:
        shifted = {
            k: str(np.datetime64(label[k].rstrip("Z")) - np.timedelta64(1, "D")) for k in ("start", "end")
        }
        return _window(parsed, shifted, kind)

    drop = next(x for x in by_kind["volume_drop"] if x["scope"]["channel"] == "wechat")  # midday
    during = [e for e in _window(parsed, drop, Payment) if e.channel == "wechat"]
    before = [e for e in same_hour_day_one(drop, Payment) if e.channel == "wechat"]
    assert 0.15 < len(during) / len(before) < 0.5

    sr = next(x for x in by_kind["success_rate_drop"] if x["scope"]["channel"] == "wechat")
    pay = [e for e in _window(parsed, sr, Payment) if e.channel == "wechat"]
    failed = [e for e in pay if e.status == "failed"]
    assert len(failed) / len(pay) > 0.043 + 0.6 * sr["size"]  # usually about 4.3% fail on wechat
    assert Counter(e.error_code for e in failed).most_common(1)[0][0] == "SYSTEM_ERROR"

    spike = by_kind["complaint_spike"][0]
    complaints = _window(parsed, spike, Complaint)
    assert len(complaints) > 20
    assert Counter(e.category for e in complaints).most_common(1)[0][0] == "paid_not_updated"

    stuck = by_kind["stuck_payments"][0]
    arrived = [e for e in _window(parsed, stuck, Callback) if e.channel == stuck["scope"]["channel"]]
    assert arrived == []


def test_each_stage_of_an_incident_changes_only_its_scope() -> None:
    world = World(WorldConfig(peak=30.0, days=1, seed=4, incidents="callback_failure_high/card@12:00"))
    incident = world.incidents[0]
    rng = np.random.default_rng(0)
    pay = draw_payments(
        world.traffic, world.merchants, world.incidents, incident.start_ms, incident.end_ms, 0, rng
    )
    cb = draw_callbacks(pay, world.incidents, rng)
    first = cb.attempt == 0
    card_fail = 1 - cb.ok[first & (cb.channel == 3)].mean()
    other_fail = 1 - cb.ok[first & (cb.channel != 3)].mean()
    assert card_fail > 0.1 and other_fail < 0.02
    assert (cb.attempt > 0).sum() > 0.5 * (~cb.ok).sum()  # failed deliveries are retried
    assert len(concat([cb, cb])) == 2 * len(cb)


def test_the_same_seed_gives_the_same_bytes_and_another_seed_others() -> None:
    def head(seed: int) -> list[str]:
        world = World(WorldConfig(peak=4.0, days=1, seed=seed, incidents="all"))
        return [line for block in itertools.islice(world.blocks(), 30) for line in block]

    assert head(7) == head(7)
    assert head(7) != head(8)
    labels = World(WorldConfig(peak=4.0, days=2, seed=7, incidents="all")).labels()
    assert labels == World(WorldConfig(peak=4.0, days=2, seed=7, incidents="all")).labels()


def test_clean_runs_have_no_labels_and_specs_place_incidents() -> None:
    assert World(WorldConfig(days=2)).labels() == []
    [spec] = parse_incidents("callback_latency_high~held/card@d1-03:30")
    world = World(WorldConfig(days=2, incidents="callback_latency_high~held/card@d1-03:30"))
    [label] = world.labels()
    assert (spec.kind, spec.variant, spec.scope, spec.day, spec.minute) == (
        "callback_latency_high",
        "held",
        "card",
        1,
        210,
    )
    assert label["start"] == "2026-03-01T19:30:00Z"  # 03:30 in Shanghai
    assert label["scope"] == {"channel": "card", "merchant_id": None} and label["variant"] == "held"


@pytest.mark.parametrize(
    "spec",
    ["no_such_kind", "volume_drop/merchant", "amount_deviation~bogus", "volume_drop@25:00", "volume_drop/x"],
)
def test_bad_incident_specs_are_refused(spec: str) -> None:
    with pytest.raises(PlanError):
        parse_incidents(spec)


def test_the_command_writes_events_and_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events, labels = tmp_path / "events.jsonl", tmp_path / "labels.jsonl"
    argv = ["--peak", "1", "--days", "2", "--seed", "3", "--incidents", "volume_spike/all"]
    assert (
        world_main([*argv, "--out", str(events), "--labels-out", str(labels), "--start", "2026-03-07"]) == 0
    )
    assert "lines" in capsys.readouterr().err
    [label] = [orjson.loads(line) for line in labels.read_bytes().splitlines()]
    assert label["kind"] == "volume_spike" and label["start"].startswith("2026-03-08T")
    _events, _raws, dead = parse_batch(events.read_bytes().splitlines())
    assert dead == [] and len(_events) > 50_000
    assert world_main(["--incidents", "nonsense", "--out", str(events)]) == 2
