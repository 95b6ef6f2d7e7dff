"""Event-time windows against a brute-force recomputation.

The property: for any arrival order of payments, callbacks and complaints over a few channels
and merchants (out of order within the lateness, some beyond it), ``Windows`` counts exactly
what a plain loop over the accepted events counts, refuses exactly the events a brute-force
watermark calls too late, and its latency quantiles sit within DDSketch's 1% of the exact ones.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field, fields

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.windows import SKETCH_ACCURACY, ClosedWindow, Windows, observation_of
from kernel.alerts import Scope
from kernel.events import Callback, Complaint, Payment
from kernel.observation import Observation

WIDTH = 10_000
LATENESS = 30_000
SLOW = 60_000
T0 = 1_767_225_600_000
CHANNELS = ("alipay", "wechat", "unionpay")
MERCHANTS = (None, "m1", "m2", "m3")
TRACKED = ("m1", "m2")
QUANTILES = {"latency_p50": 0.5, "latency_p95": 0.95, "latency_p99": 0.99}
COUNTS = (
    "attempts", "successes", "callbacks", "callback_failures", "callbacks_slow",
    "complaints_paid_not_updated", "complaints_charged_twice", "complaints_refund", "complaints_other",
    "stuck",
)  # fmt: skip


def make_windows() -> Windows:
    return Windows(WIDTH, LATENESS, SLOW, tracked_merchants=TRACKED)


# -- the stream --------------------------------------------------------------------------------

_payment = st.builds(
    lambda amount, ok: ("payment", amount, "succeeded" if ok else "failed"),
    st.floats(min_value=0.01, max_value=50_000, allow_nan=False),
    st.booleans(),
)
_callback = st.builds(
    lambda latency, ok: ("callback", latency, "processed" if ok else "failed"),
    st.integers(min_value=-2_000, max_value=150_000)  # negative: the callback clock ran ahead
    | st.sampled_from([0, SLOW - 1, SLOW, SLOW + 1]),
    st.booleans(),
)
_complaint = st.builds(
    lambda cat: ("complaint", cat, None),
    st.sampled_from(["paid_not_updated", "charged_twice", "refund", "other"]),
)
_step = st.tuples(
    st.integers(min_value=0, max_value=9_000),  # how far the producers' clock moves on
    st.integers(min_value=0, max_value=2 * LATENESS),  # how late this event is relative to that clock
    st.sampled_from(CHANNELS),
    st.sampled_from(MERCHANTS),
    _payment | _callback | _complaint,
    st.booleans(),  # advance the watermark after this event (a batch boundary)
)


def build_stream(steps: list) -> list[tuple[object, bool]]:
    """Events in arrival order, each with whether ``advance`` runs after it.

    The first event is the earliest of all, so the stream starts the way a well-ordered source
    does; what happens to events older than the very first one is a separate test.
    """
    clock = T0
    out: list[tuple[object, bool]] = [
        (Payment(T0 - 3 * LATENESS, "alipay", "anchor", 1.0, "succeeded"), True)
    ]
    for i, (move, late, channel, merchant, (kind, a, b), advance) in enumerate(steps):
        clock += move
        ts = clock - late
        if kind == "payment":
            event = Payment(ts, channel, f"o{i}", a, b, merchant_id=merchant)
        elif kind == "callback":
            event = Callback(ts, channel, f"o{i}", ts - a, b, merchant_id=merchant)
        else:
            event = Complaint(ts, channel, a, merchant_id=merchant)
        out.append((event, advance))
    return out


# -- the brute force ---------------------------------------------------------------------------


@dataclass
class BruteForce:
    """Replays the documented rule: window ``w`` closes at an ``advance`` once its end is at or
    before the largest event time seen minus the lateness; an event whose window has closed is late."""

    accepted: list = field(default_factory=list)
    verdicts: list[bool] = field(default_factory=list)
    closed_before: int | None = None  # windows below this id are closed
    max_ts: int = -1
    channels_at_close: dict[int, frozenset[str]] = field(default_factory=dict)

    def add(self, event) -> None:
        w = event.ts // WIDTH
        ok = self.closed_before is None or w >= self.closed_before
        self.verdicts.append(ok)
        if ok:
            self.accepted.append(event)
            self.max_ts = max(self.max_ts, event.ts)

    def advance(self) -> None:
        stop = (self.max_ts - LATENESS) // WIDTH
        self._close(stop)

    def close_all(self) -> None:
        self._close(max(e.ts for e in self.accepted) // WIDTH + 1)

    def _close(self, stop: int) -> None:
        first = (
            self.closed_before
            if self.closed_before is not None
            else min(e.ts for e in self.accepted) // WIDTH
        )
        channels = frozenset(e.channel for e in self.accepted)
        for w in range(first, stop):
            self.channels_at_close[w] = channels
        self.closed_before = max(first, stop)

    def observation(self, w: int, channel: str | None) -> dict:
        """Counts of one scope (None = all channels) in window ``w``, from the accepted events."""
        events = [e for e in self.accepted if e.ts // WIDTH == w and channel in (None, e.channel)]
        return summarise(events)

    def merchants(self, w: int) -> dict[tuple[str, str], dict]:
        """Counts per (channel, tracked merchant) in window ``w``; untracked merchants have none."""
        by_key: dict[tuple[str, str], list] = {}
        for e in self.accepted:
            if e.ts // WIDTH == w and e.merchant_id in TRACKED:
                by_key.setdefault((e.channel, e.merchant_id), []).append(e)
        return {key: summarise(events) for key, events in by_key.items()}


def summarise(events: list) -> dict:
    pays = [e for e in events if type(e) is Payment]
    cbs = [e for e in events if type(e) is Callback]
    complaints = [e.category for e in events if type(e) is Complaint]
    processed = [max(e.ts - e.paid_at, 0) for e in cbs if e.status == "processed"]
    return {
        "attempts": len(pays),
        "successes": sum(e.status == "succeeded" for e in pays),
        "amount": math.fsum(e.amount for e in pays),
        "log_amount_sum": math.fsum(math.log(e.amount) for e in pays),
        "callbacks": len(cbs),
        "callback_failures": sum(e.status == "failed" for e in cbs),
        "callbacks_slow": sum(lat > SLOW for lat in processed),
        "complaints_paid_not_updated": complaints.count("paid_not_updated"),
        "complaints_charged_twice": complaints.count("charged_twice"),
        "complaints_refund": complaints.count("refund"),
        "complaints_other": complaints.count("other"),
        "stuck": 0,
        "latencies": sorted(lat / 1000 for lat in processed),
    }


def exact_quantile(values: list[float], q: float) -> float:
    """The quantile as ddsketch defines it: the value of rank ``floor(q * (n - 1))``
    (``BaseDDSketch.get_quantile_value`` and ``DenseStore.key_at_rank(lower=True)``)."""
    return values[math.floor(q * (len(values) - 1))]


def assert_matches(obs: Observation, expected: dict, latency: bool = True) -> None:
    for name in COUNTS:
        assert getattr(obs, name) == expected[name], (obs.scope, obs.start_ms, name)
    assert obs.amount == pytest.approx(expected["amount"], rel=1e-9, abs=1e-9)
    assert obs.log_amount_sum == pytest.approx(expected["log_amount_sum"], rel=1e-9, abs=1e-9)
    latencies = expected["latencies"]
    for name, q in QUANTILES.items() if latency else ():
        got = getattr(obs, name)
        if not latencies:
            assert got is None
            continue
        exact = exact_quantile(latencies, q)
        assert abs(got - exact) <= SKETCH_ACCURACY * exact + 1e-12, (name, got, exact, latencies)


def run(stream: list[tuple[object, bool]]) -> tuple[Windows, list[bool], list[ClosedWindow], BruteForce]:
    windows, brute = make_windows(), BruteForce()
    verdicts, closed = [], []
    for event, advance in stream:
        verdicts.append(windows.add(event))
        brute.add(event)
        if advance:
            closed += windows.advance()
            brute.advance()
    closed += windows.close_all()
    brute.close_all()
    return windows, verdicts, closed, brute


@settings(max_examples=100, deadline=None)
@given(st.lists(_step, min_size=1, max_size=60))
def test_windows_equal_brute_force_recomputation(steps: list) -> None:
    stream = build_stream(steps)
    _windows, verdicts, closed, brute = run(stream)

    assert verdicts == brute.verdicts
    ids = [c.start_ms // WIDTH for c in closed]
    assert ids == sorted(brute.channels_at_close), "every window closes once, in order, gaps included"
    for window in closed:
        w = window.start_ms // WIDTH
        assert window.end_ms == window.start_ms + WIDTH
        scopes = [o.scope for o in window.observations]
        assert scopes == [Scope()] + [Scope(c) for c in sorted(brute.channels_at_close[w])]
        for obs in window.observations:
            assert (obs.start_ms, obs.end_ms) == (window.start_ms, window.end_ms)
            assert_matches(obs, brute.observation(w, obs.scope.channel))
        expected_merchants = brute.merchants(w)
        assert set(window.merchants) == set(expected_merchants)
        for key, acc in window.merchants.items():
            obs = observation_of(Scope(*key), 0, WIDTH, acc, None)
            assert_matches(obs, expected_merchants[key], latency=False)


def test_late_event_is_refused_once_its_window_closed() -> None:
    w = make_windows()
    assert w.add(Payment(T0, "alipay", "o1", 1.0, "succeeded"))
    assert w.add(Payment(T0 + 45_000, "alipay", "o2", 1.0, "succeeded"))
    assert [c.start_ms for c in w.advance()] == [T0]  # watermark T0 + 15 s: only [T0, T0 + 10 s) is complete
    assert w.watermark == T0 + 15_000
    assert not w.add(Payment(T0 + 9_999, "alipay", "late", 1.0, "succeeded"))
    assert w.add(Payment(T0 + 10_000, "alipay", "in-time", 1.0, "succeeded"))  # its window is still open


def test_event_older_than_the_first_within_lateness_is_counted() -> None:
    w = make_windows()
    assert w.add(Payment(T0 + 15_000, "alipay", "first", 1.0, "succeeded"))
    assert w.add(Payment(T0 + 5_000, "alipay", "slightly-earlier", 1.0, "succeeded"))


def test_empty_windows_between_events_are_emitted_with_zeros_for_known_channels() -> None:
    w = make_windows()
    w.add(Payment(T0 + 1_000, "alipay", "o1", 10.0, "succeeded"))
    w.add(Complaint(T0 + 2_000, "wechat", "refund"))
    w.add(Payment(T0 + 41_000, "alipay", "o2", 10.0, "failed"))
    closed = w.close_all()
    assert [c.start_ms - T0 for c in closed] == [0, 10_000, 20_000, 30_000, 40_000]
    for window in closed[1:4]:
        assert [o.scope for o in window.observations] == [Scope(), Scope("alipay"), Scope("wechat")]
        for obs in window.observations:
            assert obs == Observation(obs.scope, window.start_ms, window.end_ms)
    assert [(o.attempts, o.successes, o.complaints) for o in closed[4].observations] == [
        (1, 0, 0),
        (1, 0, 0),
        (0, 0, 0),
    ]


def test_close_all_closes_everything_and_later_events_are_late() -> None:
    w = make_windows()
    for i in range(5):
        w.add(Payment(T0 + i * 7_000, "alipay", f"o{i}", 5.0, "succeeded"))
    assert len(w.advance()) == 0
    closed = w.close_all()
    assert [c.start_ms - T0 for c in closed] == [0, 10_000, 20_000]
    assert sum(c.observations[0].attempts for c in closed) == 5
    assert w.advance() == []
    assert not w.add(Payment(T0 + 28_000, "alipay", "late", 5.0, "succeeded"))
    assert w.add(Payment(T0 + 30_000, "alipay", "next-window", 5.0, "succeeded"))
    assert [c.start_ms - T0 for c in w.close_all()] == [30_000]


def test_close_all_twice_closes_nothing_the_second_time() -> None:
    w = make_windows()
    w.add(Payment(T0, "alipay", "o1", 5.0, "succeeded"))
    assert len(w.close_all()) == 1
    assert w.close_all() == []


def test_stuck_orders_are_counted_in_their_window_or_the_oldest_open_one() -> None:
    w = make_windows()
    w.add(Payment(T0, "alipay", "o1", 5.0, "succeeded"))
    w.add(Payment(T0 + 50_000, "alipay", "o2", 5.0, "succeeded"))
    w.advance()  # closes [T0, T0 + 20 s)
    w.add_stuck(T0 + 25_000, "alipay", "m1")
    w.add_stuck(T0 + 1_000, "alipay", None)  # its window closed: counted in the oldest open one
    stuck = {c.start_ms - T0: c.observations[1].stuck for c in w.close_all()}
    assert stuck == {20_000: 2, 30_000: 0, 40_000: 0, 50_000: 0}


def _observation_rows(closed: list[ClosedWindow], skip_latency: bool) -> list[tuple]:
    names = [f.name for f in fields(Observation) if not (skip_latency and f.name in QUANTILES)]
    return [tuple(getattr(o, n) for n in names) for c in closed for o in c.observations]


def _random_stream(seed: int, n: int) -> list:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ts = T0 + i * 400 - rng.randrange(LATENESS // 2)
        channel, merchant = rng.choice(CHANNELS), rng.choice(MERCHANTS)
        roll = rng.random()
        if roll < 0.6:
            out.append(
                Payment(
                    ts, channel, f"o{i}", rng.uniform(1, 500), rng.choice(["succeeded", "failed"]), merchant
                )
            )
        elif roll < 0.9:
            status = "processed" if rng.random() < 0.9 else "failed"
            out.append(Callback(ts, channel, f"o{i}", ts - rng.randrange(90_000), status, merchant))
        else:
            out.append(Complaint(ts, channel, rng.choice(["refund", "other"]), merchant_id=merchant))
    return out


def test_snapshot_restore_round_trip_gives_the_same_output() -> None:
    events = _random_stream(seed=3, n=600)
    straight, resumed = make_windows(), make_windows()
    out_straight, out_resumed = [], []
    for i, event in enumerate(events):
        for w, out in ((straight, out_straight), (resumed, out_resumed)):
            w.add(event)
            if i % 25 == 24:
                out += w.advance()
        if i == 300:
            state = json.loads(json.dumps(resumed.snapshot()))
            resumed = make_windows()
            resumed.restore(state)
    out_straight += straight.close_all()
    out_resumed += resumed.close_all()
    assert _observation_rows(out_resumed, skip_latency=True) == _observation_rows(
        out_straight, skip_latency=True
    )
    # Sketches are not snapshotted: windows open at the snapshot lose the latencies seen before it,
    # windows opened after it are identical.
    after = [c for c in out_straight if c.start_ms > events[300].ts + LATENESS]
    resumed_after = [c for c in out_resumed if c.start_ms > events[300].ts + LATENESS]
    assert after and _observation_rows(resumed_after, False) == _observation_rows(after, False)


def test_snapshot_is_plain_json_data() -> None:
    w = make_windows()
    for event in _random_stream(seed=5, n=50):
        w.add(event)
    state = w.snapshot()
    assert state["v"] == 1
    assert json.loads(json.dumps(state)) == json.loads(json.dumps(state, sort_keys=True))
    fresh = make_windows()
    fresh.restore(json.loads(json.dumps(state)))
    assert json.loads(json.dumps(fresh.snapshot())) == json.loads(json.dumps(state))
