"""Delivery end to end: real Apprise plugins posting to a real HTTP receiver and SMTP server on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from alerting.delivery import AppriseNotifier, Dispatcher, build_notifiers
from alerting.i18n import Messages
from alerting.notifications import AlertFanout
from alerting.outbox import Outbox
from alerting.render import render
from kernel.alerts import Alert, Impact, Scope
from kernel.clock import ManualClock, SystemClock
from kernel.errors import ConfigError
from kernel.settings import AlertingSettings, RouteSettings
from tests.fixtures.receiver import Receiver

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
ALERT = Alert(
    kind="success_rate_drop",
    scope=Scope("alipay"),
    status="firing",
    severity="critical",
    started_at=T0,
    detected_at=T0 + timedelta(seconds=90),
    value=0.82,
    baseline=0.975,
    impact=Impact(orders_per_min=120.0, amount_per_min=15320.0, channels=("alipay",)),
    suggested_action="Check the Alipay gateway status and fail over to the backup acquirer",
    summary="Success rate on alipay fell from 97.5% to 82.0%",
)


def alerting(url: str, **kw: Any) -> AlertingSettings:
    route = RouteSettings(name="oncall", urls=[SecretStr(url)], min_severity="warning")
    return AlertingSettings(routes=[route], retry_backoff=timedelta(seconds=5), **kw)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000.0)


def wire(
    settings: AlertingSettings, outbox: Outbox, clock: ManualClock, endpoints: dict[str, str] | None = None
) -> tuple[AlertFanout, Dispatcher]:
    dispatcher = Dispatcher.from_settings(settings, outbox, clock, endpoints=endpoints)
    return AlertFanout(settings, outbox, clock), dispatcher


def test_json_url_delivers_the_rendered_alert(receiver: Receiver, outbox: Outbox, clock: ManualClock) -> None:
    fanout, dispatcher = wire(alerting(f"json://{receiver.netloc}/hooks/paypulse"), outbox, clock)
    (decision,) = fanout.submit(ALERT)
    assert decision.reason == "first"
    (outcome,) = dispatcher.run_once()
    assert outcome.outcome == "delivered"
    assert outcome.target.startswith(f"json://{receiver.netloc}/hooks/paypulse")
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/hooks/paypulse")
    assert request.headers["content-type"].startswith("application/json")
    payload = request.json
    message = render(ALERT)
    assert payload["title"] == message.title
    assert payload["message"] == message.body
    assert payload["type"] == "failure"  # firing critical
    assert "82.00% vs baseline 97.50%" in payload["message"]
    row = outbox.get(decision.outbox_ids[0])
    assert (row.state, row.attempts, row.delivered_at) == ("delivered", 1, clock.now())


def test_receiver_failing_twice_gets_it_on_the_third_attempt(
    receiver: Receiver, outbox: Outbox, clock: ManualClock
) -> None:
    receiver.fail_next(2, status=500)
    fanout, dispatcher = wire(alerting(f"json://{receiver.netloc}/hook"), outbox, clock)
    (decision,) = fanout.submit(ALERT)
    outcomes = [o.outcome for o in dispatcher.run_once()]
    clock.advance(5)
    outcomes += [o.outcome for o in dispatcher.run_once()]
    assert dispatcher.run_once() == []  # second back-off is 10 s, not due yet
    clock.advance(10)
    outcomes += [o.outcome for o in dispatcher.run_once()]
    assert outcomes == ["retry", "retry", "delivered"]
    assert [r.status for r in receiver.requests] == [500, 500, 200]
    assert receiver.requests[0].body == receiver.requests[2].body  # the same message each time
    row = outbox.get(decision.outbox_ids[0])
    assert (row.state, row.attempts) == ("delivered", 3)
    assert dispatcher.stats()["retry"] == {"oncall": 2}


def test_bad_request_parks_at_once_and_requeue_delivers(
    receiver: Receiver, outbox: Outbox, clock: ManualClock
) -> None:
    receiver.fail_next(1, status=400)
    fanout, dispatcher = wire(alerting(f"json://{receiver.netloc}/hook"), outbox, clock)
    (decision,) = fanout.submit(ALERT)
    (outcome,) = dispatcher.run_once()
    assert outcome.outcome == "parked"
    (parked,) = outbox.parked()
    assert parked.id == decision.outbox_ids[0]
    assert parked.attempts == 1
    assert parked.last_error is not None and parked.last_error.startswith("HTTP 400")
    clock.advance(3600)
    assert dispatcher.run_once() == []
    assert outbox.requeue([parked.id]) == 1
    assert [o.outcome for o in dispatcher.run_once()] == ["delivered"]
    assert [r.status for r in receiver.requests] == [400, 200]


def test_connection_refused_is_retried(outbox: Outbox, clock: ManualClock) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fanout, dispatcher = wire(alerting(f"json://127.0.0.1:{port}/hook", max_attempts=2), outbox, clock)
    fanout.submit(ALERT)
    (first,) = dispatcher.run_once()
    assert (first.outcome, first.detail.split(":")[0]) == ("retry", "connection failed")
    clock.advance(5)
    (second,) = dispatcher.run_once()
    assert second.outcome == "parked"
    assert outbox.parked()[0].attempts == 2


def test_dingtalk_robot_gets_markdown_in_chinese(
    receiver: Receiver, outbox: Outbox, clock: ManualClock
) -> None:
    # The robot's endpoint is the receiver, as a company gateway would be.
    fanout, dispatcher = wire(
        alerting("dingtalk://a1b2c3d4token/"), outbox, clock, {"dingtalk": receiver.url}
    )
    fanout.submit(ALERT)
    assert [o.outcome for o in dispatcher.run_once()] == ["delivered"]
    (request,) = receiver.requests
    assert request.path == "/robot/send"
    assert request.query["access_token"] == ["a1b2c3d4token"]
    payload = request.json
    message = render(ALERT, messages=Messages("zh-CN"))
    assert payload["msgtype"] == "markdown"
    assert payload["markdown"]["title"] == message.title == "【告警中】支付成功率下降 · 支付宝（严重）"
    assert payload["markdown"]["text"] == f"# {message.title}\n{message.body}"
    # an action written by hand (not the catalogue's) is data and shows as it is
    assert "**首要处置：** Check the Alipay gateway" in payload["markdown"]["text"]


def test_wecom_robot_gets_the_message_in_chinese(
    receiver: Receiver, outbox: Outbox, clock: ManualClock
) -> None:
    fanout, dispatcher = wire(alerting("wecombot://wecomkey123"), outbox, clock, {"wecombot": receiver.url})
    fanout.submit(ALERT)
    assert [o.outcome for o in dispatcher.run_once()] == ["delivered"]
    (request,) = receiver.requests
    assert (request.path, request.query["key"]) == ("/cgi-bin/webhook/send", ["wecomkey123"])
    payload = request.json
    message = render(ALERT, messages=Messages("zh-CN"))
    # WeCom gets msgtype "text" (the kind that can mention by mobile): title line, then the body.
    assert payload["msgtype"] == "text"
    assert payload["text"]["content"] == f"{message.title}\r\n{message.body}"


def test_email_goes_out_over_smtp_as_html_and_text(outbox: Outbox, clock: ManualClock) -> None:
    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    smtp = Controller(Handler(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        url = f"mailto://127.0.0.1:{port}?mode=insecure&from=alerts@paypulse.test&to=oncall@paypulse.test"
        fanout, dispatcher = wire(alerting(url), outbox, clock)
        fanout.submit(ALERT)
        assert [o.outcome for o in dispatcher.run_once()] == ["delivered"]
    finally:
        smtp.stop()
    (envelope,) = received
    assert envelope.rcpt_tos == ["oncall@paypulse.test"]
    mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert mail["Subject"] == render(ALERT).title
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<strong>First action:</strong> Check the Alipay gateway" in html
    assert "82.00% vs baseline 97.50%" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_bad_url_is_a_config_error_naming_route_without_secret() -> None:
    settings = AlertingSettings(
        routes=[RouteSettings(name="oncall", urls=[SecretStr("dingtalk://not a token!/13800000000")])]
    )
    with pytest.raises(ConfigError, match="route 'oncall'") as err:
        build_notifiers(settings)
    assert "not a valid Apprise URL" in str(err.value)
    assert "not a token" not in str(err.value)


def test_notifier_name_hides_the_token() -> None:
    notifier = AppriseNotifier("dingtalk://secrettoken123/", route="oncall")
    assert notifier.name.startswith("dingtalk://")
    assert "secrettoken123" not in notifier.name


def test_background_dispatcher_delivers_after_submit(receiver: Receiver, tmp_path: Path) -> None:
    clock = SystemClock()
    box = Outbox(tmp_path / "outbox.sqlite3", clock)
    settings = alerting(f"json://{receiver.netloc}/hook")
    fanout = AlertFanout(settings, box, clock)
    dispatcher = Dispatcher.from_settings(settings, box, clock)
    dispatcher.start(interval_s=30)  # long interval: only wake() can make this test pass quickly
    try:
        fanout.submit(ALERT)
        dispatcher.wake()
        (request,) = receiver.wait_for(1, timeout=5)
        assert request.json["title"] == render(ALERT).title
    finally:
        dispatcher.stop()
        box.close()
    assert box.path.exists()


def test_restart_with_same_outbox_delivers_what_was_pending(receiver: Receiver, tmp_path: Path) -> None:
    clock = ManualClock(1_700_000_000.0)
    path = tmp_path / "outbox.sqlite3"
    settings = alerting(f"json://{receiver.netloc}/hook")
    before = Outbox(path, clock)
    AlertFanout(settings, before, clock).submit(ALERT)  # the process dies before any delivery
    before.close()
    after = Outbox(path, clock)
    outcomes = Dispatcher.from_settings(settings, after, clock).run_once()
    after.close()
    assert [o.outcome for o in outcomes] == ["delivered"]
    assert receiver.requests[0].json["title"] == render(ALERT).title
