"""Dedup and repeat: each decision names its reason, and only sending reasons reach the outbox."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from alerting.notifications import AlertFanout, decide
from alerting.outbox import NotifiedState, Outbox
from kernel.alerts import Alert, Impact, Scope
from kernel.clock import ManualClock
from kernel.settings import AlertingSettings, RouteSettings

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
HOUR = 3600.0


def alert(status: str = "firing", started: datetime = T0, kind: str = "success_rate_drop") -> Alert:
    return Alert(
        kind=kind,
        scope=Scope("alipay"),
        status=status,  # type: ignore[arg-type]
        severity="critical",
        started_at=started,
        detected_at=started + timedelta(minutes=1),
        resolved_at=started + timedelta(minutes=30) if status == "resolved" else None,
        value=0.8,
        baseline=0.97,
        impact=Impact(10, 99),
        suggested_action="act",
        summary="sum",
    )


def sent(a: Alert, at: float) -> NotifiedState:
    return NotifiedState(a.id, a.status, a.started_at.isoformat(), at)


@pytest.mark.parametrize(
    ("previous", "current", "now", "reason"),
    [
        (None, alert(), 0.0, "first"),
        (sent(alert(), 0.0), alert(), HOUR - 1, "duplicate"),
        (sent(alert(), 0.0), alert(), HOUR, "repeat_elapsed"),
        (sent(alert("resolved"), 0.0), alert(started=T0 + timedelta(hours=2)), 10.0, "first"),
        (sent(alert(), 0.0), alert(started=T0 + timedelta(hours=2)), 10.0, "first"),  # new incident
        (sent(alert(), 0.0), alert("resolved"), 10.0, "resolved"),
        (sent(alert("resolved"), 0.0), alert("resolved"), 10.0, "duplicate"),
        (None, alert("resolved"), 10.0, "never_fired"),
    ],
)
def test_decide_names_the_reason(
    previous: NotifiedState | None, current: Alert, now: float, reason: str
) -> None:
    assert decide(previous, current, now, repeat_interval=HOUR) == reason


def settings(*routes: RouteSettings) -> AlertingSettings:
    return AlertingSettings(routes=list(routes), repeat_interval=timedelta(hours=1))


ONCALL = RouteSettings(
    name="oncall", urls=[SecretStr("json://127.0.0.1:9/a"), SecretStr("json://127.0.0.1:9/b")]
)
VOLUME = RouteSettings(name="volume", urls=[SecretStr("json://127.0.0.1:9/c")], kinds=["volume_drop"])


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000_000.0)


@pytest.fixture
def outbox(tmp_path: Path, clock: ManualClock) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "outbox.sqlite3", clock)
    yield box
    box.close()


def reasons(decisions: list) -> list[tuple[str | None, str]]:
    return [(d.route, d.reason) for d in decisions]


def test_incident_lifecycle_sends_first_repeat_and_resolved_once(outbox: Outbox, clock: ManualClock) -> None:
    fanout = AlertFanout(settings(ONCALL), outbox, clock)
    (first,) = fanout.submit(alert())
    assert (first.reason, len(first.outbox_ids)) == ("first", 2)  # one row per route URL
    assert reasons(fanout.submit(alert())) == [("oncall", "duplicate")]
    clock.advance(HOUR - 1)
    assert reasons(fanout.tick([alert()])) == [("oncall", "duplicate")]
    clock.advance(1)
    (repeat,) = fanout.tick([alert()])
    assert repeat.reason == "repeat_elapsed"
    assert reasons(fanout.tick([alert()])) == [("oncall", "duplicate")]  # interval restarts at the repeat
    assert reasons(fanout.submit(alert("resolved"))) == [("oncall", "resolved")]
    assert reasons(fanout.submit(alert("resolved"))) == [("oncall", "duplicate")]
    rows = outbox.rows()
    assert [(r.reason, r.alert.status) for r in rows] == [
        ("first", "firing"),
        ("first", "firing"),
        ("repeat_elapsed", "firing"),
        ("repeat_elapsed", "firing"),
        ("resolved", "resolved"),
        ("resolved", "resolved"),
    ]
    assert fanout.stats() == {
        "duplicate": {"oncall": 4},
        "first": {"oncall": 1},
        "repeat_elapsed": {"oncall": 1},
        "resolved": {"oncall": 1},
    }


def test_alert_without_route_is_no_route_and_writes_nothing(outbox: Outbox, clock: ManualClock) -> None:
    fanout = AlertFanout(settings(VOLUME), outbox, clock)
    assert reasons(fanout.submit(alert())) == [(None, "no_route")]
    assert outbox.rows() == []


def test_each_matching_route_decides_on_its_own(outbox: Outbox, clock: ManualClock) -> None:
    fanout = AlertFanout(settings(ONCALL, VOLUME), outbox, clock)
    assert reasons(fanout.submit(alert(kind="volume_drop"))) == [("oncall", "first"), ("volume", "first")]
    assert reasons(fanout.submit(alert())) == [("oncall", "first")]  # another fingerprint
    assert reasons(fanout.submit(alert("resolved", kind="volume_drop"))) == [
        ("oncall", "resolved"),
        ("volume", "resolved"),
    ]


def test_resolved_without_sent_firing_is_not_sent(outbox: Outbox, clock: ManualClock) -> None:
    fanout = AlertFanout(settings(ONCALL), outbox, clock)
    assert reasons(fanout.submit(alert("resolved"))) == [("oncall", "never_fired")]
    assert outbox.rows() == []


def test_dedup_state_survives_restart(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path, clock)
    AlertFanout(settings(ONCALL), box, clock).submit(alert())
    box.close()
    reopened = Outbox(path, clock)
    fanout = AlertFanout(settings(ONCALL), reopened, clock)
    assert reasons(fanout.submit(alert())) == [("oncall", "duplicate")]  # a replay does not page again
    assert reasons(fanout.submit(alert("resolved"))) == [("oncall", "resolved")]
    reopened.close()


def test_tick_refuses_resolved_alerts(outbox: Outbox, clock: ManualClock) -> None:
    fanout = AlertFanout(settings(ONCALL), outbox, clock)
    with pytest.raises(ValueError, match="tick\\(\\) takes firing alerts"):
        fanout.tick([alert("resolved")])


def test_decisions_are_logged_with_their_reason(
    outbox: Outbox, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    fanout = AlertFanout(settings(ONCALL), outbox, clock)
    with caplog.at_level(logging.INFO, logger="paypulse.alerting.notifications"):
        fanout.submit(alert())
        fanout.submit(alert())
        fanout.tick([alert()])  # a quiet duplicate: debug only
    assert [r.reason for r in caplog.records] == ["first", "duplicate"]  # type: ignore[attr-defined]
    assert "route=oncall kind=success_rate_drop scope=alipay" in caplog.records[0].getMessage()


def test_enqueue_wakes_the_dispatcher_only_when_rows_were_written(outbox: Outbox, clock: ManualClock) -> None:
    wakes: list[int] = []
    fanout = AlertFanout(settings(ONCALL), outbox, clock, on_enqueue=lambda: wakes.append(1))
    fanout.submit(alert())
    fanout.submit(alert())  # duplicate: nothing new to deliver
    fanout.submit(alert("resolved"))
    assert len(wakes) == 2
