"""From detector verdicts to alert state changes, with the words on-call needs.

A detector says "firing" or not every window; on-call needs one message when it starts and one
when it ends, each saying what is wrong, what it costs and what to do first. This module keeps
which (kind, scope) pairs are firing and turns each change into an :class:`Alert`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

from alerting.model import CUSTOMER_FACING_KINDS, Alert, Impact, Scope, Severity
from detectors.protocol import Verdict
from paypulse.observation import Observation

__all__ = ["SUGGESTED_ACTIONS", "AlertLifecycle"]

SUGGESTED_ACTIONS: Final = {
    "success_rate_drop": "Check the channel's error codes and the provider's status page; "
    "switch traffic to a backup channel if failures continue.",
    "callback_latency_high": "Check the callback endpoint's health and queue; query the provider's "
    "order status API for paid orders instead of waiting.",
    "callback_failure_high": "Check the callback handler's logs (signature checks, timeouts, 5xx) "
    "and whether the provider retries; reconcile paid orders by query.",
    "volume_drop": "Check the checkout page, SDK and channel availability; confirm with the provider "
    "whether payments are reaching them.",
    "volume_spike": "Check for a promotion or an attack (card testing, bots); consider rate limits "
    "and risk rules.",
    "amount_deviation": "Check recent price or currency changes and for small-amount card testing.",
    "complaint_spike": "Read the latest complaints; if users say they paid but orders are unpaid, "
    "check callbacks and reconcile.",
    "stuck_payments": "Query the provider for the listed orders and mark paid ones; check the callback "
    "endpoint. Tell customer service not to ask users to pay again.",
}

_WHAT: Final = {
    "success_rate_drop": ("payment success rate", "{:.1%}"),
    "callback_latency_high": ("callback p95 latency", "{:.1f}s"),
    "callback_failure_high": ("callback failure rate", "{:.1%}"),
    "volume_drop": ("payments per minute", "{:.0f}"),
    "volume_spike": ("payments per minute", "{:.0f}"),
    "amount_deviation": ("typical ticket size", "{:.2f}"),
    "complaint_spike": ("complaints per minute", "{:.1f}"),
    "stuck_payments": ("stuck payments per minute", "{:.1f}"),
}


#: Symptoms of another firing kind on the same scope (Alertmanager's inhibit rules): failing
#: callbacks also make the remaining ones late and leave paid orders waiting; late callbacks
#: leave paid orders waiting past the overdue mark. The cause's alert already says what to do.
INHIBITED_BY: Final = {
    "callback_latency_high": frozenset({"callback_failure_high"}),
    "stuck_payments": frozenset({"callback_failure_high", "callback_latency_high"}),
}


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def severity_of(kind: str, scope: Scope) -> Severity:
    """Customer-facing kinds are critical on a channel or overall; the rest warn.

    >>> severity_of("success_rate_drop", Scope("alipay")), severity_of("success_rate_drop", Scope(None, "m1"))
    ('critical', 'warning')
    """
    if kind in CUSTOMER_FACING_KINDS and scope.merchant_id is None:
        return "critical"
    return "warning"


def impact_of(kind: str, verdict: Verdict, obs: Observation, channels: tuple[str, ...]) -> Impact:
    """Orders and money per minute the anomaly touches, estimated from the current window."""
    minutes = max(obs.minutes, 1e-9)
    ticket = obs.amount / obs.attempts if obs.attempts else 0.0
    per_min = obs.attempts / minutes
    if kind == "success_rate_drop":
        orders = per_min * max(verdict.baseline - verdict.value, 0.0)
    elif kind == "callback_failure_high":
        orders = obs.callbacks / minutes * max(verdict.value - verdict.baseline, 0.0)
    elif kind == "callback_latency_high":
        orders = obs.callbacks / minutes
    elif kind in ("volume_drop", "volume_spike"):
        orders = abs(verdict.baseline - verdict.value)
    elif kind == "amount_deviation":
        return Impact(per_min, per_min * abs(verdict.value - verdict.baseline), channels)
    else:  # complaint_spike, stuck_payments: the value is already per minute
        orders = verdict.value
    return Impact(orders, orders * ticket, channels)


class AlertLifecycle:
    """Tracks firing (kind, scope) pairs and emits an Alert at each change that on-call should see.

    A channel in trouble drags down all payments and the merchants on it, and on-call wants one
    alert for one incident. So, as Alertmanager's inhibit rules do, a same-kind alert on all
    payments or on a merchant stays quiet while any channel-level alert of that kind fires,
    and for the rest of its own episode: it is part of the channel's incident, and its slower
    recovery (merchants are judged per minute) should not page anyone again. Such an alert also
    waits ``group_wait_ms`` of event time before it is announced, so a channel alert that explains
    it, but crossed its threshold a few payments later, still gets the chance to absorb it.
    """

    def __init__(self, group_wait_ms: int = 30_000, resolve_hold_ms: int = 0) -> None:
        self.group_wait_ms = group_wait_ms
        # an alert resolves only after its detector has been quiet this long (Prometheus's
        # keep_firing_for): an incident that flickers around its threshold stays one alert
        self.resolve_hold_ms = resolve_hold_ms
        self.firing: dict[tuple[str, Scope], Alert] = {}  # what the detectors say now
        self.quiet_since: dict[tuple[str, Scope], tuple[int, float]] = {}  # firing, but quiet: since, value
        self.announced: set[tuple[str, Scope]] = set()  # what on-call has been told is firing
        self.absorbed: set[tuple[str, Scope]] = set()  # firing, but part of a channel's incident
        self.channel_resolved_ms: dict[str, int] = {}  # kind -> when its last channel alert resolved

    def observe(
        self, verdicts: list[tuple[Verdict, Observation, str]], now_ms: int, channels: tuple[str, ...]
    ) -> list[Alert]:
        """Feed one round of verdicts (``(verdict, observation, detail)``); return alert changes."""
        changes: list[Alert] = []
        for verdict, obs, detail in verdicts:
            key = (verdict.kind, obs.scope)
            current = self.firing.get(key)
            if verdict.firing and current is None:
                scope_channels = channels if obs.scope.channel is None else (obs.scope.channel,)
                self.firing[key] = self._alert(verdict, obs, now_ms, scope_channels, detail)
            elif verdict.firing:
                self.quiet_since.pop(key, None)  # back before the hold ran out: the same alert
            elif current is not None:
                since, value = self.quiet_since.setdefault(key, (now_ms, verdict.value))
                if now_ms - since >= self.resolve_hold_ms:
                    changes += self._resolve(key, since, value)
        for key, alert in self.firing.items():
            if key in self.announced or key in self.absorbed:
                continue
            if self._inhibited(key, alert):
                self.absorbed.add(key)
            elif _is_channel(key[1]):
                self.announced.add(key)
                changes.append(alert)
            elif now_ms - _ms(alert.detected_at) >= self.group_wait_ms:
                announced = replace(alert, detected_at=_utc(now_ms))  # when on-call is told
                self.firing[key] = announced
                self.announced.add(key)
                changes.append(announced)
        return changes

    def snapshot(self) -> dict[str, Any]:
        """The alert state as plain data (part of the engine's snapshot)."""
        return {
            "firing": [alert.to_json() for alert in self.firing.values()],
            "announced": [{"kind": k, "scope": s.to_json()} for k, s in self.announced],
            "absorbed": [{"kind": k, "scope": s.to_json()} for k, s in self.absorbed],
            "channel_resolved_ms": dict(self.channel_resolved_ms),
            "quiet_since": [
                {"kind": k, "scope": s.to_json(), "since_ms": since, "value": value}
                for (k, s), (since, value) in self.quiet_since.items()
            ],
        }

    def restore(self, state: dict[str, Any]) -> None:
        for row in state["firing"]:
            alert = Alert.from_json(row)
            self.firing[(alert.kind, alert.scope)] = alert
        self.announced = {(row["kind"], Scope(**row["scope"])) for row in state["announced"]}
        self.absorbed = {(row["kind"], Scope(**row["scope"])) for row in state["absorbed"]}
        self.channel_resolved_ms = dict(state["channel_resolved_ms"])
        self.quiet_since = {
            (row["kind"], Scope(**row["scope"])): (row["since_ms"], row["value"])
            for row in state["quiet_since"]
        }

    def flush(self) -> list[Alert]:
        """End of input: alerts whose detectors are quiet resolve now, without waiting out the hold."""
        changes: list[Alert] = []
        for key, (since, value) in sorted(self.quiet_since.items(), key=lambda kv: kv[1][0]):
            changes += self._resolve(key, since, value)
        return changes

    def _resolve(self, key: tuple[str, Scope], since_ms: int, value: float) -> list[Alert]:
        """Forget ``key``'s alert, recovered at ``since_ms``; a resolved notice if on-call knew of it."""
        current = self.firing.pop(key)
        self.quiet_since.pop(key, None)
        self.absorbed.discard(key)
        if _is_channel(key[1]):
            self.channel_resolved_ms[key[0]] = since_ms
        if key not in self.announced:
            return []
        self.announced.discard(key)
        return [_resolved(current, value, since_ms)]

    def _inhibited(self, key: tuple[str, Scope], alert: Alert) -> bool:
        """A cause of this kind fires on its scope (or, off channels, on a channel); or, off channels,
        a same-kind channel alert fires, or fired while this episode had already begun."""
        kind, scope = key
        causes = INHIBITED_BY.get(kind, frozenset())
        if _is_channel(scope):  # a cause on this channel; another channel's trouble is not ours
            return any(k in causes and s == scope for k, s in self.firing)
        if any(k in causes and (s == scope or _is_channel(s)) for k, s in self.firing):
            return True
        if any(k == kind and _is_channel(s) for k, s in self.firing):
            return True
        resolved = self.channel_resolved_ms.get(kind)
        return resolved is not None and _ms(alert.started_at) <= resolved

    def _alert(
        self, v: Verdict, obs: Observation, now_ms: int, channels: tuple[str, ...], detail: str
    ) -> Alert:
        scope = obs.scope
        what, fmt = _WHAT[v.kind]
        started_ms = v.started_at_ms if v.started_at_ms is not None else obs.start_ms
        summary = (
            f"{scope.label}: {what} {fmt.format(v.value)} vs normal {fmt.format(v.baseline)}, "
            f"since {_utc(started_ms):%H:%M:%S} UTC ({v.reason}){detail}"
        )
        return Alert(
            kind=v.kind,
            scope=scope,
            status="firing",
            severity=severity_of(v.kind, scope),
            started_at=_utc(started_ms),
            detected_at=_utc(now_ms),
            value=v.value,
            baseline=v.baseline,
            impact=impact_of(v.kind, v, obs, channels),
            suggested_action=SUGGESTED_ACTIONS[v.kind],
            summary=summary,
        )


def _is_channel(scope: Scope) -> bool:
    return scope.channel is not None and scope.merchant_id is None


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _resolved(alert: Alert, value: float, now_ms: int) -> Alert:
    return Alert(
        kind=alert.kind,
        scope=alert.scope,
        status="resolved",
        severity=alert.severity,
        started_at=alert.started_at,
        detected_at=alert.detected_at,
        resolved_at=_utc(now_ms),
        value=value,
        baseline=alert.baseline,
        impact=alert.impact,
        suggested_action=alert.suggested_action,
        summary=f"Resolved: {alert.summary}",
    )
