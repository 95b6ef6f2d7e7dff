"""Robots that really deliver: real local HTTP servers that answer like DingTalk, WeCom and Feishu do.

The fake robot checks what a robot checks (its token, the 加签 signature and its timestamp, the
security keyword) and refuses like a robot refuses: HTTP 200 with an error code, ``130101`` past
20 messages in a minute (then nothing for 10 minutes), ``310000`` for a bad sign or a missing
keyword, ``300001`` for a token it does not know. PayPulse reaches it through each robot kind's
endpoint, as it would reach a company gateway, with the production wiring: the fan-out writes
the SQLite outbox, the dispatcher sends through Apprise with this project's robot plugins. Wall
time is a ManualClock shared by PayPulse and the robot, so "a minute" is exact and instant.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from alerting.delivery import Dispatcher
from alerting.grouping import Groups
from alerting.lifecycle import SUGGESTED_ACTIONS
from alerting.notifications import AlertFanout
from alerting.oncall_stage import Annotator
from alerting.outbox import Outbox
from alerting.state_db import StateDB
from kernel.alerts import Alert, Impact, Scope
from kernel.clock import ManualClock
from kernel.settings import AlertingSettings, RouteSettings
from tests.fixtures.receiver import reply_json, serve

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 1, 20, tzinfo=UTC)
MOBILE = "13800000000"
SECRET = "SEC0f9a8b7c6d5e4f3a2b1c"
KEYWORD = "PayPulse"
LIMIT = 20


@dataclass
class Bot:
    """One robot on the fake server: its secret (加签) and security keyword, if it has them."""

    secret: str | None = None
    keyword: str | None = None


@dataclass
class Call:
    kind: str  # "dingtalk", "wecom", "feishu"
    token: str
    payload: dict[str, Any]
    reply: dict[str, Any]
    at: float  # the shared clock's time

    @property
    def accepted(self) -> bool:
        return self.reply.get("errcode", self.reply.get("code")) == 0

    @property
    def text(self) -> str:
        if self.kind == "dingtalk":
            return str(self.payload["markdown"]["text"])
        if self.kind == "wecom":
            return str(self.payload["text"]["content"])
        return str(self.payload["card"]["elements"][0]["text"]["content"])


@dataclass
class FakeRobots:
    """DingTalk, WeCom and Feishu group robots behind one HTTP server on 127.0.0.1."""

    clock: ManualClock
    bots: dict[str, Bot] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    url: str = ""
    _refusing_until: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self, token: str) -> list[Call]:
        return [c for c in self.calls if c.token == token and c.accepted]

    def busy(self, token: str, messages: int) -> None:
        """Another sender used the robot: ``messages`` accepted just now."""
        self.calls += [Call("dingtalk", token, {}, {"errcode": 0}, self.clock.now()) for _ in range(messages)]

    def answer(self, path: str, query: dict[str, list[str]], payload: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()
        if path == "/robot/send":
            kind, token = "dingtalk", query.get("access_token", [""])[0]
        elif path == "/cgi-bin/webhook/send":
            kind, token = "wecom", query.get("key", [""])[0]
        else:
            kind, token = "feishu", path.removeprefix("/open-apis/bot/v2/hook/")
        with self._lock:
            reply = self._judge(kind, token, query, payload, now)
            self.calls.append(Call(kind, token, payload, reply, now))
        return reply

    def _judge(
        self, kind: str, token: str, query: dict[str, list[str]], payload: dict[str, Any], now: float
    ) -> dict[str, Any]:
        bot = self.bots.get(token)
        if bot is None:
            return {
                "dingtalk": {"errcode": 300001, "errmsg": "token is not exist"},
                "wecom": {"errcode": 93000, "errmsg": "invalid webhook url"},
                "feishu": {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"},
            }[kind]
        if bot.secret and not self._signed(kind, bot.secret, query, payload, now):
            if kind == "feishu":
                return {
                    "code": 19021,
                    "msg": "sign match fail or timestamp is not within one hour from current time",
                }
            return {"errcode": 310000, "errmsg": "sign not match"}
        text = Call(kind, token, payload, {}, now).text
        if bot.keyword and bot.keyword not in text:
            if kind == "feishu":
                return {"code": 19024, "msg": "Key Words Not Found"}
            return {"errcode": 310000, "errmsg": "keywords not in content"}
        recent = [c for c in self.accepted(token) if c.at > now - 60]
        if len(recent) >= LIMIT or self._refusing_until.get(token, now) > now:
            if kind == "dingtalk":  # DingTalk then refuses for 10 minutes
                self._refusing_until.setdefault(token, now + 600)
                return {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
            if kind == "wecom":
                return {"errcode": 45009, "errmsg": "api freq out of limit"}
            return {"code": 9499, "msg": "too many request"}
        return {"code": 0, "msg": "success"} if kind == "feishu" else {"errcode": 0, "errmsg": "ok"}

    def _signed(
        self, kind: str, secret: str, query: dict[str, list[str]], payload: dict[str, Any], now: float
    ) -> bool:
        if kind == "dingtalk":  # timestamp in ms and sign in the query, decoded once
            stamp, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
            if not stamp.isdigit() or abs(int(stamp) - now * 1000) > 3_600_000:
                return False
            digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
            return sign == base64.b64encode(digest).decode()
        stamp, sign = str(payload.get("timestamp", "")), payload.get("sign")
        if not stamp.isdigit() or abs(int(stamp) - now) > 3600:
            return False
        digest = hmac.new(f"{stamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
        return sign == base64.b64encode(digest).decode()


def _handler(robots: FakeRobots) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            split = urlsplit(self.path)
            reply = robots.answer(split.path, parse_qs(split.query), json.loads(self.rfile.read(length)))
            reply_json(self, 200, reply)  # robots answer 200 and put the verdict in the body

        def log_message(self, format: str, *args: Any) -> None:
            """The recorded calls are the log."""

    return Handler


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 1, 21, tzinfo=UTC).timestamp())


@pytest.fixture
def robots(clock: ManualClock) -> Iterator[FakeRobots]:
    fake = FakeRobots(clock)
    with serve(_handler(fake)) as port:
        fake.url = f"http://127.0.0.1:{port}"
        yield fake


def wire(
    urls: list[str], robots: FakeRobots, outbox: Outbox, clock: ManualClock
) -> tuple[AlertFanout, Dispatcher]:
    """The production wiring, each robot kind's endpoint pointed at the fake robots (a gateway) by
    the ``alerting.endpoints`` setting."""
    routes = [RouteSettings(name="oncall", urls=[SecretStr(url) for url in urls], min_severity="info")]
    endpoints = {"dingtalk": robots.url, "wecombot": robots.url, "feishu": robots.url}
    settings = AlertingSettings(routes=routes, retry_backoff=timedelta(seconds=5), endpoints=endpoints)
    return AlertFanout(settings, outbox, clock), Dispatcher.from_settings(settings, outbox, clock)


def incident(i: int, channel: str = "alipay", severity: str = "warning") -> Alert:
    """A distinct firing alert: merchant-level warnings, or a channel-level critical one."""
    scope = Scope(channel) if severity == "critical" else Scope(channel, f"m{i:02d}")
    return Alert(
        kind="success_rate_drop",
        scope=scope,
        status="firing",
        severity=severity,  # type: ignore[arg-type]
        started_at=T0,
        detected_at=T0 + timedelta(seconds=42),
        value=0.7879,
        baseline=0.9697,
        impact=Impact(180.0, 20087.88, (channel,)),
        suggested_action=SUGGESTED_ACTIONS["success_rate_drop"],
        summary=f"{scope.label}: payment success rate 78.8% vs normal 97.0%, since 01:20:00 UTC "
        "(cusum 27.2 / 16.5 after 165 outcomes, 35 bad)",
    )


def most_in_a_minute(calls: list[Call]) -> int:
    return max((sum(1 for other in calls if call.at - 60 < other.at <= call.at) for call in calls), default=0)


# -- DingTalk ----------------------------------------------------------------------------------------


def test_a_burst_of_25_alerts_is_20_messages_in_the_minute_and_every_alert_is_told(
    robots: FakeRobots, outbox: Outbox, clock: ManualClock
) -> None:
    robots.bots["robot1"] = Bot(secret=SECRET, keyword=KEYWORD)
    fanout, dispatcher = wire([f"dingtalk://{SECRET}@robot1/{MOBILE}/?at_all=yes"], robots, outbox, clock)
    burst = [incident(0, severity="critical")] + [incident(i) for i in range(1, 25)]
    for alert in burst:
        fanout.submit(alert)
    outcomes = dispatcher.run_once()
    assert [o.outcome for o in outcomes] == ["delivered"] * 25
    assert len(robots.calls) == 20 and all(call.accepted for call in robots.calls)  # never "too fast"
    first, digest = robots.calls[0], robots.calls[-1]
    # Chinese, signed, with the keyword, and the mobile number mentioned as DingTalk requires
    assert first.payload["markdown"]["title"] == "【告警中】支付成功率下降 · 支付宝（严重）"
    assert first.payload["at"] == {"atMobiles": [MOBILE], "isAtAll": True}  # critical: everyone
    assert robots.calls[1].payload["at"] == {"atMobiles": [MOBILE], "isAtAll": False}  # a warning
    assert all(call.text.endswith(f"\n\n@{MOBILE}") and KEYWORD in call.text for call in robots.calls)
    assert "**首要处置：** 查看该渠道的错误码和服务商状态页" in first.text
    # the 20th message folds the last six alerts into one digest that lists them
    assert digest.payload["markdown"]["title"] == "另有 6 条告警"
    listed = [line for line in digest.text.splitlines() if line.startswith("- 【告警中】")]
    assert listed == [f"- 【告警中】支付成功率下降 · 支付宝 商户 m{i:02d}（警告）" for i in range(19, 25)]
    assert outbox.counts()["delivered"] == {"oncall": 25}

    # Half a minute on, three more alerts find no room: they wait, pending, and nothing is sent.
    clock.advance(30)
    for i in range(25, 28):
        fanout.submit(incident(i))
    assert dispatcher.run_once() == []
    assert len(robots.calls) == 20 and outbox.counts()["pending"] == {"oncall": 3}
    # When the burst leaves the minute they go, and the robot never saw more than 20 in a minute.
    clock.advance(30)
    assert [o.outcome for o in dispatcher.run_once()] == ["delivered"] * 3
    assert len(robots.calls) == 23 and most_in_a_minute(robots.calls) == LIMIT
    assert all(call.accepted for call in robots.calls)


def test_a_robot_that_says_too_fast_waits_ten_minutes_then_gets_everything(
    robots: FakeRobots, outbox: Outbox, clock: ManualClock
) -> None:
    robots.bots["shared"] = Bot(keyword=KEYWORD)
    robots.busy("shared", LIMIT)  # another system filled the robot's minute
    fanout, dispatcher = wire([f"dingtalk://shared/{MOBILE}/"], robots, outbox, clock)
    fanout.submit(incident(1))
    (first,) = dispatcher.run_once()
    assert (first.outcome, first.detail) == (
        "retry",
        "DingTalk errcode 130101: send too fast, exceed 20 times per minute",
    )
    for i in range(2, 24):
        fanout.submit(incident(i))
    for wait in (5, 55, 240, 299):  # the robot's 10-minute penalty: PayPulse sends it nothing
        clock.advance(wait)
        assert dispatcher.run_once() == []
    assert len(robots.calls) == LIMIT + 1
    clock.advance(1)
    outcomes = dispatcher.run_once()
    assert sorted(o.outcome for o in outcomes) == ["delivered"] * 23
    ours = robots.calls[LIMIT + 1 :]
    assert len(ours) == 20 and all(call.accepted for call in ours)
    assert ours[-1].payload["markdown"]["title"] == "另有 4 条告警"
    row = outbox.get(first.row_id)
    assert (row.state, row.attempts) == ("delivered", 2)


def test_bad_token_sign_and_keyword_are_parked_with_the_robots_reason(
    robots: FakeRobots, outbox: Outbox, clock: ManualClock
) -> None:
    robots.bots["signed"] = Bot(secret=SECRET, keyword=KEYWORD)
    robots.bots["keyword"] = Bot(keyword="机房告警")
    urls = [
        "dingtalk://unknowntoken/",
        f"dingtalk://SEC0wrongsecret@signed/{MOBILE}/",
        "dingtalk://keyword/",
    ]
    fanout, dispatcher = wire(urls, robots, outbox, clock)
    fanout.submit(incident(1))
    outcomes = dispatcher.run_once()
    assert [o.outcome for o in outcomes] == ["parked"] * 3
    assert [row.last_error for row in outbox.parked()] == [
        "DingTalk errcode 300001: token is not exist",
        "DingTalk errcode 310000: sign not match",
        "DingTalk errcode 310000: keywords not in content",
    ]
    assert all(row.attempts == 1 for row in outbox.parked())  # parked at once, not retried
    clock.advance(3600)
    assert dispatcher.run_once() == [] and len(robots.calls) == 3


# -- WeCom and Feishu --------------------------------------------------------------------------------


def test_wecom_robot_mentions_by_mobile_is_paced_and_parks_a_bad_key(
    robots: FakeRobots, outbox: Outbox, clock: ManualClock
) -> None:
    robots.bots["wecom-key-1"] = Bot()
    fanout, dispatcher = wire(
        [f"wecombot://wecom-key-1/{MOBILE}/?at_all=yes", "wecombot://revoked-key"], robots, outbox, clock
    )
    fanout.submit(incident(0, severity="critical"))
    for i in range(1, 22):
        fanout.submit(incident(i))
    outcomes = dispatcher.run_once()
    good = [call for call in robots.calls if call.token == "wecom-key-1"]
    assert len(good) == 20 and all(call.accepted for call in good)
    assert good[0].payload["msgtype"] == "text"
    assert good[0].payload["text"]["mentioned_mobile_list"] == [MOBILE, "@all"]
    assert good[1].payload["text"]["mentioned_mobile_list"] == [MOBILE]
    assert good[0].text.startswith("【告警中】支付成功率下降 · 支付宝（严重）\r\n")
    assert good[-1].text.startswith("另有 3 条告警")
    assert all(len(call.text.encode()) <= 2048 for call in good)
    revoked = [o.detail for o in outcomes if o.outcome == "parked"]
    refused = "WeCom errcode 93000: invalid webhook url"
    assert revoked == [refused] * 19 + [f"in a digest of 3: {refused}"] * 3
    assert [o.outcome for o in outcomes].count("delivered") == 22


def test_wecom_rate_limit_is_retried(robots: FakeRobots, outbox: Outbox, clock: ManualClock) -> None:
    robots.bots["wecom-key-2"] = Bot()
    robots.busy("wecom-key-2", LIMIT)
    fanout, dispatcher = wire(["wecombot://wecom-key-2"], robots, outbox, clock)
    fanout.submit(incident(1))
    (first,) = dispatcher.run_once()
    assert (first.outcome, first.detail) == ("retry", "WeCom errcode 45009: api freq out of limit")
    clock.advance(60)
    assert [o.outcome for o in dispatcher.run_once()] == ["delivered"]


def test_feishu_robot_signs_its_card_mentions_everyone_and_parks_a_bad_sign(
    robots: FakeRobots, outbox: Outbox, clock: ManualClock
) -> None:
    robots.bots["hook-1"] = Bot(secret="feishusecret", keyword=KEYWORD)
    robots.bots["hook-2"] = Bot(secret="feishusecret")
    fanout, dispatcher = wire(
        ["feishu://feishusecret@hook-1/?at_all=yes", "feishu://wrongsecret@hook-2/"], robots, outbox, clock
    )
    fanout.submit(incident(0, severity="critical"))
    fanout.submit(incident(1))
    outcomes = dispatcher.run_once()
    signed = [call for call in robots.calls if call.token == "hook-1"]
    assert [call.accepted for call in signed] == [True, True]
    card = signed[0].payload["card"]
    assert card["header"]["title"]["content"] == "【告警中】支付成功率下降 · 支付宝（严重）"
    assert card["header"]["template"] == "red"
    assert signed[0].text.endswith("<at id=all></at>") and "<at id=all>" not in signed[1].text
    parked = [o for o in outcomes if o.outcome == "parked"]
    assert [o.detail for o in parked] == [
        "Feishu errcode 19021: sign match fail or timestamp is not within one hour from current time"
    ] * 2


# -- a route's group: one message ---------------------------------------------------------------------


def test_a_routes_group_is_one_signed_message_listing_its_alerts_with_mention_and_links(
    robots: FakeRobots, outbox: Outbox, clock: ManualClock, tmp_path: Path
) -> None:
    robots.bots["robot1"] = Bot(secret=SECRET, keyword=KEYWORD)
    settings = AlertingSettings.model_validate({
        "route": {"name": "oncall", "urls": [f"dingtalk://{SECRET}@robot1/"], "group_by": ["kind"],
                  "mention_oncall": True},
        "endpoints": {"dingtalk": robots.url},
        "oncall": {"people": [{"name": "zhang", "mobile": MOBILE}], "rotation": ["zhang"]},
        "escalation": {"ack_secret": "s3cret", "ack_url": "https://status.example"},
    })  # fmt: skip
    state = StateDB(tmp_path / "oncall.sqlite3")
    fanout = AlertFanout(settings, outbox, clock, groups=Groups(state, clock))
    annotate = Annotator(settings, clock).annotate
    dispatcher = Dispatcher.from_settings(settings, outbox, clock, annotate=annotate, state=state)
    hostile = dataclasses.replace(incident(2), scope=Scope("wechat", "[点我](http://evil.example) @all"))
    alerts = [incident(0, severity="critical"), incident(1), hostile]
    for alert in alerts:
        assert [d.reason for d in fanout.submit(alert)] == ["grouped"]
    clock.advance(30)
    assert sorted(d.reason for _, d in fanout.flush()) == ["first"] * 3
    outcomes = dispatcher.run_once()
    assert [(o.outcome, o.detail) for o in outcomes] == [("delivered", "in a group of 3: delivered")] * 3
    (call,) = robots.calls
    assert call.accepted and call.payload["at"]["atMobiles"] == [MOBILE]
    text = call.text
    assert call.payload["markdown"]["title"] == "3 条告警：3 条告警中，0 条已恢复"
    assert text.count("https://status.example/api/ack/") == 3
    assert text.index("支付宝") < text.index("商户 m01") < text.index("微信支付 商户")
    assert "](http" not in text.replace("](https://status.example/api/ack/", "") and "@all" not in text
    state.close()
