"""The shop's four payment channels and what is usual for each of them.

Every figure here was chosen for this evaluation model alone, from what a mid-sized Chinese web
shop sees: two wallets carry most of the traffic, bank cards and UnionPay the rest, with lower
success rates and slower, less reliable notifications. Channels are indexed by their position in
:data:`CHANNELS` throughout the package, because the generator works on numpy arrays.
"""

from __future__ import annotations

from typing import Final

import numpy as np

__all__ = [
    "CALLBACK_COVERAGE",
    "CALLBACK_FAILURE",
    "CALLBACK_MEDIAN_S",
    "CALLBACK_SIGMA",
    "CALLBACK_TAIL_SHARE",
    "CHANNELS",
    "ERROR_CODES",
    "ERROR_WEIGHTS",
    "INCIDENT_ERROR",
    "RETRY_AFTER_S",
    "SHARES",
    "SUCCESS",
]

CHANNELS: Final = ("alipay", "wechat", "unionpay", "card")
#: Share of all payments per channel (sums to 1).
SHARES: Final = np.array([0.37, 0.43, 0.08, 0.12])
#: Usual success rate per channel.
SUCCESS: Final = np.array([0.968, 0.957, 0.934, 0.946])
#: Ordinary decline reasons and how often each one is the reason for a failure.
ERROR_CODES: Final = ("INSUFFICIENT_FUNDS", "DECLINED", "USER_CANCELLED", "RISK_BLOCKED", "ISSUER_TIMEOUT")
ERROR_WEIGHTS: Final = np.array([0.32, 0.25, 0.20, 0.13, 0.10])
#: The code a provider-side outage fails payments with.
INCIDENT_ERROR: Final = "SYSTEM_ERROR"

#: Share of succeeded payments whose provider sends a callback at all.
CALLBACK_COVERAGE: Final = 0.985
#: Median and log-spread of callback latency (payment to arrival at the shop), per channel.
CALLBACK_MEDIAN_S: Final = np.array([2.2, 3.1, 4.5, 3.8])
CALLBACK_SIGMA: Final = np.array([0.75, 0.80, 0.85, 0.85])
#: Share of callbacks that take a slow path (a queue behind, a retry inside the provider):
#: lognormal around 25 s, which puts a few of them past a minute.
CALLBACK_TAIL_SHARE: Final = 0.02
#: Share of callback deliveries the shop fails to process (it answers 5xx), per channel.
CALLBACK_FAILURE: Final = np.array([0.004, 0.006, 0.012, 0.008])
#: The provider retries a failed delivery after these many seconds (then gives up).
RETRY_AFTER_S: Final = (10.0, 30.0, 90.0, 300.0, 900.0)
