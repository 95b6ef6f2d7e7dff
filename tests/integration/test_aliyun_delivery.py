"""Aliyun SMS and voice calls that really deliver: a local HTTP server that answers like Aliyun does.

The fake checks what Aliyun checks, with the signature computed here from the published steps
("Signature method", https://www.alibabacloud.com/help/en/sms/signature-method) and not with the
code under test: sort the parameters, percent-encode names and values (RFC 3986: letters, digits,
``-_.~`` kept, every other UTF-8 byte ``%XY``), join them with ``&`` and ``=``, sign
``POST&%2F&`` + the encoded query with HMAC-SHA1 keyed by ``secret + "&"``, Base64. It answers
with Aliyun's JSON codes: ``OK``; ``SignatureDoesNotMatch`` (HTTP 400) for a bad signature,
``InvalidAccessKeyId.NotFound`` (404) for an unknown key, ``isv.SMS_TEMPLATE_ILLEGAL`` for a template
it does not know, and ``isv.BUSINESS_LIMIT_CONTROL`` past one message or call per number a minute.
PayPulse reaches it through the endpoint setting, as it would reach a company gateway, with the
production wiring (fan-out, SQLite outbox, dispatcher, Apprise). Wall time is a shared ManualClock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

import pytest

from alerting.delivery import Dispatcher
from alerting.notifications import AlertFanout
from alerting.outbox import Outbox
from kernel.clock import ManualClock
from tests.fixtures.cloud_sms import MOBILES, incident, wire
from tests.fixtures.receiver import reply_json, serve

pytestmark = pytest.mark.integration

AK, SK = "LTAI5tPayPulseTest", "k3yS3cretForTests"
SIGN = "支付监控"
#: The SMS template as approved in the console: fixed words (with our link) around the variables.
TEMPLATE = "${status}：${kind}，${scope}，${impact}。详情 s.example.cn/p"
TEMPLATE_CODE = "SMS_465100001"
TTS_CODE = "TTS_300100001"


def percent(text: str) -> str:
    """The documented encoding, byte by byte."""
    keep = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in text.encode())


def expected_signature(params: dict[str, str], secret: str) -> str:
    query = "&".join(f"{percent(k)}={percent(v)}" for k, v in sorted(params.items()))
    to_sign = "POST&" + percent("/") + "&" + percent(query)
    return base64.b64encode(hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


def segment_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2  # the template is Chinese: UCS-2


@dataclass
class Request:
    params: dict[str, str]
    reply: dict[str, Any]
    at: float


@dataclass
class FakeAliyun:
    """Dysmsapi and Dyvmsapi behind one server: keys, templates, signatures, flow control."""

    clock: ManualClock
    keys: dict[str, str] = field(default_factory=lambda: {AK: SK})
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def delivered(self) -> list[Request]:
        return [r for r in self.requests if r.reply["Code"] == "OK"]

    def answer(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        now = self.clock.now()
        with self._lock:
            status, reply = self._judge(params, now)
            self.requests.append(Request(params, reply, now))
        return status, {**reply, "RequestId": f"req-{len(self.requests)}"}

    def _judge(self, params: dict[str, str], now: float) -> tuple[int, dict[str, Any]]:
        secret = self.keys.get(params.get("AccessKeyId", ""))
        if secret is None:
            return 404, {
                "Code": "InvalidAccessKeyId.NotFound",
                "Message": "Specified access key is not found.",
            }
        unsigned = {k: v for k, v in params.items() if k != "Signature"}
        if params.get("Signature") != expected_signature(unsigned, secret):
            return 400, {
                "Code": "SignatureDoesNotMatch",
                "Message": "Specified signature is not matched with our calculation.",
            }
        stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        if abs(stamp - now) > 900 or params.get("SignatureVersion") != "1.0":
            return 400, {"Code": "InvalidTimeStamp.Expired", "Message": "Specified time stamp is expired."}
        if params["Action"] == "SendSms":
            if params["TemplateCode"] != TEMPLATE_CODE:
                return 200, {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "模板不合法(不存在或被拉黑)"}
            numbers = params["PhoneNumbers"].split(",")
            variables = json.loads(params["TemplateParam"])
            text = f"【{params['SignName']}】" + TEMPLATE.replace("${", "{").format(**variables)
            if segment_units(text) > 70:
                return 200, {"Code": "isv.PARAM_LENGTH_LIMIT", "Message": f"longer than one segment: {text}"}
        else:
            if params["TtsCode"] != TTS_CODE:
                return 200, {"Code": "isv.TTS_TEMPLATE_ILLEGAL", "Message": "TTS模板不合法"}
            numbers = [params["CalledNumber"]]
        for r in self.delivered():
            sent = r.params.get("PhoneNumbers", r.params.get("CalledNumber", "")).split(",")
            if r.params["Action"] == params["Action"] and r.at > now - 60 and set(sent) & set(numbers):
                return 200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发号码分钟级流控Permits:1"}
        if params["Action"] == "SendSms":
            return 200, {"Code": "OK", "Message": "OK", "BizId": f"{len(self.requests)}^0"}
        return 200, {"Code": "OK", "Message": "OK", "CallId": f"{len(self.requests)}^1"}


def _handler(fake: FakeAliyun) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            params = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
            status, reply = fake.answer(params)
            reply_json(self, status, reply)

        def log_message(self, format: str, *args: Any) -> None:
            """The recorded requests are the log."""

    return Handler


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 1, 21, tzinfo=UTC).timestamp())


@pytest.fixture
def aliyun(clock: ManualClock) -> Iterator[FakeAliyun]:
    fake = FakeAliyun(clock)
    with serve(_handler(fake)) as port:
        fake.url = f"http://127.0.0.1:{port}"
        yield fake


def aliyun_wire(
    url: str, aliyun: FakeAliyun, outbox: Outbox, clock: ManualClock
) -> tuple[AlertFanout, Dispatcher]:
    return wire(url, {"aliyunsms": aliyun.url, "aliyunvoice": aliyun.url}, outbox, clock)


def sms_url(secret: str = SK, template: str = TEMPLATE_CODE) -> str:
    fixed = len(TEMPLATE) - sum(len(f"${{{name}}}") for name in ("status", "kind", "scope", "impact"))
    return f"aliyunsms://{AK}:{secret}@{SIGN}/{template}/{'/'.join(MOBILES)}?fixed={fixed}"


def test_sms_is_signed_delivered_and_one_segment_with_the_form_as_template_variables(
    aliyun: FakeAliyun, outbox: Outbox, clock: ManualClock
) -> None:
    fanout, dispatcher = aliyun_wire(sms_url(), aliyun, outbox, clock)
    fanout.submit(incident())
    outcomes = dispatcher.run_once()
    assert [(o.outcome, o.detail) for o in outcomes] == [("delivered", "delivered")]
    (sent,) = aliyun.requests
    assert sent.reply["Code"] == "OK"
    assert (sent.params["Action"], sent.params["PhoneNumbers"], sent.params["SignName"]) == (
        "SendSms",
        ",".join(MOBILES),
        SIGN,
    )
    assert json.loads(sent.params["TemplateParam"]) == {
        "status": "告警中",
        "kind": "支付成功率下降",
        "scope": "支付宝 商户 m42",
        "impact": "每分钟 180 笔",  # no room for the money next to the template's own words
    }


def test_a_hostile_merchant_id_still_fits_the_segment(
    aliyun: FakeAliyun, outbox: Outbox, clock: ManualClock
) -> None:
    fanout, dispatcher = aliyun_wire(sms_url(), aliyun, outbox, clock)
    fanout.submit(incident(merchant="【工商银行】请点击 http://evil.example\r\n" + "9" * 300))
    assert [o.outcome for o in dispatcher.run_once()] == ["delivered"]
    scope = json.loads(aliyun.requests[0].params["TemplateParam"])["scope"]
    assert scope.startswith("支付宝 商户 [工商银行]") and scope.endswith("…") and "://" not in scope


def test_bad_signature_is_parked_with_aliyuns_message(
    aliyun: FakeAliyun, outbox: Outbox, clock: ManualClock
) -> None:
    fanout, dispatcher = aliyun_wire(sms_url(secret="not-the-secret"), aliyun, outbox, clock)
    fanout.submit(incident())
    (outcome,) = dispatcher.run_once()
    assert outcome.outcome == "parked"
    assert outcome.detail == (
        "Aliyun SMS SignatureDoesNotMatch: Specified signature is not matched with our calculation."
    )
    assert "not-the-secret" not in outcome.detail and outcome.target.count("****") == 1


def test_unknown_template_is_parked_with_aliyuns_message(
    aliyun: FakeAliyun, outbox: Outbox, clock: ManualClock
) -> None:
    fanout, dispatcher = aliyun_wire(sms_url(template="SMS_000000000"), aliyun, outbox, clock)
    fanout.submit(incident())
    (outcome,) = dispatcher.run_once()
    assert (outcome.outcome, outcome.detail) == (
        "parked",
        "Aliyun SMS isv.SMS_TEMPLATE_ILLEGAL: 模板不合法(不存在或被拉黑)",
    )


def test_flow_control_is_retried_after_a_minute_and_then_delivered(
    aliyun: FakeAliyun, outbox: Outbox, clock: ManualClock
) -> None:
    fanout, dispatcher = aliyun_wire(sms_url(), aliyun, outbox, clock)
    fanout.submit(incident("m1"))
    fanout.submit(incident("m2"))
    first = dispatcher.run_once()
    assert [o.outcome for o in first] == ["delivered", "retry"]
    assert first[1].detail == "Aliyun SMS isv.BUSINESS_LIMIT_CONTROL: 触发号码分钟级流控Permits:1"
    clock.advance(30.0)
    assert dispatcher.run_once() == []  # the target is left alone for the minute Aliyun counts by
    clock.advance(31.0)
    assert [o.outcome for o in dispatcher.run_once()] == ["delivered"]
    assert [r.reply["Code"] for r in aliyun.requests] == ["OK", "isv.BUSINESS_LIMIT_CONTROL", "OK"]


def test_voice_call_reads_the_form_to_each_number(
    aliyun: FakeAliyun, outbox: Outbox, clock: ManualClock
) -> None:
    url = f"aliyunvoice://{AK}:{SK}@{TTS_CODE}/{'/'.join(MOBILES)}?show=057100000000&play_times=3"
    fanout, dispatcher = aliyun_wire(url, aliyun, outbox, clock)
    fanout.submit(incident())
    assert [o.outcome for o in dispatcher.run_once()] == ["delivered"]
    assert [r.params["CalledNumber"] for r in aliyun.requests] == list(MOBILES)
    call = aliyun.requests[0].params
    assert (call["Action"], call["TtsCode"], call["CalledShowNumber"], call["PlayTimes"]) == (
        "SingleCallByTts",
        TTS_CODE,
        "057100000000",
        "3",
    )
    assert json.loads(call["TtsParam"]) == {
        "status": "告警中",
        "kind": "支付成功率下降",
        "scope": "支付宝 商户 m42",
        "impact": "每分钟 180 笔订单、¥20,087.88",
    }


def test_unknown_access_key_is_parked(aliyun: FakeAliyun, outbox: Outbox, clock: ManualClock) -> None:
    url = f"aliyunvoice://LTAIunknown:{SK}@{TTS_CODE}/{MOBILES[0]}"
    fanout, dispatcher = aliyun_wire(url, aliyun, outbox, clock)
    fanout.submit(incident())
    (outcome,) = dispatcher.run_once()
    assert (outcome.outcome, outcome.detail) == (
        "parked",
        "Aliyun voice InvalidAccessKeyId.NotFound: Specified access key is not found.",
    )
