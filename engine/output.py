"""What the engine hands its adapters: each batch's output, and the running totals for /metrics.

Plain data, kept apart from :mod:`engine.core` so the adapters that only write results out
(the output files, the dataflows) depend on these two shapes, not on the engine's workings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.windows import ClosedWindow
from kernel.alerts import Alert
from kernel.events import DeadLetter
from reconciliation.judge import Difference

__all__ = ["EngineOutput", "EngineStats"]


@dataclass
class EngineOutput:
    """What one batch produced, for the adapters to write out."""

    alerts: list[Alert] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    windows: list[ClosedWindow] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)  # live reconciliation's, to ticket
    event_time_ms: int = -1  # the largest event time seen when this was produced
    # how many alert changes the engine had made before ``alerts[0]`` (-1: not numbered); the
    # numbers survive a restart from a snapshot, so a replayed change is known as already logged
    first_alert_seq: int = -1

    def extend(self, other: EngineOutput) -> None:
        if self.first_alert_seq < 0:
            self.first_alert_seq = other.first_alert_seq
        self.alerts += other.alerts
        self.dead_letters += other.dead_letters
        self.windows += other.windows
        self.differences += other.differences


@dataclass
class EngineStats:
    """Running totals for /metrics; counters only grow."""

    accepted: dict[str, int] = field(default_factory=lambda: {"payment": 0, "callback": 0, "complaint": 0})
    rejected: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    recovered_stuck: int = 0
    alerts: dict[str, int] = field(default_factory=dict)  # "kind|status" -> changes

    @property
    def alert_changes(self) -> int:
        """Alert changes made so far: the number of the next one."""
        return sum(self.alerts.values())
