"""Accuracy and speed of the series anomaly scorer on seeded, labelled synthetic series.

Each series type plants one kind of anomaly (spikes, level shifts, variance changes, trend
changes, seasonal spikes and shifts, a missing seasonal cycle, bursts in counts, spikes on a random
walk) at a random scale and offset, with a labelled window per anomaly. Every variant scores every
series in one online pass; we report, per type and overall:

* ``auc``: ROC AUC of the point scores against the labelled windows (threshold-free);
* ``rec``: share of anomalies whose window holds a score >= 0.5 (event recall);
* ``prec``: share of points scoring >= 0.5 that fall in a window or its tail (alarm precision);
* ``p99``: 99th percentile score on pure noise, after warm-up (how quiet it is);
* ``us/pt``: microseconds per point (score, then learn).

Run: ``.venv/bin/python benchmarks/score_series.py [--seeds 3] [--length 3000] [--variants a,b]``.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from detectors.river_models import SeriesScorer, score_series

THRESHOLD = 0.5


@dataclass(frozen=True, slots=True)
class Labelled:
    kind: str
    values: list[float]
    windows: list[tuple[int, int]]  # [start, end) of each anomaly
    tail: int  # points after a window where an alarm still counts as a true one


def _noise(rng: random.Random, n: int) -> list[float]:
    return [rng.gauss(0.0, 1.0) for _ in range(n)]


def _places(rng: random.Random, n: int, count: int, gap: int) -> list[int]:
    """``count`` anomaly starts after warm-up, at least ``gap`` apart."""
    starts: list[int] = []
    while len(starts) < count:
        t = rng.randrange(300, n - gap)
        if all(abs(t - s) >= gap for s in starts):
            starts.append(t)
    return sorted(starts)


def _rescale(rng: random.Random, values: list[float]) -> list[float]:
    scale = 10 ** rng.uniform(-3, 4)
    offset = rng.choice([0.0, 1.0, 100.0, -50.0]) * scale * rng.uniform(1, 20)
    return [offset + scale * v for v in values]


def make_series(kind: str, seed: int, n: int) -> Labelled:
    """One labelled series of ``kind``; the same (kind, seed, n) always gives the same series."""
    rng = random.Random(f"{kind}-{seed}")
    x = _noise(rng, n)
    windows: list[tuple[int, int]] = []
    tail = 5
    if kind == "noise":
        pass
    elif kind in ("spikes", "seasonal_spikes", "random_walk_spikes"):
        if kind == "random_walk_spikes":
            for i in range(1, n):
                x[i] += x[i - 1]
        if kind == "seasonal_spikes":
            period = rng.choice([24, 48, 96, 144, 288])
            amp = rng.uniform(3, 8)
            x = [v + amp * math.sin(2 * math.pi * i / period) for i, v in enumerate(x)]
        for t in _places(rng, n, 8, 150):
            x[t] += rng.choice([-1, 1]) * rng.uniform(5, 9)
            windows.append((t, t + 1))
    elif kind in ("level_shift", "seasonal_shift", "ar1_shift"):
        if kind == "ar1_shift":
            for i in range(1, n):
                x[i] += 0.8 * x[i - 1]
        if kind == "seasonal_shift":
            period = rng.choice([24, 48, 96, 144])
            amp = rng.uniform(3, 8)
            x = [v + amp * math.sin(2 * math.pi * i / period) for i, v in enumerate(x)]
        level = 0.0
        starts = _places(rng, n, 3, 500)
        for t0, t1 in zip(starts, [*starts[1:], n], strict=True):
            level += rng.choice([-1, 1]) * rng.uniform(3, 6) * (2.5 if kind == "ar1_shift" else 1.0)
            for i in range(t0, t1):
                x[i] += level
            windows.append((t0, t0 + 10))
        tail = 20
    elif kind == "variance":
        for t in _places(rng, n, 3, 500):
            factor = rng.uniform(3, 5)
            for i in range(t, min(t + 150, n)):
                x[i] *= factor
            windows.append((t, t + 30))
        tail = 150
    elif kind == "trend_change":
        t = rng.randrange(1000, n - 500)
        slope = rng.choice([-1, 1]) * rng.uniform(0.03, 0.08)
        x = [v + 0.002 * i + (slope * (i - t) if i >= t else 0.0) for i, v in enumerate(x)]
        windows.append((t, t + 150))
        tail = 150
    elif kind == "seasonal_gap":
        period = rng.choice([48, 96, 144])
        amp = rng.uniform(4, 8)
        x = [0.5 * v + amp * math.sin(2 * math.pi * i / period) for i, v in enumerate(x)]
        for t in _places(rng, n, 2, 600):
            for i in range(t, t + period // 2):
                x[i] = 0.5 * rng.gauss(0, 1)
            windows.append((t, t + period // 2))
        tail = 10
    elif kind == "counts_burst":
        lam = rng.uniform(2, 20)
        x = [float(_poisson(rng, lam)) for _ in range(n)]
        for t in _places(rng, n, 4, 300):
            for i in range(t, t + 5):
                x[i] = float(_poisson(rng, lam * 4))
            windows.append((t, t + 5))
        return Labelled(kind, x, windows, tail)
    else:
        raise ValueError(f"unknown series kind {kind!r}")
    return Labelled(kind, _rescale(rng, x), windows, tail)


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


KINDS = (
    "spikes",
    "level_shift",
    "variance",
    "trend_change",
    "seasonal_spikes",
    "seasonal_shift",
    "seasonal_gap",
    "random_walk_spikes",
    "ar1_shift",
    "counts_burst",
)


# ---------------------------------------------------------------------- variants


def _robust(**params: float) -> Callable[[list[float]], Iterator[float]]:
    return lambda values: score_series(values, SeriesScorer(**params))  # type: ignore[arg-type]


def _ew_z(values: Iterable[float], alpha: float = 0.02, warmup: int = 10) -> Iterator[float]:
    """Plain EW mean/variance z-score, logistic-calibrated: the simplest scale-free baseline."""
    mean = var = 0.0
    for n, x in enumerate(values):
        if n >= warmup:
            z = abs(x - mean) / math.sqrt(max(var, 1e-18 * (1 + mean * mean)))
            yield 1.0 / (1.0 + math.exp(-2.0 * (z - 4.0)))
        else:
            yield 0.0
        a = max(alpha, 1.0 / (n + 1))
        diff = x - mean
        mean += a * diff
        var = (1 - a) * (var + a * diff * diff)


def _river_gaussian(values: Iterable[float], window: int = 200) -> Iterator[float]:
    from river import anomaly

    model = anomaly.GaussianScorer(window_size=window, grace_period=10)
    for x in values:
        yield float(model.score_one(None, x))
        model.learn_one(None, x)


def _river_hst(values: Iterable[float], seed: int = 42) -> Iterator[float]:
    """HalfSpaceTrees on min-max scaled (value, first difference, deviation from a short EW mean)."""
    from river import anomaly, preprocessing

    scaler = preprocessing.MinMaxScaler()
    model = anomaly.HalfSpaceTrees(n_trees=10, height=8, window_size=100, seed=seed)
    prev = ew = None
    for x in values:
        prev = x if prev is None else prev
        ew = x if ew is None else ew
        features = {"value": x, "diff": x - prev, "dev": x - ew}
        scaled = scaler.learn_one(features) or scaler.transform_one(features)
        yield float(model.score_one(scaled))
        model.learn_one(scaled)
        prev, ew = x, ew + 0.2 * (x - ew)


def _robust_with_hst(values: list[float]) -> Iterator[float]:
    yield from (max(a, b) for a, b in zip(score_series(values), _river_hst(values), strict=True))


VARIANTS: dict[str, Callable[[list[float]], Iterable[float]]] = {
    "robust": _robust(),
    "robust-no-season": _robust(season_every=10**9),
    "robust-no-shift": _robust(shift_window=1, reanchor_z=1e9),
    "robust-no-reanchor": _robust(reanchor_z=1e9),
    "robust-q995": _robust(calib_quantile=0.995),
    "ew-z": _ew_z,
    "river-gaussian-w200": _river_gaussian,
    "river-hst": _river_hst,
    "robust+hst": _robust_with_hst,
}


# ---------------------------------------------------------------------- metrics


def labels_of(series: Labelled) -> tuple[np.ndarray, np.ndarray]:
    """(in a window, in a window or its tail) as boolean arrays."""
    inside = np.zeros(len(series.values), dtype=bool)
    near = np.zeros(len(series.values), dtype=bool)
    for start, end in series.windows:
        inside[start:end] = True
        near[start : end + series.tail] = True
    return inside, near


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC by ranks (ties share the mean rank)."""
    from scipy.stats import rankdata

    pos = int(positive.sum())
    neg = len(positive) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - pos * (pos + 1) / 2) / (pos * neg))


def variant(name: str) -> Callable[[list[float]], Iterable[float]]:
    """A named variant, or ``robust:param=value,param=value`` for the scorer with other params."""
    if name.startswith("robust:"):
        params = dict(item.split("=") for item in name.split(":", 1)[1].split("/"))
        return _robust(**{key: float(value) if "." in value else int(value) for key, value in params.items()})
    return VARIANTS[name]


def evaluate(name: str, seeds: int, length: int) -> dict[str, tuple[float, float, float]]:
    scorer = variant(name)
    rows: dict[str, tuple[float, float, float]] = {}
    all_alarms = all_true_alarms = 0
    for kind in KINDS:
        aucs, hits, events, alarms, true_alarms = [], 0, 0, 0, 0
        for seed in range(seeds):
            series = make_series(kind, seed, length)
            scores = np.fromiter(scorer(series.values), dtype=float, count=length)
            inside, near = labels_of(series)
            aucs.append(auc(scores, inside))
            for start, end in series.windows:
                events += 1
                hits += bool(np.any(scores[start:end] >= THRESHOLD))
            alarm = scores >= THRESHOLD
            alarms += int(alarm.sum())
            true_alarms += int((alarm & near).sum())
        all_alarms += alarms
        all_true_alarms += true_alarms
        rows[kind] = (float(np.mean(aucs)), hits / events, true_alarms / alarms if alarms else float("nan"))
    rows["ALL"] = (
        float(np.mean([r[0] for r in rows.values()])),
        float(np.mean([r[1] for r in rows.values()])),
        all_true_alarms / all_alarms if all_alarms else float("nan"),
    )
    return rows


def quiet_p99(name: str, seeds: int, length: int) -> float:
    p99s = []
    for seed in range(seeds):
        series = make_series("noise", seed, length)
        scores = np.fromiter(variant(name)(series.values), dtype=float, count=length)
        p99s.append(float(np.quantile(scores[50:], 0.99)))
    return float(np.mean(p99s))


def speed_us(name: str, length: int) -> float:
    values = make_series("seasonal_spikes", 0, length).values
    start = time.perf_counter()
    for _ in variant(name)(values):
        pass
    return (time.perf_counter() - start) / length * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--length", type=int, default=3000)
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated; also robust:param=value/param=value"
    )
    parser.add_argument("--per-kind", action="store_true", help="print AUC/recall/precision per series type")
    args = parser.parse_args()
    print(f"{'variant':48} {'auc':>6} {'rec':>6} {'prec':>6} {'p99':>6} {'us/pt':>7}")
    for name in args.variants.split(","):
        rows = evaluate(name, args.seeds, args.length)
        a, r, p = rows["ALL"]
        p99 = quiet_p99(name, args.seeds, args.length)
        print(f"{name:48} {a:6.3f} {r:6.3f} {p:6.3f} {p99:6.3f} {speed_us(name, args.length):7.1f}")
        if args.per_kind:
            for kind in KINDS:
                a, r, p = rows[kind]
                print(f"  {kind:20} {a:6.3f} {r:6.3f} {p:6.3f}")


if __name__ == "__main__":
    main()
