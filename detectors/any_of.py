"""One alert kind judged by several detectors, e.g. a complaint spike per complaint category.

Twelve extra ``charged_twice`` complaints in a minute are a clear signal on their own, but
vanish in the total when ``paid_not_updated`` complaints are the usual bulk. So each category
gets its own Poisson test (and the total one more), and the alert fires while any of them
does. The verdict is the most telling part's, with the part named in the reason, so on-call
reads which category spiked.
"""

from __future__ import annotations

from typing import Any

from detectors.protocol import Detector, Observation, Stepper, Verdict

__all__ = ["AnyOf"]


class AnyOf:
    """Fires while any part fires; reports the firing part with the highest score (or the highest
    score overall while none fires).

    Parts may measure different things (the p95 latency in seconds, the share of late callbacks);
    an alert shows one value against its baseline, so ``measure`` names the part whose value and
    baseline a verdict carries while it fires or none fires. When another part fires, the verdict
    carries that part's own value and baseline, named in ``Verdict.measure``: a p95 of 0 s
    against a 30 s limit must not be what an alert about late callbacks shows.
    """

    def __init__(self, kind: str, parts: dict[str, Detector], measure: str | None = None) -> None:
        if not parts or (measure is not None and measure not in parts):
            raise ValueError(f"AnyOf needs parts, and measure {measure!r} among them")
        self.kind = kind
        self.parts = parts
        self.measure = measure

    def score(self, obs: Observation) -> Verdict:
        verdicts = [(label, part.score(obs)) for label, part in self.parts.items()]
        firing = [(label, v) for label, v in verdicts if v.firing]
        label, verdict = max(firing or verdicts, key=lambda lv: lv[1].score)
        verdict = verdict._replace(kind=self.kind, reason=f"{label}: {verdict.reason}")
        if self.measure is None or label == self.measure:
            return verdict
        if firing:
            return verdict._replace(measure=label)
        shown = dict(verdicts)[self.measure]
        return verdict._replace(value=shown.value, baseline=shown.baseline)

    def assess(self, obs: Observation) -> tuple[float, bool]:
        """The score ``score`` would report: the highest firing part's, else the highest overall."""
        judged = [part.assess(obs) for part in self.parts.values()]
        firing = [score for score, part_firing in judged if part_firing]
        return max(firing or [score for score, _ in judged]), bool(firing)

    def steppers(self) -> tuple[Stepper, ...]:
        return tuple(stepper for part in self.parts.values() for stepper in part.steppers())

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
