"""The live reconciliation stage: the engine's events and stuck orders in, differences and
``reconciliation_difference`` verdicts out.

The engine hands over what it accepted (after dedup and the lateness check, so a repeated event
id is never a double charge) and the orders its stuck join gave up on; the stage judges them
only when a window closes, at that close's watermark. Closes fall on the same events however
the lines were cut into batches, so a replay finds the same differences at the same moments.

The alert is one per channel: it fires with the first difference on the channel, stays firing
while more come within ``quiet``, and then resolves through the alert lifecycle like any other.
Each difference also goes out on its own, for the ticket store (:mod:`reconciliation.tickets`).
"""

from __future__ import annotations

import importlib
from collections.abc import Container
from typing import Any, Final

from engine.stuck import StuckOrder, StuckTracker
from kernel.alerts import Scope
from kernel.errors import ConfigError
from kernel.events import Event
from kernel.observation import Observation
from kernel.settings import Settings
from kernel.verdict import Verdict
from reconciliation.fields import format_minor
from reconciliation.judge import Difference
from reconciliation.live import LiveReconciler
from reconciliation.provider import ProviderQuery

__all__ = ["KIND", "LiveStage", "load_query"]

KIND: Final = "reconciliation_difference"


def load_query(path: str) -> ProviderQuery:
    """The provider-query hook named by ``reconciliation.realtime.query`` (``module:factory``)."""
    module, _, name = path.partition(":")
    try:
        factory = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise ConfigError(
            f"reconciliation.realtime.query = {path!r}: cannot load it ({err}); "
            "name a factory as 'package.module:function' importable by paypulse"
        ) from None
    return factory()  # type: ignore[no-any-return]


def describe(diff: Difference) -> str:
    """One line about a difference, for the alert's reason.

    >>> from datetime import date
    >>> describe(Difference(date(2026, 1, 1), "alipay", "o1", None, "duplicate_payment", None, None,
    ...                     1250, "CNY", review=True))
    'duplicate_payment on order o1 (12.50 CNY, to review)'
    """
    amount = format_minor(abs(diff.amount_delta), diff.currency)
    review = ", to review" if diff.review else ""
    return f"{diff.klass} on order {diff.order_id} ({amount} {diff.currency}{review})"


class LiveStage:
    """Live reconciliation inside the engine, with one alert episode per channel."""

    def __init__(self, settings: Settings, stuck: StuckTracker, query: ProviderQuery | None = None) -> None:
        realtime = settings.reconciliation.realtime
        if query is None and realtime.query is not None:
            query = load_query(realtime.query)
        self.reconciler = LiveReconciler(realtime, settings.reconciliation.time_zone, query)
        self.quiet_ms = int(realtime.quiet.total_seconds() * 1000)
        self.tracker = stuck
        self.inbox: list[Event] = []  # the engine appends what it accepted
        self.stuck_orders: list[StuckOrder] = []  # stuck since the last close
        # channel -> [first found, last found, differences, the first one in words]
        self.episodes: dict[str, list[Any]] = {}

    def take(self, stuck: list[StuckOrder]) -> None:
        """The events accepted and the orders found stuck since the last call."""
        self.reconciler.take(self.inbox)
        self.inbox.clear()
        self.stuck_orders += stuck

    def close(
        self, watermark_ms: int, now_ms: int, firing: Container[tuple[str, Scope]]
    ) -> tuple[list[Difference], list[tuple[Verdict, Observation, str]]]:
        """A window closed: decide what is due; the differences, and a verdict per channel episode."""
        for order in self.stuck_orders:
            if self.tracker.stuck_now.get(order.order_id) == order:  # no callback since
                self.reconciler.stuck(*order)
        self.stuck_orders.clear()
        found = self.reconciler.tick(watermark_ms)
        for diff in found:
            episode = self.episodes.setdefault(diff.provider, [now_ms, now_ms, 0, describe(diff)])
            episode[1] = now_ms
            episode[2] += 1
        verdicts = []
        for channel, (first, last, count, reason) in sorted(self.episodes.items()):
            active = now_ms - last < self.quiet_ms
            scope = Scope(channel)
            if not active and (KIND, scope) not in firing:
                del self.episodes[channel]
                continue
            verdict = Verdict(KIND, float(active), active, first, float(count), 0.0, reason)
            verdicts.append((verdict, Observation(scope, first, now_ms), ""))
        return found, verdicts

    def snapshot(self) -> dict[str, Any]:
        return {
            "v": 1,
            "reconciler": self.reconciler.snapshot(),
            "stuck_orders": [list(order) for order in self.stuck_orders],
            "episodes": self.episodes,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.reconciler.restore(state["reconciler"])
        self.stuck_orders = [StuckOrder(*row) for row in state["stuck_orders"]]
        self.episodes = {channel: list(row) for channel, row in state["episodes"].items()}
