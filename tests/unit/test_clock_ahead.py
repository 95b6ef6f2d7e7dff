"""Stream time follows the stream, not its outliers: lines stamped ahead lose no valid event,
and a stream that really moved on is followed."""

from __future__ import annotations

import random

import orjson
import pytest

from engine.core import Engine
from kernel.settings import Settings

pytestmark = pytest.mark.integration  # replays hours of stream for each case: half a minute in all

T0 = 1_772_409_600_000  # 2026-03-02T00:00:00Z
DAY_MS = 86_400_000
MINUTE = 60_000
CHANNELS = ("alipay", "wechat", "unionpay", "card")


def _payment(i: int, ts: int, channel: str = "alipay", ok: bool = True) -> bytes:
    return orjson.dumps({"type": "payment", "ts": ts, "channel": channel, "order_id": f"o{i}",
                         "amount": 10.0, "status": "succeeded" if ok else "failed"})  # fmt: skip


def _run(engine: Engine, lines: list[bytes], batch: int = 100) -> tuple[int, dict[str, int], list]:
    alerts = []
    for start in range(0, len(lines), batch):
        alerts += engine.process(lines[start : start + batch]).alerts
    alerts += engine.finish().alerts
    return engine.stats.accepted["payment"], engine.stats.rejected, alerts


def test_one_event_a_day_ahead_is_dead_lettered_and_the_stream_goes_on() -> None:
    lines = [_payment(i, T0 + i * 1000) for i in range(2000)]
    lines.insert(500, _payment(-1, T0 + DAY_MS))  # a server whose clock runs a day fast
    accepted, rejected, _ = _run(Engine(Settings()), lines)
    assert accepted == 2000
    assert rejected == {"clock_ahead": 1}


def test_a_wrong_clock_in_the_very_first_line_is_caught_too() -> None:
    lines = [_payment(-1, T0 + DAY_MS), *(_payment(i, T0 + i * 1000) for i in range(1000))]
    accepted, rejected, _ = _run(Engine(Settings()), lines, batch=1)
    assert (accepted, rejected) == (1000, {"clock_ahead": 1})


def test_a_stream_resuming_after_an_hour_of_silence_is_followed() -> None:
    before = [_payment(i, T0 + i * 1000) for i in range(600)]
    after = [_payment(1000 + i, T0 + 3_600_000 + i * 1000) for i in range(600)]
    engine = Engine(Settings())
    accepted, rejected, _ = _run(engine, before + after)
    assert (accepted, rejected) == (1200, {})
    assert engine.windows.max_ts == T0 + 3_600_000 + 599_000


def test_a_quiet_night_stream_with_long_gaps_is_not_held_back() -> None:
    """One payment every 40 s on average (gaps of several minutes happen): the step follows the
    stream's own pace, so none of its gaps reads as a clock ahead."""
    rng = random.Random(3)
    ts, lines = T0, []
    gaps = [int(rng.expovariate(1 / 40_000)) for _ in range(1200)]  # 13 hours
    assert max(gaps) > 4 * MINUTE
    for i, gap in enumerate(gaps):
        ts += gap
        lines.append(_payment(i, ts))
    engine = Engine(Settings())
    accepted, rejected, _ = _run(engine, lines)
    assert (accepted, rejected) == (1200, {})
    assert engine.ahead.early_since == 0


def test_a_sender_always_ahead_is_bounded_and_never_moves_stream_time() -> None:
    engine = Engine(Settings())
    engine.ahead.capacity = 50
    lines = []
    for i in range(5000):
        lines.append(_payment(i, T0 + i * 200))
        if i % 50 == 0:  # 2% of the traffic, a day ahead
            lines.append(_payment(100_000 + i, T0 + DAY_MS + i * 200))
    for start in range(0, len(lines), 100):
        engine.process(lines[start : start + 100])
        assert len(engine.ahead.waiting) <= 50
        assert engine.windows.max_ts < T0 + DAY_MS
    engine.finish()
    assert engine.stats.rejected == {"clock_ahead": 100}
    assert engine.stats.accepted["payment"] == 5000


def test_waiting_events_survive_a_restart() -> None:
    engine = Engine(Settings())
    engine.process([_payment(i, T0 + i * 1000) for i in range(100)])
    engine.process([_payment(-1, T0 + DAY_MS)])
    assert len(engine.ahead.waiting) == 1
    restored = Engine(Settings())
    restored.restore(orjson.loads(orjson.dumps(engine.snapshot())))
    assert [item[3].order_id for item in restored.ahead.waiting] == ["o-1"]
    assert restored.ahead.stream_ms == engine.ahead.stream_ms
    restored.finish()
    assert restored.stats.rejected == {"clock_ahead": 1}


# -- hostile clocks: nothing valid lost, no alert changed ------------------------------------


def _shop(minutes: int = 90, per_second: int = 5, drop_at: int = 60) -> list[bytes]:
    """Four channels; alipay's success rate falls from 97% to 70% at ``drop_at`` minutes."""
    rng = random.Random(11)
    lines = []
    for i, ms in enumerate(range(0, minutes * MINUTE, 1000 // per_second)):
        channel = CHANNELS[i % 4]
        bad = channel == "alipay" and ms >= drop_at * MINUTE
        ok = rng.random() < (0.70 if bad else 0.97)
        lines.append(_payment(i, T0 + ms + rng.randrange(-2000, 2000), channel, ok))
    return lines


def _shifted(line: bytes, ahead_ms: int, n: int) -> bytes:
    event = orjson.loads(line)
    event["ts"] += ahead_ms
    event["order_id"] = f"ahead-{n}"
    return orjson.dumps(event)


def _alert_keys(alerts: list) -> list[tuple]:
    return [(a.kind, a.scope.channel, a.scope.merchant_id, a.status, a.started_at) for a in alerts]


@pytest.fixture(scope="module")
def clean_shop() -> tuple[list[bytes], dict[str, int], list]:
    """The clean stream and its run: the reference of every hostile case below. Both are fixed
    (seed 11, default settings), so they are made once for the module instead of once per case."""
    clean = _shop()
    _, rejected, alerts = _run(Engine(Settings()), clean)
    return clean, rejected, alerts


@pytest.mark.parametrize("ahead_ms", [9 * MINUTE, 60 * MINUTE], ids=["9min", "1h"])
@pytest.mark.parametrize("count", [1, 10, 100])
@pytest.mark.parametrize("placement", ["scattered", "burst"])
def test_lines_ahead_lose_no_valid_event_and_change_no_alert(
    clean_shop: tuple[list[bytes], dict[str, int], list], ahead_ms: int, count: int, placement: str
) -> None:
    clean, clean_rejected, clean_alerts = clean_shop
    assert clean_rejected == {}
    assert ("success_rate_drop", "alipay") in {(a.kind, a.scope.channel) for a in clean_alerts}

    rng = random.Random(count)
    hostile = list(clean)
    if placement == "scattered":
        positions = sorted(rng.sample(range(len(clean)), count), reverse=True)
    else:
        positions = [rng.randrange(len(clean))] * count
    for n, at in enumerate(positions):
        hostile.insert(at, _shifted(clean[min(at + n, len(clean) - 1)], ahead_ms, n))

    engine = Engine(Settings())
    accepted, rejected, alerts = _run(engine, hostile)
    assert rejected.get("too_late", 0) == 0
    assert set(rejected) <= {"clock_ahead"}
    assert accepted + rejected.get("clock_ahead", 0) == len(hostile)  # every line accounted for
    if ahead_ms > 10 * MINUTE:  # beyond max_ahead: refused, whatever the count
        assert rejected == {"clock_ahead": count}
    assert _alert_keys(alerts) == _alert_keys(clean_alerts)


def test_a_duplicate_far_ahead_of_its_original_loses_nothing() -> None:
    clean = [
        orjson.dumps(orjson.loads(_payment(i, T0 + i * 200)) | {"event_id": f"e{i}"}) for i in range(6000)
    ]
    copy = orjson.loads(clean[3000])
    copy["ts"] += 30 * MINUTE
    hostile = [*clean[:100], orjson.dumps(copy), *clean[100:]]  # arrives before its original
    engine = Engine(Settings())
    accepted, rejected, _ = _run(engine, hostile)
    assert (accepted, rejected, engine.stats.duplicates) == (6000, {"clock_ahead": 1}, 0)
