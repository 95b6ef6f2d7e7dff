"""Silences, acknowledgements and escalation in event time, on real SQLite files, across a restart;
and a target's notifications in creation order after an outage, held rows sent again."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from alerting.audit import Audit
from alerting.delivery.dispatcher import Dispatcher
from alerting.desk import Desk
from alerting.notifications import AlertFanout, DeliveryResult, Notification
from alerting.oncall_stage import OnCallStage
from alerting.outbox import Outbox
from alerting.routing import target_key
from alerting.state_db import StateDB
from kernel.alerts import Alert, Impact, Scope
from kernel.clock import ManualClock
from kernel.errors import UsageError
from kernel.settings import AlertingSettings

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing: zhang's week
SMS = "json://127.0.0.1:9/sms/{mobile}"
SETTINGS = AlertingSettings.model_validate(
    {
        "routes": [{"name": "group", "urls": ["json://127.0.0.1:9/group"]}],
        "repeat_interval": "10m",
        "oncall": {
            "people": [{"name": "zhang", "mobile": "13800000001"}, {"name": "li", "mobile": "13800000002"},
                       {"name": "chen", "mobile": "13800000003"}],
            "rotation": ["zhang", "li"], "lead": "chen", "contacts": {"sms": SMS},
        },
        "escalation": {"levels": [{"after": "5m", "notify": "primary", "via": "sms"},
                                  {"after": "10m", "notify": "secondary", "via": "sms"},
                                  {"after": "20m", "notify": "lead", "via": "sms"}]},
    }
)  # fmt: skip


def firing(channel: str = "alipay", merchant: str | None = None) -> Alert:
    return Alert("success_rate_drop", Scope(channel, merchant), "firing", "critical", T0, T0, 0.8, 0.97,
                 Impact(10, 99), "act", "sum")  # fmt: skip


def resolve(alert: Alert) -> Alert:
    return dataclasses.replace(alert, status="resolved", resolved_at=T0 + timedelta(minutes=30))


def sms_to(name: str) -> str:
    mobile = {"zhang": "13800000001", "li": "13800000002", "chen": "13800000003"}[name]
    return target_key(SMS.replace("{mobile}", mobile))


@dataclass
class World:
    """One process's view of the on-call files."""

    path: Path
    clock: ManualClock
    outbox: Outbox = field(init=False)
    db: StateDB = field(init=False)
    stage: OnCallStage = field(init=False)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.path / "outbox.sqlite3", self.clock)
        self.db = StateDB(self.path / "oncall.sqlite3")
        fanout = AlertFanout(SETTINGS, self.outbox, self.clock)
        self.stage = OnCallStage(SETTINGS, fanout, self.outbox, self.db, self.clock)

    def close(self) -> None:
        self.outbox.close()
        self.db.close()

    def pages(self) -> list[tuple[str, str]]:
        """(route, target) of every escalation page so far."""
        return [(r.route, r.target) for r in self.outbox.rows() if r.reason == "escalated"]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0.timestamp())


@pytest.fixture
def world(tmp_path: Path, clock: ManualClock) -> Iterator[World]:
    w = World(tmp_path, clock)
    yield w
    w.close()


def run_minutes(w: World, minutes: int, firing_now: list[Alert]) -> None:
    for _ in range(minutes):
        w.clock.advance(60)
        w.stage.tick(firing_now)


def test_unacknowledged_alert_escalates_level_by_level_across_a_restart(world: World, tmp_path: Path) -> None:
    alert = firing()
    assert [d.reason for d in world.stage.observe(alert)] == ["first"]
    run_minutes(world, 5, [alert])
    assert world.pages() == [("escalation-1", sms_to("zhang"))]
    world.close()

    again = World(tmp_path, world.clock)  # a new process on the same files
    try:
        run_minutes(again, 5, [alert])
        assert again.pages()[1:] == [("escalation-2", sms_to("li"))]
        run_minutes(again, 10, [alert])
        assert [p[0] for p in again.pages()] == ["escalation-1", "escalation-2", "escalation-3"]
        assert again.pages()[2] == ("escalation-3", sms_to("chen"))
        repeats = [r for r in again.outbox.rows() if r.reason == "repeat_elapsed"]
        assert len(repeats) == 2  # at 10 and 20 minutes, the first of them before the restart's tick
    finally:
        again.close()


def test_acknowledgement_stops_repeats_and_escalation_even_from_another_process(
    world: World, tmp_path: Path
) -> None:
    alert = firing()
    world.stage.observe(alert)
    run_minutes(world, 3, [alert])
    other = StateDB(tmp_path / "oncall.sqlite3")  # `paypulse ack` in another terminal
    _, ack, made = Desk(SETTINGS, other, world.clock).ack(alert.id[:8], by="zhang", via="cli")
    other.close()
    assert (ack.by, made) == ("zhang", True)
    decisions = []
    for _ in range(30):
        world.clock.advance(60)
        decisions += world.stage.tick([alert])
    assert world.pages() == []
    assert {d.reason for d in decisions} == {"acknowledged"}
    assert [r.reason for r in world.outbox.rows()] == ["first"]
    assert [(a.by, a.action) for a in Audit(world.db).latest()] == [("zhang", "ack")]


def test_a_silenced_merchant_gets_nothing_sent_not_even_its_resolution(world: World) -> None:
    desk = Desk(SETTINGS, world.db, world.clock)
    silence = desk.silence(["merchant=m42"], by="li", comment="migration", duration=timedelta(hours=1))
    quiet, loud = firing(merchant="m42"), firing("wechat")
    assert [d.reason for d in world.stage.observe(quiet)] == ["silenced"]
    assert world.stage.log_marks(quiet) == {"silenced_by": silence.id}
    assert [d.reason for d in world.stage.observe(loud)] == ["first"]
    run_minutes(world, 30, [quiet, loud])
    assert {r.alert.scope for r in world.outbox.rows()} == {loud.scope}
    assert {e.alert.scope: e.silenced_by for e in world.stage.board.firing()} == {
        quiet.scope: silence.id,
        loud.scope: None,
    }
    resolved = resolve(quiet)
    assert [d.reason for d in world.stage.observe(resolved)] == ["silenced"]
    assert {r.alert.scope for r in world.outbox.rows()} == {loud.scope}


def test_an_expired_silence_lets_the_still_firing_alert_through(world: World) -> None:
    desk = Desk(SETTINGS, world.db, world.clock)
    silence = desk.silence(
        ["kind=success_rate_drop"], by="li", comment="deploy", duration=timedelta(minutes=30)
    )
    alert = firing()
    world.stage.observe(alert)
    world.clock.advance(60)
    desk.expire(silence.id[:6], by="li")
    assert [d.reason for d in world.stage.tick([alert])] == ["first"]
    with pytest.raises(UsageError, match="already expired"):
        desk.expire(silence.id, by="li")


def test_signed_link_acknowledges_until_it_expires(world: World) -> None:
    from alerting.acks import link_signature

    settings = SETTINGS.model_copy(update={"escalation": SETTINGS.escalation.model_copy(
        update={"ack_secret": SecretStr("s3cret"), "ack_url": "https://status.example"})})  # fmt: skip
    desk = Desk(settings, world.db, world.clock)
    alert = firing()
    world.stage.observe(alert)
    expires = int(world.clock.now()) + 60
    with pytest.raises(UsageError, match="signature"):
        desk.ack_by_link(alert.id, "zhang", expires, link_signature("guess", alert.id, "zhang", expires))
    good = link_signature("s3cret", alert.id, "zhang", expires)
    _, ack, made = desk.ack_by_link(alert.id, "zhang", expires, good)
    assert (ack.by, ack.via, made) == ("zhang", "link", True)
    world.clock.advance(61)
    with pytest.raises(UsageError, match="expired"):
        desk.ack_by_link(alert.id, "zhang", expires, link_signature("s3cret", alert.id, "zhang", expires))


# -- delivery order ---------------------------------------------------------------------------


@dataclass
class Flaky:
    """A target that is down until told otherwise, and remembers what reached it."""

    down: bool = True
    name: str = "json://h/p"
    got: list[tuple[str, str]] = field(default_factory=list)

    def send(self, n: Notification) -> DeliveryResult:
        if self.down:
            return DeliveryResult(False, True, "HTTP 503")
        self.got.append((n.alert.status, n.alert.scope.label))
        return DeliveryResult(True, False, "delivered")


def test_after_an_outage_a_target_gets_its_notifications_in_creation_order(
    tmp_path: Path, clock: ManualClock
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3", clock)
    target = Flaky()
    disp = Dispatcher(outbox, {"t": target}, clock, max_attempts=3, retry_backoff=timedelta(seconds=5),
                      max_backoff=timedelta(seconds=20))  # fmt: skip
    alert = firing()
    outbox.enqueue("group", ["t"], alert, "first")
    outcomes: list[str] = []
    while "parked" not in outcomes:  # three attempts, then parked and held
        outcomes += [o.outcome for o in disp.run_once()]
        clock.advance(10)
    assert outcomes == ["retry", "retry", "parked"]
    assert outbox.parked()[0].held
    resolved = resolve(alert)
    outbox.enqueue("group", ["t"], resolved, "resolved")
    outbox.enqueue("group", ["t"], firing("wechat"), "first")
    assert [o.outcome for o in disp.run_once()] == ["parked"]  # the probe: still down, nothing newer goes
    target.down = False
    for _ in range(3):
        clock.advance(1)
        disp.run_once()
    assert target.got == [("firing", "alipay"), ("resolved", "alipay"), ("firing", "wechat")]
    assert outbox.counts()["pending"] == {} and outbox.parked() == []
    outbox.close()
