"""Aliyun SMS and phone calls as Apprise plugins: ``aliyunsms://`` (SendSms) and ``aliyunvoice://``.

On-call in mainland China is paged by SMS and, when nobody answers, called. Apprise has no
Aliyun plugin, so these two are ours, written the way Apprise writes one (a ``NotifyBase`` with
URL ``templates``, private tokens, a static ``parse_url`` and ``url(privacy=True)``) and
registered for their schemes when this module is imported::

    aliyunsms://AccessKeyId:AccessKeySecret@SignName/TemplateCode/13800000000/13900000000?region=cn-hangzhou
    aliyunvoice://AccessKeyId:AccessKeySecret@TtsCode/13800000000/13900000000?show=057100000000

A sign name in Chinese may be written as it is or percent-encoded, or given as ``?sign=``.
``?fixed=`` is how many characters the SMS template's own words take (the link among them:
Aliyun takes links only there), so the notifier can fit the variables into one segment with
them and the ``【SignName】``. The voice plugin calls each number in turn (the API takes one) with
``?play_times=`` (1-3, default 2) and, in dedicated mode, ``?show=`` as the caller's number.

Both send the short form's fields (:class:`~alerting.sms_form.ShortForm`: ``status``, ``kind``,
``scope``, ``impact``) as the template's variables (``TemplateParam``, ``TtsParam``): the
notifier hands them over in :attr:`AliyunPlugin.fields` before it sends. Used from Apprise alone,
the body goes as one variable, ``content``.

Requests are signed (:mod:`alerting.delivery.aliyun_signing`) with the injected clock's time,
and the reply is read (:func:`read_reply`) into ``last_reply``: ``Code: OK`` is delivered,
flow control is retried after a pause, and a bad key, signature, sign name or template is parked
with Aliyun's own message. What both share with the other cloud plugins (the numbers, the POST,
the endpoint) is :mod:`alerting.delivery.cloud`'s.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final

from apprise import NotifyType
from apprise.plugins.base import NotifyBase

from alerting.delivery.aliyun_signing import common_parameters, signed_parameters
from alerting.delivery.cloud import (
    FIXED_ARG,
    CloudPlugin,
    CloudUrlError,
    build,
    count,
    key_tokens,
    register,
    sms_around,
    unanswered,
    verdict,
)
from alerting.escape import one_line
from alerting.notifications import DeliveryResult
from kernel.clock import Clock

__all__ = [
    "ALIYUN",
    "DEFAULT_ENDPOINTS",
    "AliyunPlugin",
    "AliyunSms",
    "AliyunVoice",
    "build_aliyun",
    "read_reply",
]

#: Where each service is reached unless a gateway stands in for it.
DEFAULT_ENDPOINTS: Final = {
    "aliyunsms": "https://dysmsapi.aliyuncs.com",
    "aliyunvoice": "https://dyvmsapi.aliyuncs.com",
}
#: Flow control: too many messages or calls to one number (a minute, an hour, a day) or to the API.
THROTTLED: Final = frozenset(
    {"isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL", "Throttling", "Throttling.User", "Throttling.Api"}
)
#: Codes no retry can fix: the key, the signature, the sign name, the template, the number, the account.
REFUSED: Final = frozenset(
    {
        "SignatureDoesNotMatch", "IncompleteSignature", "InvalidAccessKeyId.NotFound",
        "InvalidAccessKeyId.Inactive", "InvalidTimeStamp.Expired", "Forbidden.RAM", "isp.RAM_PERMISSION_DENY",
        "isv.SMS_SIGNATURE_ILLEGAL", "isv.SMS_SIGN_ILLEGAL", "isv.SMS_TEMPLATE_ILLEGAL",
        "isv.TEMPLATE_MISSING_PARAMETERS", "isv.INVALID_PARAMETERS", "isv.INVALID_JSON_PARAM",
        "isv.MOBILE_NUMBER_ILLEGAL", "isv.MOBILE_COUNT_OVER_LIMIT", "isv.PARAM_LENGTH_LIMIT",
        "isv.PARAM_NOT_SUPPORT_URL", "isv.BLACK_KEY_CONTROL_LIMIT", "isv.AMOUNT_NOT_ENOUGH",
        "isv.OUT_OF_SERVICE", "isv.PRODUCT_UN_SUBSCRIPT", "isv.ACCOUNT_NOT_EXISTS", "isv.ACCOUNT_ABNORMAL",
    }
)  # fmt: skip
_NAMES: Final = {"aliyunsms": "Aliyun SMS", "aliyunvoice": "Aliyun voice"}


def read_reply(service: str, status: int, body: bytes) -> DeliveryResult:
    """What Aliyun's answer means: delivered, worth another try (after a pause), or refused for good.

    Aliyun answers JSON with ``Code`` and ``Message``, on HTTP 200 for business errors and on
    4xx/5xx for a bad request. ``isv.*`` codes are the caller's mistakes and ``isp.*`` Aliyun's,
    so an ``isv.*`` code not listed here is parked too, and an unknown ``isp.*`` one retried.

    >>> read_reply("aliyunsms", 200, b'{"Code":"OK","Message":"OK","BizId":"9006197469364984^0"}')
    DeliveryResult(ok=True, retryable=False, detail='delivered')
    >>> limited = '{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发分钟级流控Permits:1"}'
    >>> read_reply("aliyunsms", 200, limited.encode())  # doctest: +NORMALIZE_WHITESPACE
    Throttled(ok=False, retryable=True,
              detail='Aliyun SMS isv.BUSINESS_LIMIT_CONTROL: 触发分钟级流控Permits:1', pause=60.0)
    >>> bad = b'{"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched."}'
    >>> read_reply("aliyunvoice", 400, bad).detail
    'Aliyun voice SignatureDoesNotMatch: Specified signature is not matched.'
    """
    name = _NAMES[service]
    try:
        reply = json.loads(body)
    except ValueError:
        reply = None
    code = reply.get("Code") if isinstance(reply, dict) else None
    if not isinstance(code, str) or not code:
        return unanswered(name, status)
    if code == "OK":
        return DeliveryResult(True, False, "delivered")
    message = reply.get("Message", "") if isinstance(reply, dict) else ""
    throttled = code in THROTTLED or "LIMIT_CONTROL" in code or code.startswith("Throttling")
    return verdict(
        name, code, message, throttled=throttled, refused=code in REFUSED or code.startswith("isv.")
    )


class AliyunPlugin(CloudPlugin):
    """What both Aliyun plugins share: the region, the signed RPC call, and reading its reply."""

    action: ClassVar[str]
    service_url = "https://www.aliyun.com/product/sms"
    key_words = "AccessKeyId:AccessKeySecret"
    default_region = "cn-hangzhou"

    def __init__(
        self,
        access_key_id: str | None = None,
        access_key_secret: str | None = None,
        targets: list[str] | None = None,
        region: str | None = None,
        *,
        nonce: Callable[[], str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(access_key_id, access_key_secret, targets, region, **kwargs)
        self.nonce = nonce or (lambda: uuid.uuid4().hex)

    def _variables(self, body: str) -> str:
        """The template's variables as Aliyun takes them: a JSON object of strings."""
        fields = dict(self.fields) if self.fields is not None else {"content": body}
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))

    def _call(self, parameters: Mapping[str, str]) -> DeliveryResult:
        """POST one signed call; what Aliyun said, read."""
        now = self.clock.now()
        common = common_parameters(self.key_id, self.action, self.region, now, self.nonce())
        signed = signed_parameters("POST", {**common, **parameters}, self.secret)
        return self._post(signed, {}, lambda status, content: read_reply(self.scheme, status, content))

    @classmethod
    def _parse(cls, url: str) -> dict[str, Any] | None:
        results = super()._parse(url)
        if results is None:
            return None
        results["access_key_id"] = results.pop("key_id")
        results["access_key_secret"] = results.pop("secret")
        return results


class AliyunSms(AliyunPlugin):
    """Aliyun 短信服务 ``SendSms``: one request for every number, the template's variables from the form."""

    scheme = "aliyunsms"
    default_endpoint = DEFAULT_ENDPOINTS["aliyunsms"]
    action = "SendSms"
    service_name = "Aliyun SMS"
    secure_protocol = "aliyunsms"
    templates = ("{schema}://{access_key_id}:{access_key_secret}@{sign_name}/{template_code}/{targets}",)
    template_tokens: ClassVar[dict[str, Any]] = dict(
        NotifyBase.template_tokens,
        **key_tokens(("access_key_id", "AccessKeyId"), ("access_key_secret", "AccessKeySecret")),
        sign_name={"name": "Sign Name", "type": "string", "required": True},
        template_code={"name": "Template Code", "type": "string", "required": True},
        targets={"name": "Mobiles", "type": "list:string", "required": True},
    )
    template_args: ClassVar[dict[str, Any]] = dict(
        NotifyBase.template_args,
        region={"name": "Region", "type": "string", "default": "cn-hangzhou"},
        sign={"alias_of": "sign_name"},
        fixed=FIXED_ARG,
    )

    def __init__(
        self,
        sign_name: str | None = None,
        template_code: str | None = None,
        fixed: object = 12,
        **kwargs: Any,
    ) -> None:
        if not sign_name or not sign_name.strip():
            raise CloudUrlError("aliyunsms:// needs the sign name (签名) as the host, or ?sign=")
        if not template_code or not template_code.startswith("SMS_"):
            raise CloudUrlError(
                "aliyunsms:// needs a template code like SMS_123456789 after the sign name, "
                f"got {template_code!r}"
            )
        self.fixed = count(fixed, "fixed", 0, 60)
        super().__init__(**kwargs)
        self.sign_name = one_line(sign_name)
        self.template_code = template_code

    @property
    def around(self) -> str:
        return sms_around(self.sign_name, self.fixed)

    def send(
        self, body: str, title: str = "", notify_type: NotifyType = NotifyType.INFO, **kwargs: Any
    ) -> bool:
        self.last_reply = None
        reply = self._call(
            {
                "PhoneNumbers": ",".join(self.targets),
                "SignName": self.sign_name,
                "TemplateCode": self.template_code,
                "TemplateParam": self._variables(body),
            }
        )
        return self._finish([reply])

    def url(self, privacy: bool = False, *args: Any, **kwargs: Any) -> str:
        extra = {"sign": self.sign_name, "fixed": str(self.fixed)}
        return self._url(self.template_code, privacy, extra, *args, **kwargs).replace(
            f"@{self.template_code}/", f"@{self.quote(self.sign_name, safe='')}/{self.template_code}/", 1
        )

    @staticmethod
    def parse_url(url: str) -> dict[str, Any] | None:
        results = AliyunSms._parse(url)
        if results is None:
            return None
        qsd = results["qsd"]
        results["sign_name"] = AliyunSms.unquote(qsd.get("sign") or results.get("host") or "")
        results["template_code"] = results.pop("first")
        if "fixed" in qsd:
            results["fixed"] = qsd["fixed"]
        return results


class AliyunVoice(AliyunPlugin):
    """Aliyun 语音服务 ``SingleCallByTts``: a call to each number in turn, the TTS template's
    variables from the form. The last level of an escalation."""

    scheme = "aliyunvoice"
    default_endpoint = DEFAULT_ENDPOINTS["aliyunvoice"]
    action = "SingleCallByTts"
    service_name = "Aliyun voice"
    secure_protocol = "aliyunvoice"
    service_url = "https://www.aliyun.com/product/vms"
    templates = ("{schema}://{access_key_id}:{access_key_secret}@{tts_code}/{targets}",)
    template_tokens: ClassVar[dict[str, Any]] = dict(
        NotifyBase.template_tokens,
        **key_tokens(("access_key_id", "AccessKeyId"), ("access_key_secret", "AccessKeySecret")),
        tts_code={"name": "TTS Template Code", "type": "string", "required": True},
        targets={"name": "Phones", "type": "list:string", "required": True},
    )
    template_args: ClassVar[dict[str, Any]] = dict(
        NotifyBase.template_args,
        region={"name": "Region", "type": "string", "default": "cn-hangzhou"},
        show={"name": "Caller's number (dedicated mode)", "type": "string"},
        play_times={"name": "Times the message is played", "type": "int", "default": 2, "min": 1, "max": 3},
    )

    def __init__(
        self, tts_code: str | None = None, show: str | None = None, play_times: object = 2, **kwargs: Any
    ) -> None:
        if not tts_code or not tts_code.startswith("TTS_"):
            raise CloudUrlError(
                f"aliyunvoice:// needs a TTS template code like TTS_123456789 as the host, got {tts_code!r}"
            )
        if show and not show.isdigit():
            raise CloudUrlError(f"aliyunvoice:// ?show= must be a phone number, got {show!r}")
        self.play_times = count(play_times, "play_times", 1, 3)
        super().__init__(**kwargs)
        self.tts_code = tts_code
        self.show = show or None

    def send(
        self, body: str, title: str = "", notify_type: NotifyType = NotifyType.INFO, **kwargs: Any
    ) -> bool:
        self.last_reply = None
        variables = self._variables(body)
        replies = []
        for number in self.targets:
            parameters = {
                "CalledNumber": number,
                "TtsCode": self.tts_code,
                "TtsParam": variables,
                "PlayTimes": str(self.play_times),
            }
            if self.show:
                parameters["CalledShowNumber"] = self.show
            replies.append(self._call(parameters))
        return self._finish(replies)

    def url(self, privacy: bool = False, *args: Any, **kwargs: Any) -> str:
        extra = {"play_times": str(self.play_times), **({"show": self.show} if self.show else {})}
        return self._url(self.tts_code, privacy, extra, *args, **kwargs)

    @staticmethod
    def parse_url(url: str) -> dict[str, Any] | None:
        results = AliyunVoice._parse(url)
        if results is None:
            return None
        qsd = results["qsd"]
        results["tts_code"] = AliyunVoice.unquote(results.get("host") or "")
        results["targets"] = [results.pop("first"), *results["targets"]] if results["first"] else []
        for arg in ("show", "play_times"):
            if arg in qsd:
                results[arg] = qsd[arg]
        return results


#: The plugins by the scheme each is registered for.
ALIYUN: Final[dict[str, type[AliyunPlugin]]] = {"aliyunsms": AliyunSms, "aliyunvoice": AliyunVoice}


def build_aliyun(url: str, endpoint: str | None = None, clock: Clock | None = None) -> CloudPlugin:
    """The plugin for an ``aliyunsms://`` or ``aliyunvoice://`` URL, or :class:`CloudUrlError`
    saying what is wrong with it.

    >>> build_aliyun("aliyunsms://LTAI5t:s3cr3t@PayPulse/SMS_1/13800000000").url(privacy=True)
    'aliyunsms://L...t:****@PayPulse/SMS_1/13800000000/?region=cn-hangzhou&sign=PayPulse&fixed=12&...'
    >>> build_aliyun("aliyunsms://LTAI5t:s3cr3t@PayPulse/TPL_1/13800000000")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    alerting.delivery.cloud.CloudUrlError: aliyunsms:// needs a template code like SMS_123456789 ...
    """
    return build(ALIYUN, url, endpoint, clock)


register(ALIYUN)
