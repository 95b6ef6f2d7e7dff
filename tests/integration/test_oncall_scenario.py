"""A 30-minute incident through real robots and an SMS stand-in on 127.0.0.1: the DingTalk and WeCom
groups hear of every unsilenced alert and @mention the primary, nobody acknowledges one alert so it
escalates to the secondary, an acknowledged one is never repeated, a silenced merchant gets nothing;
a restart halfway changes none of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerting.delivery import Dispatcher
from alerting.desk import Desk
from alerting.notifications import AlertFanout
from alerting.oncall_stage import Annotator, OnCallStage
from alerting.outbox import Outbox
from alerting.state_db import StateDB
from kernel.alerts import Alert, Impact, Scope
from kernel.clock import ManualClock
from kernel.settings import AlertingSettings
from tests.fixtures.receiver import Receiver

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing: zhang primary, li secondary


def settings(receiver: Receiver) -> AlertingSettings:
    return AlertingSettings.model_validate(
        {
            "route": {"name": "groups", "urls": ["dingtalk://dingtoken/", "wecombot://wecomkey"],
                      "mention_oncall": True, "min_severity": "warning"},
            "repeat_interval": "10m",
            "retry_backoff": "5s",
            "oncall": {
                "people": [
                    {"name": "zhang", "mobile": "13800000001"},
                    {"name": "li", "mobile": "13800000002"},
                ],
                "rotation": ["zhang", "li"],
                "contacts": {"sms": f"json://{receiver.netloc}/sms/{{mobile}}"},
            },
            "escalation": {"levels": [{"after": "5m", "notify": "primary", "via": "sms"},
                                      {"after": "15m", "notify": "secondary", "via": "sms"}],
                           "ack_secret": "s3cret", "ack_url": "https://status.example"},
        }
    )  # fmt: skip


def alert(i: int, channel: str, merchant: str | None = None, severity: str = "critical") -> Alert:
    start = T0 + timedelta(seconds=i)
    return Alert("success_rate_drop", Scope(channel, merchant), "firing", severity, start, start, 0.8, 0.97,  # type: ignore[arg-type]
                 Impact(10, 99), "act", f"{channel} {merchant} down")  # fmt: skip


class Process:
    """`paypulse run`'s alerting half: the stage, the fan-out and the dispatcher on the given files."""

    def __init__(self, tmp: Path, s: AlertingSettings, clock: ManualClock, receiver: Receiver) -> None:
        self.outbox = Outbox(tmp / "outbox.sqlite3", clock)
        self.db = StateDB(tmp / "oncall.sqlite3")
        endpoints = {"dingtalk": receiver.url, "wecombot": receiver.url}
        self.dispatcher = Dispatcher.from_settings(
            s, self.outbox, clock, endpoints=endpoints, annotate=Annotator(s, clock).annotate
        )
        self.stage = OnCallStage(s, AlertFanout(s, self.outbox, clock), self.outbox, self.db, clock)
        self.desk = Desk(s, self.db, clock)

    def close(self) -> None:
        self.outbox.close()
        self.db.close()


def test_thirty_minute_incident(tmp_path: Path, receiver: Receiver) -> None:
    s = settings(receiver)
    clock = ManualClock(T0.timestamp())
    run = Process(tmp_path, s, clock, receiver)
    run.desk.silence(["merchant=m-quiet"], by="li", comment="merchant migrating", duration=timedelta(hours=2))
    unacked = alert(0, "alipay")
    acked = alert(1, "wechat")
    quiet = [alert(2 + i, "unionpay", "m-quiet") for i in range(10)]
    others = [alert(20 + i, "card", f"m{i}", "warning") for i in range(8)]  # too mild to escalate
    firing = [unacked, acked, *quiet, *others]
    for a in firing:
        run.stage.observe(a)
    run.dispatcher.run_once()
    for minute in range(1, 31):
        clock.advance(60)
        if minute == 2:
            run.desk.ack(acked.id, by="zhang", via="cli")
        if minute == 12:  # a restart: new stores and stages on the same files
            run.close()
            run = Process(tmp_path, s, clock, receiver)
        run.stage.tick([a for a in firing if a not in others or minute < 10])
        run.dispatcher.run_once()
    run.close()

    robots = [r for r in receiver.requests if r.path in ("/robot/send", "/cgi-bin/webhook/send")]
    sms = [(r.path, r.json) for r in receiver.requests if r.path.startswith("/sms/")]
    text = [str(r.json) for r in robots]
    # nothing at all for the silenced merchant
    assert not any("m-quiet" in t for t in text + [str(body) for _, body in sms])
    # the acknowledged alert: its first message only, on each robot
    assert sum("wechat" in t for t in text) == 2
    # the unacknowledged one: first, then repeats at 10, 20 and 30 minutes, on each robot
    assert sum("alipay" in t for t in text) == 8
    # escalation: the primary by SMS after 5 minutes, the secondary after 15; the acked alert never
    assert [path for path, _ in sms] == ["/sms/13800000001", "/sms/13800000002"]
    assert all("alipay" in str(body) for _, body in sms)
    # the robots @mention the primary, and carry the signed acknowledgement link
    ding = next(r.json for r in robots if r.path == "/robot/send")
    assert ding["at"]["atMobiles"] == ["13800000001"]
    assert "https://status.example/api/ack/" in ding["markdown"]["text"]
    wecom = next(r.json for r in robots if r.path == "/cgi-bin/webhook/send")
    assert wecom["text"]["mentioned_mobile_list"] == ["13800000001"]
    assert all(r.status == 200 for r in receiver.requests)
