"""Seasonality of a series: find its period, start a per-phase profile, tell when the season fades.

:class:`detectors.river_models.SeriesScorer` runs a seasonal baseline only while the recent history
has a clear period. These are the pure computations behind that: :func:`detect_period` reads the
period off the autocorrelation (one FFT), :func:`start_profile` builds the baseline's first profile
and level from the history, and :func:`season_persists` checks cheaply, at the known lag only,
that a period found earlier is still there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

__all__ = ["detect_period", "season_persists", "start_profile"]


def detect_period(
    values: Iterable[float], min_period: int, max_period: int, threshold: float, prominence: float = 0.1
) -> int:
    """The dominant period of ``values`` from its autocorrelation, or 0 when there is none.

    The series is detrended (least squares line), its autocorrelation computed with one FFT, and the
    highest local maximum with lag in ``[min_period, max_period]`` chosen if it exceeds
    ``threshold`` and rises at least ``prominence`` above the lowest autocorrelation before it. The
    prominence test is what keeps random walks and slow drifts, whose autocorrelation decays
    smoothly from 1, from being read as seasonal.

    >>> wave = [math.sin(2 * math.pi * i / 24) + 0.1 * ((i * 7919) % 13 - 6) / 6 for i in range(400)]
    >>> detect_period(wave, 4, 150, 0.3)
    24
    >>> detect_period([float(i) for i in range(400)], 4, 150, 0.3)
    0
    """
    x = np.asarray(list(values), dtype=float)
    n = len(x)
    hi = min(max_period, n // 2)
    if hi <= min_period + 1:
        return 0
    t = np.arange(n, dtype=float)
    t -= t.mean()
    x = x - x.mean()
    x = x - t * (np.dot(t, x) / np.dot(t, t))
    spectrum = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[: hi + 2]
    if acf[0] <= 1e-12 * n * (1.0 + float(np.max(np.abs(x))) ** 2):
        return 0
    acf = acf / acf[0] * n / (n - np.arange(len(acf)))  # unbiased: long lags are not penalised
    peaks: list[tuple[int, float]] = []
    low = float(np.min(acf[1:min_period])) if min_period > 1 else 1.0
    for lag in range(min_period, hi + 1):
        value = float(acf[lag])
        if acf[lag - 1] <= value >= acf[lag + 1] and value > threshold and value - low >= prominence:
            peaks.append((lag, value))
            low = value
        low = min(low, value)
    if not peaks:
        return 0
    best, best_value = max(peaks, key=lambda peak: peak[1])
    # Prefer the fundamental: the peak at a multiple of the period can win by noise.
    for lag, value in peaks:
        ratio = best / lag
        if value >= 0.8 * best_value and abs(ratio - round(ratio)) * lag <= 1.5:
            return lag
    return best


def start_profile(window: list[float], n: int, period: int) -> tuple[list[float], float, float]:
    """A seasonal baseline started from ``window``, the values before point ``n``: (profile, level, residual).

    The profile holds the per-phase means around the window's mean (phase = point index modulo
    ``period``), the level is the mean of the last cycle, and the residual is the mean absolute
    miss of level plus profile over that last cycle: a first scale for the baseline.

    >>> start_profile([1.0, 3.0, 1.0, 3.0, 1.0, 3.0], 6, 2)
    ([-1.0, 1.0], 2.0, 0.0)
    """
    start = n - len(window)
    sums = [0.0] * period
    counts = [0] * period
    for offset, value in enumerate(window):
        phase = (start + offset) % period
        sums[phase] += value
        counts[phase] += 1
    mean = sum(window) / len(window)
    profile = [s / c - mean if c else 0.0 for s, c in zip(sums, counts, strict=True)]
    last = window[-period:]
    level = sum(last) / len(last)
    resid = [abs(v - level - profile[(n - period + i) % period]) for i, v in enumerate(last)]
    return profile, level, sum(resid) / len(resid)


def season_persists(window: list[float], period: int, threshold: float) -> bool:
    """Whether ``window`` still correlates with itself one ``period`` later (above 0.7 ``threshold``).

    >>> wave, other = [0.0, 1.0, 0.0, -1.0] * 10, [float(i % 7) for i in range(40)]
    >>> season_persists(wave, 4, 0.3), season_persists(other, 4, 0.3)
    (True, False)
    """
    x = np.asarray(window, dtype=float)
    p = period
    if len(x) < 2 * p:
        return False
    a, b = x[p:] - x[p:].mean(), x[:-p] - x[:-p].mean()
    denom = math.sqrt(float(np.dot(a, a)) * float(np.dot(b, b)))
    return denom > 0 and float(np.dot(a, b)) / denom > 0.7 * threshold
