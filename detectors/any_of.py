"""One alert kind judged by several detectors, e.g. a complaint spike per complaint category.

Twelve extra ``charged_twice`` complaints in a minute are a clear signal on their own, but
vanish in the total when ``paid_not_updated`` complaints are the usual bulk. So each category
gets its own Poisson test (and the total one more), and the alert fires while any of them
does. The verdict is the most telling part's, with the part named in the reason, so on-call
reads which category spiked.
"""

from __future__ import annotations

from typing import Any

from detectors.protocol import Detector, Observation, Verdict

__all__ = ["AnyOf"]


class AnyOf:
    """Fires while any part fires; reports the firing part with the highest score (or the highest
    score overall while none fires)."""

    def __init__(self, kind: str, parts: dict[str, Detector]) -> None:
        if not parts:
            raise ValueError("AnyOf needs at least one part")
        self.kind = kind
        self.parts = parts

    def score(self, obs: Observation) -> Verdict:
        verdicts = [(label, part.score(obs)) for label, part in self.parts.items()]
        firing = [(label, v) for label, v in verdicts if v.firing]
        label, verdict = max(firing or verdicts, key=lambda lv: lv[1].score)
        return verdict._replace(kind=self.kind, reason=f"{label}: {verdict.reason}")

    def update(self, obs: Observation) -> None:
        for part in self.parts.values():
            part.update(obs)

    def snapshot(self) -> dict[str, Any]:
        return {"v": 1, "parts": {label: part.snapshot() for label, part in self.parts.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        if sorted(state["parts"]) != sorted(self.parts):
            raise ValueError(f"snapshot parts {sorted(state['parts'])} do not match {sorted(self.parts)}")
        for label, part in self.parts.items():
            part.restore(state["parts"][label])
