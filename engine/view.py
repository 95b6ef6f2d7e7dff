"""What readers see of the engine: a frozen view, published between batches and read without a lock.

/metrics, the repeat ticker and the demo's live view run on threads of their own. Reading the
engine's live state from them would need a lock that the hot path takes for every batch, and a
reader that holds it stalls the stream. Instead the adapter that runs the engine asks it for a
:class:`EngineView` between two batches, at most once every ``every_s`` of wall time and at the end
(:class:`Publisher`), and swaps it in; a reader takes the latest, whole, and never touches the
engine. A scrape sees the state of at most a second ago, as consistent as a snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.output import EngineStats
from kernel.alerts import Alert, Scope
from kernel.clock import Clock
from kernel.observation import Observation

if TYPE_CHECKING:
    from engine.core import Engine

__all__ = ["EngineView", "Publisher", "ScopeView", "ViewSource", "last_minute"]

_WINDOWS_PER_MINUTE = 6  # 10-second windows


#: Where a reader gets the latest view (None before the engine's first batch).
ViewSource = Callable[[], "EngineView | None"]


@dataclass(frozen=True, slots=True)
class ScopeView:
    """One scope's last minute and the payments a minute its volume test expects now."""

    minute: Observation
    volume_baseline: float | None


@dataclass(frozen=True)
class EngineView:
    """The engine's state as readers need it; nothing in it changes after it is made."""

    stats: EngineStats = field(default_factory=EngineStats)
    watermark_ms: int = -1
    max_ts: int = -1
    scores: Mapping[tuple[str, Scope], float] = field(default_factory=dict)
    firing: tuple[Alert, ...] = ()
    stuck_by_channel: Mapping[str, int] = field(default_factory=dict)
    totals: Mapping[str, Observation] = field(default_factory=dict)  # per channel, since the start
    scopes: Mapping[Scope, ScopeView] = field(default_factory=dict)


def last_minute(ring: Any) -> Observation | None:
    """The last minute of a scope's windows: merchants have 1-minute observations, others
    10-second ones, summed over the last six."""
    if not ring:
        return None
    last: Observation = ring[-1]
    if last.scope.merchant_id is not None:
        return last
    rows = list(ring)[-_WINDOWS_PER_MINUTE:]
    return Observation(
        last.scope,
        rows[0].start_ms,
        last.end_ms,
        sum(o.attempts for o in rows),
        sum(o.successes for o in rows),
        sum(o.amount for o in rows),
        0.0,
        0.0,
        sum(o.callbacks for o in rows),
        sum(o.callback_failures for o in rows),
        sum(o.callbacks_slow for o in rows),
        last.latency_p50,
        last.latency_p95,
        last.latency_p99,
        sum(o.complaints_paid_not_updated for o in rows),
        sum(o.complaints_charged_twice for o in rows),
        sum(o.complaints_refund for o in rows),
        sum(o.complaints_other for o in rows),
        sum(o.stuck for o in rows),
        sum(o.overdue for o in rows),
        sum(o.callbacks_over_limit for o in rows),
    )


class Publisher:
    """Holds the latest view of one engine; the thread that runs the engine offers it new ones.

    Swapping one reference is atomic in Python, so readers need no lock: they get the old view or
    the new one, never half of either.
    """

    def __init__(self, clock: Clock, every_s: float = 1.0) -> None:
        self.clock = clock
        self.every_s = every_s
        self.latest: EngineView | None = None
        self._at = float("-inf")

    def offer(self, engine: Engine, force: bool = False) -> None:
        """After a batch: publish a new view if ``every_s`` passed since the last (or ``force``)."""
        now = self.clock.now()
        if force or now - self._at >= self.every_s:
            self.latest = engine.view()
            self._at = now
