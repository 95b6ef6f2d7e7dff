"""What an alert is: the record on-call reads, the alert log stores and every channel renders.

An alert is one state change (firing or resolved) of one anomaly kind on one scope. The
fingerprint is stable per kind and scope, so grouping, dedup and the banner can follow an
incident across its changes; the id is stable per change, so a replay of the same events
gives byte-identical alert logs. ``kind`` values and fingerprints are public API.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

__all__ = [
    "CUSTOMER_FACING_KINDS",
    "KINDS",
    "UNSCORED_KINDS",
    "Alert",
    "Impact",
    "Scope",
    "Severity",
    "Status",
    "fingerprint_of",
    "same_incident",
]

KINDS: Final = (
    "success_rate_drop",
    "callback_latency_high",
    "callback_failure_high",
    "volume_drop",
    "volume_spike",
    "amount_deviation",
    "complaint_spike",
    "stuck_payments",
    "reconciliation_difference",  # found by live reconciliation (reconciliation.live), not a detector
)
#: Kinds no detector scores: live reconciliation raises them from the differences it finds.
UNSCORED_KINDS: Final = frozenset({"reconciliation_difference"})
#: Kinds an end user feels directly: money leaves, the order stays unpaid. These drive the banner.
CUSTOMER_FACING_KINDS: Final = frozenset({"success_rate_drop", "stuck_payments", "callback_failure_high"})
#: Kinds that are faces of one incident. Trouble with a provider's callbacks shows first as
#: whatever the data shows first: callbacks that fail, paid orders still waiting for theirs
#: (stuck), or callbacks that arrive late. In the first minutes a late callback and a lost one
#: look the same, so on one scope these kinds are one incident and page once.
_CALLBACK_TROUBLE: Final = ("callback_failure_high", "callback_latency_high", "stuck_payments")
_FAMILIES: Final = dict.fromkeys(_CALLBACK_TROUBLE, "callbacks")


def same_incident(kind: str, other: str) -> bool:
    """``kind`` and ``other`` name the same incident on one scope: equal, or of one family.

    >>> same_incident("stuck_payments", "callback_latency_high")
    True
    >>> same_incident("volume_drop", "stuck_payments")
    False
    """
    return kind == other or _FAMILIES.get(kind, kind) == _FAMILIES.get(other, other)


Status = Literal["firing", "resolved"]
Severity = Literal["critical", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Scope:
    """Where: a channel, a merchant, both, or neither (``Scope()`` is all payments)."""

    channel: str | None = None
    merchant_id: str | None = None

    @property
    def label(self) -> str:
        """A short human name.

        >>> Scope("alipay").label, Scope(None, "m42").label, Scope().label
        ('alipay', 'merchant m42', 'all channels')
        """
        if self.merchant_id is None:
            return self.channel or "all channels"
        return f"{self.channel + ' ' if self.channel else ''}merchant {self.merchant_id}"

    def to_json(self) -> dict[str, str | None]:
        return {"channel": self.channel, "merchant_id": self.merchant_id}


@dataclass(frozen=True, slots=True)
class Impact:
    """What the anomaly costs while it lasts, per minute."""

    orders_per_min: float
    amount_per_min: float
    channels: tuple[str, ...] = ()

    def to_json(self, exact: bool = False) -> dict[str, Any]:
        return {
            "orders_per_min": self.orders_per_min if exact else round(self.orders_per_min, 2),
            "amount_per_min": self.amount_per_min if exact else round(self.amount_per_min, 2),
            "channels": list(self.channels),
        }


def fingerprint_of(kind: str, scope: Scope) -> str:
    """Stable per kind and scope across runs and releases.

    >>> fingerprint_of("success_rate_drop", Scope("alipay"))
    'adcba3c07cacfb53'
    """
    key = f"{kind}|{scope.channel or ''}|{scope.merchant_id or ''}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Alert:
    """One state change of one anomaly. Times are event time, aware UTC."""

    kind: str
    scope: Scope
    status: Status
    severity: Severity
    started_at: datetime
    detected_at: datetime
    value: float
    baseline: float
    impact: Impact
    suggested_action: str
    summary: str
    resolved_at: datetime | None = None
    fingerprint: str = field(init=False)
    id: str = field(init=False)

    def __post_init__(self) -> None:
        fp = fingerprint_of(self.kind, self.scope)
        object.__setattr__(self, "fingerprint", fp)
        change = f"{fp}|{int(self.started_at.timestamp() * 1000)}|{self.status}"
        object.__setattr__(self, "id", hashlib.sha256(change.encode()).hexdigest()[:20])

    @property
    def customer_facing(self) -> bool:
        return self.kind in CUSTOMER_FACING_KINDS

    def to_json(self, exact: bool = False) -> dict[str, Any]:
        """The alert log's line, field for field; ``exact`` keeps every float whole (a snapshot,
        from which a resumed run must go on exactly as an uninterrupted one)."""
        return {
            "id": self.id,
            "fingerprint": self.fingerprint,
            "status": self.status,
            "kind": self.kind,
            "scope": self.scope.to_json(),
            "severity": self.severity,
            "started_at": _iso(self.started_at),
            "detected_at": _iso(self.detected_at),
            "resolved_at": _iso(self.resolved_at),
            "value": self.value if exact else round(self.value, 6),
            "baseline": self.baseline if exact else round(self.baseline, 6),
            "impact": self.impact.to_json(exact),
            "suggested_action": self.suggested_action,
            "summary": self.summary,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Alert:
        """Read an alert log line back (outbox rows, tests, tools)."""

        def when(key: str) -> datetime | None:
            value = data.get(key)
            return None if value is None else datetime.fromisoformat(value)

        impact = data["impact"]
        return cls(
            kind=data["kind"],
            scope=Scope(data["scope"]["channel"], data["scope"]["merchant_id"]),
            status=data["status"],
            severity=data["severity"],
            started_at=when("started_at"),  # type: ignore[arg-type]
            detected_at=when("detected_at"),  # type: ignore[arg-type]
            resolved_at=when("resolved_at"),
            value=data["value"],
            baseline=data["baseline"],
            impact=Impact(impact["orders_per_min"], impact["amount_per_min"], tuple(impact["channels"])),
            suggested_action=data["suggested_action"],
            summary=data["summary"],
        )
