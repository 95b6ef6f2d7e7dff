"""One sender with a clock far ahead must not blind the monitor; a stream that really moved on is followed."""

from __future__ import annotations

import orjson

from paypulse.engine import Engine
from paypulse.settings import Settings

T0 = 1_772_409_600_000  # 2026-03-02T00:00:00Z
DAY_MS = 86_400_000


def _payment(i: int, ts: int) -> bytes:
    return orjson.dumps({"type": "payment", "ts": ts, "channel": "alipay", "order_id": f"o{i}",
                         "amount": 10.0, "status": "succeeded"})  # fmt: skip


def _run(engine: Engine, lines: list[bytes]) -> tuple[int, dict[str, int]]:
    for start in range(0, len(lines), 100):
        engine.process(lines[start : start + 100])
    engine.finish()
    return engine.stats.accepted["payment"], engine.stats.rejected


def test_one_event_a_day_ahead_is_dead_lettered_and_the_stream_goes_on() -> None:
    lines = [_payment(i, T0 + i * 1000) for i in range(2000)]
    lines.insert(500, _payment(-1, T0 + DAY_MS))  # a server whose clock runs a day fast
    accepted, rejected = _run(Engine(Settings()), lines)
    assert accepted == 2000
    assert rejected == {"clock_ahead": 1}


def test_a_wrong_clock_in_the_very_first_batch_is_caught_too() -> None:
    lines = [_payment(-1, T0 + DAY_MS), *(_payment(i, T0 + i * 1000) for i in range(1000))]
    accepted, rejected = _run(Engine(Settings()), lines)
    assert (accepted, rejected) == (1000, {"clock_ahead": 1})


def test_a_stream_resuming_after_an_hour_of_silence_is_followed() -> None:
    before = [_payment(i, T0 + i * 1000) for i in range(600)]
    after = [_payment(1000 + i, T0 + 3_600_000 + i * 1000) for i in range(600)]
    engine = Engine(Settings())
    accepted, rejected = _run(engine, before + after)
    assert (accepted, rejected) == (1200, {})
    assert engine.windows.max_ts == T0 + 3_600_000 + 599_000


def test_a_sender_always_ahead_is_bounded_and_never_moves_the_watermark() -> None:
    engine = Engine(Settings())
    engine.ahead.capacity = 50
    lines = []
    for i in range(5000):
        lines.append(_payment(i, T0 + i * 200))
        if i % 50 == 0:  # 2% of the traffic, a day ahead
            lines.append(_payment(100_000 + i, T0 + DAY_MS + i * 200))
    for start in range(0, len(lines), 100):
        engine.process(lines[start : start + 100])
        assert len(engine.ahead.parked) <= 50
        assert engine.windows.max_ts < T0 + DAY_MS
    assert engine.stats.rejected.get("clock_ahead", 0) == 100 - 50
    assert engine.stats.accepted["payment"] == 5000


def test_parked_events_survive_a_restart() -> None:
    engine = Engine(Settings())
    engine.process([_payment(i, T0 + i * 1000) for i in range(100)])
    engine.process([_payment(-1, T0 + DAY_MS)])
    assert len(engine.ahead.parked) == 1
    restored = Engine(Settings())
    restored.restore(orjson.loads(orjson.dumps(engine.snapshot())))
    assert [e.order_id for e, _raw in restored.ahead.parked] == ["o-1"]
    restored.finish()
    assert restored.stats.rejected == {"clock_ahead": 1}
