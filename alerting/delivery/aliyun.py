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
with Aliyun's own message. The base URL is ``endpoint`` (a company egress gateway, or a local
server in tests); by default Aliyun's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final

import requests
from apprise import NotifyType
from apprise.manager_plugins import NotificationManager
from apprise.plugins.base import NotifyBase
from apprise.url import PrivacyMode

from alerting.delivery.aliyun_signing import common_parameters, signed_parameters
from alerting.delivery.pacing import Throttled
from alerting.escape import one_line
from alerting.notifications import DeliveryResult
from kernel.clock import Clock, SystemClock

__all__ = [
    "ALIYUN",
    "DEFAULT_ENDPOINTS",
    "AliyunPlugin",
    "AliyunSms",
    "AliyunUrlError",
    "AliyunVoice",
    "build",
    "read_reply",
    "register",
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
#: Flow control of one number is counted by the minute: wait that long before the next try.
THROTTLE_PAUSE: Final = 60.0
_NAMES: Final = {"aliyunsms": "Aliyun SMS", "aliyunvoice": "Aliyun voice"}
_MAX_REASON: Final = 200


class AliyunUrlError(ValueError):
    """An ``aliyunsms://`` or ``aliyunvoice://`` URL that cannot work; says why, without secrets."""


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
        retryable = status >= 500 or status in (408, 425, 429) or status == 200
        return DeliveryResult(False, retryable, f"{name} answered HTTP {status} without a Code")
    if code == "OK":
        return DeliveryResult(True, False, "delivered")
    message = reply.get("Message", "") if isinstance(reply, dict) else ""
    said = f"{name} {one_line(code)[:60]}: {one_line(message)[:_MAX_REASON]}"
    if code in THROTTLED or "LIMIT_CONTROL" in code or code.startswith("Throttling"):
        return Throttled(False, True, said, THROTTLE_PAUSE)
    if code in REFUSED or code.startswith("isv."):
        return DeliveryResult(False, False, said)
    return DeliveryResult(False, True, f"{said} (will retry)")


class AliyunPlugin(NotifyBase):  # type: ignore[misc]
    """What both plugins share: keys, region, endpoint, clock, signing, and reading the reply."""

    scheme: ClassVar[str]
    action: ClassVar[str]
    service_url = "https://www.aliyun.com/product/sms"
    title_maxlen = 0
    body_maxlen = 500
    # The dispatcher paces each target; Apprise's own wait between two sends would only delay a page.
    request_rate_per_sec = 0.0

    def __init__(
        self,
        access_key_id: str | None = None,
        access_key_secret: str | None = None,
        targets: list[str] | None = None,
        region: str | None = None,
        *,
        endpoint: str | None = None,
        clock: Clock | None = None,
        nonce: Callable[[], str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not access_key_id or not access_key_secret:
            raise AliyunUrlError(
                f"{self.scheme}:// needs AccessKeyId:AccessKeySecret@ before the host, e.g. "
                f"{self.scheme}://LTAI...:secret@..."
            )
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.targets = _phones(self.scheme, targets or [])
        self.region = region or "cn-hangzhou"
        if not self.region.replace("-", "").isalnum():
            raise AliyunUrlError(
                f"{self.scheme}:// region {self.region!r} is not a region id like cn-hangzhou"
            )
        self.endpoint = (endpoint or DEFAULT_ENDPOINTS[self.scheme]).rstrip("/")
        self.clock = clock if clock is not None else SystemClock()
        self.nonce = nonce or (lambda: uuid.uuid4().hex)
        self.fields: Mapping[str, str] | None = None
        self.last_reply: DeliveryResult | None = None

    def _variables(self, body: str) -> str:
        """The template's variables as Aliyun takes them: a JSON object of strings."""
        fields = dict(self.fields) if self.fields is not None else {"content": body}
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))

    def _call(self, parameters: Mapping[str, str]) -> DeliveryResult:
        """POST one signed call; what Aliyun said, read."""
        now = self.clock.now()
        signed = signed_parameters(
            "POST",
            {
                **common_parameters(self.access_key_id, self.action, self.region, now, self.nonce()),
                **parameters,
            },
            self.access_key_secret,
        )
        self.throttle()
        try:
            answer = requests.post(
                f"{self.endpoint}/",
                data=signed,
                headers={"User-Agent": self.app_id, "Accept": "application/json"},
                verify=self.verify_certificate,
                timeout=self.request_timeout,
                allow_redirects=False,
            )
        except requests.RequestException as err:
            self.logger.warning("A Connection error occurred sending %s notification.", _NAMES[self.scheme])
            self.logger.debug("Socket Exception: %s", err)
            return DeliveryResult(False, True, f"connection failed: {type(err).__name__}")
        reply = read_reply(self.scheme, answer.status_code, answer.content)
        if reply.ok:
            self.logger.info("Sent %s notification.", _NAMES[self.scheme])
        else:
            self.logger.warning("%s refused the notification: %s", _NAMES[self.scheme], reply.detail)
        return reply

    def _finish(self, replies: list[DeliveryResult]) -> bool:
        """Keep the worst reply in ``last_reply`` (parked over retried over delivered)."""
        worst = min(replies, key=lambda r: (r.ok, r.retryable), default=None)
        self.last_reply = worst
        return worst is not None and worst.ok

    def _url(self, host: str, privacy: bool, extra: dict[str, str], *args: Any, **kwargs: Any) -> str:
        params = {"region": self.region, **extra, **self.url_parameters(*args, privacy=privacy, **kwargs)}
        secret = self.pprint(self.access_key_secret, privacy, mode=PrivacyMode.Secret, safe="")
        key = self.pprint(self.access_key_id, privacy, safe="")
        path = "/".join(self.quote(t, safe="") for t in self.targets)
        return f"{self.scheme}://{key}:{secret}@{self.quote(host, safe='')}/{path}/?{self.urlencode(params)}"

    @property
    def url_identifier(self) -> tuple[str, ...]:
        return (self.scheme, self.access_key_id, self.access_key_secret)

    def __len__(self) -> int:
        return max(len(self.targets), 1)

    @classmethod
    def _parse(cls, url: str) -> dict[str, Any] | None:
        results: dict[str, Any] | None = NotifyBase.parse_url(url, verify_host=False)
        if not results:
            return None
        results["access_key_id"] = cls.unquote(results.get("user") or "")
        results["access_key_secret"] = cls.unquote(results.get("password") or "")
        path = cls.split_path(results.get("fullpath") or "")
        results["first"] = path[0] if path else ""
        results["targets"] = path[1:]
        qsd = results["qsd"]
        if qsd.get("region"):
            results["region"] = cls.unquote(qsd["region"])
        return results


class AliyunSms(AliyunPlugin):
    """Aliyun 短信服务 ``SendSms``: one request for every number, the template's variables from the form."""

    scheme = "aliyunsms"
    action = "SendSms"
    service_name = "Aliyun SMS"
    secure_protocol = "aliyunsms"
    templates = ("{schema}://{access_key_id}:{access_key_secret}@{sign_name}/{template_code}/{targets}",)
    template_tokens: ClassVar[dict[str, Any]] = dict(
        NotifyBase.template_tokens,
        access_key_id={"name": "AccessKeyId", "type": "string", "private": True, "required": True},
        access_key_secret={"name": "AccessKeySecret", "type": "string", "private": True, "required": True},
        sign_name={"name": "Sign Name", "type": "string", "required": True},
        template_code={"name": "Template Code", "type": "string", "required": True},
        targets={"name": "Mobiles", "type": "list:string", "required": True},
    )
    template_args: ClassVar[dict[str, Any]] = dict(
        NotifyBase.template_args,
        region={"name": "Region", "type": "string", "default": "cn-hangzhou"},
        sign={"alias_of": "sign_name"},
        fixed={"name": "Template's fixed characters", "type": "int", "default": 12, "min": 0, "max": 60},
    )

    def __init__(
        self,
        sign_name: str | None = None,
        template_code: str | None = None,
        fixed: object = 12,
        **kwargs: Any,
    ) -> None:
        if not sign_name or not sign_name.strip():
            raise AliyunUrlError("aliyunsms:// needs the sign name (签名) as the host, or ?sign=")
        if not template_code or not template_code.startswith("SMS_"):
            raise AliyunUrlError(
                "aliyunsms:// needs a template code like SMS_123456789 after the sign name, "
                f"got {template_code!r}"
            )
        self.fixed = _count(fixed, "fixed", 0, 60)
        super().__init__(**kwargs)
        self.sign_name = one_line(sign_name)
        self.template_code = template_code

    @property
    def around(self) -> str:
        """What Aliyun adds around the variables: the 【sign】 and the template's fixed words
        (counted as Chinese, which is what they usually are)."""
        return f"【{self.sign_name}】" + "\u3000" * self.fixed

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
    action = "SingleCallByTts"
    service_name = "Aliyun voice"
    secure_protocol = "aliyunvoice"
    service_url = "https://www.aliyun.com/product/vms"
    templates = ("{schema}://{access_key_id}:{access_key_secret}@{tts_code}/{targets}",)
    template_tokens: ClassVar[dict[str, Any]] = dict(
        NotifyBase.template_tokens,
        access_key_id={"name": "AccessKeyId", "type": "string", "private": True, "required": True},
        access_key_secret={"name": "AccessKeySecret", "type": "string", "private": True, "required": True},
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
            raise AliyunUrlError(
                f"aliyunvoice:// needs a TTS template code like TTS_123456789 as the host, got {tts_code!r}"
            )
        if show and not show.isdigit():
            raise AliyunUrlError(f"aliyunvoice:// ?show= must be a phone number, got {show!r}")
        self.play_times = _count(play_times, "play_times", 1, 3)
        super().__init__(**kwargs)
        self.tts_code = tts_code
        self.show = show or None

    @property
    def around(self) -> str:
        return ""

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


def _phones(scheme: str, targets: list[str]) -> list[str]:
    """Mainland mobile or fixed-line numbers, digits only; at least one."""
    phones = [t.strip().removeprefix("+86").removeprefix("0086") for t in targets if t.strip()]
    bad = [p for p in phones if not (p.isdigit() and 7 <= len(p) <= 12)]
    if bad:
        raise AliyunUrlError(f"{scheme}:// {', '.join(map(repr, bad))}: not a phone number like 13800000000")
    if not phones:
        raise AliyunUrlError(f"{scheme}:// names no phone number; add them as /13800000000/13900000000")
    return phones


def _count(value: object, name: str, low: int, high: int) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise AliyunUrlError(f"?{name}= must be a whole number from {low} to {high}, got {value!r}") from None
    if not low <= number <= high:
        raise AliyunUrlError(f"?{name}= must be from {low} to {high}, got {number}")
    return number


#: The plugins by the scheme each is registered for.
ALIYUN: Final[dict[str, type[AliyunPlugin]]] = {"aliyunsms": AliyunSms, "aliyunvoice": AliyunVoice}


def build(url: str, endpoint: str | None = None, clock: Clock | None = None) -> AliyunPlugin:
    """The plugin for an ``aliyunsms://`` or ``aliyunvoice://`` URL, or :class:`AliyunUrlError` saying
    what is wrong with it (Apprise itself would only log it and return nothing).

    >>> build("aliyunsms://LTAI5t:s3cr3t@PayPulse/SMS_1/13800000000").url(privacy=True)
    'aliyunsms://L...t:****@PayPulse/SMS_1/13800000000/?region=cn-hangzhou&sign=PayPulse&fixed=12&...'
    >>> build("aliyunsms://LTAI5t:s3cr3t@PayPulse/TPL_1/13800000000")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    alerting.delivery.aliyun.AliyunUrlError: aliyunsms:// needs a template code like SMS_123456789 ...
    """
    scheme = url.partition("://")[0].lower()
    plugin = ALIYUN.get(scheme)
    if plugin is None:
        raise AliyunUrlError(
            f"{scheme or 'no scheme'}:// is not one of {', '.join(f'{s}://' for s in ALIYUN)}"
        )
    results = plugin.parse_url(url)
    if results is None:
        raise AliyunUrlError(f"{scheme}:// URL could not be parsed")
    results.update(endpoint=endpoint, clock=clock)
    try:
        return plugin(**results)
    except TypeError as err:
        raise AliyunUrlError(f"{scheme}:// URL has an argument the plugin does not take: {err}") from None


def register() -> None:
    """Make Apprise build these plugins for their schemes (idempotent)."""
    manager = NotificationManager()
    for scheme, plugin in ALIYUN.items():
        if scheme not in manager or manager[scheme] is not plugin:
            manager.add(plugin, schemas=[scheme], force=True)


register()
