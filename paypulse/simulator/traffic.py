"""Normal payment traffic, drawn a block at a time with numpy.

Every draw works on whole arrays (one block of event time), because a million events must
take seconds, not minutes. The shapes follow what a payment ops team sees: a daily cycle with
a night trough and two peaks, a few merchants carrying most of the volume, lognormal ticket
sizes and callback latencies, and events reaching the stream slightly out of order.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from paypulse.simulator.scenario import DailyCycle, Scenario

__all__ = [
    "INCIDENT_ERROR_CODE",
    "NORMAL_ERROR_CODES",
    "Traffic",
    "daily_table",
]

MINUTE_MS: Final = 60_000
DAY_MINUTES: Final = 1440

#: Why a payment fails on a normal day, with relative weights.
NORMAL_ERROR_CODES: Final = (
    ("INSUFFICIENT_BALANCE", 0.35),
    ("USER_CANCELLED", 0.25),
    ("RISK_REJECTED", 0.15),
    ("BANK_DECLINED", 0.15),
    ("TIMEOUT", 0.10),
)
#: The code of the extra failures a success-rate incident causes: the provider's side is down.
INCIDENT_ERROR_CODE: Final = "CHANNEL_UNAVAILABLE"


def daily_table(daily: DailyCycle) -> np.ndarray:
    """Traffic level for each local minute of the day, from ``night_ratio`` (trough) to 1.0 (peak).

    Each peak hour adds a Gaussian bump (circular over the day); the sum is rescaled so the
    quietest minute sits at the night ratio and the busiest at 1.

    >>> table = daily_table(DailyCycle())
    >>> round(float(table.min()), 3), round(float(table.max()), 3)
    (0.15, 1.0)
    >>> int(table.argmax()) // 60 in (12, 20), float(table[4 * 60]) < 0.25
    (True, True)
    """
    hours = np.arange(DAY_MINUTES) / 60.0
    bumps = np.zeros(DAY_MINUTES)
    for peak in daily.peak_hours:
        distance = np.abs(hours - peak)
        distance = np.minimum(distance, 24.0 - distance)
        bumps += np.exp(-0.5 * (distance / daily.peak_width_h) ** 2)
    low, high = bumps.min(), bumps.max()
    scaled = (bumps - low) / (high - low) if high > low else np.ones(DAY_MINUTES)
    return daily.night_ratio + (1.0 - daily.night_ratio) * scaled


class Traffic:
    """Draws normal traffic for a scenario: arrivals, who pays, how much, and outcomes."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        channels = scenario.channels
        shares = np.array([c.share for c in channels])
        self.channel_names: tuple[str, ...] = tuple(c.name for c in channels)
        self.channel_shares = shares / shares.sum()
        self._channel_cdf = np.cumsum(self.channel_shares)
        self._channel_cdf[-1] = 1.0
        self.success_rate = np.array([c.success_rate for c in channels])
        self._log_median = np.log([c.amount_median for c in channels])
        self._sigma = np.array([c.amount_sigma for c in channels])
        ranks = np.arange(1, scenario.merchants.count + 1, dtype=np.float64)
        weights = ranks**-scenario.merchants.zipf_exponent
        self.merchant_shares = weights / weights.sum()
        self._merchant_cdf = np.cumsum(self.merchant_shares)
        self._merchant_cdf[-1] = 1.0
        self._daily = daily_table(scenario.daily)
        self._offset_ms = int(scenario.daily.offset.total_seconds() * 1000)
        codes, code_weights = zip(*NORMAL_ERROR_CODES, strict=True)
        self.error_codes: tuple[str, ...] = codes
        self._code_cdf = np.cumsum(code_weights) / sum(code_weights)
        cb = scenario.callbacks
        self._latency_log_median = math.log(cb.latency_median.total_seconds() * 1000)
        self._max_latency_ms = cb.max_latency.total_seconds() * 1000
        self._retry_log_median = math.log(cb.retry_median.total_seconds() * 1000)
        self._max_jitter_ms = int(scenario.max_jitter.total_seconds() * 1000)

    def level(self, ms: np.ndarray) -> np.ndarray:
        """Daily-cycle level (0..1] at each epoch-ms time, looked up per local minute, times the
        weekend ratio on local Saturdays and Sundays."""
        local_minute = (ms + self._offset_ms) // MINUTE_MS
        level = self._daily[local_minute % DAY_MINUTES]
        weekend_ratio = self.scenario.daily.weekend_ratio
        if weekend_ratio != 1.0:
            weekday = (local_minute // DAY_MINUTES + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
            level = np.where(weekday >= 5, level * weekend_ratio, level)
        return level

    def rate_per_second(self, second_starts: np.ndarray) -> np.ndarray:
        """Expected payments in each second starting at these epoch-ms times."""
        return self.scenario.rate_per_s * self.level(second_starts)

    def arrivals(self, rng: np.random.Generator, second_starts: np.ndarray, rates: np.ndarray) -> np.ndarray:
        """Poisson arrivals: a count per second, then uniform times inside it (sorted epoch ms)."""
        counts = rng.poisson(rates)
        ts = np.repeat(second_starts, counts) + rng.integers(0, 1000, int(counts.sum()))
        ts.sort()
        return ts

    def channels(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Channel index of each payment, by share."""
        return np.searchsorted(self._channel_cdf, rng.random(n), side="right").astype(np.int64)

    def merchants(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Merchant index (rank - 1) of each payment, Zipf-weighted."""
        return np.searchsorted(self._merchant_cdf, rng.random(n), side="right").astype(np.int64)

    def amounts(self, rng: np.random.Generator, channel: np.ndarray, factor: np.ndarray) -> np.ndarray:
        """Lognormal ticket sizes in CNY (2 decimals, at least 0.01), times ``factor``."""
        log_amount = self._log_median[channel] + self._sigma[channel] * rng.standard_normal(channel.size)
        return np.maximum(np.round(np.exp(log_amount) * factor, 2), 0.01)

    def normal_error_codes(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Index into :attr:`error_codes` for ``n`` ordinary failures."""
        return np.searchsorted(self._code_cdf, rng.random(n), side="right").clip(0, len(self.error_codes) - 1)

    def callback_latency_ms(self, rng: np.random.Generator, factor: np.ndarray) -> np.ndarray:
        """Lognormal callback latency (median from the scenario) times ``factor``, capped."""
        sigma = self.scenario.callbacks.latency_sigma
        latency = np.exp(self._latency_log_median + sigma * rng.standard_normal(factor.size)) * factor
        return np.minimum(latency, self._max_latency_ms).astype(np.int64) + 1

    def retry_delay_ms(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Delay from a failed callback to its successful retry."""
        delay = np.exp(self._retry_log_median + 0.7 * rng.standard_normal(n))
        return np.minimum(delay, self._max_latency_ms).astype(np.int64) + 1

    def jitter_ms(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """How late each event reaches the stream after its own ``ts``.

        Most lines come within a few hundred ms; about 3% wait seconds (a slow hop, a batch
        flush). Never more than ``max_jitter``, which the scenario keeps under the 30 s lateness.
        """
        jitter = rng.random(n) * min(400.0, self._max_jitter_ms)
        slow = rng.random(n) < 0.03
        jitter[slow] += rng.exponential(1500.0, int(slow.sum()))
        return np.minimum(jitter, self._max_jitter_ms).astype(np.int64)
