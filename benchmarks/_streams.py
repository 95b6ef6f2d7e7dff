"""Synthetic event lines for one channel: Poisson payments, each success followed by its callback.

The detection-delay benchmark needs streams whose truth is known exactly (the success rate and
the instant it changes) and that are cheap to make at 500 payments/s for hours of event time.
So arrivals and outcomes are drawn with numpy in one go and the JSON lines are formatted from
byte templates (orjson would cost a dict per line for the same bytes).

Every succeeded payment gets a ``processed`` callback one second later, so the stuck-payment
and callback detectors see a healthy provider and stay quiet; failed payments get none, as in
real traffic. Lines come out in event-time order, so no event is ever late.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["Payments", "StreamLines", "merge_lines", "poisson_payments", "stream_lines", "time_batches"]

_PAYMENT = b'{"type":"payment","ts":%d,"channel":"%s","order_id":"%s%d","amount":"%d.%02d","status":"%s"}'
_CALLBACK = b'{"type":"callback","ts":%d,"channel":"%s","order_id":"%s%d","paid_at":%d,"status":"processed"}'


@dataclass(frozen=True)
class Payments:
    """Payment attempts in time order: epoch-ms times, outcomes and order numbers."""

    ts: np.ndarray  # int64 epoch ms, non-decreasing
    ok: np.ndarray  # bool, True = succeeded
    order: np.ndarray  # int64, unique within a stream
    cents: np.ndarray  # int64 amount in cents, > 0


@dataclass(frozen=True)
class StreamLines:
    """JSON lines in event-time order, with the event time of each line."""

    ts: np.ndarray  # int64 epoch ms, non-decreasing
    lines: list[bytes]

    def split(self, at_ms: int) -> tuple[StreamLines, StreamLines]:
        """The lines before ``at_ms`` and the lines from it on."""
        cut = int(np.searchsorted(self.ts, at_ms, side="left"))
        return StreamLines(self.ts[:cut], self.lines[:cut]), StreamLines(self.ts[cut:], self.lines[cut:])


def poisson_payments(
    rng: np.random.Generator,
    start_ms: int,
    end_ms: int,
    rate_per_s: float,
    success_rate: float,
    first_order: int = 0,
) -> Payments:
    """Poisson arrivals at ``rate_per_s`` over ``[start_ms, end_ms)``, each succeeding independently.

    The count is Poisson and, given the count, the times are uniform: the same process as
    exponential gaps, drawn without a Python loop.

    >>> p = poisson_payments(np.random.default_rng(1), 0, 60_000, 50.0, 0.9)
    >>> 2700 < len(p.ts) < 3300, bool((np.diff(p.ts) >= 0).all()), bool(0.85 < p.ok.mean() < 0.95)
    (True, True, True)
    """
    if end_ms <= start_ms or rate_per_s <= 0 or not 0.0 <= success_rate <= 1.0:
        raise ValueError(f"bad stream: [{start_ms}, {end_ms}) at {rate_per_s}/s, success {success_rate}")
    n = int(rng.poisson(rate_per_s * (end_ms - start_ms) / 1000))
    ts = np.sort(rng.integers(start_ms, end_ms, size=n, dtype=np.int64))
    ok = rng.random(n) < success_rate
    cents = np.maximum(np.rint(rng.lognormal(np.log(5000), 0.8, size=n)), 1).astype(np.int64)
    return Payments(ts, ok, np.arange(first_order, first_order + n, dtype=np.int64), cents)


def stream_lines(
    payments: Payments, channel: str = "alipay", callback_after_ms: int = 1000, prefix: str = "o"
) -> StreamLines:
    """The payments' lines and, for each success, a processed callback ``callback_after_ms`` later.

    >>> p = Payments(np.array([1_767_225_600_000]), np.array([True]), np.array([7]), np.array([1250]))
    >>> s = stream_lines(p)
    >>> from kernel.events import parse_line
    >>> [(type(e).__name__, e.ts, e.order_id) for e in map(parse_line, s.lines)]
    [('Payment', 1767225600000, 'o7'), ('Callback', 1767225601000, 'o7')]
    """
    ch, pre = channel.encode(), prefix.encode()
    ts, ok, order, cents = (a.tolist() for a in (payments.ts, payments.ok, payments.order, payments.cents))
    pay_lines = [
        _PAYMENT % (t, ch, pre, o, c // 100, c % 100, b"succeeded" if good else b"failed")
        for t, good, o, c in zip(ts, ok, order, cents, strict=True)
    ]
    paid = payments.ok
    cb_ts = payments.ts[paid] + callback_after_ms
    cb_lines = [
        _CALLBACK % (t + callback_after_ms, ch, pre, o, t)
        for t, o in zip(payments.ts[paid].tolist(), payments.order[paid].tolist(), strict=True)
    ]
    return merge_lines(StreamLines(payments.ts, pay_lines), StreamLines(cb_ts, cb_lines))


def merge_lines(*parts: StreamLines) -> StreamLines:
    """Several streams as one, in event-time order (stable: ties keep the order of ``parts``)."""
    ts = np.concatenate([p.ts for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    lines = [line for p in parts for line in p.lines]
    order = np.argsort(ts, kind="stable")
    return StreamLines(ts[order], [lines[i] for i in order.tolist()])


def time_batches(stream: StreamLines, max_lines: int = 200, max_span_ms: int = 1000) -> Iterator[list[bytes]]:
    """Batches of at most ``max_lines`` lines, none spanning more than ``max_span_ms`` of event time.

    A live source hands on a partial batch after a short wall-clock timeout, so a batch never
    holds much event time. A replay cut by line count alone would, at low rates, make one batch
    cover minutes of event time and delay every decision by that much.

    >>> s = StreamLines(np.array([0, 10, 999, 1000, 1001, 5000]), [b"a", b"b", b"c", b"d", b"e", b"f"])
    >>> list(time_batches(s, max_lines=2))
    [[b'a', b'b'], [b'c'], [b'd', b'e'], [b'f']]
    """
    if max_lines < 1 or max_span_ms < 1:
        raise ValueError("max_lines and max_span_ms must be >= 1")
    ts, lines = stream.ts, stream.lines
    if not len(ts):
        return
    slot = ts // max_span_ms
    bounds = np.flatnonzero(np.diff(slot)) + 1
    start = 0
    for stop in [*bounds.tolist(), len(ts)]:
        for i in range(start, stop, max_lines):
            yield lines[i : min(i + max_lines, stop)]
        start = stop
