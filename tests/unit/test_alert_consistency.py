"""Every alert's own numbers agree with it, whatever the stream: a drop below its baseline, a rise
above it, a resolved notice after its firing one and carrying the numbers at resolution."""

from __future__ import annotations

import random
from datetime import timedelta

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerting.lifecycle import consistent
from detectors.protocol import Verdict
from engine.core import Engine
from kernel.settings import DetectorSettings, Settings

T0 = 1_772_409_600_000
CHANNELS = ("alipay", "wechat", "unionpay", "card")
MINUTE = 60_000


def _stream(seed: int, rate: float, minutes: int, change_at: int, effect: str, size: float) -> list[bytes]:
    """Payments, callbacks and complaints on four channels; from ``change_at`` one channel (or
    all) changes its success rate, volume, ticket size, callback delay or complaints."""
    rng = random.Random(seed)
    lines, ts, n = [], T0, 0
    target = rng.choice([*CHANNELS, None])
    while ts < T0 + minutes * MINUTE:
        changed = ts >= T0 + change_at * MINUTE
        channel = rng.choice(CHANNELS)
        hit = changed and target in (None, channel)
        boost = size if hit and effect == "volume" else 1.0
        ts += int(rng.expovariate(rate * boost / 1000)) + 1
        ok = rng.random() < (0.95 - (size / 10 if hit and effect == "failures" else 0.0))
        amount = round(rng.lognormvariate(4, 0.6) * (size if hit and effect == "amount" else 1.0), 2)
        n += 1
        lines.append(orjson.dumps({"type": "payment", "ts": ts, "channel": channel, "order_id": f"o{n}",
                                   "merchant_id": f"m{rng.randrange(20)}", "amount": max(amount, 0.01),
                                   "status": "succeeded" if ok else "failed"}))  # fmt: skip
        if ok:
            delay = rng.expovariate(1 / 2000) * (size * 30 if hit and effect == "latency" else 1.0)
            callback = {"type": "callback", "ts": ts + int(delay), "channel": channel, "order_id": f"o{n}",
                        "paid_at": ts, "status": "processed"}  # fmt: skip
            lines.append(orjson.dumps(callback))
        if rng.random() < (0.002 * (size * 20 if hit and effect == "complaints" else 1.0)):
            lines.append(orjson.dumps({"type": "complaint", "ts": ts, "channel": channel,
                                       "category": "paid_not_updated"}))  # fmt: skip
    lines.sort(key=lambda line: orjson.loads(line)["ts"])
    return lines


@pytest.mark.integration  # twelve whole streams through the engine: seconds
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    rate=st.sampled_from([2.0, 8.0, 30.0]),
    change_at=st.integers(6, 14),
    effect=st.sampled_from(["failures", "volume", "amount", "latency", "complaints", "none"]),
    size=st.sampled_from([0.2, 0.5, 2.0, 4.0]),
)
def test_every_alert_agrees_with_its_own_numbers(
    seed: int, rate: float, change_at: int, effect: str, size: float
) -> None:
    engine = Engine(Settings(detectors=DetectorSettings(warmup=timedelta(minutes=4))))
    lines = _stream(seed, rate, 20, change_at, effect, size)
    alerts = []
    for start in range(0, len(lines), 500):
        alerts += engine.process(lines[start : start + 500]).alerts
    alerts += engine.finish().alerts
    open_keys: set[tuple[str, object]] = set()
    for alert in alerts:
        key = (alert.kind, alert.scope)
        if alert.status == "firing":
            assert key not in open_keys
            verdict = Verdict(alert.kind, 1.0, True, None, alert.value, alert.baseline, "")
            assert consistent(verdict), alert.summary
            assert alert.started_at <= alert.detected_at
            open_keys.add(key)
        else:
            assert key in open_keys, alert.summary  # a resolved notice follows its firing one
            open_keys.discard(key)
