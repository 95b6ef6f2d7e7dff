"""Getting events to the monitor: transit delays, re-sent duplicates, and the stream's order.

An event reaches the stream some time after its own ``ts``: most within 2.5 s, one in eight
after a few seconds more (exponential, mean 4 s, at most 12 s), one in two hundred 8-20 s late.
One event in a thousand that carries an ``event_id`` is sent again 0.3-5 s later, byte for byte.
:class:`Pending` holds what was generated but has not reached the stream yet (callbacks of
payments a block earlier, complaints hours later) and hands it out in arrival order.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DUPLICATE_SHARE", "Pending", "duplicate", "transit_ms"]

DUPLICATE_SHARE = 0.001


def transit_ms(n: int, rng: np.random.Generator) -> np.ndarray:
    """Milliseconds from each event's ``ts`` to its arrival in the stream."""
    u = rng.random(n)
    out = rng.uniform(30, 2500, n)
    slow = (u >= 0.875) & (u < 0.995)
    out[slow] += np.minimum(rng.exponential(4000, int(slow.sum())), 9500)
    late = u >= 0.995
    out[late] = rng.uniform(8000, 20000, int(late.sum()))
    return out.astype(np.int64)


def duplicate(
    arrival: np.ndarray, lines: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Copies of about :data:`DUPLICATE_SHARE` of the lines, with their later arrival."""
    again = rng.random(len(lines)) < DUPLICATE_SHARE
    later = arrival[again] + rng.integers(300, 5000, int(again.sum()))
    return later, lines[again]


class Pending:
    """Lines waiting for their arrival time."""

    def __init__(self) -> None:
        self.arrival = np.zeros(0, dtype=np.int64)
        self.lines = np.empty(0, dtype=object)

    def __len__(self) -> int:
        return len(self.lines)

    def add(self, arrival: np.ndarray, lines: np.ndarray) -> None:
        self.arrival = np.concatenate([self.arrival, arrival])
        self.lines = np.concatenate([self.lines, lines])

    def before(self, t_ms: int) -> list[str]:
        """The lines arriving before ``t_ms``, in arrival order (ties in the order added)."""
        order = np.argsort(self.arrival, kind="stable")
        arrival, lines = self.arrival[order], self.lines[order]
        cut = int(np.searchsorted(arrival, t_ms, side="left"))
        self.arrival, self.lines = arrival[cut:], lines[cut:]
        return lines[:cut].tolist()
