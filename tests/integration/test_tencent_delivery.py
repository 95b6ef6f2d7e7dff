"""Tencent Cloud SMS that really delivers: a local HTTP server that answers like SendSms does.

The fake checks what Tencent checks, with the TC3-HMAC-SHA256 signature computed here from the
published steps ("Signature v3") and not with the code under test: the canonical request (POST,
``/``, empty query, ``content-type`` and ``host`` as received, the body's SHA-256), the string to
sign with the UTC date of ``X-TC-Timestamp``, the key derived from ``"TC3" + SecretKey``, the date,
``sms`` and ``tc3_request``. It answers HTTP 200 as Tencent does, with ``Response.Error``
(``AuthFailure.SecretIdNotFound``, ``AuthFailure.SignatureFailure``, ``AuthFailure.SignatureExpire``,
``FailedOperation.TemplateIncorrectOrUnapproved``, ``InternalError.Timeout`` when told to) or a
``SendStatusSet`` with a Code per number (``Ok``; ``LimitExceeded.PhoneNumberThirtySecondLimit``
within 30 s of the number's last SMS). PayPulse reaches it through ``alerting.endpoints``, with the
production wiring (fan-out, SQLite outbox, dispatcher, Apprise); wall time is a shared ManualClock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from alerting.delivery import Dispatcher
from alerting.notifications import AlertFanout
from alerting.outbox import Outbox
from kernel.clock import ManualClock
from tests.fixtures.cloud_sms import MOBILES, incident, wire
from tests.fixtures.receiver import ReceivedRequest, answering, serve

pytestmark = pytest.mark.integration

SECRET_ID, SECRET_KEY = "AKIDPayPulseTest", "tencentS3cretForTests"
APP, TEMPLATE_ID, SIGN = "1400006666", "2061234", "支付监控"
#: The template as approved: positional variables inside its own words.
TEMPLATE = "{1}：{2}，{3}，{4}。详情 s.example.cn/p"


def expected_signature(request: ReceivedRequest, secret: str) -> str:
    """The published steps, one by one."""
    stamp = int(request.headers["x-tc-timestamp"])
    date = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d")
    headers = (
        f"content-type:{request.headers['content-type'].lower()}\nhost:{request.headers['host'].lower()}\n"
    )
    canonical = f"POST\n/\n\n{headers}\ncontent-type;host\n{hashlib.sha256(request.body).hexdigest()}"
    to_sign = (
        f"TC3-HMAC-SHA256\n{stamp}\n{date}/sms/tc3_request\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    )
    key = f"TC3{secret}".encode()
    for part in (date, "sms", "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


@dataclass
class Sent:
    body: dict[str, Any]
    headers: dict[str, str]
    reply: dict[str, Any]
    at: float


@dataclass
class FakeTencent:
    """SendSms behind one server: keys, signature, template, per-number flow control."""

    clock: ManualClock
    keys: dict[str, str] = field(default_factory=lambda: {SECRET_ID: SECRET_KEY})
    sent: list[Sent] = field(default_factory=list)
    internal_errors: int = 0
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: ReceivedRequest) -> tuple[int, dict[str, Any]]:
        now = self.clock.now()
        with self._lock:
            reply = self._judge(request, now)
            self.sent.append(Sent(json.loads(request.body), request.headers, reply, now))
        return 200, {"Response": {**reply, "RequestId": f"req-{len(self.sent)}"}}

    def delivered_to(self, number: str, since: float) -> bool:
        return any(
            s.at > since and any(st["PhoneNumber"] == number and st["Code"] == "Ok" for st in s.reply.get(
                "SendStatusSet", []))
            for s in self.sent
        )  # fmt: skip

    def _judge(self, request: ReceivedRequest, now: float) -> dict[str, Any]:
        auth = request.headers.get("authorization", "")
        credential = auth.partition("Credential=")[2].partition("/")[0]
        secret = self.keys.get(credential)
        if secret is None:
            return _error(
                "AuthFailure.SecretIdNotFound",
                "The SecretId is not found, please ensure that your SecretId is correct.",
            )
        if not auth.endswith(f"Signature={expected_signature(request, secret)}"):
            return _error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
        if abs(int(request.headers["x-tc-timestamp"]) - now) > 300:
            return _error("AuthFailure.SignatureExpire", "Signature expired.")
        if self.internal_errors:
            self.internal_errors -= 1
            return _error("InternalError.Timeout", "请求超时，请稍后重试。")
        body = json.loads(request.body)
        if body["TemplateId"] != TEMPLATE_ID:
            return _error(
                "FailedOperation.TemplateIncorrectOrUnapproved",
                "模板未审批或请求的内容与审核通过的模板内容不匹配。",
            )
        text = f"【{body['SignName']}】" + TEMPLATE.format("", *body["TemplateParamSet"])
        statuses = []
        for number in body["PhoneNumberSet"]:
            if len(text) > 70:
                code, message = (
                    "InvalidParameterValue.TemplateParameterLengthLimit",
                    f"longer than one SMS: {text}",
                )
            elif self.delivered_to(number, now - 30):
                code, message = (
                    "LimitExceeded.PhoneNumberThirtySecondLimit",
                    "单个手机号30秒内下发短信条数超过设定的上限",
                )
            else:
                code, message = "Ok", "send success"
            statuses.append({"SerialNo": "2028:1", "PhoneNumber": number, "Fee": 1, "SessionContext": "",
                             "Code": code, "Message": message, "IsoCode": "CN"})  # fmt: skip
        return {"SendStatusSet": statuses}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"Error": {"Code": code, "Message": message}}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 1, 21, tzinfo=UTC).timestamp())


@pytest.fixture
def tencent(clock: ManualClock) -> Iterator[FakeTencent]:
    fake = FakeTencent(clock)
    with serve(answering(fake.answer)) as port:
        fake.url = f"http://127.0.0.1:{port}"
        yield fake


def tencent_wire(
    url: str, tencent: FakeTencent, outbox: Outbox, clock: ManualClock
) -> tuple[AlertFanout, Dispatcher]:
    return wire(url, {"tencentsms": tencent.url}, outbox, clock)


def sms_url(secret: str = SECRET_KEY, template: str = TEMPLATE_ID) -> str:
    fixed = len(TEMPLATE) - len("{1}{2}{3}{4}")
    return f"tencentsms://{SECRET_ID}:{secret}@{APP}/{template}/{'/'.join(MOBILES)}?sign={SIGN}&fixed={fixed}"


def test_sms_is_signed_delivered_and_one_segment_with_the_form_as_template_variables(
    tencent: FakeTencent, outbox: Outbox, clock: ManualClock
) -> None:
    fanout, dispatcher = tencent_wire(sms_url(), tencent, outbox, clock)
    fanout.submit(incident())
    assert [(o.outcome, o.detail) for o in dispatcher.run_once()] == [("delivered", "delivered")]
    (sent,) = tencent.sent
    assert [s["Code"] for s in sent.reply["SendStatusSet"]] == ["Ok", "Ok"]
    assert (sent.headers["x-tc-action"], sent.headers["x-tc-version"], sent.headers["x-tc-region"]) == (
        "SendSms", "2021-01-11", "ap-guangzhou")  # fmt: skip
    assert sent.body == {
        "PhoneNumberSet": ["+8613800000000", "+8613900000000"],
        "SmsSdkAppId": APP,
        "SignName": SIGN,
        "TemplateId": TEMPLATE_ID,
        "TemplateParamSet": ["告警中", "支付成功率下降", "支付宝 商户 m42", "每分钟 180 笔"],
    }


def test_a_wrong_secret_is_parked_with_tencents_message_and_never_shown(
    tencent: FakeTencent, outbox: Outbox, clock: ManualClock
) -> None:
    fanout, dispatcher = tencent_wire(sms_url(secret="not-the-secret"), tencent, outbox, clock)
    fanout.submit(incident())
    (outcome,) = dispatcher.run_once()
    assert (outcome.outcome, outcome.detail) == (
        "parked",
        "Tencent SMS AuthFailure.SignatureFailure: The provided credentials could not be validated.",
    )
    assert "not-the-secret" not in outcome.target and outcome.target.count("****") == 1


def test_an_unapproved_template_is_parked_with_tencents_message(
    tencent: FakeTencent, outbox: Outbox, clock: ManualClock
) -> None:
    fanout, dispatcher = tencent_wire(sms_url(template="1111111"), tencent, outbox, clock)
    fanout.submit(incident())
    (outcome,) = dispatcher.run_once()
    assert outcome.outcome == "parked"
    assert outcome.detail.startswith("Tencent SMS FailedOperation.TemplateIncorrectOrUnapproved: 模板未审批")


def test_flow_control_waits_a_minute_and_an_internal_error_is_retried(
    tencent: FakeTencent, outbox: Outbox, clock: ManualClock
) -> None:
    fanout, dispatcher = tencent_wire(sms_url(), tencent, outbox, clock)
    fanout.submit(incident("m1"))
    fanout.submit(incident("m2"))
    first = dispatcher.run_once()
    assert [o.outcome for o in first] == ["delivered", "retry"]
    assert first[1].detail == (
        "Tencent SMS LimitExceeded.PhoneNumberThirtySecondLimit: 单个手机号30秒内下发短信条数超过设定的上限"
    )
    clock.advance(59.0)
    assert dispatcher.run_once() == []  # the target is left alone for the pause
    tencent.internal_errors = 1
    clock.advance(1.0)
    (retried,) = dispatcher.run_once()
    assert (retried.outcome, retried.detail) == (
        "retry",
        "Tencent SMS InternalError.Timeout: 请求超时，请稍后重试。 (will retry)",
    )
    clock.advance(10.0)
    assert [o.outcome for o in dispatcher.run_once()] == ["delivered"]
