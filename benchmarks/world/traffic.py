"""How many payments each channel expects, second by second: the shop's rhythm.

The overall rate peaks at ``peak`` payments/s in the evening (about 20:45 local time,
Asia/Shanghai) and falls to about 7% of that around 04:00, with a lunchtime bump. Weekends wake up
later and stay busy through the afternoon. On top of the daily curve sit a level per calendar day
(within ±3%, blended from one noon to the next so no midnight step appears) and a slow wobble per
channel: three sinusoids of 18-32 minute periods with random phases, together within ±3-5%.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from benchmarks.world.channels import CHANNELS, SHARES

__all__ = ["LOCAL_OFFSET_MS", "Traffic", "daily_profile", "local_day"]

#: Asia/Shanghai has kept UTC+8 all year since 1991.
LOCAL_OFFSET_MS: Final = 8 * 3_600_000
_DAY_MS: Final = 86_400_000
_MINUTES: Final = 1440

# (local hour, share of the evening peak); 0:00 and 24:00 agree in both, so days join smoothly
_WEEKDAY: Final = (
    (0, 0.42), (1, 0.27), (2, 0.16), (3, 0.10), (4, 0.065), (5, 0.075), (6, 0.13), (7, 0.25),
    (8, 0.38), (9, 0.47), (10, 0.53), (11, 0.62), (12, 0.77), (12.5, 0.81), (13, 0.73), (14, 0.58),
    (15, 0.55), (16, 0.56), (17, 0.62), (18, 0.72), (19, 0.86), (20, 0.97), (20.75, 1.0),
    (21.5, 0.95), (22, 0.86), (23, 0.64), (24, 0.42),
)  # fmt: skip
_WEEKEND: Final = (
    (0, 0.42), (1, 0.30), (2, 0.18), (3, 0.11), (4, 0.07), (5, 0.065), (6, 0.09), (7, 0.16),
    (8, 0.26), (9, 0.38), (10, 0.50), (11, 0.62), (12, 0.72), (12.5, 0.76), (13, 0.75), (14, 0.79),
    (15, 0.85), (16, 0.87), (17, 0.82), (18, 0.80), (19, 0.88), (20, 0.97), (20.75, 1.0),
    (21.5, 0.96), (22, 0.88), (23, 0.66), (24, 0.42),
)  # fmt: skip


def daily_profile(weekend: bool) -> np.ndarray:
    """The day's curve per local minute (1441 points, 00:00 to 24:00), smoothed, peak 1.0.

    >>> weekday = daily_profile(False)
    >>> float(weekday.max()), round(float(weekday[4 * 60]), 3) < 0.1, int(weekday.argmax()) // 60
    (1.0, True, 20)
    >>> bool(daily_profile(True)[15 * 60] > weekday[15 * 60] * 1.3)
    True
    """
    knots = _WEEKEND if weekend else _WEEKDAY
    hours, levels = zip(*knots, strict=True)
    minutes = np.arange(_MINUTES)
    raw = np.interp(minutes, np.array(hours) * 60, levels)
    # circular Gaussian smoothing (sigma 20 minutes) takes the corners off the straight segments
    offsets = np.arange(-60, 61)
    kernel = np.exp(-0.5 * (offsets / 20.0) ** 2)
    kernel /= kernel.sum()
    padded = np.concatenate([raw[-60:], raw, raw[:60]])
    smooth = np.convolve(padded, kernel, mode="valid")
    smooth /= smooth.max()
    return np.append(smooth, smooth[0])


def local_day(t_ms: np.ndarray | int) -> np.ndarray:
    """Days since 1970-01-01 in local time (integer), for each epoch-ms time."""
    return np.floor_divide(np.asarray(t_ms, dtype=np.int64) + LOCAL_OFFSET_MS, _DAY_MS)


class Traffic:
    """Expected payments/s per channel at any time between ``start_ms`` and the end of ``days``."""

    def __init__(self, peak: float, start_ms: int, days: int, rng: np.random.Generator) -> None:
        self.peak = peak
        self.profiles = (daily_profile(False), daily_profile(True))
        self.first_day = int(local_day(start_ms))
        # one level per calendar day (and one either side), placed at local noon
        self.levels = 1.0 + rng.uniform(-0.03, 0.03, size=days + 2)
        self.noons_ms = (np.arange(self.first_day - 1, self.first_day + days + 1) * _DAY_MS) + (
            _DAY_MS // 2 - LOCAL_OFFSET_MS
        )
        # per channel: 3 periods (ms), phases and amplitudes, the amplitudes summing to 3-5%
        self.periods_ms = rng.uniform(18, 32, size=(len(CHANNELS), 3)) * 60_000
        self.phases = rng.uniform(0, 2 * np.pi, size=(len(CHANNELS), 3))
        weights = rng.dirichlet(np.ones(3), size=len(CHANNELS))
        self.amplitudes = weights * rng.uniform(0.03, 0.05, size=(len(CHANNELS), 1))

    def shape(self, t_ms: np.ndarray) -> np.ndarray:
        """The overall curve (peak 1.0 before the day level) at each time."""
        local = np.asarray(t_ms, dtype=np.int64) + LOCAL_OFFSET_MS
        day = np.floor_divide(local, _DAY_MS)
        minute = (local - day * _DAY_MS) / 60_000.0
        weekend = (day + 3) % 7 >= 5  # 1970-01-01 was a Thursday (Monday = 0)
        whole = minute.astype(np.int64)
        frac = minute - whole
        out = np.empty(minute.shape)
        for flag, profile in ((False, self.profiles[0]), (True, self.profiles[1])):
            sel = weekend == flag
            out[sel] = profile[whole[sel]] * (1 - frac[sel]) + profile[whole[sel] + 1] * frac[sel]
        return out

    def level(self, t_ms: np.ndarray) -> np.ndarray:
        """The calendar day's level, blended linearly from one local noon to the next."""
        return np.interp(np.asarray(t_ms, dtype=np.float64), self.noons_ms, self.levels)

    def wobble(self, t_ms: np.ndarray) -> np.ndarray:
        """Each channel's slow wobble, a factor near 1 (shape: channels x times)."""
        t = np.asarray(t_ms, dtype=np.float64)
        angles = 2 * np.pi * t[None, None, :] / self.periods_ms[:, :, None] + self.phases[:, :, None]
        return 1.0 + (self.amplitudes[:, :, None] * np.sin(angles)).sum(axis=1)

    def expected(self, t_ms: np.ndarray) -> np.ndarray:
        """Expected payments/s per channel (shape: channels x times), before incidents."""
        overall = self.peak * self.shape(t_ms) * self.level(t_ms)
        return SHARES[:, None] * overall[None, :] * self.wobble(t_ms)
