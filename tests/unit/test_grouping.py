"""Grouping per route, as Alertmanager groups: alerts of one group go out as one message, first after
group_wait, later changes after group_interval, again after repeat_interval; in event time on a
ManualClock, on real SQLite files, across a restart, minus what is silenced or acknowledged."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerting.delivery.dispatcher import Dispatcher
from alerting.desk import Desk
from alerting.grouping import Groups
from alerting.notifications import AlertFanout, DeliveryResult, GroupNotifier, Notification
from alerting.oncall_stage import OnCallStage
from alerting.outbox import Outbox
from alerting.route_tree import tree_from_settings
from alerting.routing import target_key
from alerting.state_db import StateDB
from kernel.alerts import Alert, Impact, Scope
from kernel.clock import ManualClock
from kernel.errors import ConfigError
from kernel.settings import AlertingSettings, load_settings

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
GROUP_URL = "json://127.0.0.1:9/group"
TARGET = target_key(GROUP_URL)


def settings(**route: Any) -> AlertingSettings:
    node = {"name": "group", "urls": [GROUP_URL], "group_by": ["kind"], "group_wait": "30s",
            "group_interval": "5m", **route}  # fmt: skip
    return AlertingSettings.model_validate({"route": node, "repeat_interval": "1h"})


def alert(channel: str, kind: str = "success_rate_drop", merchant: str | None = None) -> Alert:
    return Alert(kind, Scope(channel, merchant), "firing", "critical", T0, T0, 0.8, 0.97, Impact(10, 99),
                 "act", f"{channel} down")  # fmt: skip


def resolve(a: Alert) -> Alert:
    return dataclasses.replace(a, status="resolved", resolved_at=T0 + timedelta(minutes=9))


@dataclass
class Robot:
    """A target that takes groups, and remembers each message as (status, channel) of its alerts."""

    name: str = "json://h/group"
    messages: list[list[tuple[str, str | None]]] = field(default_factory=list)

    def send(self, n: Notification) -> DeliveryResult:
        return self.send_group([n])

    def send_group(self, notifications: Sequence[Notification]) -> DeliveryResult:
        self.messages.append([(n.alert.status, n.alert.scope.channel) for n in notifications])
        return DeliveryResult(True, False, "delivered")

    def send_digest(self, notifications: Sequence[Notification], limit: int) -> DeliveryResult:
        self.messages.append([("digest", n.alert.scope.channel) for n in notifications])
        return DeliveryResult(True, False, "delivered")


@dataclass
class World:
    """One process's alerting: the on-call stage, its groups and a dispatcher, on the given files."""

    path: Path
    clock: ManualClock
    s: AlertingSettings
    robot: Robot

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.path / "outbox.sqlite3", self.clock)
        self.db = StateDB(self.path / "oncall.sqlite3")
        fanout = AlertFanout(self.s, self.outbox, self.clock, groups=Groups(self.db, self.clock))
        self.stage = OnCallStage(self.s, fanout, self.outbox, self.db, self.clock)
        self.dispatcher = Dispatcher(self.outbox, {TARGET: self.robot}, self.clock, state=self.db)

    def at(self, seconds: float, firing: Sequence[Alert] = ()) -> list[tuple[str, str]]:
        """Move to ``seconds`` after T0, tick and deliver; the (reason, channel) of what went out."""
        self.clock.advance(T0.timestamp() + seconds - self.clock.now())
        decisions = self.stage.tick(list(firing))
        self.dispatcher.run_once()
        return [(d.reason, d.alert_id) for d in decisions if d.sends]

    def close(self) -> None:
        self.outbox.close()
        self.db.close()


@pytest.fixture
def robot() -> Robot:
    return Robot()


@pytest.fixture
def world(tmp_path: Path, robot: Robot) -> Iterator[World]:
    w = World(tmp_path, ManualClock(T0.timestamp()), settings(), robot)
    yield w
    w.close()


def test_a_group_waits_group_wait_then_goes_as_one_message_listing_its_alerts(world: World) -> None:
    assert isinstance(world.robot, GroupNotifier)
    alipay, wechat, other_kind = alert("alipay"), alert("wechat"), alert("alipay", "volume_drop")
    assert [d.reason for d in world.stage.observe(alipay)] == ["grouped"]
    world.at(10)
    world.stage.observe(wechat)
    world.stage.observe(other_kind)
    assert world.at(29, [alipay, wechat, other_kind]) == []
    assert world.robot.messages == []
    sent = world.at(30, [alipay, wechat, other_kind])
    assert sorted(reason for reason, _ in sent) == ["first", "first"]  # the success-rate group
    assert world.robot.messages == [[("firing", "alipay"), ("firing", "wechat")]]
    world.at(40, [alipay, wechat, other_kind])  # the volume group opened 10 s later
    assert world.robot.messages[1:] == [[("firing", "alipay")]]


def test_later_changes_wait_for_group_interval_and_list_the_whole_group(world: World) -> None:
    alipay, wechat, card = alert("alipay"), alert("wechat"), alert("card")
    world.stage.observe(alipay)
    world.at(30, [alipay])
    world.stage.observe(wechat)
    assert world.at(60, [alipay, wechat]) == [] and len(world.robot.messages) == 1
    world.stage.observe(resolve(alipay))
    world.stage.observe(card)
    sent = world.at(330, [wechat, card])
    assert sorted(reason for reason, _ in sent) == ["first", "first", "resolved"]
    assert world.robot.messages[1] == [("resolved", "alipay"), ("firing", "wechat"), ("firing", "card")]
    assert world.at(630, [wechat, card]) == []  # no news: no message
    sent = world.at(330 + 3600, [wechat, card])  # the repeat interval, on the group's beat
    assert sorted(reason for reason, _ in sent) == ["repeat_elapsed", "repeat_elapsed"]
    assert world.robot.messages[2] == [("firing", "wechat"), ("firing", "card")]


def test_a_resolved_group_is_forgotten_and_the_next_alert_waits_again(world: World) -> None:
    alipay = alert("alipay")
    world.stage.observe(alipay)
    world.at(30, [alipay])
    world.stage.observe(resolve(alipay))
    world.at(330)
    assert world.robot.messages == [[("firing", "alipay")], [("resolved", "alipay")]]
    assert world.db.read("SELECT COUNT(*) FROM groups") == [(0,)]
    again = dataclasses.replace(alert("alipay"), started_at=T0 + timedelta(minutes=20))
    world.at(1200)
    world.stage.observe(again)
    assert world.at(1229, [again]) == [] and world.at(1230, [again]) == [("first", again.id)]


def test_an_alert_that_resolves_within_group_wait_sends_nothing(world: World) -> None:
    flicker = alert("alipay")
    world.stage.observe(flicker)
    world.at(10)
    world.stage.observe(resolve(flicker))
    assert world.at(30) == [] and world.robot.messages == []
    assert world.db.read("SELECT COUNT(*) FROM grouped") == [(0,)]


def test_groups_survive_a_restart_and_go_out_once(tmp_path: Path, robot: Robot) -> None:
    clock = ManualClock(T0.timestamp())
    first = World(tmp_path, clock, settings(), robot)
    alipay, wechat = alert("alipay"), alert("wechat")
    first.stage.observe(alipay)
    first.at(20)
    first.stage.observe(wechat)
    first.close()
    again = World(tmp_path, clock, settings(), robot)  # a new process on the same files
    try:
        assert again.at(29, [alipay, wechat]) == []
        assert len(again.at(30, [alipay, wechat])) == 2
        assert again.at(31, [alipay, wechat]) == [] and again.at(330, [alipay, wechat]) == []
        assert robot.messages == [[("firing", "alipay"), ("firing", "wechat")]]
    finally:
        again.close()


def test_silences_and_acknowledgements_are_read_as_the_group_goes_out(world: World) -> None:
    desk = Desk(world.s, world.db, world.clock)
    alipay, wechat, quiet = alert("alipay"), alert("wechat"), alert("unionpay", merchant="m-quiet")
    for a in (alipay, wechat, quiet):
        world.stage.observe(a)
    desk.silence(["merchant=m-quiet"], by="li", comment="migration", duration=timedelta(hours=2))
    decisions = world.stage.tick([alipay, wechat, quiet])
    assert [d.reason for d in decisions] == ["grouped", "grouped", "silenced"]  # nothing goes yet
    world.at(30, [alipay, wechat, quiet])
    assert world.robot.messages == [[("firing", "alipay"), ("firing", "wechat")]]
    desk.ack(alipay.id, by="zhang", via="cli")
    world.stage.observe(resolve(quiet))
    world.stage.observe(card := alert("card"))
    world.at(330, [alipay, wechat, card])
    assert world.robot.messages[1] == [("firing", "wechat"), ("firing", "card")]  # no acked, no silenced
    world.stage.observe(resolve(alipay))
    world.at(630, [wechat, card])
    assert world.robot.messages[2] == [("resolved", "alipay"), ("firing", "wechat"), ("firing", "card")]


def test_a_group_escalates_when_it_goes_out_not_when_the_alert_joins(tmp_path: Path, robot: Robot) -> None:
    s = AlertingSettings.model_validate({
        "route": {"name": "group", "urls": [GROUP_URL], "group_by": [], "group_wait": "1m"},
        "oncall": {"people": [{"name": "zhang", "mobile": "13800000001"}], "rotation": ["zhang"],
                   "contacts": {"sms": "json://127.0.0.1:9/sms/{mobile}"}},
        "escalation": {"levels": [{"after": "5m", "notify": "primary", "via": "sms"}]},
    })  # fmt: skip
    w = World(tmp_path, ManualClock(T0.timestamp()), s, robot)
    try:
        a = alert("alipay")
        w.stage.observe(a)
        w.at(60, [a])
        w.at(60 + 299, [a])
        assert [r.reason for r in w.outbox.rows()] == ["first"]  # 5 minutes after the group, not the alert
        w.at(60 + 300, [a])
        assert [r.reason for r in w.outbox.rows()] == ["first", "escalated"]
    finally:
        w.close()


def test_without_grouping_each_alert_still_goes_at_once(tmp_path: Path, robot: Robot) -> None:
    s = AlertingSettings.model_validate({"routes": [{"name": "group", "urls": [GROUP_URL]}]})
    w = World(tmp_path, ManualClock(T0.timestamp()), s, robot)
    try:
        assert [d.reason for d in w.stage.observe(alert("alipay"))] == ["first"]
        assert [d.reason for d in w.stage.observe(alert("wechat"))] == ["first"]
        w.at(0)
        assert robot.messages == [[("firing", "alipay")], [("firing", "wechat")]]
        assert w.db.read("SELECT COUNT(*) FROM groups") == [(0,)]
    finally:
        w.close()


def test_a_routes_grouping_is_inherited_from_its_parent_as_in_alertmanager() -> None:
    s = AlertingSettings.model_validate({
        "route": {"name": "root", "urls": [GROUP_URL], "group_by": ["channel"], "group_wait": "10s",
                  "repeat_interval": "2h",
                  "routes": [{"name": "pay", "channels": ["alipay"], "group_interval": "1m",
                              "routes": [{"name": "vip", "merchants": ["m1"], "group_by": ["..."]}]},
                             {"name": "cards", "channels": ["card"], "group_by": ["kind", "merchant"]}]},
    })  # fmt: skip
    routes = {r.name: (r.group_by, r.group_wait, r.group_interval, r.repeat_interval)
              for r in tree_from_settings(s).routes}  # fmt: skip
    assert routes == {
        "root": (("channel",), 10.0, 300.0, 7200.0),
        "pay": (("channel",), 10.0, 60.0, 7200.0),
        "vip": (None, 10.0, 60.0, 7200.0),
        "cards": (("kind", "merchant"), 10.0, 300.0, 7200.0),
    }


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ('group_by = ["shop"]', "alerting.route.group_by = ['shop'] in {path}: 'shop' is not a label alerts"
         " are grouped by; use kind, channel, merchant, severity, or ['...'] for each alert on its own"),
        ('group_by = ["kind"]\ngroup_wait = "-5s"', "alerting.route.group_wait = '-5s' in {path}: "),
        ('group_interval = "10m"', "invalid setting alerting in {path}: route sets group_wait or"
         " group_interval, but neither it nor a route above it sets group_by"),
    ],
)  # fmt: skip
def test_grouping_errors_name_the_field_where_it_was_set_and_the_fix(
    tmp_path: Path, toml: str, says: str
) -> None:
    path = tmp_path / "paypulse.toml"
    path.write_text(f'[alerting.route]\nname = "r"\nurls = ["json://h/x"]\n{toml}\n')
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert says.format(path=path) in str(err.value)


def test_a_group_counts_as_one_message_against_the_pace_and_the_overflow_is_a_digest(
    tmp_path: Path, robot: Robot
) -> None:
    clock = ManualClock(T0.timestamp())
    outbox = Outbox(tmp_path / "outbox.sqlite3", clock)
    for kind in ("success_rate_drop", "volume_drop", "stuck_payments"):  # three groups of four
        outbox.enqueue_batch("group", [TARGET], [(alert(c, kind), "first") for c in ("a", "b", "c", "d")])
    outbox.enqueue("group", [TARGET], alert("e"), "first")
    outcomes = Dispatcher(outbox, {TARGET: robot}, clock, rate_limit=3).run_once()
    assert [len(m) for m in robot.messages] == [4, 4, 5]
    assert robot.messages[2] == [("digest", c) for c in ("a", "b", "c", "d", "e")]
    assert [o.detail for o in outcomes[::4]] == ["in a group of 4: delivered"] * 2 + [
        "in a digest of 5: delivered"] * 2  # fmt: skip
    outbox.close()
