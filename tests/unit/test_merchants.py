"""Heavy hitters (which merchants get a scope) and their per-minute roll-up."""

from __future__ import annotations

import json
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.merchants import HeavyHitters, MerchantMinutes
from engine.windows import ClosedWindow, Windows
from kernel.alerts import Scope
from kernel.events import Callback, Payment
from kernel.observation import Observation

T0 = 1_767_225_600_000  # a minute boundary
MIN = 60_000


@settings(max_examples=200)
@given(st.lists(st.sampled_from([f"m{i}" for i in range(12)]), max_size=300), st.integers(1, 6))
def test_heavy_hitters_keep_the_misra_gries_guarantee(items: list[str], capacity: int) -> None:
    hh = HeavyHitters(capacity)
    for item in items:
        hh.add(item)
        assert len(hh.counts) <= capacity
    true = Counter(items)
    slack = len(items) / (capacity + 1)
    for item, n in true.items():
        estimate = hh.counts.get(item, 0)
        assert n - slack <= estimate <= n
        if n > slack:
            assert item in hh.counts, "every item above N / (capacity + 1) keeps a counter"


def test_heavy_hitters_top_orders_by_count_then_name() -> None:
    hh = HeavyHitters(capacity=10)
    for item in ["b", "a", "c", "c", "b", "d", "c"]:
        hh.add(item)
    assert hh.top(3) == ["c", "b", "a"]
    assert hh.top(10) == ["c", "b", "a", "d"]
    assert hh.top(0) == []


def test_heavy_hitters_capacity_is_at_least_one() -> None:
    hh = HeavyHitters(capacity=0)
    for item in ["a", "a", "b"]:
        hh.add(item)
    assert hh.counts == {"a": 1}


def _closed(events: list, tracked: tuple[str, ...] = ("m1", "m2")) -> list[ClosedWindow]:
    w = Windows(10_000, 30_000, 60_000, tracked_merchants=tracked)
    for event in events:
        assert w.add(event)
    return w.close_all()


def _pay(ts: int, channel: str, merchant: str | None, ok: bool = True, amount: float = 10.0) -> Payment:
    return Payment(
        ts, channel, f"o{ts}{channel}{merchant}", amount, "succeeded" if ok else "failed", merchant
    )


def test_minute_roll_up_sums_a_merchant_over_its_channels_and_windows() -> None:
    events = [
        _pay(T0 + 1_000, "alipay", "m1"),
        _pay(T0 + 15_000, "wechat", "m1", ok=False, amount=30.0),
        _pay(T0 + 59_000, "alipay", "m1"),
        _pay(T0 + 20_000, "alipay", "m2"),
        _pay(T0 + 21_000, "alipay", "m3"),  # not tracked: pooled, never its own scope
        _pay(T0 + 22_000, "alipay", None),
        Callback(T0 + 30_000, "alipay", "c1", T0 + 20_000, "failed", "m1"),
        _pay(T0 + MIN + 5_000, "alipay", "m2"),
    ]
    minutes = MerchantMinutes(min_events=1)
    out = []
    for window in _closed(events):
        emitted = minutes.add(window, ("m1", "m2"))
        if window.start_ms == T0 + MIN:
            assert emitted, "a minute is emitted when the first window of the next one arrives"
        out += emitted
    m1, m2 = out
    assert (m1.scope, m1.start_ms, m1.end_ms) == (Scope(None, "m1"), T0, T0 + MIN)
    assert (m1.attempts, m1.successes, m1.amount, m1.callbacks, m1.callback_failures) == (3, 2, 50.0, 1, 1)
    assert m1.latency_p95 is None, "merchant minutes carry no latency quantiles"
    assert (m2.scope, m2.attempts) == (Scope(None, "m2"), 1)
    [last] = minutes.flush(("m1", "m2"))
    assert (last.scope, last.start_ms, last.attempts) == (Scope(None, "m2"), T0 + MIN, 1)
    assert minutes.flush(("m1", "m2")) == []


def test_quiet_merchant_gets_no_observation_and_untracked_ones_are_dropped() -> None:
    events = [_pay(T0 + 1_000, "alipay", "m1"), _pay(T0 + MIN + 1_000, "alipay", "m2")]
    minutes = MerchantMinutes(min_events=1)
    out = [o for window in _closed(events) for o in minutes.add(window, ("m1", "m2"))]
    assert [o.scope.merchant_id for o in out] == ["m1"]
    assert minutes.flush(("m1",)) == [], "m2 is no longer tracked when the minute is emitted"


def test_minute_roll_up_snapshot_round_trip() -> None:
    events = [
        _pay(T0 + i * 4_000, "alipay" if i % 2 else "wechat", f"m{i % 3}", ok=i % 5 > 0) for i in range(40)
    ]
    windows = _closed(events, tracked=("m0", "m1", "m2"))
    tracked = ("m0", "m1", "m2")
    straight, original = MerchantMinutes(min_events=1), MerchantMinutes(min_events=1)
    out_straight: list[Observation] = []
    out_resumed: list[Observation] = []
    for i, window in enumerate(windows):
        out_straight += straight.add(window, tracked)
        if i < 8:
            out_resumed += original.add(window, tracked)
        else:
            if i == 8:
                resumed = MerchantMinutes(min_events=1)
                resumed.restore(json.loads(json.dumps(original.snapshot())))
            out_resumed += resumed.add(window, tracked)
    out_straight += straight.flush(tracked)
    out_resumed += resumed.flush(tracked)
    assert out_resumed == out_straight
    assert sum(o.attempts for o in out_straight) == 40


def test_merchant_minute_with_too_few_events_is_not_judged() -> None:
    events = [_pay(T0 + i * 1_000, "alipay", "m1") for i in range(4)]
    events += [_pay(T0 + i * 1_000, "alipay", "m2") for i in range(12)]
    events.append(_pay(T0 + MIN + 1_000, "alipay", "m1"))
    minutes = MerchantMinutes(min_events=10)
    out = [obs for window in _closed(events) for obs in minutes.add(window, ("m1", "m2"))]
    assert [(o.scope.merchant_id, o.attempts) for o in out] == [("m2", 12)]


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from([f"m{i}" for i in range(40)]), st.integers(1, 6), max_size=40),
    st.integers(-1, 45),
)
def test_heavy_hitters_top_equals_a_full_sort_by_count_then_name(counts: dict[str, int], k: int) -> None:
    hh = HeavyHitters(capacity=50)
    hh.counts = dict(counts)
    expected = [m for m, _ in sorted(counts.items(), key=lambda mc: (-mc[1], mc[0]))][: max(k, 0)]
    assert hh.top(k) == expected
