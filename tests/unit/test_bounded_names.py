"""Names from the data draw from bounded sets: junk cannot crowd out a real channel, and a
flood of distinct names leaves state and /metrics series flat."""

from __future__ import annotations

import orjson
from prometheus_client import generate_latest

from engine.core import Engine
from kernel.settings import Settings
from paypulse.exposition import EngineCollector, build_registry

T0 = 1_772_409_600_000  # 2026-03-02T00:00:00Z
REAL = ("alipay", "wechat", "unionpay", "card")


def _line(i: int, ts: int, channel: str, merchant: str | None = None) -> bytes:
    event = {"type": "payment", "ts": ts, "channel": channel, "order_id": f"o{i}", "amount": 10.0,
             "status": "succeeded"}  # fmt: skip
    if merchant:
        event["merchant_id"] = merchant
    return orjson.dumps(event)


def _feed(engine: Engine, lines: list[bytes], batch: int = 1000) -> None:
    for start in range(0, len(lines), batch):
        engine.process(lines[start : start + batch])


def _series(engine: Engine) -> int:
    registry, _batch = build_registry(EngineCollector(lambda: engine.view()))
    return sum(1 for row in generate_latest(registry).decode().splitlines() if not row.startswith("#"))


def test_junk_names_that_came_first_cannot_keep_a_real_channel_out() -> None:
    engine = Engine(Settings())
    junk = [_line(i, T0 + i, f"junk-{i}") for i in range(40)]  # fill every place, once each
    real = [_line(1000 + i, T0 + 100 + i * 50, REAL[i % 4]) for i in range(10 * 60 * 20)]  # 10 minutes
    _feed(engine, junk + real)
    engine.finish()
    assert set(REAL) <= set(engine.names.admitted)
    assert set(REAL) <= engine.windows.channels
    assert len(engine.names.admitted) <= 33  # 32 places and "other"


def test_a_flood_of_distinct_channel_names_leaves_state_and_series_flat() -> None:
    engine = Engine(Settings())
    base = [_line(i, T0 + i * 10, REAL[i % 4]) for i in range(20_000)]
    _feed(engine, base)
    series_before = _series(engine)
    flood = (_line(100_000 + i, T0 + 200_000 + i, f"ch{i}", f"m{i}") for i in range(200_000))
    batch: list[bytes] = []
    for n, line in enumerate(flood, 1):
        batch.append(line)
        if n % 5000 == 0:
            engine.process(batch)
            batch = []
    assert len(engine.names.admitted) <= 33
    assert len(engine.names.pooled.counts) <= engine.names.pooled.capacity
    assert len(engine.windows.channels) <= 33
    assert len(engine._steppers) <= 33 * (engine.top_merchants + 1)
    assert len(engine.detectors) <= 33 + 1 + engine.top_merchants
    assert len(engine.totals) <= 33
    assert _series(engine) <= series_before + 40 * 33  # "other" and the places: never per name
