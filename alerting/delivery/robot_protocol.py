"""What the chat robots expect and answer: endpoints, signatures, and what each reply code means.

A robot answers HTTP 200 even when it refuses a message: past 20 messages a minute DingTalk says
``{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}`` and delivers nothing.
:func:`read_reply` turns a reply into a :class:`~alerting.notifications.DeliveryResult`:

=========  ===========  ==========================================  =============================
robot      delivered    retried (after a pause: :class:`Throttled`)  parked with the robot's reason
=========  ===========  ==========================================  =============================
DingTalk   errcode 0    130101, 410100 (too fast; 10 min pause)      300001, 300005, 400101, 400102
                                                                     (bad or disabled token),
                                                                     310000 (keyword, sign,
                                                                     timestamp or IP refused)
WeCom      errcode 0    45009 (api freq out of limit)                93000 (invalid webhook key)
Feishu     code 0       9499, 11232 (too many requests)              19001 (bad token), 19021 (bad
                                                                     sign), 19022 (IP), 19024
                                                                     (keyword)
=========  ===========  ==========================================  =============================

Any other code is retried (``max_attempts`` bounds it) and the detail keeps the robot's words; so
is an answer that is not JSON. Signatures: DingTalk's 加签 is the base64 HMAC-SHA256 of
``"timestamp\\nsecret"`` keyed by the secret (:func:`dingtalk_sign`), Feishu's and Lark's the base64
HMAC-SHA256 of nothing keyed by ``"timestamp\\nsecret"`` (:func:`feishu_sign`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Final

from alerting.delivery.pacing import DEFAULT_WINDOW, Throttled
from alerting.escape import one_line
from alerting.notifications import DeliveryResult

__all__ = [
    "DEFAULT_ENDPOINTS",
    "NAMES",
    "PAUSES",
    "RATE_LIMITED",
    "REFUSED",
    "dingtalk_sign",
    "feishu_sign",
    "read_reply",
]

#: Where each robot kind is reached unless a gateway stands in for it.
DEFAULT_ENDPOINTS: Final = {
    "dingtalk": "https://oapi.dingtalk.com",
    "wecombot": "https://qyapi.weixin.qq.com",
    "feishu": "https://open.feishu.cn",
    "lark": "https://open.larksuite.com",
}
NAMES: Final = {"dingtalk": "DingTalk", "wecombot": "WeCom", "feishu": "Feishu", "lark": "Lark"}
#: Reply codes that mean "too fast": retried after the robot's pause.
RATE_LIMITED: Final = {
    "dingtalk": frozenset({130101, 410100}),
    "wecombot": frozenset({45009}),
    "feishu": frozenset({9499, 11232}),
    "lark": frozenset({9499, 11232}),
}
#: Reply codes that no retry can fix: the message is parked with the robot's reason.
REFUSED: Final = {
    "dingtalk": frozenset({300001, 300005, 310000, 400101, 400102}),
    "wecombot": frozenset({93000}),
    "feishu": frozenset({19001, 19021, 19022, 19024}),
    "lark": frozenset({19001, 19021, 19022, 19024}),
}
#: How long a robot that said "too fast" is left alone: DingTalk refuses for 10 minutes.
PAUSES: Final = {
    "dingtalk": 600.0,
    "wecombot": DEFAULT_WINDOW,
    "feishu": DEFAULT_WINDOW,
    "lark": DEFAULT_WINDOW,
}
_RETRYABLE_HTTP: Final = frozenset({408, 425, 429})
_MAX_REASON: Final = 200


def read_reply(robot: str, status: int, body: bytes) -> DeliveryResult:
    """What a robot's answer means: delivered, worth another try, or refused for good.

    >>> read_reply("dingtalk", 200, b'{"errcode":0,"errmsg":"ok"}')
    DeliveryResult(ok=True, retryable=False, detail='delivered')
    >>> read_reply("dingtalk", 200, b'{"errcode":130101,"errmsg":"send too fast"}')
    Throttled(ok=False, retryable=True, detail='DingTalk errcode 130101: send too fast', pause=600.0)
    >>> read_reply("feishu", 200, b'{"code":19021,"msg":"sign match fail"}')
    DeliveryResult(ok=False, retryable=False, detail='Feishu errcode 19021: sign match fail')
    """
    name = NAMES[robot]
    if status != 200:
        detail = f"{name} answered HTTP {status}"
        if status == 429:
            return Throttled(False, True, detail, PAUSES[robot])
        return DeliveryResult(False, status >= 500 or status in _RETRYABLE_HTTP, detail)
    try:
        reply = json.loads(body)
    except ValueError:
        return DeliveryResult(False, True, f"{name} answered without a JSON reply (will retry)")
    code, message = _code_of(reply)
    if code is None:
        return DeliveryResult(False, True, f"{name} answered without an error code (will retry)")
    if code == 0:
        return DeliveryResult(True, False, "delivered")
    said = f"{name} errcode {code}: {one_line(message)[:_MAX_REASON]}"
    if code in RATE_LIMITED[robot]:
        return Throttled(False, True, said, PAUSES[robot])
    if code in REFUSED[robot]:
        return DeliveryResult(False, False, said)
    return DeliveryResult(False, True, f"{said} (unknown code, will retry)")


def _code_of(reply: object) -> tuple[int | None, str]:
    """(code, message) of a DingTalk/WeCom (``errcode``) or Feishu/Lark (``code``, ``StatusCode``) reply."""
    if not isinstance(reply, dict):
        return None, ""
    for code_key, message_key in (("errcode", "errmsg"), ("code", "msg"), ("StatusCode", "StatusMessage")):
        code = reply.get(code_key)
        if isinstance(code, int) and not isinstance(code, bool):
            return code, str(reply.get(message_key, ""))
    return None, ""


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's 加签: base64 of HMAC-SHA256 over ``"timestamp\\nsecret"`` keyed by the secret.

    URL-encode it once for the query.

    >>> dingtalk_sign("SEC000secret", 1700000000000)
    'tTfOwY6eBcGZXnIEbxsq+Nl6fWOBelRgIv5rn6hl3fg='
    """
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu/Lark signature: base64 of HMAC-SHA256 keyed by ``"timestamp\\nsecret"`` over nothing.

    >>> feishu_sign("secret", 1700000000)
    'fiWS2+gh28DOydAv7hzONH/mDn9+b1Y4Y5ivXWXy8vA='
    """
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()
