"""The payment/callback join: stuck orders, early callbacks, late recoveries and its bounds."""

from __future__ import annotations

import json

from engine.stuck import StuckOrder, StuckTracker

MIN = 60_000
TIMEOUT = 5 * MIN


def tracker(max_pending: int = 1000, samples: int = 20) -> StuckTracker:
    return StuckTracker(timeout_ms=TIMEOUT, max_pending=max_pending, samples=samples)


def test_paid_order_without_callback_is_stuck_once_the_watermark_passes_the_timeout() -> None:
    t = tracker()
    t.paid("o1", 1_000, "alipay", "m1", 25.0)
    assert t.expire(watermark_ms=1_000 + TIMEOUT - 1) == []
    [order] = t.expire(watermark_ms=1_000 + TIMEOUT)
    assert type(order) is StuckOrder  # named fields, not a bare tuple
    assert order == StuckOrder("o1", 1_000, "alipay", "m1", 25.0)
    assert (order.order_id, order.paid_ms, order.merchant_id) == ("o1", 1_000, "m1")
    assert list(t.stuck_now) == ["o1"]
    assert list(t.samples) == ["o1"]
    assert t.expire(watermark_ms=1_000 + 2 * TIMEOUT) == [], "a stuck order is reported once"


def test_processed_callback_clears_the_pending_order() -> None:
    t = tracker()
    t.paid("o1", 0, "alipay", None, 10.0)
    t.paid("o2", 500, "wechat", None, 10.0)
    assert t.processed("o1", 4_000) is None
    assert [o.order_id for o in t.expire(watermark_ms=10 * MIN)] == ["o2"]


def test_expired_orders_come_oldest_first() -> None:
    t = tracker()
    for i, paid_ms in enumerate([0, 1_000, 2_000, 3_000]):
        t.paid(f"o{i}", paid_ms, "alipay", None, 1.0)
    assert [o.order_id for o in t.expire(watermark_ms=TIMEOUT + 1_500)] == ["o0", "o1"]
    assert list(t.pending) == ["o2", "o3"]


def test_early_callback_before_the_payment_event_is_not_stuck() -> None:
    t = tracker()
    assert t.processed("o1", 2_000) is None  # the callback overtook the payment event
    t.paid("o1", 1_000, "alipay", "m1", 10.0)
    assert t.pending == {}
    assert t.expire(watermark_ms=1_000 + TIMEOUT) == []
    assert t.recent_callbacks == {}, "the early callback is used up by its payment"


def test_early_callback_is_forgotten_after_the_timeout() -> None:
    t = tracker()
    t.processed("o1", 2_000)
    t.expire(watermark_ms=2_000 + TIMEOUT)  # the callback is older than any payment still to come
    assert t.recent_callbacks == {}
    t.paid("o1", 2_000 + TIMEOUT, "alipay", None, 10.0)
    assert list(t.pending) == ["o1"]


def test_callback_after_the_timeout_reports_a_late_recovery() -> None:
    t = tracker()
    t.paid("o1", 0, "alipay", "m1", 10.0)
    [stuck] = t.expire(watermark_ms=TIMEOUT)
    assert t.processed("o1", TIMEOUT + 30_000) == stuck
    assert t.stuck_now == {}
    assert t.processed("o1", TIMEOUT + 40_000) is None, "a second callback recovers nothing"


def test_stuck_orders_are_forgotten_after_twelve_more_timeouts() -> None:
    t = tracker()
    t.paid("o1", 0, "alipay", None, 10.0)
    t.expire(watermark_ms=TIMEOUT)
    t.expire(watermark_ms=13 * TIMEOUT - 1)
    assert list(t.stuck_now) == ["o1"]
    t.expire(watermark_ms=13 * TIMEOUT)
    assert t.stuck_now == {}


def test_pending_orders_stay_within_max_pending_by_evicting_the_oldest() -> None:
    t = tracker(max_pending=3)
    for i in range(5):
        t.paid(f"o{i}", i * 1_000, "alipay", None, 1.0)
    assert list(t.pending) == ["o2", "o3", "o4"]
    assert t.evicted == 2
    assert [o.order_id for o in t.expire(watermark_ms=10 * MIN)] == ["o2", "o3", "o4"]


def test_remembered_early_callbacks_stay_within_max_pending() -> None:
    t = tracker(max_pending=3)
    for i in range(5):
        t.processed(f"o{i}", i * 1_000)
    assert list(t.recent_callbacks) == ["o2", "o3", "o4"]
    t.paid("o0", 0, "alipay", None, 1.0)  # its early callback was dropped: now it waits
    assert list(t.pending) == ["o0"]


def test_samples_keep_the_latest_stuck_order_ids() -> None:
    t = tracker(samples=2)
    for i in range(4):
        t.paid(f"o{i}", i, "alipay", None, 1.0)
    t.expire(watermark_ms=TIMEOUT + 10)
    assert list(t.samples) == ["o2", "o3"]


def test_snapshot_restore_round_trip_continues_identically() -> None:
    def feed(t: StuckTracker, start: int) -> list:
        out = []
        for i in range(start, start + 50):
            if i % 3:
                t.paid(f"o{i}", i * 10_000, "alipay" if i % 2 else "wechat", f"m{i % 4}", float(i))
            if i % 5 == 0:
                t.processed(f"o{i - 1}", i * 10_000)
            if i % 7 == 0:
                t.processed(f"o{i + 1}", i * 10_000)  # early
            out += t.expire(watermark_ms=i * 10_000 - 30_000)
        return out

    def make() -> StuckTracker:
        return StuckTracker(timeout_ms=MIN, max_pending=5, samples=5)

    straight, original = make(), make()
    first = feed(straight, 0)
    assert feed(original, 0) == first
    resumed = make()
    resumed.restore(json.loads(json.dumps(original.snapshot())))
    assert resumed.snapshot() == original.snapshot()
    second = feed(straight, 50)
    assert feed(resumed, 50) == second
    assert resumed.snapshot() == straight.snapshot()
    assert first and second and straight.evicted > 0, "the stream exercises stuck orders and eviction"
