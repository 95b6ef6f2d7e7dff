"""From detector verdicts to alert state changes, with the words on-call needs.

A detector says "firing" or not every window; on-call needs one message when it starts and one
when it ends, each saying what is wrong, what it costs and what to do first. This module keeps
which (kind, scope) pairs are firing and turns each change into an :class:`Alert`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

from alerting.i18n import ACTIONS, WHAT, english
from kernel.alerts import CUSTOMER_FACING_KINDS, Alert, Impact, Scope, Severity, same_incident
from kernel.observation import Observation
from kernel.verdict import Verdict

__all__ = ["SUGGESTED_ACTIONS", "AlertLifecycle"]

#: What on-call should do first, per kind, in the English the alert log speaks (the catalogue's
#: words, :mod:`alerting.i18n`; each delivery target reads them in its own language).
SUGGESTED_ACTIONS: Final = {kind: english(msgid) for kind, msgid in ACTIONS.items()}

_WHAT: Final = {
    "success_rate_drop": (english(WHAT["success_rate_drop"]), "{:.1%}"),
    "callback_latency_high": (english(WHAT["callback_latency_high"]), "{:.1f}s"),
    "callback_failure_high": (english(WHAT["callback_failure_high"]), "{:.1%}"),
    "volume_drop": (english(WHAT["volume_drop"]), "{:.0f}"),
    "volume_spike": (english(WHAT["volume_spike"]), "{:.0f}"),
    "amount_deviation": (english(WHAT["amount_deviation"]), "{:.2f}"),
    "complaint_spike": (english(WHAT["complaint_spike"]), "{:.1f}"),
    "stuck_payments": (english(WHAT["stuck_payments"]), "{:.1f}"),
    ("callback_latency_high", "late share"): (english(WHAT["callback_latency_high", "late share"]), "{:.1%}"),
}
#: Kinds whose value must be below its baseline for the alert to make sense; every other kind's
#: must be above (ticket size may shift either way). An alert whose own numbers contradict it
#: (a "drop" above its normal) is not raised.
_BELOW: Final = frozenset({"success_rate_drop", "volume_drop"})
_EITHER: Final = frozenset({"amount_deviation"})


def consistent(verdict: Verdict) -> bool:
    """The verdict's value lies on its kind's side of its baseline.

    >>> v = Verdict("success_rate_drop", 1.0, True, None, 0.88, 0.96, "")
    >>> consistent(v), consistent(v._replace(value=0.97))
    (True, False)
    """
    if verdict.kind in _EITHER:
        return verdict.value != verdict.baseline
    if verdict.kind in _BELOW:
        return verdict.value < verdict.baseline
    return verdict.value > verdict.baseline


OTHER: Final = "other"  # channels pooled for want of a place (engine.names): not a channel of its own
_SHOP_WIDE_SHARE: Final = 0.75  # of the live channels firing one kind: the whole shop's incident
_ON_THE_WAY: Final = 0.25  # a score this high on another channel may be the same incident coming
_SHOP_WIDE_MIN: Final = 3  # and at least this many: two channels of a two-channel shop stay two alerts
_COUNT_KINDS: Final = frozenset({"volume_drop", "volume_spike", "complaint_spike", "stuck_payments"})

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

    When nearly every channel fires the same kind, the incident is the whole shop's: one
    all-payments alert names the channels instead of one alert per channel, and a channel alert
    waits ``group_wait_ms`` while another channel's test of its kind is on the way to firing.

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
        # kinds whose all-payments alert is a shop-wide incident: it stays firing while a channel does
        self.shop_wide: set[str] = set()

    def observe(
        self,
        verdicts: list[tuple[Verdict, Observation, str]],
        now_ms: int,
        channels: tuple[str, ...],
        scores: Mapping[tuple[str, Scope], float] | None = None,
    ) -> list[Alert]:
        """Feed one round of verdicts (``(verdict, observation, detail)``); return alert changes.
        ``scores`` are every detector's latest, to see whether other channels are on the way."""
        changes: list[Alert] = []
        scores = scores or {}
        fired = set()
        latest: dict[tuple[str, Scope], float] = {}  # each key's value this round
        for verdict, obs, detail in verdicts:
            key = (verdict.kind, obs.scope)
            latest[key] = verdict.value
            current = self.firing.get(key)
            if verdict.firing:
                fired.add(key)
            if verdict.firing and current is None:
                if not consistent(verdict):
                    continue  # its numbers contradict it: not an alert anyone could act on
                scope_channels = channels if obs.scope.channel is None else (obs.scope.channel,)
                self.firing[key] = self._alert(verdict, obs, now_ms, scope_channels, detail)
            elif verdict.firing or self._held_by_channels(key):
                self.quiet_since.pop(key, None)  # back before the hold ran out: the same alert
            elif current is not None:
                since, value = self.quiet_since.setdefault(key, (now_ms, verdict.value))
                if now_ms - since >= self.resolve_hold_ms:
                    changes += self._resolve(key, since, value)
        for kind in sorted(self.shop_wide):  # the last channel is back: the shop-wide alert goes quiet
            key = (kind, Scope())
            if key in self.firing and key not in fired and not self._held_by_channels(key):
                # the resolved notice carries the numbers at resolution, not those it fired with
                since, value = self.quiet_since.setdefault(
                    key, (now_ms, latest.get(key, self.firing[key].value))
                )
                if now_ms - since >= self.resolve_hold_ms:
                    changes += self._resolve(key, since, value)
        changes += self._shop_wide(now_ms, channels, scores)
        for key, alert in self.firing.items():
            if key in self.announced or key in self.absorbed:
                continue
            if self._inhibited(key, alert):
                self.absorbed.add(key)
            elif _is_channel(key[1]) and not self._may_spread(key, channels, scores):
                self.announced.add(key)
                changes.append(alert)
            elif now_ms - _ms(alert.detected_at) >= self.group_wait_ms:
                # others waited for a channel alert that may explain them, and a channel alert
                # for the others that may join it in a shop-wide incident
                announced = replace(alert, detected_at=_utc(now_ms))  # when on-call is told
                self.firing[key] = announced
                self.announced.add(key)
                changes.append(announced)
                if key[1] == Scope():  # no channel explained it: the whole shop's incident
                    self.shop_wide.add(key[0])
        return changes

    def snapshot(self) -> dict[str, Any]:
        """The alert state as plain data (part of the engine's snapshot)."""
        return {
            "firing": [alert.to_json(exact=True) for alert in self.firing.values()],
            "announced": [{"kind": k, "scope": s.to_json()} for k, s in self.announced],
            "absorbed": [{"kind": k, "scope": s.to_json()} for k, s in self.absorbed],
            "channel_resolved_ms": dict(self.channel_resolved_ms),
            "shop_wide": sorted(self.shop_wide),
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
        self.shop_wide = set(state.get("shop_wide", []))
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
        kind, scope = key
        if _is_channel(scope):
            self.channel_resolved_ms[kind] = since_ms
        if scope == Scope():
            self.shop_wide.discard(kind)
        if key not in self.announced:
            return []
        self.announced.discard(key)
        return [_resolved(current, value, since_ms)]

    def _held_by_channels(self, key: tuple[str, Scope]) -> bool:
        """A shop-wide alert stays firing while any channel of its kind does."""
        kind, scope = key
        return (
            kind in self.shop_wide
            and scope == Scope()
            and any(k == kind and _is_channel(s) for k, s in self.firing)
        )

    def _may_spread(
        self, key: tuple[str, Scope], channels: tuple[str, ...], scores: Mapping[tuple[str, Scope], float]
    ) -> bool:
        """Another channel's same-kind test is a quarter of the way to its threshold, or firing:
        hold a moment (channels of a shop-wide incident cross theirs tens of seconds apart)."""
        kind, scope = key
        return any(
            c not in (scope.channel, OTHER)
            and (scores.get((kind, Scope(c)), 0.0) >= _ON_THE_WAY or (kind, Scope(c)) in self.firing)
            for c in channels
        )

    def _shop_wide(
        self, now_ms: int, channels: tuple[str, ...], scores: Mapping[tuple[str, Scope], float]
    ) -> list[Alert]:
        """One all-payments alert, naming the channels, when a channel fires a kind and nearly every
        channel (three in four, and at least three) is firing it or on the way to (its test a
        quarter of the way to its threshold): the incident is the whole shop's, and on-call needs
        one page, not one per channel. The busiest channels cross first, so counting only the
        firing ones would page each of them before the quiet ones had the evidence; a channel's
        own incident leaves the other channels' tests near zero. It is the all-payments alert
        (the all-payments detector's own if it fires, else made from the channels'), and the
        channel alerts not yet announced become part of it. An all-payments alert that no
        channel explained within the group wait is a shop-wide incident too: channels that
        follow it are part of it."""
        live = [c for c in channels if c != OTHER]
        quorum = max(_SHOP_WIDE_MIN, math.ceil(_SHOP_WIDE_SHARE * len(live)))
        changes = []
        by_kind: dict[str, list[Alert]] = {}
        for (kind, scope), alert in self.firing.items():
            if _is_channel(scope) and scope.channel in live:
                by_kind.setdefault(kind, []).append(alert)
        for kind, members in sorted(by_kind.items()):
            if kind in self.shop_wide:
                continue
            moving = [
                c
                for c in live
                if (kind, Scope(c)) in self.firing or scores.get((kind, Scope(c)), 0.0) >= _ON_THE_WAY
            ]
            if len(moving) < quorum:
                continue
            self.shop_wide.add(kind)
            for member in members:
                self.absorbed.add((kind, member.scope))
            key = (kind, Scope())
            if key in self.announced:  # on-call already has the all-payments alert
                continue
            alert = _shop_wide_alert(kind, members, self.firing.get(key), now_ms, tuple(moving))
            self.firing[key] = alert
            self.quiet_since.pop(key, None)
            self.absorbed.discard(key)
            self.announced.add(key)
            changes.append(alert)
        return changes

    def _inhibited(self, key: tuple[str, Scope], alert: Alert) -> bool:
        """A cause of this kind fires on its scope (or, off channels, on a channel), or another kind of
        its incident (:func:`kernel.alerts.same_incident`) was announced there; or, off channels,
        a same-kind channel alert fires, or fired while this episode had already begun; or a
        shop-wide alert of this kind holds every channel."""
        kind, scope = key
        if kind in self.shop_wide and _is_channel(scope):
            return True
        causes = INHIBITED_BY.get(kind, frozenset())

        def explains(k: str, s: Scope) -> bool:  # a cause, or another face of an incident already told
            return k in causes or (k != kind and (k, s) in self.announced and same_incident(k, kind))

        if _is_channel(scope):  # on this channel; another channel's trouble is not ours
            return any(explains(k, s) and s == scope for k, s in self.firing)
        if any(explains(k, s) and (s == scope or _is_channel(s)) for k, s in self.firing):
            return True
        if any(k == kind and _is_channel(s) for k, s in self.firing):
            return True
        resolved = self.channel_resolved_ms.get(kind)
        return resolved is not None and _ms(alert.started_at) <= resolved

    def _alert(
        self, v: Verdict, obs: Observation, now_ms: int, channels: tuple[str, ...], detail: str
    ) -> Alert:
        scope = obs.scope
        what, fmt = _WHAT[(v.kind, v.measure)] if v.measure else _WHAT[v.kind]
        started_ms = v.started_at_ms if v.started_at_ms is not None else obs.start_ms
        started_ms = min(started_ms, now_ms)  # never after its detection, whatever the estimate said
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


def _shop_wide_alert(
    kind: str, members: list[Alert], overall: Alert | None, now_ms: int, channels: tuple[str, ...]
) -> Alert:
    """The all-payments alert of a shop-wide incident: the all-payments detector's own when it
    fires, else summed (counts) or averaged (rates) from the firing channels'; it names every
    channel of the incident."""
    first = min(members, key=lambda m: m.started_at)
    if overall is None:
        combine = sum if kind in _COUNT_KINDS else (lambda xs: sum(xs) / len(members))
        what, fmt = _WHAT[kind]
        value, baseline = combine(m.value for m in members), combine(m.baseline for m in members)
        overall = replace(
            first,
            value=value,
            baseline=baseline,
            summary=f"all channels: {what} {fmt.format(value)} vs normal {fmt.format(baseline)}, "
            f"since {first.started_at:%H:%M:%S} UTC",
        )
    impact = Impact(
        sum(m.impact.orders_per_min for m in members), sum(m.impact.amount_per_min for m in members), channels
    )
    return replace(
        overall,
        scope=Scope(),
        severity=severity_of(kind, Scope()),
        started_at=min(overall.started_at, first.started_at),
        detected_at=_utc(now_ms),
        impact=impact,
        summary=f"{overall.summary} (channels: {', '.join(channels)})",
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
