"""The reference for throughput: PayPulse's windowed counting as one plain Python loop.

This is the yardstick the engine is held to (``benchmarks/throughput.py`` reports the engine's
speed as a ratio of this loop's). It does the counting part of the job the straightforward way
and nothing else: no deduplication, no payment/callback join, no detectors, no alerts.

Per line: ``orjson.loads``, hand validation (type, RFC 3339 or epoch-ms timestamps, channel,
order id, amount as number or decimal string > 0, status), then 10 s tumbling event-time
windows with 30 s lateness, keyed overall, per channel and per (channel, merchant): payment
and success counts, amount sum, callback and callback-failure counts, complaint counts, and
callback latency in a DDSketch per channel (the overall sketch merged from those at close).
A window is emitted, with p50/p95/p99 latency for the overall and channel keys, once the
watermark (largest event time - 30 s) passes its end.

Run alone: ``.venv/bin/python benchmarks/plain_loop.py [EVENTS.jsonl]``; without a file it
simulates ``--events`` lines of ``--scenario`` into a temporary one first.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import orjson
from ddsketch import DDSketch

__all__ = ["PlainLoop", "run_plain_loop"]

WIDTH_MS: Final = 10_000
LATENESS_MS: Final = 30_000
_MS_MIN: Final = 946_684_800_000  # 2000-01-01
_MS_MAX: Final = 4_102_444_800_000  # 2100-01-01
_PAYMENT_STATUS: Final = frozenset({"succeeded", "failed"})
_CALLBACK_STATUS: Final = frozenset({"processed", "failed"})
# accumulator slots
_PAYMENTS, _SUCCESSES, _AMOUNT, _CALLBACKS, _CB_FAILED, _COMPLAINTS = range(6)
ALL: Final = ()  # the overall key; a channel's is (channel,), a merchant's (channel, merchant)

Row = tuple[Any, ...]  # (start_ms, channel | None, merchant | None, *counts, p50, p95, p99)


class Invalid(Exception):
    """A line the loop rejects."""


def _ms(value: object) -> int:
    if type(value) is int:
        if _MS_MIN <= value <= _MS_MAX:
            return value
        raise Invalid("timestamp out of range")
    if type(value) is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise Invalid("bad timestamp") from None
        if parsed.tzinfo is None:
            raise Invalid("timestamp without zone")
        return int(parsed.timestamp() * 1000)
    raise Invalid("bad timestamp")


def _ident(value: object) -> str:
    if type(value) is str and 0 < len(value) <= 256:
        return value
    raise Invalid("bad identifier")


def _amount(value: object) -> float:
    if type(value) is str:
        try:
            value = float(value)
        except ValueError:
            raise Invalid("bad amount") from None
    elif type(value) is int:
        value = float(value)
    if type(value) is not float or not (value > 0 and math.isfinite(value)):
        raise Invalid("bad amount")
    return value


class PlainLoop:
    """Windowed counts over validated events; closed windows go to ``emit`` one row per key.

    >>> rows = []
    >>> loop = PlainLoop(rows.append)
    >>> loop.feed(b'{"type":"payment","ts":1767225600000,"channel":"alipay","merchant_id":"m1",'
    ...           b'"order_id":"o1","amount":"12.50","status":"succeeded"}')
    >>> loop.feed(b'{"type":"payment","ts":"nope"}')
    >>> loop.finish()
    >>> [(r[1], r[2], r[3], r[5]) for r in rows], loop.invalid
    ([(None, None, 1, 12.5), ('alipay', None, 1, 12.5), ('alipay', 'm1', 1, 12.5)], 1)
    """

    def __init__(self, emit: Callable[[Row], None]) -> None:
        self.emit = emit
        self.max_ts = -1
        self.next_close: int | None = None
        self.open: dict[int, dict[tuple[str | None, ...], list[float]]] = {}
        self.sketches: dict[int, dict[str, DDSketch]] = {}
        self.events = 0
        self.invalid = 0
        self.late = 0

    def feed(self, line: bytes) -> None:
        """Parse, validate and count one line."""
        try:
            self._count(orjson.loads(line))
        except (orjson.JSONDecodeError, Invalid):
            self.invalid += 1

    def _count(self, d: Any) -> None:
        if type(d) is not dict:
            raise Invalid("not an object")
        kind = d.get("type")
        ts = _ms(d.get("ts"))
        channel = _ident(d.get("channel"))
        merchant = d.get("merchant_id")
        if merchant is not None:
            _ident(merchant)
        if kind == "payment":
            _ident(d.get("order_id"))
            amount = _amount(d.get("amount"))
            status = d.get("status")
            if status not in _PAYMENT_STATUS:
                raise Invalid("bad status")
        elif kind == "callback":
            _ident(d.get("order_id"))
            latency = ts - _ms(d.get("paid_at"))
            status = d.get("status")
            if status not in _CALLBACK_STATUS:
                raise Invalid("bad status")
        elif kind != "complaint":
            raise Invalid("unknown type")
        self.events += 1

        w = ts // WIDTH_MS
        if self.next_close is not None and w < self.next_close:
            self.late += 1
            return
        leaves = self.open.get(w)
        if leaves is None:
            leaves = self.open[w] = {}
        for key in (ALL, (channel,), (channel, merchant)):
            acc = leaves.get(key)
            if acc is None:
                acc = leaves[key] = [0, 0, 0.0, 0, 0, 0]
            if kind == "payment":
                acc[_PAYMENTS] += 1
                acc[_AMOUNT] += amount
                if status == "succeeded":
                    acc[_SUCCESSES] += 1
            elif kind == "callback":
                acc[_CALLBACKS] += 1
                if status == "failed":
                    acc[_CB_FAILED] += 1
            else:
                acc[_COMPLAINTS] += 1
        if kind == "callback" and status == "processed":
            sketches = self.sketches.get(w)
            if sketches is None:
                sketches = self.sketches[w] = {}
            sketch = sketches.get(channel)
            if sketch is None:
                sketch = sketches[channel] = DDSketch(0.01)
            sketch.add(max(latency, 0) / 1000.0)

        if ts > self.max_ts:
            self.max_ts = ts
            if self.next_close is None:
                self.next_close = w
            self._close_until((ts - LATENESS_MS) // WIDTH_MS)

    def finish(self) -> None:
        """End of input: emit every window still open."""
        if self.open:
            self._close_until(max(self.open) + 1)

    def _close_until(self, stop: int) -> None:
        while self.next_close is not None and self.next_close < stop:
            w = self.next_close
            self.next_close = w + 1
            leaves = self.open.pop(w, {})
            sketches = self.sketches.pop(w, {})
            overall = None
            if sketches:
                overall = DDSketch(0.01)
                for sketch in sketches.values():
                    overall.merge(sketch)
            start = w * WIDTH_MS
            for key, acc in leaves.items():
                sketch = overall if not key else sketches.get(key[0]) if len(key) == 1 else None
                channel, merchant = (*key, None, None)[:2]
                quantiles = (None, None, None)
                if sketch is not None and sketch.count:
                    quantiles = tuple(sketch.get_quantile_value(q) for q in (0.5, 0.95, 0.99))
                self.emit((start, channel, merchant, *acc, *quantiles))


def run_plain_loop(path: Path, emit: Callable[[Row], None] | None = None) -> PlainLoop:
    """Feed every line of ``path`` through a :class:`PlainLoop` and finish it."""
    loop = PlainLoop(emit or (lambda row: None))
    feed = loop.feed
    with open(path, "rb") as f:
        for line in f:
            line = line.rstrip(b"\r\n")
            if line:
                feed(line)
    loop.finish()
    return loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "file", type=Path, nargs="?", metavar="EVENTS.jsonl", help="events, e.g. from `paypulse simulate`"
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="lines to simulate")
    parser.add_argument("--scenario", type=Path, default=Path("scenarios/day.toml"), help="scenario TOML")
    args = parser.parse_args()
    if args.file is not None:
        _measure(args.file)
        return
    if __package__ in (None, ""):  # run as a script: make `benchmarks._common` importable
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks._common import generate_events

    with tempfile.TemporaryDirectory(prefix="paypulse-bench-") as tmp:
        path = Path(tmp) / "events.jsonl"
        generate_events(path, args.scenario, args.events)
        _measure(path)


def _measure(path: Path) -> None:
    rows = 0

    def count(_row: Row) -> None:
        nonlocal rows
        rows += 1

    started = time.perf_counter()
    loop = run_plain_loop(path, count)
    elapsed = time.perf_counter() - started
    lines = loop.events + loop.invalid
    print(
        f"{lines:,} lines in {elapsed:.2f} s: {lines / elapsed:,.0f} lines/s; "
        f"{loop.invalid} invalid, {loop.late} late, {rows:,} window rows emitted"
    )


if __name__ == "__main__":
    main()
