"""The detector contract: River's two-step shape (judge, then learn) plus recovery.

A detector watches one scope (channel, merchant or all) and is fed one closed window
(:class:`~kernel.observation.Observation`) at a time, in event time. ``score`` is pure, so a
window is judged against a baseline that has not yet seen it; ``update`` learns, and keeps the
baseline frozen while firing so an ongoing incident never becomes the new normal.

Some detectors also take each outcome as it arrives (:class:`Stepper`, the sequential tests), so
an incident is announced at the payment that proves it rather than at the next window close;
``steppers`` hands them to the engine, which steps them in arrival order.

``assess`` is ``score`` without the words: the engine judges about a hundred detectors every
window and exports each score, but needs a whole :class:`Verdict` (value, baseline, reason) only
when an alert starts, continues or ends, which is a handful of windows a day.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from kernel.observation import Observation
from kernel.verdict import Verdict

__all__ = ["Detector", "Observation", "Stepper", "Verdict", "WindowsOnly"]


@runtime_checkable
class Stepper(Protocol):
    """A test stepped with every outcome of one stream, in arrival order."""

    stream: str  # "payments", "callbacks" or "callback_delays": the outcomes it takes
    resting: bool  # True while a good outcome would change nothing: the engine skips the call

    def step(self, bad: bool, ts_ms: int) -> bool:
        """Take one outcome at event time ``ts_ms``; True when this outcome flipped firing."""
        ...


@runtime_checkable
class Detector(Protocol):
    kind: str

    def steppers(self) -> tuple[Stepper, ...]:
        """The per-event tests inside this detector (none for one that judges windows only)."""
        ...

    def score(self, obs: Observation) -> Verdict:
        """Judge ``obs`` against what was learned so far; must not change state."""
        ...

    def assess(self, obs: Observation) -> tuple[float, bool]:
        """``(score, firing)`` of ``score(obs)``, without building the rest; must not change state."""
        ...

    def update(self, obs: Observation) -> None:
        """Learn from ``obs``; the baseline stays frozen while firing."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able copy of the learned state, with a version key ``"v"``."""
        ...

    def restore(self, state: dict[str, Any]) -> None:
        """Load a snapshot onto a freshly built instance with the same params."""
        ...


class WindowsOnly:
    """Mixin for a detector that judges closed windows only: it has no per-event tests."""

    __slots__ = ()

    def steppers(self) -> tuple[Stepper, ...]:
        return ()
