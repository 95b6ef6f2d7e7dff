"""Scripted incidents: what each one does to the traffic, and the label it leaves.

An incident has a kind (the alert kind it should raise), a scope (one channel, all payments, or
one merchant), a start and an end, and one or two sizes. The generator asks every incident, at
each stage of a block, how it changes things: the payment rate (volume), success odds, amounts,
callback delays, failures and losses, and extra complaints. Each kind overrides only the stage it
touches, so an incident's cause is in one place and its side effects (a success-rate drop makes
fewer callbacks; delayed callbacks leave orders waiting) follow from the ordinary model.

The label's end is when the incident's effect has passed through the stream: for delayed
callbacks, the end of the incident plus the added delay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import numpy as np

from benchmarks.world.channels import CHANNELS, SHARES
from benchmarks.world.records import Callbacks, Complaints, Payments

__all__ = ["KINDS", "Incident", "make_incident"]


@dataclass(frozen=True)
class Incident:
    """One incident with concrete parameters; subclasses say what it does."""

    kind: ClassVar[str] = ""
    variants: ClassVar[tuple[str, ...]] = ("",)
    variant: str
    channel: int | None  # None: every channel
    merchant: int | None  # index into the merchant list, None: every merchant
    merchant_id: str | None
    start_ms: int
    end_ms: int
    size: float
    extra: float = 0.0

    # -- where and when ------------------------------------------------------------------------

    def during(self, t_ms: np.ndarray) -> np.ndarray:
        return (t_ms >= self.start_ms) & (t_ms < self.end_ms)

    def hits(self, t_ms: np.ndarray, channel: np.ndarray, merchant: np.ndarray) -> np.ndarray:
        """Events inside the incident's time and scope."""
        mask = self.during(t_ms)
        if self.channel is not None:
            mask &= channel == self.channel
        if self.merchant is not None:
            mask &= merchant == self.merchant
        return mask

    @property
    def label_end_ms(self) -> int:
        return self.end_ms

    def label(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "scope": {
                "channel": None if self.channel is None else CHANNELS[self.channel],
                "merchant_id": self.merchant_id,
            },
            "start": _iso(self.start_ms),
            "end": _iso(self.label_end_ms),
            "variant": self.variant or None,
            "size": round(self.size, 4),
        }

    # -- effects: each kind overrides the ones it has --------------------------------------------

    def volume(self, t_ms: np.ndarray) -> np.ndarray | None:
        """A factor on each channel's payment rate (channels x times), or None."""
        return None

    def success_drop(self, pay: Payments) -> np.ndarray | None:
        """Success probability taken off each payment, or None."""
        return None

    def reprice(self, pay: Payments, rng: np.random.Generator) -> None:
        """Change amounts in place."""

    def delay(self, first: Callbacks, rng: np.random.Generator) -> np.ndarray | None:
        """Milliseconds added to each first delivery, or None."""
        return None

    def failure(self, cb: Callbacks) -> np.ndarray | None:
        """Extra probability that each delivery attempt fails, or None."""
        return None

    def lost(self, cb: Callbacks) -> np.ndarray | None:
        """Deliveries that never arrive (and are not retried), or None."""
        return None

    def complaints(
        self, t0_ms: int, t1_ms: int, rng: np.random.Generator, next_order: int
    ) -> Complaints | None:
        """Extra complaints between ``t0_ms`` and ``t1_ms``, or None."""
        return None


class SuccessRateDrop(Incident):
    """The provider (or one merchant's integration) fails ``size`` more of the payments."""

    kind = "success_rate_drop"

    def success_drop(self, pay: Payments) -> np.ndarray | None:
        return np.where(self.hits(pay.ts_ms, pay.channel, pay.merchant), self.size, 0.0)


class CallbackFailureHigh(Incident):
    """The shop's notification endpoint fails ``size`` more of the deliveries (it answers 5xx)."""

    kind = "callback_failure_high"

    def failure(self, cb: Callbacks) -> np.ndarray | None:
        return np.where(self.hits(cb.ts_ms, cb.channel, cb.merchant), self.size, 0.0)


class CallbackLatencyHigh(Incident):
    """``delay``: every notification of a payment made during it comes ``size`` seconds later.
    ``held``: a share ``size`` of them is held back ``extra`` seconds."""

    kind = "callback_latency_high"
    variants = ("delay", "held")

    @property
    def label_end_ms(self) -> int:
        held_s = self.size if self.variant == "delay" else self.extra
        return self.end_ms + int(held_s * 1000)

    def delay(self, first: Callbacks, rng: np.random.Generator) -> np.ndarray | None:
        hit = self.hits(first.paid_ms, first.channel, first.merchant)
        if self.variant == "delay":
            return np.where(hit, rng.uniform(0.8, 1.2, len(first)) * self.size * 1000, 0.0)
        held = hit & (rng.random(len(first)) < self.size)
        return np.where(held, rng.uniform(0.7, 1.0, len(first)) * self.extra * 1000, 0.0)


class VolumeChange(Incident):
    """The channel's (or every channel's) payments run at ``size`` times the usual rate."""

    def volume(self, t_ms: np.ndarray) -> np.ndarray | None:
        factor = np.ones((len(CHANNELS), len(t_ms)))
        rows = slice(None) if self.channel is None else slice(self.channel, self.channel + 1)
        factor[rows, self.during(t_ms)] = self.size
        return factor


class VolumeDrop(VolumeChange):
    kind = "volume_drop"


class VolumeSpike(VolumeChange):
    kind = "volume_spike"


class AmountDeviation(Incident):
    """``testing``: a share ``size`` of the payments are card tests of 0.01-1.99 CNY.
    ``pricing``: every amount is ``size`` times what it should be."""

    kind = "amount_deviation"
    variants = ("testing", "pricing")

    def reprice(self, pay: Payments, rng: np.random.Generator) -> None:
        hit = self.hits(pay.ts_ms, pay.channel, pay.merchant)
        if self.variant == "testing":
            hit &= rng.random(len(pay)) < self.size
            pay.cents[hit] = rng.integers(1, 200, size=int(hit.sum()))
        else:
            pay.cents[hit] = np.maximum(np.rint(pay.cents[hit] * self.size), 1).astype(np.int64)


class ComplaintSpike(Incident):
    """``size`` extra complaints a minute, seven in ten about a paid order still shown unpaid."""

    kind = "complaint_spike"
    _MIX: ClassVar = np.array([0.7, 0.1, 0.1, 0.1])

    def complaints(
        self, t0_ms: int, t1_ms: int, rng: np.random.Generator, next_order: int
    ) -> Complaints | None:
        lo, hi = max(t0_ms, self.start_ms), min(t1_ms, self.end_ms)
        if hi <= lo:
            return None
        n = rng.poisson(self.size * (hi - lo) / 60_000)
        ts = np.sort(rng.integers(lo, hi, size=n))
        if self.channel is None:
            channel = rng.choice(len(CHANNELS), size=n, p=SHARES)
        else:
            channel = np.full(n, self.channel)
        order = next_order - rng.integers(1, 5000, size=n)
        order = np.where((rng.random(n) < 0.6) & (order >= 0), order, -1)
        return Complaints(ts, channel, np.full(n, -1), order, rng.choice(4, size=n, p=self._MIX))


class StuckPayments(Incident):
    """No notification of the channel reaches the shop while it lasts; the lost ones are not resent."""

    kind = "stuck_payments"

    def lost(self, cb: Callbacks) -> np.ndarray | None:
        return self.hits(cb.ts_ms, cb.channel, cb.merchant)


KINDS: dict[str, type[Incident]] = {
    cls.kind: cls
    for cls in (
        SuccessRateDrop,
        CallbackFailureHigh,
        CallbackLatencyHigh,
        VolumeDrop,
        VolumeSpike,
        AmountDeviation,
        ComplaintSpike,
        StuckPayments,
    )
}


def make_incident(
    kind: str,
    variant: str,
    channel: int | None,
    merchant: tuple[int, str] | None,
    start_ms: int,
    rng: np.random.Generator,
    peak: float,
) -> Incident:
    """An incident of ``kind`` starting at ``start_ms``, its duration and sizes drawn from ``rng``.

    The ranges are those of real incidents of each kind; a complaint spike scales with the shop
    (3 a minute for a shop peaking at 4 payments/s), since more customers notice a bigger outage.
    """
    cls = KINDS[kind]
    variant = variant or cls.variants[0]
    minutes, size, extra = _DRAW[kind, variant](rng, peak)
    return cls(
        variant=variant if len(cls.variants) > 1 else "",
        channel=channel,
        merchant=None if merchant is None else merchant[0],
        merchant_id=None if merchant is None else merchant[1],
        start_ms=start_ms,
        end_ms=start_ms + int(minutes * 60_000),
        size=size,
        extra=extra,
    )


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


# (kind, variant) -> rng, peak -> (minutes, size, extra)
_DRAW = {
    ("success_rate_drop", ""): lambda r, p: (_u(r, 15, 30), _u(r, 0.05, 0.20), 0.0),
    ("callback_failure_high", ""): lambda r, p: (_u(r, 15, 25), _u(r, 0.15, 0.40), 0.0),
    ("callback_latency_high", "delay"): lambda r, p: (_u(r, 15, 25), _u(r, 120, 360), 0.0),
    ("callback_latency_high", "held"): lambda r, p: (_u(r, 15, 25), _u(r, 0.08, 0.25), _u(r, 180, 600)),
    ("volume_drop", ""): lambda r, p: (_u(r, 20, 25), _u(r, 0.25, 0.35), 0.0),
    ("volume_spike", ""): lambda r, p: (_u(r, 10, 20), _u(r, 2.5, 4.0), 0.0),
    ("amount_deviation", "testing"): lambda r, p: (_u(r, 15, 30), _u(r, 0.35, 0.60), 0.0),
    ("amount_deviation", "pricing"): lambda r, p: (_u(r, 15, 30), float(r.choice([0.1, 10.0])), 0.0),
    ("complaint_spike", ""): lambda r, p: (_u(r, 12, 18), _u(r, 2.5, 3.5) * max(1.0, p / 4), 0.0),
    ("stuck_payments", ""): lambda r, p: (_u(r, 10, 15), 1.0, 0.0),
}


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
