"""Complaint spikes are tested per category as well as in total."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.any_of import AnyOf
from detectors.suite import build_detectors
from kernel.alerts import Scope
from kernel.observation import Observation
from kernel.settings import DetectorSettings

WINDOW_MS = 10_000


def _complaint_detector() -> AnyOf:
    (detector,) = [
        d
        for d in build_detectors(Scope("alipay"), DetectorSettings(), WINDOW_MS)
        if d.kind == "complaint_spike"
    ]
    assert isinstance(detector, AnyOf)
    return detector


def _run(detector: AnyOf, extra_charged_twice: int) -> list:
    """Two hours of about 3 paid_not_updated complaints a minute, then ten minutes with
    ``extra_charged_twice`` more charged-twice complaints per 10 s window."""
    rng = np.random.default_rng(9)
    verdicts = []
    for w in range(780):
        spike = w >= 720
        obs = Observation(
            Scope("alipay"),
            w * WINDOW_MS,
            (w + 1) * WINDOW_MS,
            complaints_paid_not_updated=int(rng.poisson(0.5)),
            complaints_charged_twice=int(rng.poisson(0.02)) + (extra_charged_twice if spike else 0),
        )
        verdicts.append(detector.score(obs))
        detector.update(obs)
    return verdicts


def test_a_rare_category_spiking_fires_and_names_the_category() -> None:
    verdicts = _run(_complaint_detector(), extra_charged_twice=1)
    firing = [v for v in verdicts if v.firing]
    assert firing, "6 charged-twice complaints a minute against a usual 0.1 must alert"
    assert all(v.reason.startswith("charged_twice: ") for v in firing)
    assert firing[0].value == pytest.approx(6.0, abs=1.5)  # per minute, of that category


def test_the_same_spike_is_lost_in_the_total_alone() -> None:
    total = _complaint_detector().parts["all categories"]
    probe = AnyOf("complaint_spike", {"all categories": total})
    assert not any(v.firing for v in _run(probe, extra_charged_twice=1))


def test_quiet_complaints_do_not_fire() -> None:
    assert not any(v.firing for v in _run(_complaint_detector(), extra_charged_twice=0))


def test_snapshot_of_other_parts_is_refused() -> None:
    detector = _complaint_detector()
    state = detector.snapshot()
    del state["parts"]["refund"]
    with pytest.raises(ValueError, match="do not match"):
        _complaint_detector().restore(state)
