"""Volume tests do not learn what the opposite test finds abnormal."""

from __future__ import annotations

import numpy as np

from detectors.suite import build_detectors
from kernel.alerts import Scope
from kernel.observation import Observation
from kernel.settings import DetectorSettings

WINDOW_MS = 10_000


def test_the_hour_after_a_promotion_is_not_an_outage() -> None:
    detectors = {
        d.kind: d
        for d in build_detectors(Scope("alipay"), DetectorSettings(), WINDOW_MS)
        if d.kind in ("volume_drop", "volume_spike")
    }
    rng = np.random.default_rng(2)
    firing: dict[str, list[int]] = {"volume_drop": [], "volume_spike": []}
    for w in range(5 * 360):  # 2 h normal, 1 h at three times the traffic, 2 h normal again
        mean = 60.0 if 720 <= w < 1080 else 20.0
        obs = Observation(
            Scope("alipay"), w * WINDOW_MS, (w + 1) * WINDOW_MS, attempts=int(rng.poisson(mean))
        )
        for kind, detector in detectors.items():
            if detector.score(obs).firing:
                firing[kind].append(w)
            detector.update(obs)
    assert firing["volume_spike"] and 720 <= firing["volume_spike"][0] < 740
    assert firing["volume_drop"] == []
