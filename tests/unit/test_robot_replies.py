"""What the robots answer and what PayPulse does with it: delivered, retried after a pause, or parked.

One row per reply body per robot kind, DingTalk's and Feishu's signatures against vectors computed
with ``openssl dgst -sha256 -hmac``, robot URLs (mentions, @all, privacy), and the pacing that keeps
a target within 20 messages a minute by folding the overflow into one digest, on a ManualClock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import apprise
import pytest

from alerting.delivery.dispatcher import Dispatcher
from alerting.delivery.pacing import DigestNotifier, Pacer, Throttled
from alerting.delivery.robot_protocol import dingtalk_sign, feishu_sign, read_reply
from alerting.delivery.robots import (
    DingTalkRobot,
    FeishuRobot,
    LarkRobot,
    WeComRobot,
)
from alerting.notifications import DeliveryResult, Notification
from alerting.outbox import Outbox
from alerting.state_db import StateDB
from kernel.alerts import Alert, Impact, Scope
from kernel.clock import ManualClock

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def body(**reply: object) -> bytes:
    return json.dumps(reply).encode()


# (robot, HTTP status, reply body) -> (ok, retryable, throttled, what the detail says)
REPLIES = [
    ("dingtalk", 200, body(errcode=0, errmsg="ok"), (True, False, False, "delivered")),
    (
        "dingtalk",
        200,
        body(errcode=130101, errmsg="send too fast, exceed 20 times per minute"),
        (False, True, True, "DingTalk errcode 130101: send too fast, exceed 20 times per minute"),
    ),
    ("dingtalk", 200, body(errcode=410100, errmsg="发送速度太快而限流"), (False, True, True, "410100")),
    (
        "dingtalk",
        200,
        body(errcode=310000, errmsg="keywords not in content"),
        (False, False, False, "DingTalk errcode 310000: keywords not in content"),
    ),
    ("dingtalk", 200, body(errcode=310000, errmsg="sign not match"), (False, False, False, "sign not match")),
    (
        "dingtalk",
        200,
        body(errcode=310000, errmsg="ip 1.2.3.4 not in whitelist"),
        (False, False, False, "ip"),
    ),
    ("dingtalk", 200, body(errcode=300001, errmsg="token is not exist"), (False, False, False, "300001")),
    ("dingtalk", 200, body(errcode=300005, errmsg="token is not exist"), (False, False, False, "300005")),
    ("dingtalk", 200, body(errcode=400102, errmsg="机器人已停用"), (False, False, False, "机器人已停用")),
    ("dingtalk", 200, body(errcode=-1, errmsg="系统繁忙"), (False, True, False, "unknown code, will retry")),
    ("wecombot", 200, body(errcode=0, errmsg="ok"), (True, False, False, "delivered")),
    (
        "wecombot",
        200,
        body(errcode=45009, errmsg="api freq out of limit"),
        (False, True, True, "WeCom errcode 45009: api freq out of limit"),
    ),
    (
        "wecombot",
        200,
        body(errcode=93000, errmsg="invalid webhook url, hint: [1708], from ip: 1.2.3.4"),
        (False, False, False, "WeCom errcode 93000: invalid webhook url"),
    ),
    ("feishu", 200, body(code=0, msg="success"), (True, False, False, "delivered")),
    ("feishu", 200, body(StatusCode=0, StatusMessage="success"), (True, False, False, "delivered")),
    ("feishu", 200, body(code=9499, msg="too many request"), (False, True, True, "Feishu errcode 9499")),
    ("feishu", 200, body(code=11232, msg="frequency limited"), (False, True, True, "11232")),
    (
        "feishu",
        200,
        body(code=19021, msg="sign match fail or timestamp is not within one hour from current time"),
        (False, False, False, "Feishu errcode 19021: sign match fail"),
    ),
    (
        "feishu",
        200,
        body(code=19024, msg="Key Words Not Found"),
        (False, False, False, "Key Words Not Found"),
    ),
    ("feishu", 200, body(code=19022, msg="Ip Not Allowed"), (False, False, False, "Ip Not Allowed")),
    (
        "lark",
        200,
        body(code=19001, msg="param invalid: incoming webhook access token invalid"),
        (False, False, False, "19001"),
    ),
    ("dingtalk", 503, b"", (False, True, False, "DingTalk answered HTTP 503")),
    ("wecombot", 429, b"", (False, True, True, "WeCom answered HTTP 429")),
    ("feishu", 400, b"", (False, False, False, "Feishu answered HTTP 400")),
    ("dingtalk", 200, b"<html>gateway</html>", (False, True, False, "without a JSON reply")),
    ("dingtalk", 200, body(hello="world"), (False, True, False, "without an error code")),
]


@pytest.mark.parametrize(("robot", "status", "reply", "expected"), REPLIES)
def test_a_reply_body_decides_delivered_retry_or_parked(
    robot: str, status: int, reply: bytes, expected: tuple[bool, bool, bool, str]
) -> None:
    ok, retryable, throttled, said = expected
    result = read_reply(robot, status, reply)
    assert (result.ok, result.ok or result.retryable, isinstance(result, Throttled)) == (
        ok,
        ok or retryable,
        throttled,
    )
    assert said in result.detail


def test_a_too_fast_dingtalk_robot_is_left_alone_for_ten_minutes() -> None:
    dingtalk = read_reply("dingtalk", 200, body(errcode=130101, errmsg="send too fast"))
    wecom = read_reply("wecombot", 200, body(errcode=45009, errmsg="api freq out of limit"))
    assert isinstance(dingtalk, Throttled) and isinstance(wecom, Throttled)
    assert (dingtalk.pause, wecom.pause) == (600.0, 60.0)


# -- signatures ---------------------------------------------------------------------------------------
# printf '%s' "1700000000000
# SEC000secret" | openssl dgst -sha256 -hmac "SEC000secret" -binary | base64
# printf '' | openssl dgst -sha256 -hmac "1700000000
# secret" -binary | base64


def test_dingtalk_signature_is_hmac_sha256_of_timestamp_and_secret() -> None:
    assert dingtalk_sign("SEC000secret", 1700000000000) == "tTfOwY6eBcGZXnIEbxsq+Nl6fWOBelRgIv5rn6hl3fg="
    assert dingtalk_sign("SEC000secret", 1700000000001) != dingtalk_sign("SEC000secret", 1700000000000)


def test_feishu_signature_is_keyed_by_timestamp_and_secret() -> None:
    assert feishu_sign("secret", 1700000000) == "fiWS2+gh28DOydAv7hzONH/mDn9+b1Y4Y5ivXWXy8vA="


# -- robot URLs ---------------------------------------------------------------------------------------


def test_robot_schemes_build_the_plugins_that_read_replies() -> None:
    for url, cls in [
        ("dingtalk://token123/", DingTalkRobot),
        ("wecombot://key-123", WeComRobot),
        ("feishu://hook-token", FeishuRobot),
        ("lark://hook-token", LarkRobot),
    ]:
        assert type(apprise.Apprise.instantiate(url)) is cls


def test_dingtalk_url_names_mobiles_secret_and_at_all_and_hides_secrets() -> None:
    plugin = apprise.Apprise.instantiate(
        "dingtalk://SEC0secret@token123/13800000000/139-0000-0000/12/?at_all=yes"
    )
    assert isinstance(plugin, DingTalkRobot)
    assert (plugin.secret, plugin.token, plugin.at_all) == ("SEC0secret", "token123", True)
    assert plugin.targets == ["13800000000", "13900000000"]  # "12" is no mobile number: dropped
    shown = plugin.url(privacy=True)
    assert "SEC0secret" not in shown and "token123" not in shown and "at_all=yes" in shown
    again = apprise.Apprise.instantiate(plugin.url())
    assert isinstance(again, DingTalkRobot)
    assert (again.secret, again.targets, again.at_all) == ("SEC0secret", plugin.targets, True)


def test_wecom_and_feishu_urls_name_who_to_mention() -> None:
    wecom = apprise.Apprise.instantiate("wecombot://key-123/13800000000/?at_all=yes")
    assert isinstance(wecom, WeComRobot) and (wecom.targets, wecom.at_all) == (["13800000000"], True)
    assert "key-123" not in wecom.url(privacy=True)
    feishu = apprise.Apprise.instantiate("feishu://s3cret@hook-token/ou_abc/oncall@example.com/")
    assert isinstance(feishu, FeishuRobot)
    assert (feishu.secret, feishu.targets, feishu.at_all) == (
        "s3cret",
        ["ou_abc", "oncall@example.com"],
        False,
    )
    assert "s3cret" not in feishu.url(privacy=True) and "hook-token" not in feishu.url(privacy=True)


# -- pacing: 20 a minute, the rest in one digest ------------------------------------------------------


def test_pacer_counts_a_sliding_minute_and_honours_a_pause() -> None:
    clock = ManualClock(0.0)
    pacer = Pacer(clock, StateDB(":memory:"), limit=20, window=60.0)
    for _ in range(20):
        pacer.sent("robot")
    assert pacer.room("robot") == 0 and pacer.room("other") == 20
    clock.advance(59.9)
    assert pacer.room("robot") == 0
    clock.advance(0.1)
    assert pacer.room("robot") == 20
    pacer.pause("robot", 600.0)
    clock.advance(599.0)
    assert pacer.room("robot") == 0
    clock.advance(1.0)
    assert pacer.room("robot") == 20


@dataclass
class ScriptedRobot:
    """A notifier that takes digests, answering from a script (then OK)."""

    script: list[DeliveryResult] = field(default_factory=list)
    name: str = "dingtalk://t...n/"
    sent: list[list[Alert]] = field(default_factory=list)

    def send(self, n: Notification) -> DeliveryResult:
        self.sent.append([n.alert])
        return self.script.pop(0) if self.script else DeliveryResult(True, False, "delivered")

    def send_digest(self, notifications: Sequence[Notification], limit: int) -> DeliveryResult:
        self.sent.append([n.alert for n in notifications])
        return self.script.pop(0) if self.script else DeliveryResult(True, False, "delivered")


def firing(i: int) -> Alert:
    return Alert(
        "success_rate_drop",
        Scope("alipay", f"m{i}"),
        "firing",
        "warning",
        T0,
        T0,
        0.8,
        0.97,
        Impact(1, 9),
        "a",
        "s",
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000_000.0)


def test_a_burst_of_25_is_19_messages_and_a_digest_of_6(outbox: Outbox, clock: ManualClock) -> None:
    robot = ScriptedRobot()
    assert isinstance(robot, DigestNotifier)
    dispatcher = Dispatcher(outbox, {"t1": robot}, clock)
    for i in range(25):
        outbox.enqueue("oncall", ["t1"], firing(i), "first")
    outcomes = dispatcher.run_once()
    assert [len(message) for message in robot.sent] == [1] * 19 + [6]
    assert [alert.scope.merchant_id for alert in robot.sent[-1]] == [f"m{i}" for i in range(19, 25)]
    assert [o.outcome for o in outcomes] == ["delivered"] * 25
    assert outcomes[-1].detail == "in a digest of 6: delivered"
    assert outbox.counts()["delivered"] == {"oncall": 25}


def test_alerts_past_the_limit_wait_for_the_window_and_go_as_one_digest(
    outbox: Outbox, clock: ManualClock
) -> None:
    robot = ScriptedRobot()
    dispatcher = Dispatcher(outbox, {"t1": robot}, clock)
    for i in range(20):
        outbox.enqueue("oncall", ["t1"], firing(i), "first")
    assert len(dispatcher.run_once()) == 20
    clock.advance(30)
    for i in range(20, 50):
        outbox.enqueue("oncall", ["t1"], firing(i), "first")
    assert dispatcher.run_once() == []  # no room: they wait, pending, no attempt counted
    assert outbox.counts()["pending"] == {"oncall": 30}
    clock.advance(30)
    outcomes = dispatcher.run_once()
    assert [len(message) for message in robot.sent[20:]] == [1] * 19 + [11]
    assert {o.outcome for o in outcomes} == {"delivered"} and len(outcomes) == 30


def test_the_window_and_a_pause_survive_a_restart(tmp_path: Path, outbox: Outbox, clock: ManualClock) -> None:
    state = StateDB(tmp_path / "oncall.sqlite3")
    robot = ScriptedRobot([DeliveryResult(True, False, "delivered")] * 14 + [
        Throttled(False, True, "DingTalk errcode 130101: send too fast", 600.0)])  # fmt: skip
    for i in range(15):
        outbox.enqueue("oncall", ["t1"], firing(i), "first")
    assert len(Dispatcher(outbox, {"t1": robot}, clock, state=state).run_once()) == 15
    state.close()
    clock.advance(30)
    for i in range(15, 25):
        outbox.enqueue("oncall", ["t1"], firing(i), "first")
    again = StateDB(tmp_path / "oncall.sqlite3")  # a new process on the same file
    restarted = Dispatcher(outbox, {"t1": robot}, clock, state=again)
    for wait in (0, 60, 500):  # the robot's pause of 10 minutes, although 15 messages left the window
        clock.advance(wait)
        assert restarted.run_once() == []
    clock.advance(10)
    assert [len(message) for message in robot.sent[15:]] == []
    assert len(restarted.run_once()) == 11  # the retried one and the ten after it, in 11 messages
    again.close()
    fresh = StateDB(tmp_path / "oncall.sqlite3")
    for i in range(25, 35):
        outbox.enqueue("oncall", ["t1"], firing(i), "first")
    outcomes = Dispatcher(outbox, {"t1": robot}, clock, state=fresh).run_once()
    assert [len(message) for message in robot.sent[26:]] == [1] * 8 + [2]  # 20 - 11 = 9 messages of room
    assert len(outcomes) == 10
    fresh.close()


def test_a_throttled_answer_pauses_the_target_and_the_rest_wait(outbox: Outbox, clock: ManualClock) -> None:
    robot = ScriptedRobot([Throttled(False, True, "DingTalk errcode 130101: send too fast", 600.0)])
    dispatcher = Dispatcher(outbox, {"t1": robot}, clock, retry_backoff=timedelta(seconds=5))
    for i in range(3):
        outbox.enqueue("oncall", ["t1"], firing(i), "first")
    (first,) = dispatcher.run_once()
    assert (first.outcome, first.detail) == ("retry", "DingTalk errcode 130101: send too fast")
    for wait in (5, 60, 300):
        clock.advance(wait)
        assert dispatcher.run_once() == []
    clock.advance(600 - 365)
    outcomes = dispatcher.run_once()
    assert [o.outcome for o in outcomes] == ["delivered"] * 3
    assert len(robot.sent) == 4


def test_a_refused_digest_parks_every_alert_in_it_with_the_robots_reason(
    outbox: Outbox, clock: ManualClock
) -> None:
    refused = DeliveryResult(False, False, "DingTalk errcode 310000: keywords not in content")
    robot = ScriptedRobot([DeliveryResult(True, False, "delivered")] * 19 + [refused])
    dispatcher = Dispatcher(outbox, {"t1": robot}, clock)
    for i in range(22):
        outbox.enqueue("oncall", ["t1"], firing(i), "first")
    outcomes = dispatcher.run_once()
    assert [o.outcome for o in outcomes] == ["delivered"] * 19 + ["parked"] * 3
    assert {row.last_error for row in outbox.parked()} == {
        "in a digest of 3: DingTalk errcode 310000: keywords not in content"
    }


def test_a_paused_robot_does_not_hold_back_other_targets(outbox: Outbox, clock: ManualClock) -> None:
    paused, other = ScriptedRobot(), ScriptedRobot()
    dispatcher = Dispatcher(outbox, {"t1": paused, "t2": other}, clock, batch=5)
    for i in range(20):
        outbox.enqueue("oncall", ["t1"], firing(i), "first")
    while dispatcher.run_once():  # five at a time: the batch
        pass
    assert len(paused.sent) == 20
    for i in range(12):
        outbox.enqueue("oncall", ["t1"], firing(100 + i), "first")
    outbox.enqueue("payments", ["t2"], firing(999), "first")
    outcomes = dispatcher.run_once()
    assert [(o.route, o.outcome) for o in outcomes] == [("payments", "delivered")]
    assert other.sent == [[firing(999)]]
