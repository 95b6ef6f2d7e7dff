"""The NAB score: how the Numenta Anomaly Benchmark ranks streaming detectors, from its definition.

Point-wise ROC AUC against NAB's wide windows says little about a streaming detector: a window spans
10% of a file around one labelled anomaly, and a detector that flags the anomaly once and then goes
quiet (what on-call staff want) scores as if it missed most of the window. NAB's own score
(Lavin & Ahmad, "Evaluating Real-time Anomaly Detection Algorithms", 2015) instead rewards the
first detection in each window, more the earlier it comes, and charges every detection outside a
window. Its definition, as implemented here:

* The first ``min(floor(0.15 n), 750)`` rows of a file are probationary and not scored.
* A detection is a row whose score is at or above the threshold. Inside a window of width ``w`` whose
  right edge is row ``r``, the row ``i`` is worth ``tp * sigma(-(r - i + 1) / w) / sigma(-1)``
  with ``sigma(x) = 2 / (1 + exp(-5 x)) - 1``; only the best (earliest) detection of a window
  counts, and a window without one costs ``fn``.
* A detection outside every window costs ``fp``, scaled by ``sigma`` of its distance past the
  previous window in that window's widths (``-fp`` in full before the first window, less right
  after a window).
* The corpus score at a threshold is the sum over files; the threshold is the one that maximises
  it, over the whole corpus at once. It is normalised so that detecting nothing scores 0 and
  detecting every window at its left edge with no false positive scores 100.

Profiles (``PROFILES``) weigh false positives and misses: ``standard`` (fp 0.11, fn 1),
``reward_low_FP_rate`` (fp 0.22) and ``reward_low_FN_rate`` (fn 2). The threshold sweep is exact
(every distinct score is tried), so it can only score at or above NAB's own local search.

>>> spans = [(40, 60)]
>>> sweep, window = sweep_weights(100, spans, PROFILES["standard"])
>>> hit = [0.0] * 100; hit[41] = 1.0
>>> late = [0.0] * 100; late[59] = 1.0
>>> noisy = [1.0 if i % 10 == 0 else 0.0 for i in range(100)]; noisy[41] = 1.0
>>> [round(nab_score([(s, sweep, window)], PROFILES["standard"])[1], 1) for s in (hit, late, noisy)]
[99.8, 56.3, 72.4]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["PROFILES", "Profile", "nab_score", "probation_rows", "sweep_weights"]


@dataclass(frozen=True, slots=True)
class Profile:
    """NAB's cost matrix: what a detection in a window earns and what a false one or a miss costs."""

    tp: float
    fp: float
    fn: float


PROFILES: dict[str, Profile] = {
    "standard": Profile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": Profile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": Profile(tp=1.0, fp=0.11, fn=2.0),
}


def _sigma(position: float) -> float:
    """NAB's scaled sigmoid: +0.987 at a window's left edge (-1), 0 at its right edge, -1 far past it."""
    return -1.0 if position > 3.0 else 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def probation_rows(n: int) -> int:
    """Rows at the start of an ``n``-row file that NAB does not score."""
    return int(min(math.floor(0.15 * n), 0.15 * 5000))


def sweep_weights(
    n: int, spans: Sequence[tuple[int, int]], profile: Profile
) -> tuple[np.ndarray, np.ndarray]:
    """(worth of a detection at each row, window index or -1 outside, -2 in probation) for one file.

    ``spans`` are ``[start, end)`` row ranges of the windows, in order and not overlapping.
    """
    weight = np.empty(n)
    window = np.full(n, -1, dtype=np.int64)
    max_tp = _sigma(-1.0)
    previous: tuple[int, int] | None = None  # (right edge row, width) of the last window passed
    spans = sorted(spans)
    k = 0
    for i in range(n):
        if k < len(spans) and spans[k][0] <= i < spans[k][1]:
            start, end = spans[k]
            weight[i] = _sigma(-(end - i) / (end - start)) * profile.tp / max_tp
            window[i] = k
            if i == end - 1:
                previous, k = (i, end - start), k + 1
        elif previous is None:
            weight[i] = -profile.fp
        else:
            right, width = previous
            weight[i] = _sigma(abs(right - i) / max(width - 1, 1)) * profile.fp
    window[: probation_rows(n)] = -2
    return weight, window


def nab_score(
    files: Sequence[tuple[Sequence[float], np.ndarray, np.ndarray]], profile: Profile
) -> tuple[float, float]:
    """(best threshold, normalised score) over ``files`` of ``(scores, weight, window)``.

    ``weight`` and ``window`` come from :func:`sweep_weights` with the same ``profile``.
    """
    scores, weights, owners = [], [], []
    windows = 0
    for values, weight, window in files:
        s = np.asarray(values, dtype=float)
        keep = window != -2
        scores.append(np.nan_to_num(s[keep], nan=0.0))
        weights.append(weight[keep])
        w = window[keep]
        scored = np.unique(w[w >= 0])
        remap = np.full(int(w.max(initial=0)) + 1, -1, dtype=np.int64)
        remap[scored] = windows + np.arange(len(scored))
        owners.append(np.where(w >= 0, remap[np.maximum(w, 0)], -1))
        windows += len(scored)
    if not windows:
        return math.nan, math.nan
    score = np.concatenate(scores)
    weight = np.concatenate(weights)
    owner = np.concatenate(owners)
    order = np.argsort(-score, kind="stable")
    best = [-profile.fn] * windows
    null = total = -profile.fn * windows
    best_total, best_threshold = total, math.inf
    sorted_scores = score[order]
    for j, row in enumerate(order.tolist()):
        w = owner[row]
        if w < 0:
            total += weight[row]
        elif weight[row] > best[w]:
            total += weight[row] - best[w]
            best[w] = weight[row]
        # A threshold sits between distinct scores: count it once every row at this score is in.
        if (j + 1 == len(order) or sorted_scores[j + 1] != sorted_scores[j]) and total > best_total:
            best_total, best_threshold = total, float(sorted_scores[j])
    perfect = profile.tp * windows
    return best_threshold, float(100.0 * (best_total - null) / (perfect - null))
