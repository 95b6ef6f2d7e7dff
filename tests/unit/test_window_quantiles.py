"""Window latency quantiles are exactly what a DDSketch of the window's callbacks answers.

Latencies are kept as plain lists while a window is open (cheaper than a sketch per callback)
and folded into sketches only past ``MAX_BUFFERED``; either way the quantiles must equal the
library's, value for value and type for type.
"""

from __future__ import annotations

import random

import pytest
from ddsketch import DDSketch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import windows as windows_module
from engine.windows import SKETCH_ACCURACY, latency_quantiles
from kernel.alerts import Scope
from kernel.events import Callback
from tests.unit.test_windows import QUANTILES, T0, make_windows


def _sketch_quantiles(latencies_ms: list[int]) -> tuple:
    sketch = DDSketch(SKETCH_ACCURACY)
    for ms in latencies_ms:
        sketch.add(max(ms, 0) / 1000.0)
    return tuple(sketch.get_quantile_value(q) for q in QUANTILES.values())


_latencies = st.lists(
    st.integers(min_value=-5_000, max_value=10**7) | st.sampled_from([0, 1, 999, 1_000, 1_001]), max_size=300
)


@settings(max_examples=300, deadline=None)
@given(_latencies)
def test_latency_quantiles_are_exactly_what_a_ddsketch_answers(latencies_ms: list[int]) -> None:
    got = latency_quantiles(list(latencies_ms))
    assert repr(got) == repr(_sketch_quantiles(latencies_ms))  # same values, same types (0 is an int)


def _callbacks(ts: int, channel: str, latencies_ms: list[int]) -> list[Callback]:
    return [Callback(ts, channel, f"{channel}{i}", ts - ms, "processed") for i, ms in enumerate(latencies_ms)]


@pytest.mark.parametrize("buffered", [3, 4096])
def test_window_quantiles_equal_a_ddsketch_of_its_latencies_folded_or_not(monkeypatch, buffered: int) -> None:
    """With a tiny buffer the latencies are folded into sketches mid-window; the answer is the same."""
    monkeypatch.setattr(windows_module, "MAX_BUFFERED", buffered)
    rng = random.Random(5)
    alipay = [rng.randrange(-100, 90_000) for _ in range(40)]
    wechat = [rng.randrange(0, 5_000) for _ in range(7)]
    w = make_windows()
    for event in _callbacks(T0 + 1_000, "alipay", alipay[:20]) + _callbacks(T0 + 2_000, "wechat", wechat):
        w.add(event)
    assert w.advance() == []  # folds what is over the buffer; nothing closes yet
    assert all(len(v) <= buffered for _c, _m, lat in w._open.values() for v in lat.values())
    for event in _callbacks(T0 + 3_000, "alipay", alipay[20:]):
        w.add(event)
    [window] = w.close_all()
    got = {o.scope: (o.latency_p50, o.latency_p95, o.latency_p99) for o in window.observations}
    assert got == {
        Scope(): _sketch_quantiles(alipay + wechat),
        Scope("alipay"): _sketch_quantiles(alipay),
        Scope("wechat"): _sketch_quantiles(wechat),
    }
