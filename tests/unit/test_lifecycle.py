"""From verdicts to alert changes: once on firing, once on resolving, inhibition, words and numbers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerting.lifecycle import SUGGESTED_ACTIONS, AlertLifecycle, impact_of, severity_of
from detectors.protocol import Verdict
from kernel.alerts import CUSTOMER_FACING_KINDS, KINDS, Alert, Impact, Scope
from kernel.observation import Observation

T0 = 1_767_225_600_000
W = 10_000
CHANNELS = ("alipay", "wechat")
ALIPAY, ALL, M1 = Scope("alipay"), Scope(), Scope(None, "m1")


def verdict(kind: str = "success_rate_drop", firing: bool = True, value: float | None = None,
            baseline: float | None = None, started: int | None = None) -> Verdict:  # fmt: skip
    """A verdict whose numbers agree with its kind: below normal for drops, above for the rest."""
    drop = kind in ("success_rate_drop", "volume_drop")
    value = value if value is not None else (0.80 if drop else 2.0)
    baseline = baseline if baseline is not None else (0.95 if drop else 1.0)
    return Verdict(kind, 1.0 if firing else 0.1, firing, started, value, baseline, "cusum 9.1 / 8.0")


def obs(scope: Scope, i: int = 0, **counts: float) -> Observation:
    return Observation(scope, T0 + i * W, T0 + (i + 1) * W, **counts)


class Log:
    """Feeds rounds of verdicts and keeps the alert log as (kind, scope label, status) rows."""

    def __init__(self, group_wait_ms: int = 0, resolve_hold_ms: int = 0) -> None:
        self.lifecycle = AlertLifecycle(group_wait_ms, resolve_hold_ms)
        self.alerts: list[Alert] = []
        self.i = 0

    def round(self, *rows: tuple[Scope, Verdict]) -> list[Alert]:
        changes = self.lifecycle.observe(
            [(v, obs(scope, self.i, attempts=60, successes=50, amount=600.0), "") for scope, v in rows],
            T0 + (self.i + 1) * W,
            CHANNELS,
        )
        self.i += 1
        self.alerts += changes
        return changes

    @property
    def rows(self) -> list[tuple[str, str, str]]:
        return [(a.kind, a.scope.label, a.status) for a in self.alerts]


def test_alert_fires_once_and_resolves_once() -> None:
    log = Log()
    for _ in range(3):
        log.round((ALIPAY, verdict()))
    for _ in range(2):
        log.round((ALIPAY, verdict(firing=False, value=0.96)))
    assert log.rows == [
        ("success_rate_drop", "alipay", "firing"),
        ("success_rate_drop", "alipay", "resolved"),
    ]
    firing, resolved = log.alerts
    assert resolved.fingerprint == firing.fingerprint
    assert resolved.started_at == firing.started_at
    assert resolved.resolved_at == datetime.fromtimestamp((T0 + 4 * W) / 1000, UTC)
    assert resolved.value == 0.96
    assert resolved.summary == f"Resolved: {firing.summary}"
    assert log.lifecycle.firing == {}


def test_quiet_verdicts_give_no_alerts() -> None:
    log = Log()
    for _ in range(3):
        log.round((ALIPAY, verdict(firing=False)), (ALL, verdict(firing=False)))
    assert log.alerts == []


def test_merchant_and_all_channels_alerts_are_absorbed_while_a_channel_alert_of_that_kind_fires() -> None:
    log = Log(group_wait_ms=30_000)
    log.round((ALIPAY, verdict()), (ALL, verdict()), (M1, verdict()))
    log.round((ALIPAY, verdict()), (ALL, verdict()), (M1, verdict()))
    assert log.rows == [("success_rate_drop", "alipay", "firing")]
    assert log.lifecycle.absorbed == {("success_rate_drop", ALL), ("success_rate_drop", M1)}
    # The channel recovers first; the absorbed ones stay quiet for the rest of their episode.
    log.round((ALIPAY, verdict(firing=False)), (ALL, verdict()), (M1, verdict()))
    log.round((ALIPAY, verdict(firing=False)), (ALL, verdict(firing=False)), (M1, verdict(firing=False)))
    assert log.rows == [
        ("success_rate_drop", "alipay", "firing"),
        ("success_rate_drop", "alipay", "resolved"),
    ]
    assert log.lifecycle.absorbed == set() and log.lifecycle.firing == {}
    # A new episode with no channel incident is announced, once the group wait has passed
    # without a channel alert to explain it, and says when it was announced.
    waits = log.lifecycle.group_wait_ms // W
    for _ in range(waits):
        log.round((M1, verdict()))
        assert log.rows[-1] != ("success_rate_drop", "merchant m1", "firing")
    log.round((M1, verdict()))
    assert log.rows[-1] == ("success_rate_drop", "merchant m1", "firing")
    assert log.alerts[-1].detected_at == datetime.fromtimestamp((T0 + log.i * W) / 1000, UTC)


def test_merchant_alert_that_started_later_is_absorbed_too() -> None:
    log = Log()
    log.round((ALIPAY, verdict()), (M1, verdict(firing=False)))
    log.round((ALIPAY, verdict()), (M1, verdict()))
    assert log.rows == [("success_rate_drop", "alipay", "firing")]


def test_other_kinds_and_channel_alerts_are_not_inhibited() -> None:
    log = Log()
    log.round(
        (ALIPAY, verdict()),
        (Scope("wechat"), verdict()),
        (M1, verdict("stuck_payments", value=12.0, baseline=0.5)),
        (ALL, verdict("volume_drop", value=100.0, baseline=600.0)),
    )
    assert sorted(log.rows) == [
        ("stuck_payments", "merchant m1", "firing"),
        ("success_rate_drop", "alipay", "firing"),
        ("success_rate_drop", "wechat", "firing"),
        ("volume_drop", "all channels", "firing"),
    ]


def test_a_channel_alert_that_follows_an_announced_all_channels_alert_is_part_of_it() -> None:
    log = Log()
    log.round((ALL, verdict()))
    log.round((ALL, verdict()), (ALIPAY, verdict()))
    log.round((ALL, verdict(firing=False)), (ALIPAY, verdict(firing=False)))
    assert log.rows == [
        ("success_rate_drop", "all channels", "firing"),
        ("success_rate_drop", "all channels", "resolved"),
    ]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scope", [ALL, ALIPAY, M1, Scope("alipay", "m1")], ids=lambda s: s.label)
def test_severity_is_critical_only_for_customer_facing_kinds_off_merchants(kind: str, scope: Scope) -> None:
    expected = "critical" if kind in CUSTOMER_FACING_KINDS and scope.merchant_id is None else "warning"
    assert severity_of(kind, scope) == expected
    log = Log()
    [alert] = log.round((scope, verdict(kind)))
    assert alert.severity == expected


@pytest.mark.parametrize("kind", KINDS)
def test_every_alert_carries_a_suggested_action_and_a_readable_summary(kind: str) -> None:
    log = Log()
    lifecycle = log.lifecycle
    [alert] = lifecycle.observe([(verdict(kind), obs(ALIPAY), "; e.g. orders o1")], T0, CHANNELS)
    assert alert.suggested_action == SUGGESTED_ACTIONS[kind] and len(alert.suggested_action) > 20
    assert alert.summary.startswith("alipay: ")
    assert "since 00:00:00 UTC" in alert.summary
    assert "cusum 9.1 / 8.0" in alert.summary
    assert alert.summary.endswith("; e.g. orders o1")


IMPACT_CASES = [
    # kind, value, baseline, counts of a 10 s window, expected (orders/min, amount/min)
    ("success_rate_drop", 0.80, 0.95, {"attempts": 100, "successes": 80, "amount": 5000.0}, (90.0, 4500.0)),
    ("success_rate_drop", 0.97, 0.95, {"attempts": 100, "successes": 97, "amount": 5000.0}, (0.0, 0.0)),
    (
        "callback_failure_high",
        0.25,
        0.05,
        {"attempts": 100, "amount": 5000.0, "callbacks": 50},
        (60.0, 3000.0),
    ),
    (
        "callback_latency_high",
        45.0,
        30.0,
        {"attempts": 10, "amount": 100.0, "callbacks": 20},
        (120.0, 1200.0),
    ),
    ("volume_drop", 120.0, 600.0, {"attempts": 20, "amount": 400.0}, (480.0, 9600.0)),
    ("volume_spike", 1800.0, 600.0, {"attempts": 300, "amount": 3000.0}, (1200.0, 12000.0)),
    ("amount_deviation", 5.0, 50.0, {"attempts": 100, "amount": 500.0}, (600.0, 27000.0)),
    ("complaint_spike", 8.0, 0.5, {"attempts": 100, "amount": 5000.0}, (8.0, 400.0)),
    ("stuck_payments", 15.0, 0.2, {"attempts": 0}, (15.0, 0.0)),
]


@pytest.mark.parametrize(
    ("kind", "value", "baseline", "counts", "expected"), IMPACT_CASES, ids=lambda c: str(c)
)
def test_impact_estimates_orders_and_money_per_minute(kind, value, baseline, counts, expected) -> None:
    impact = impact_of(
        kind, verdict(kind, value=value, baseline=baseline), obs(ALIPAY, **counts), ("alipay",)
    )
    assert (impact.orders_per_min, impact.amount_per_min) == pytest.approx(expected)
    assert impact.channels == ("alipay",)


def test_alert_impact_lists_the_scope_channels() -> None:
    lifecycle = AlertLifecycle(group_wait_ms=0)
    changes = lifecycle.observe(
        [(verdict(), obs(ALIPAY, attempts=60), ""), (verdict("volume_drop"), obs(ALL, attempts=60), "")],
        T0,
        CHANNELS,
    )
    assert {a.scope: a.impact.channels for a in changes} == {ALIPAY: ("alipay",), ALL: CHANNELS}


def test_started_at_comes_from_the_verdict_or_else_the_window() -> None:
    lifecycle = AlertLifecycle(group_wait_ms=0)
    a, b = lifecycle.observe(
        [(verdict(started=T0 - 30_000), obs(ALIPAY, 0), ""), (verdict(), obs(Scope("wechat"), 0), "")],
        T0 + 20_000,
        CHANNELS,
    )
    assert a.started_at == datetime.fromtimestamp((T0 - 30_000) / 1000, UTC)
    assert b.started_at == datetime.fromtimestamp(T0 / 1000, UTC)
    assert a.detected_at == b.detected_at == datetime.fromtimestamp((T0 + 20_000) / 1000, UTC)


def test_alert_ids_are_deterministic_and_differ_per_change() -> None:
    def replay() -> list[Alert]:
        log = Log()
        log.round((ALIPAY, verdict(started=T0)), (M1, verdict("stuck_payments", started=T0)))
        log.round((ALIPAY, verdict(firing=False)), (M1, verdict("stuck_payments", firing=False)))
        return log.alerts

    first, second = replay(), replay()
    assert [a.to_json() for a in first] == [a.to_json() for a in second]
    assert len({a.id for a in first}) == 4
    assert len({a.fingerprint for a in first}) == 2
    assert [Alert.from_json(a.to_json()).to_json() for a in first] == [a.to_json() for a in first]


def test_impact_json_is_rounded_for_the_log() -> None:
    assert Impact(1 / 3, 2 / 3, ("alipay",)).to_json() == {
        "orders_per_min": 0.33,
        "amount_per_min": 0.67,
        "channels": ["alipay"],
    }


def test_all_channels_alert_waits_for_a_channel_alert_that_crosses_a_little_later() -> None:
    log = Log(group_wait_ms=30_000)
    log.round((ALL, verdict()), (ALIPAY, verdict(firing=False)))
    assert log.rows == []
    log.round((ALL, verdict()), (ALIPAY, verdict()))
    assert log.rows == [("success_rate_drop", "alipay", "firing")]


def test_merchant_alert_that_began_during_a_channel_incident_stays_absorbed_after_it() -> None:
    log = Log(group_wait_ms=30_000)
    log.round((ALIPAY, verdict()), (M1, verdict(firing=False)))
    log.round((ALIPAY, verdict(firing=False)), (M1, verdict(firing=False)))
    # the merchant's slower test fires only now, for an episode that began during alipay's incident
    for _ in range(6):
        log.round((M1, verdict(started=T0)))
    assert log.rows == [
        ("success_rate_drop", "alipay", "firing"),
        ("success_rate_drop", "alipay", "resolved"),
    ]


def test_failing_callbacks_absorb_their_symptoms_on_the_same_channel() -> None:
    log = Log()
    log.round((ALIPAY, verdict("callback_failure_high", value=0.3, baseline=0.01)))
    late = verdict("callback_latency_high", value=45, baseline=30)
    log.round((ALIPAY, late), (ALIPAY, verdict("stuck_payments")))
    assert log.rows == [("callback_failure_high", "alipay", "firing")]


def test_late_callbacks_absorb_the_stuck_payments_they_cause_on_the_same_channel_only() -> None:
    log = Log()
    log.round((ALIPAY, verdict("callback_latency_high", value=45, baseline=3)))
    log.round(
        (ALIPAY, verdict("callback_latency_high", value=45, baseline=3)),
        (ALIPAY, verdict("stuck_payments", value=12.0, baseline=0.5)),
        (Scope("wechat"), verdict("stuck_payments", value=12.0, baseline=0.5)),
    )
    assert log.rows == [("callback_latency_high", "alipay", "firing"), ("stuck_payments", "wechat", "firing")]


def test_an_incident_flickering_around_its_threshold_stays_one_alert() -> None:
    log = Log(resolve_hold_ms=3 * W)
    log.round((ALIPAY, verdict()))
    for firing in (False, False, True, False, False, False):  # quiet for 2 windows, back, then quiet
        log.round((ALIPAY, verdict(firing=firing, value=0.96)))
    assert log.rows == [("success_rate_drop", "alipay", "firing")]
    log.round((ALIPAY, verdict(firing=False, value=0.97)))
    assert log.rows == [
        ("success_rate_drop", "alipay", "firing"),
        ("success_rate_drop", "alipay", "resolved"),
    ]
    resolved = log.alerts[-1]
    assert resolved.resolved_at == datetime.fromtimestamp((T0 + 5 * W) / 1000, UTC)  # when it went quiet
    assert resolved.value == 0.96
    assert log.lifecycle.firing == {} and log.lifecycle.quiet_since == {}


def test_end_of_input_resolves_the_alerts_waiting_out_their_hold() -> None:
    log = Log(resolve_hold_ms=60 * W)
    log.round((ALIPAY, verdict()), (Scope("wechat"), verdict()))
    log.round((ALIPAY, verdict(firing=False, value=0.97)), (Scope("wechat"), verdict()))
    assert [a.status for a in log.alerts] == ["firing", "firing"]
    flushed = log.lifecycle.flush()
    assert [(a.scope.label, a.status) for a in flushed] == [("alipay", "resolved")]
    assert log.lifecycle.flush() == []


def test_snapshot_restores_firing_quiet_and_absorbed_alerts() -> None:
    log = Log(resolve_hold_ms=3 * W)
    log.round((ALIPAY, verdict()), (M1, verdict()))
    log.round((ALIPAY, verdict(firing=False, value=0.96)), (M1, verdict()))
    restored = AlertLifecycle(0, 3 * W)
    restored.restore(log.lifecycle.snapshot())
    assert restored.snapshot() == log.lifecycle.snapshot()
    assert restored.quiet_since == log.lifecycle.quiet_since and restored.absorbed == {
        ("success_rate_drop", M1)
    }
