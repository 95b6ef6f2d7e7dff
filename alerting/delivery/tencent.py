"""Tencent Cloud SMS as an Apprise plugin: ``tencentsms://``, API 3.0 ``SendSms`` (version 2021-01-11).

A second mainland SMS provider beside Aliyun's, used like any other Apprise URL::

    tencentsms://SecretId:SecretKey@SmsSdkAppId/TemplateId/13800000000/13900000000?sign=支付监控

``?sign=`` is the approved sign name (签名, required for mainland numbers), ``?region=`` the API
region (default ap-guangzhou), ``?fixed=`` as for Aliyun how many characters the template's own
words take. The template's variables are positional (``{1}`` to ``{4}``): the short form's
``status``, ``kind``, ``scope`` and ``impact`` (:class:`~alerting.sms_form.ShortForm`), or the
body alone when used from Apprise. Numbers go as E.164 (``+8613800000000``).

The request is a JSON POST signed with TC3-HMAC-SHA256 (:mod:`alerting.delivery.tc3_signing`) at
the injected clock's time, for the endpoint's host: ``sms.tencentcloudapi.com``, or the gateway
``alerting.endpoints.tencentsms`` names, as Tencent's SDK signs for its configured endpoint.
Tencent answers HTTP 200 in both cases, with ``Response.Error`` when it refuses the request and a
``SendStatusSet`` with a ``Code`` per number when it takes it (:func:`read_reply`).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

from apprise import NotifyType
from apprise.plugins.base import NotifyBase

from alerting.delivery import cloud
from alerting.delivery.cloud import (
    FIXED_ARG,
    CloudPlugin,
    CloudUrlError,
    count,
    key_tokens,
    sms_around,
    unanswered,
    verdict,
)
from alerting.delivery.tc3_signing import JSON, authorization
from alerting.escape import one_line
from alerting.notifications import DeliveryResult
from kernel.clock import Clock

__all__ = ["DEFAULT_ENDPOINTS", "TENCENT", "TencentSms", "build_tencent", "read_reply"]

DEFAULT_ENDPOINTS: Final = {"tencentsms": "https://sms.tencentcloudapi.com"}
SERVICE: Final = "sms"
VERSION: Final = "2021-01-11"
_NAME: Final = "Tencent SMS"
#: Error codes no retry can fix, by their prefix: the key and signature, the request, the sign
#: name, template and number, the account (``FailedOperation.InsufficientBalanceInSmsPackage``).
REFUSED: Final = (
    "AuthFailure", "FailedOperation", "InvalidParameter", "MissingParameter", "UnauthorizedOperation",
    "UnsupportedOperation", "UnknownParameter", "InvalidAction",
)  # fmt: skip
#: Flow control: per number (30 s, an hour, a day), per app, or of the API itself.
THROTTLED: Final = ("LimitExceeded", "RequestLimitExceeded")


def _judge(code: str, message: object) -> DeliveryResult:
    throttled = code.startswith(THROTTLED)
    return verdict(
        _NAME, code, message, throttled=throttled, refused=not throttled and code.startswith(REFUSED)
    )


def read_reply(status: int, body: bytes) -> DeliveryResult:
    """What Tencent's answer means: delivered, worth another try (after a pause), or refused for good;
    of several numbers, the worst.

    >>> read_reply(200, b'{"Response":{"SendStatusSet":[{"PhoneNumber":"+8613800000000","Code":"Ok",'
    ...                 b'"Message":"send success"}],"RequestId":"r"}}')
    DeliveryResult(ok=True, retryable=False, detail='delivered')
    >>> read_reply(200, '{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"签名错误"}}}'
    ...            .encode()).detail
    'Tencent SMS AuthFailure.SignatureFailure: 签名错误'
    >>> read_reply(200, b'{"Response":{"SendStatusSet":[{"Code":"LimitExceeded.PhoneNumberThirtySecondLimit",'
    ...                 b'"Message":"30s"}]}}').retryable
    True
    """
    try:
        reply = json.loads(body)
    except ValueError:
        reply = None
    response = reply.get("Response") if isinstance(reply, dict) else None
    if not isinstance(response, dict):
        return unanswered(_NAME, status)
    error = response.get("Error")
    if isinstance(error, dict) and isinstance(error.get("Code"), str):
        return _judge(error["Code"], error.get("Message", ""))
    numbers = response.get("SendStatusSet")
    if not isinstance(numbers, list) or not numbers or not all(isinstance(n, dict) for n in numbers):
        return unanswered(_NAME, status)
    results = [
        DeliveryResult(True, False, "delivered")
        if n.get("Code") == "Ok"
        else _judge(str(n.get("Code")), n.get("Message"))
        for n in numbers
    ]
    return min(results, key=lambda r: (r.ok, r.retryable))


class TencentSms(CloudPlugin):
    """Tencent Cloud 短信 ``SendSms``: one request for every number, the template's variables from
    the form."""

    scheme = "tencentsms"
    default_endpoint = DEFAULT_ENDPOINTS["tencentsms"]
    default_region = "ap-guangzhou"
    key_words = "SecretId:SecretKey"
    service_name = _NAME
    service_url = "https://cloud.tencent.com/product/sms"
    secure_protocol = "tencentsms"
    templates = ("{schema}://{secret_id}:{secret_key}@{sdk_app_id}/{template_id}/{targets}",)
    template_tokens: ClassVar[dict[str, Any]] = dict(
        NotifyBase.template_tokens,
        **key_tokens(("secret_id", "SecretId"), ("secret_key", "SecretKey")),
        sdk_app_id={"name": "SmsSdkAppId", "type": "string", "required": True},
        template_id={"name": "Template ID", "type": "string", "required": True},
        targets={"name": "Mobiles", "type": "list:string", "required": True},
    )
    template_args: ClassVar[dict[str, Any]] = dict(
        NotifyBase.template_args,
        region={"name": "Region", "type": "string", "default": "ap-guangzhou"},
        sign={"name": "Sign Name", "type": "string", "required": True},
        fixed=FIXED_ARG,
    )

    def __init__(
        self,
        secret_id: str | None = None,
        secret_key: str | None = None,
        sdk_app_id: str | None = None,
        template_id: str | None = None,
        sign_name: str | None = None,
        fixed: object = 12,
        **kwargs: Any,
    ) -> None:
        if not sdk_app_id or not sdk_app_id.isdigit():
            raise CloudUrlError(
                f"tencentsms:// needs the SmsSdkAppId like 1400006666 as the host, got {sdk_app_id!r}"
            )
        if not template_id or not template_id.isdigit():
            raise CloudUrlError(
                f"tencentsms:// needs a template id like 1234567 after the SmsSdkAppId, got {template_id!r}"
            )
        if not sign_name or not sign_name.strip():
            raise CloudUrlError("tencentsms:// needs the approved sign name (签名) as ?sign=")
        self.fixed = count(fixed, "fixed", 0, 60)
        super().__init__(secret_id, secret_key, **kwargs)
        self.sdk_app_id = sdk_app_id
        self.template_id = template_id
        self.sign_name = one_line(sign_name)

    @property
    def around(self) -> str:
        return sms_around(self.sign_name, self.fixed)

    def send(
        self, body: str, title: str = "", notify_type: NotifyType = NotifyType.INFO, **kwargs: Any
    ) -> bool:
        self.last_reply = None
        variables = list(self.fields.values()) if self.fields is not None else [body]
        payload = json.dumps(
            {
                "PhoneNumberSet": [f"+86{number}" for number in self.targets],
                "SmsSdkAppId": self.sdk_app_id,
                "SignName": self.sign_name,
                "TemplateId": self.template_id,
                "TemplateParamSet": variables,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        now = int(self.clock.now())
        host = urlsplit(self.endpoint).netloc
        headers = {
            "Authorization": authorization(self.key_id, self.secret, now, SERVICE, host, payload),
            "Content-Type": JSON,
            "X-TC-Action": "SendSms",
            "X-TC-Timestamp": str(now),
            "X-TC-Version": VERSION,
            "X-TC-Region": self.region,
        }
        return self._finish([self._post(payload, headers, read_reply)])

    def url(self, privacy: bool = False, *args: Any, **kwargs: Any) -> str:
        extra = {"sign": self.sign_name, "fixed": str(self.fixed)}
        return self._url(self.sdk_app_id, privacy, extra, *args, **kwargs).replace(
            f"@{self.sdk_app_id}/", f"@{self.sdk_app_id}/{self.template_id}/", 1
        )

    @staticmethod
    def parse_url(url: str) -> dict[str, Any] | None:
        results = TencentSms._parse(url)
        if results is None:
            return None
        qsd = results["qsd"]
        results["secret_id"] = results.pop("key_id")
        results["secret_key"] = results.pop("secret")
        results["sdk_app_id"] = TencentSms.unquote(results.get("host") or "")
        results["template_id"] = results.pop("first")
        results["sign_name"] = TencentSms.unquote(qsd.get("sign") or "")
        if "fixed" in qsd:
            results["fixed"] = qsd["fixed"]
        return results


#: The plugins by the scheme each is registered for.
TENCENT: Final[dict[str, type[CloudPlugin]]] = {"tencentsms": TencentSms}


def build_tencent(url: str, endpoint: str | None = None, clock: Clock | None = None) -> CloudPlugin:
    """The plugin for a ``tencentsms://`` URL, or :class:`CloudUrlError` saying what is wrong with it.

    >>> build_tencent("tencentsms://AKIDx:s3cr3t@1400006666/1234567/13800000000?sign=PayPulse").url(privacy=True)
    'tencentsms://A...x:****@1400006666/1234567/13800000000/?region=ap-guangzhou&sign=PayPulse&fixed=12&...'
    """
    return cloud.build(TENCENT, url, endpoint, clock)


cloud.register(TENCENT)
