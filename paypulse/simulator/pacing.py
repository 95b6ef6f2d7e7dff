"""Simulated traffic released in step with the clock on the wall, as a live shop would send it.

The simulator makes lines as fast as it can; a demo, or a stack where Prometheus watches how far
behind the monitor runs, needs them when they happen. :func:`paced` holds each chunk back until
its event time, counted from the first chunk and sped up ``speed`` times, has come.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator

__all__ = ["paced"]

Chunk = tuple[int, list[bytes]]  # (chunk end in epoch ms, lines)


def paced(
    chunks: Iterable[Chunk],
    speed: float = 1.0,
    *,
    stop: threading.Event | None = None,
    stop_after_s: float | None = None,
    on_first: Callable[[int, float], None] | None = None,
    origin_ms: int | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> Iterator[Chunk]:
    """``chunks``, each released once ``(its end - origin) / speed`` seconds have passed; the
    origin is ``origin_ms`` (the event time of now: a live feed sends no line before its time),
    else the first chunk's end (a demo starts at once).

    Ends early when ``stop`` is set or after ``stop_after_s`` seconds of real time. ``on_first``
    gets the first chunk's end (epoch ms) and the monotonic time the pacing started from.

    >>> ticks = iter([0.0, 0.0, 2.0])  # the start, then the clock at each later chunk
    >>> [end for end, _ in paced([(1000, []), (3000, [])], speed=1.0, monotonic=lambda: next(ticks))]
    [1000, 3000]
    """
    stop = stop or threading.Event()
    started = monotonic()
    first_ms: int | None = None
    for end_ms, lines in chunks:
        if first_ms is None:
            first_ms = end_ms if origin_ms is None else origin_ms
            if on_first is not None:
                on_first(end_ms, started)
        due = started + (end_ms - first_ms) / 1000 / speed
        if stop_after_s is not None and due - started > stop_after_s:
            return
        if stop.wait(max(due - monotonic(), 0)):
            return
        yield end_ms, lines
