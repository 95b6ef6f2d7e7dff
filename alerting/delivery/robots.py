"""Chat robot plugins for Apprise that say whether the robot delivered: DingTalk, WeCom, Feishu, Lark.

Apprise's plugins for these robots read the HTTP status only (Feishu and Lark read ``code`` but
cannot say whether to retry), so a robot that answered 200 with "send too fast" counted as
delivered. The plugins here subclass them, keep their URL formats, and are registered for the
same schemes (``dingtalk://``, ``wecombot://``, ``feishu://``, ``lark://``). Each reads the reply
body (:func:`~alerting.delivery.robot_protocol.read_reply`) and keeps the outcome in
``last_reply`` for :class:`~alerting.delivery.apprise_notifier.AppriseNotifier`.

Each robot kind's endpoint is a base URL (``endpoint``, by default the robot's own), so a company
gateway or proxy can stand in for it; tests point it at local HTTP servers that behave like the
robots. Signed robots are signed with the injected clock's time: DingTalk puts ``timestamp`` (ms)
and ``sign`` (URL-encoded once) in the query, Feishu and Lark put them in the body. Mentions come
from the URL: DingTalk's and WeCom's mobile numbers (``dingtalk://token/13800000000/``; DingTalk
also needs ``@13800000000`` in the text), Feishu's open_ids or e-mails (``<at id=...>`` in the
card), and ``?at_all=yes`` mentions everyone on firing critical alerts only (Apprise's
``failure`` type).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Final
from urllib.parse import quote

import requests
from apprise import NotifyFormat, NotifyType
from apprise.manager_plugins import NotificationManager
from apprise.plugins.dingtalk import NotifyDingTalk
from apprise.plugins.feishu import NotifyFeishu
from apprise.plugins.lark import NotifyLark
from apprise.plugins.wecombot import NotifyWeComBot
from apprise.url import PrivacyMode
from apprise.utils.parse import parse_bool

from alerting.delivery.robot_protocol import DEFAULT_ENDPOINTS, NAMES, dingtalk_sign, feishu_sign, read_reply
from alerting.notifications import DeliveryResult
from kernel.clock import Clock, SystemClock

__all__ = ["ROBOTS", "DingTalkRobot", "FeishuRobot", "LarkRobot", "RobotPlugin", "WeComRobot", "register"]

#: WeCom's text messages hold at most 2048 bytes of UTF-8.
_WECOM_MAX_BYTES: Final = 2048
_AT_ALL: Final = {"name": "Mention everyone on critical alerts", "type": "bool", "default": False}


class RobotPlugin:
    """What the robot plugins share: endpoint, clock, @all, and reading the reply into ``last_reply``."""

    robot: ClassVar[str]
    # The dispatcher paces each target by the minute; Apprise's own 5.5 s wait between two sends
    # of one plugin would only hold a burst's first messages back.
    request_rate_per_sec = 0.0
    endpoint: str
    clock: Clock
    at_all: bool
    last_reply: DeliveryResult | None
    #: mobiles to @mention in the next message besides the URL's (the on-call primary), set per send
    mobiles_now: tuple[str, ...] = ()
    verify_certificate: bool
    request_timeout: tuple[float, float]
    app_id: str
    logger: Any

    def _setup(self, endpoint: str | None, clock: Clock | None, at_all: object) -> None:
        self.endpoint = (endpoint or DEFAULT_ENDPOINTS[self.robot]).rstrip("/")
        self.clock = clock if clock is not None else SystemClock()
        self.at_all = parse_bool(at_all)
        self.last_reply = None

    def _mobiles(self, own: list[str]) -> list[str]:
        """The URL's mobiles and this message's, each once."""
        return list(dict.fromkeys([*own, *self.mobiles_now]))

    def _mention_all(self, notify_type: NotifyType) -> bool:
        return self.at_all and notify_type == NotifyType.FAILURE

    def _post(self, url: str, payload: dict[str, Any]) -> bool:
        """POST ``payload``; keep what the robot said in ``last_reply``; True only if it delivered."""
        self.last_reply = None
        self.throttle()  # type: ignore[attr-defined]
        try:
            answer = requests.post(
                url,
                data=json.dumps(payload, ensure_ascii=False).encode(),
                headers={"User-Agent": self.app_id, "Content-Type": "application/json; charset=utf-8"},
                verify=self.verify_certificate,
                timeout=self.request_timeout,
                allow_redirects=False,
            )
        except requests.RequestException as err:
            self.logger.warning("A Connection error occurred sending %s notification.", NAMES[self.robot])
            self.logger.debug("Socket Exception: %s", err)
            return False
        self.last_reply = read_reply(self.robot, answer.status_code, answer.content)
        if self.last_reply.ok:
            self.logger.info("Sent %s notification.", NAMES[self.robot])
        else:
            self.logger.warning("%s refused the notification: %s", NAMES[self.robot], self.last_reply.detail)
        return self.last_reply.ok

    def _url_args(self, url: str) -> str:
        return f"{url}&at_all=yes" if self.at_all else url


class DingTalkRobot(RobotPlugin, NotifyDingTalk):
    """DingTalk's custom robot: Markdown, signed when it has a secret, mobiles mentioned in the text."""

    robot = "dingtalk"
    template_args: ClassVar[dict[str, Any]] = dict(NotifyDingTalk.template_args, at_all=_AT_ALL)

    def __init__(
        self,
        *args: Any,
        endpoint: str | None = None,
        clock: Clock | None = None,
        at_all: object = False,
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)
        self._setup(endpoint, clock, at_all)

    def send(
        self,
        body: str,
        title: str = "",
        notify_type: NotifyType = NotifyType.INFO,
        body_format: NotifyFormat | None = None,
        **kwargs: Any,
    ) -> bool:
        mobiles = self._mobiles(list(self.targets))
        mentions = " ".join(f"@{mobile}" for mobile in mobiles)
        payload: dict[str, Any] = {"at": {"atMobiles": mobiles, "isAtAll": self._mention_all(notify_type)}}
        if body_format == NotifyFormat.MARKDOWN:
            title = " ".join(title.split()).lstrip("#- ")
            text = f"# {title}\n{body}" if title else body
            payload["msgtype"] = "markdown"
            payload["markdown"] = {
                "title": title or self.app_desc,
                "text": f"{text}\n\n{mentions}" if mentions else text,
            }
        else:
            text = f"{title}\r\n{body}" if title else body
            payload["msgtype"] = "text"
            payload["text"] = {"content": f"{text}\n{mentions}" if mentions else text}
        url = f"{self.endpoint}/robot/send?access_token={quote(self.token, safe='')}"
        if self.secret:
            timestamp = int(self.clock.now() * 1000)
            url += f"&timestamp={timestamp}&sign={quote(dingtalk_sign(self.secret, timestamp), safe='')}"
        return self._post(url, payload)

    def url(self, privacy: bool = False, *args: Any, **kwargs: Any) -> str:
        return self._url_args(super().url(privacy, *args, **kwargs))

    @staticmethod
    def parse_url(url: str) -> dict[str, Any] | None:
        results = NotifyDingTalk.parse_url(url)
        if results and "at_all" in results["qsd"]:
            results["at_all"] = results["qsd"]["at_all"]
        return results


class WeComRobot(RobotPlugin, NotifyWeComBot):
    """WeCom's group robot: text (the only kind that mentions by mobile), at most 2048 bytes."""

    robot = "wecombot"
    templates = ("{schema}://{key}", "{schema}://{key}/{targets}")
    template_tokens: ClassVar[dict[str, Any]] = dict(
        NotifyWeComBot.template_tokens, targets={"name": "Mobiles", "type": "list:string"}
    )
    template_args: ClassVar[dict[str, Any]] = dict(NotifyWeComBot.template_args, at_all=_AT_ALL)

    def __init__(
        self,
        key: str,
        targets: list[str] | None = None,
        *,
        endpoint: str | None = None,
        clock: Clock | None = None,
        at_all: object = False,
        **kw: Any,
    ) -> None:
        super().__init__(key, **kw)
        self._setup(endpoint, clock, at_all)
        self.targets = [target.lstrip("+") for target in targets or [] if target.lstrip("+").isdigit()]

    def send(
        self, body: str, title: str = "", notify_type: NotifyType = NotifyType.INFO, **kwargs: Any
    ) -> bool:
        content = f"{title}\r\n{body}" if title else body
        mentioned = [*self._mobiles(self.targets), *(["@all"] if self._mention_all(notify_type) else [])]
        text: dict[str, Any] = {"content": _cut_bytes(content, _WECOM_MAX_BYTES)}
        if mentioned:
            text["mentioned_mobile_list"] = mentioned
        url = f"{self.endpoint}/cgi-bin/webhook/send?key={quote(self.key, safe='')}"
        return self._post(url, {"msgtype": "text", "text": text})

    def url(self, privacy: bool = False, *args: Any, **kwargs: Any) -> str:
        base = super().url(privacy, *args, **kwargs)
        key, _, params = base.partition("/?")
        path = "/".join(quote(t, safe="") for t in self.targets)
        return self._url_args(f"{key}/{path + '/' if path else ''}?{params}")

    @staticmethod
    def parse_url(url: str) -> dict[str, Any] | None:
        results = NotifyWeComBot.parse_url(url)
        if results:
            results["targets"] = NotifyWeComBot.split_path(results["fullpath"])
            if "at_all" in results["qsd"]:
                results["at_all"] = results["qsd"]["at_all"]
        return results


class _FeishuLike(RobotPlugin):
    """Feishu and Lark robots: a card with Markdown (lark_md), signed when given a secret.

    The URL adds a secret and who to mention to Apprise's: ``feishu://secret@token/ou_xxx/``.
    """

    request_rate_per_sec = 0.2  # Feishu and Lark take at most 5 messages a second
    templates = ("{schema}://{token}", "{schema}://{secret}@{token}", "{schema}://{secret}@{token}/{targets}")
    token: str
    card_colors: dict[NotifyType, str]
    app_desc: str

    def __init__(
        self,
        token: str,
        secret: str | None = None,
        targets: list[str] | None = None,
        *,
        endpoint: str | None = None,
        clock: Clock | None = None,
        at_all: object = False,
        **kw: Any,
    ) -> None:
        super().__init__(token, **kw)  # Apprise's NotifyFeishu or NotifyLark, next in line
        self._setup(endpoint, clock, at_all)
        self.secret = secret or None
        self.targets = [t for t in targets or [] if t]

    def send(
        self,
        body: str,
        title: str = "",
        notify_type: NotifyType = NotifyType.INFO,
        body_format: NotifyFormat | None = None,
        **kwargs: Any,
    ) -> bool:
        tags = [f"<at email={t}></at>" if "@" in t else f"<at id={t}></at>" for t in self.targets]
        if self._mention_all(notify_type):
            tags.append("<at id=all></at>")
        content = f"{body}\n\n{' '.join(tags)}" if tags else body
        payload: dict[str, Any] = {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {
                    "title": {"tag": "plain_text", "content": title or self.app_desc},
                    "template": self.card_colors.get(notify_type, "blue"),
                },
                "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": content}}],
            },
        }
        if self.secret:
            timestamp = int(self.clock.now())
            payload["timestamp"] = str(timestamp)
            payload["sign"] = feishu_sign(self.secret, timestamp)
        return self._post(f"{self.endpoint}/open-apis/bot/v2/hook/{quote(self.token, safe='')}", payload)

    def url(self, privacy: bool = False, *args: Any, **kwargs: Any) -> str:
        params = self.urlencode(self.url_parameters(*args, privacy=privacy, **kwargs))  # type: ignore[attr-defined]
        shown = self.pprint(self.secret, privacy, mode=PrivacyMode.Secret, safe="")  # type: ignore[attr-defined]
        secret = f"{shown}@" if self.secret else ""
        path = "/".join(quote(t, safe="") for t in self.targets)
        token = self.pprint(self.token, privacy, safe="")  # type: ignore[attr-defined]
        return self._url_args(
            f"{self.secure_protocol}://{secret}{token}/{path + '/' if path else ''}?{params}"
        )

    @classmethod
    def parse_url(cls, url: str) -> dict[str, Any] | None:
        results: dict[str, Any] | None = super().parse_url(url)  # type: ignore[misc]
        if results:
            if results.get("user"):
                results["secret"] = cls.unquote(results["user"])  # type: ignore[attr-defined]
            results["targets"] = cls.split_path(results["fullpath"])  # type: ignore[attr-defined]
            if "at_all" in results["qsd"]:
                results["at_all"] = results["qsd"]["at_all"]
        return results


def _tokens(base: dict[str, Any]) -> dict[str, Any]:
    return dict(
        base,
        secret={"name": "Secret", "type": "string", "private": True},
        targets={"name": "Mention", "type": "list:string"},
    )


class FeishuRobot(_FeishuLike, NotifyFeishu):
    robot = "feishu"
    template_tokens: ClassVar[dict[str, Any]] = _tokens(NotifyFeishu.template_tokens)
    template_args: ClassVar[dict[str, Any]] = dict(NotifyFeishu.template_args, at_all=_AT_ALL)


class LarkRobot(_FeishuLike, NotifyLark):
    robot = "lark"
    template_tokens: ClassVar[dict[str, Any]] = _tokens(NotifyLark.template_tokens)
    template_args: ClassVar[dict[str, Any]] = dict(NotifyLark.template_args, at_all=_AT_ALL)


def _cut_bytes(text: str, limit: int) -> str:
    """``text`` within ``limit`` bytes of UTF-8, cut at a character and marked with "…".

    >>> _cut_bytes("告警" * 3, 10), _cut_bytes("ok", 10)
    ('告警…', 'ok')
    """
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - len("…".encode())].decode(errors="ignore") + "…"


#: The robot plugins by the scheme each is registered for.
ROBOTS: Final[dict[str, type[RobotPlugin]]] = {
    "dingtalk": DingTalkRobot,
    "wecombot": WeComRobot,
    "feishu": FeishuRobot,
    "lark": LarkRobot,
}


def register() -> None:
    """Make Apprise build these plugins for their schemes (idempotent; Apprise's own stay importable)."""
    manager = NotificationManager()
    for scheme, plugin in ROBOTS.items():
        if scheme not in manager or manager[scheme] is not plugin:
            manager.add(plugin, schemas=[scheme], force=True)


register()
