"""What the mainland cloud SMS and voice plugins share (:mod:`~alerting.delivery.aliyun`,
:mod:`~alerting.delivery.tencent`): the Apprise plugin frame, the phone numbers, one signed POST
and how its answer becomes a :class:`~alerting.notifications.DeliveryResult`.

Each plugin is written the way Apprise writes one (a ``NotifyBase`` with URL ``templates``, private
tokens, a static ``parse_url`` and ``url(privacy=True)``) and registered for its schemes when its
module is imported. A plugin signs with the injected clock's time, sends the short form's fields
(:attr:`CloudPlugin.fields`, set by the notifier before it sends) as its template's variables, and
keeps the provider's answer in :attr:`CloudPlugin.last_reply`: delivered, flow control retried
after a pause, a refusal no retry can fix (key, signature, sign name, template, number) parked
with the provider's own words. ``endpoint`` is the base URL (a company egress gateway, or a local
server in tests); by default the provider's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final

import requests
from apprise.manager_plugins import NotificationManager
from apprise.plugins.base import NotifyBase
from apprise.url import PrivacyMode

from alerting.delivery.pacing import Throttled
from alerting.escape import one_line
from alerting.notifications import DeliveryResult
from kernel.clock import Clock, SystemClock

__all__ = [
    "FIXED_ARG",
    "THROTTLE_PAUSE",
    "CloudPlugin",
    "CloudUrlError",
    "build",
    "count",
    "key_tokens",
    "phones",
    "register",
    "sms_around",
    "unanswered",
    "verdict",
]

#: Flow control of one number is counted by the minute: wait that long before the next try.
THROTTLE_PAUSE: Final = 60.0
_MAX_REASON: Final = 200


class CloudUrlError(ValueError):
    """A cloud SMS or voice URL that cannot work; says why, without secrets."""


def verdict(name: str, code: str, message: object, *, throttled: bool, refused: bool) -> DeliveryResult:
    """A provider's error ``code`` and ``message`` as a result: flow control is retried after
    :data:`THROTTLE_PAUSE`, a refusal parked, anything else retried.

    >>> verdict("Tencent SMS", "LimitExceeded.PhoneNumberOneHourLimit", "单个手机号1小时内超过上限",
    ...         throttled=True, refused=False).pause
    60.0
    >>> verdict("Aliyun SMS", "isv.SMS_TEMPLATE_ILLEGAL", "不合法", throttled=False, refused=True).retryable
    False
    """
    said = f"{name} {one_line(code)[:60]}: {one_line(message)[:_MAX_REASON]}"
    if throttled:
        return Throttled(False, True, said, THROTTLE_PAUSE)
    if refused:
        return DeliveryResult(False, False, said)
    return DeliveryResult(False, True, f"{said} (will retry)")


def unanswered(name: str, status: int) -> DeliveryResult:
    """An answer without a code: retried when the server or the network is to blame."""
    retryable = status >= 500 or status in (408, 425, 429) or status == 200
    return DeliveryResult(False, retryable, f"{name} answered HTTP {status} without a Code")


class CloudPlugin(NotifyBase):  # type: ignore[misc]
    """The keys, the numbers, the endpoint and the clock; one POST; the worst reply kept."""

    scheme: ClassVar[str]
    default_endpoint: ClassVar[str]
    key_words: ClassVar[str]  # how the provider names its key id and secret, "SecretId:SecretKey"
    default_region: ClassVar[str]
    title_maxlen = 0
    body_maxlen = 500
    # The dispatcher paces each target; Apprise's own wait between two sends would only delay a page.
    request_rate_per_sec = 0.0

    def __init__(
        self,
        key_id: str | None,
        secret: str | None,
        targets: list[str] | None = None,
        region: str | None = None,
        *,
        endpoint: str | None = None,
        clock: Clock | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not key_id or not secret:
            raise CloudUrlError(
                f"{self.scheme}:// needs {self.key_words}@ before the host, e.g. {self.scheme}://id:secret@..."
            )
        self.key_id = key_id
        self.secret = secret
        self.targets = phones(self.scheme, targets or [])
        self.region = region or self.default_region
        if not self.region.replace("-", "").isalnum():
            raise CloudUrlError(
                f"{self.scheme}:// region {self.region!r} is not a region id like {self.default_region}"
            )
        self.endpoint = (endpoint or self.default_endpoint).rstrip("/")
        self.clock = clock if clock is not None else SystemClock()
        self.fields: Mapping[str, str] | None = None
        self.last_reply: DeliveryResult | None = None

    @property
    def around(self) -> str:
        """What the provider adds around the template's variables in one SMS (none for a call)."""
        return ""

    def _post(
        self,
        body: str | Mapping[str, str],
        headers: Mapping[str, str],
        read: Callable[[int, bytes], DeliveryResult],
    ) -> DeliveryResult:
        """POST ``body`` (a form as a mapping, or a JSON text) to the endpoint; the answer, ``read``."""
        self.throttle()
        try:
            answer = requests.post(
                f"{self.endpoint}/",
                data=body if isinstance(body, Mapping) else body.encode(),
                headers={"User-Agent": self.app_id, "Accept": "application/json", **headers},
                verify=self.verify_certificate,
                timeout=self.request_timeout,
                allow_redirects=False,
            )
        except requests.RequestException as err:
            self.logger.warning("A Connection error occurred sending %s notification.", self.service_name)
            self.logger.debug("Socket Exception: %s", err)
            return DeliveryResult(False, True, f"connection failed: {type(err).__name__}")
        reply = read(answer.status_code, answer.content)
        if reply.ok:
            self.logger.info("Sent %s notification.", self.service_name)
        else:
            self.logger.warning("%s refused the notification: %s", self.service_name, reply.detail)
        return reply

    def _finish(self, replies: list[DeliveryResult]) -> bool:
        """Keep the worst reply in ``last_reply`` (parked over retried over delivered)."""
        worst = min(replies, key=lambda r: (r.ok, r.retryable), default=None)
        self.last_reply = worst
        return worst is not None and worst.ok

    def _url(self, host: str, privacy: bool, extra: dict[str, str], *args: Any, **kwargs: Any) -> str:
        """The plugin's URL: keys (masked with ``privacy``), ``host``, the numbers, the arguments."""
        params = {"region": self.region, **extra, **self.url_parameters(*args, privacy=privacy, **kwargs)}
        secret = self.pprint(self.secret, privacy, mode=PrivacyMode.Secret, safe="")
        key = self.pprint(self.key_id, privacy, safe="")
        path = "/".join(self.quote(t, safe="") for t in self.targets)
        return f"{self.scheme}://{key}:{secret}@{self.quote(host, safe='')}/{path}/?{self.urlencode(params)}"

    @property
    def url_identifier(self) -> tuple[str, ...]:
        return (self.scheme, self.key_id, self.secret)

    def __len__(self) -> int:
        return max(len(self.targets), 1)

    @classmethod
    def _parse(cls, url: str) -> dict[str, Any] | None:
        """Apprise's reading of the URL, plus ``key_id:secret@``, the first path part and the rest."""
        results: dict[str, Any] | None = NotifyBase.parse_url(url, verify_host=False)
        if not results:
            return None
        results["key_id"] = cls.unquote(results.get("user") or "")
        results["secret"] = cls.unquote(results.get("password") or "")
        path = cls.split_path(results.get("fullpath") or "")
        results["first"] = path[0] if path else ""
        results["targets"] = path[1:]
        if results["qsd"].get("region"):
            results["region"] = cls.unquote(results["qsd"]["region"])
        return results


def key_tokens(key_id: tuple[str, str], secret: tuple[str, str]) -> dict[str, dict[str, Any]]:
    """Apprise's template tokens of a plugin's key id and secret, each ``(token, provider's name)``:
    both required and private, so ``url(privacy=True)`` masks them."""
    return {token: {"name": name, "type": "string", "private": True, "required": True}
            for token, name in (key_id, secret)}  # fmt: skip


#: Apprise's template argument ``?fixed=``: the characters of an SMS template's own words.
FIXED_ARG: Final = {"name": "Template's fixed characters", "type": "int", "default": 12, "min": 0, "max": 60}


def sms_around(sign_name: str, fixed: int) -> str:
    """What a provider adds around a template's variables in one SMS: the 【sign】 and ``fixed``
    characters of the template's own words (counted as Chinese, which is what they usually are).

    >>> sms_around("支付监控", 3)
    '【支付监控】\u3000\u3000\u3000'
    """
    return f"【{sign_name}】" + "\u3000" * fixed


def phones(scheme: str, targets: list[str]) -> list[str]:
    """Mainland mobile or fixed-line numbers, digits only; at least one.

    >>> phones("tencentsms", ["+8613800000000", " 13900000000 "])
    ['13800000000', '13900000000']
    """
    found = [t.strip().removeprefix("+86").removeprefix("0086") for t in targets if t.strip()]
    bad = [p for p in found if not (p.isdigit() and 7 <= len(p) <= 12)]
    if bad:
        raise CloudUrlError(f"{scheme}:// {', '.join(map(repr, bad))}: not a phone number like 13800000000")
    if not found:
        raise CloudUrlError(f"{scheme}:// names no phone number; add them as /13800000000/13900000000")
    return found


def count(value: object, name: str, low: int, high: int) -> int:
    """A whole number from a URL's ``?name=``, within ``low``..``high``."""
    try:
        number = int(str(value))
    except ValueError:
        raise CloudUrlError(f"?{name}= must be a whole number from {low} to {high}, got {value!r}") from None
    if not low <= number <= high:
        raise CloudUrlError(f"?{name}= must be from {low} to {high}, got {number}")
    return number


def build(
    plugins: Mapping[str, type[CloudPlugin]],
    url: str,
    endpoint: str | None = None,
    clock: Clock | None = None,
) -> CloudPlugin:
    """The plugin of ``plugins`` for ``url``, or :class:`CloudUrlError` saying what is wrong with it
    (Apprise itself would only log it and return nothing)."""
    scheme = url.partition("://")[0].lower()
    plugin = plugins.get(scheme)
    if plugin is None:
        raise CloudUrlError(
            f"{scheme or 'no scheme'}:// is not one of {', '.join(f'{s}://' for s in plugins)}"
        )
    results = plugin.parse_url(url)
    if results is None:
        raise CloudUrlError(f"{scheme}:// URL could not be parsed")
    results.update(endpoint=endpoint, clock=clock)
    try:
        return plugin(**results)
    except TypeError as err:
        raise CloudUrlError(f"{scheme}:// URL has an argument the plugin does not take: {err}") from None


def register(plugins: Mapping[str, type[CloudPlugin]]) -> None:
    """Make Apprise build ``plugins`` for their schemes (idempotent)."""
    manager = NotificationManager()
    for scheme, plugin in plugins.items():
        if scheme not in manager or manager[scheme] is not plugin:
            manager.add(plugin, schemas=[scheme], force=True)
