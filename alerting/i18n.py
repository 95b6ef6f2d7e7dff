"""The words on-call reads, in their language: one gettext catalogue (zh-CN, en) and Babel's formats.

Every word a person reads in an alert is a message of the ``paypulse`` catalogue: the kind titles,
the "what" words and units, the suggested first actions, severity and status words, the sentence
frames, the channel display names (支付宝, 微信支付, 银联, 银行卡) and every label of the templates.
The English text is the msgid; it is marked where it is written (``N_`` and ``C_`` here, ``_()``
in the templates under ``alerting/delivery/templates/``) so Babel's extractor finds it, and
``tests/unit/test_catalogue.py`` fails when a catalogue lacks a message, holds one the code no
longer uses, or translates a ``{placeholder}`` away.

The sources are the ``.po`` files under ``alerting/locale/<lang>/LC_MESSAGES/``; they are compiled
with ``babel.messages`` when this module is imported, so there is no ``.mo`` file to fall out of
date. Money goes through Babel's ``format_currency`` (``¥1,234.50`` in Chinese, ``CN¥1,234.50`` in
English) and times are shown in a zone from :mod:`zoneinfo` (``Asia/Shanghai`` by default).
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import cached_property
from pathlib import Path
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent

__all__ = [
    "ACTIONS",
    "CHANNEL_NAMES",
    "C_",
    "DEFAULT_CURRENCY",
    "DEFAULT_ZONE",
    "DOMAIN",
    "ENGLISH",
    "KIND_TITLES",
    "LANGUAGES",
    "LIST_SEPARATOR",
    "LOCALE_DIR",
    "N_",
    "SEVERITY_WORDS",
    "STATUS_WORDS",
    "UNITS",
    "WHAT",
    "Language",
    "Messages",
    "english",
    "translations",
]

Language = Literal["zh-CN", "en"]
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)
DOMAIN: Final = "paypulse"
LOCALE_DIR: Final = Path(__file__).parent / "locale"
#: The zone times are shown in unless a route says otherwise.
DEFAULT_ZONE: Final = "Asia/Shanghai"
#: ISO 4217 code of the amounts in alerts (impact per minute, ticket size).
DEFAULT_CURRENCY: Final = "CNY"
_GETTEXT_LOCALES: Final[dict[Language, str]] = {"zh-CN": "zh_CN", "en": "en"}


def N_(msgid: str) -> str:
    """Mark ``msgid`` for the catalogue where it is written; translate it where it is shown."""
    return msgid


def C_(context: str, msgid: str) -> str:
    """Mark ``msgid`` in ``context`` (``msgctxt``) for the catalogue, e.g. a channel id."""
    return msgid


#: Each kind in words: the title of its alerts.
KIND_TITLES: Final = {
    "success_rate_drop": N_("Payment success rate drop"),
    "callback_latency_high": N_("Slow payment callbacks"),
    "callback_failure_high": N_("Payment callbacks failing"),
    "volume_drop": N_("Payment volume drop"),
    "volume_spike": N_("Payment volume spike"),
    "amount_deviation": N_("Unusual ticket size"),
    "complaint_spike": N_("Customer complaint spike"),
    "stuck_payments": N_("Payments stuck without callback"),
    "reconciliation_difference": N_("Reconciliation difference"),
}
#: What a kind measures, as the summary sentence names it (keyed like the lifecycle's table).
WHAT: Final[dict[str | tuple[str, str], str]] = {
    "success_rate_drop": N_("payment success rate"),
    "callback_latency_high": N_("callback p95 latency"),
    "callback_failure_high": N_("callback failure rate"),
    "volume_drop": N_("payments per minute"),
    "volume_spike": N_("payments per minute"),
    "amount_deviation": N_("typical ticket size"),
    "complaint_spike": N_("complaints per minute"),
    "stuck_payments": N_("stuck payments per minute"),
    "reconciliation_difference": N_("reconciliation differences found"),
    ("callback_latency_high", "late share"): N_("share of late callbacks"),
}
#: The unit each kind's value and baseline are in (keyed like :data:`WHAT`).
UNITS: Final[dict[str | tuple[str, str], str]] = {
    "success_rate_drop": "ratio",
    "callback_latency_high": "seconds",
    "callback_failure_high": "ratio",
    "volume_drop": "per_min",
    "volume_spike": "per_min",
    "amount_deviation": "amount",
    "complaint_spike": "per_min",
    "stuck_payments": "per_min",
    "reconciliation_difference": "count",
    ("callback_latency_high", "late share"): "ratio",
}
_SECONDS: Final = N_("{value} s")
_PER_MIN: Final = N_("{value}/min")
_POINTS: Final = N_("{value} pts")
_NO_BASELINE: Final = N_("no baseline")
#: What on-call should do first, per kind.
ACTIONS: Final = {
    "success_rate_drop": N_(
        "Check the channel's error codes and the provider's status page; "
        "switch traffic to a backup channel if failures continue."
    ),
    "callback_latency_high": N_(
        "Check the callback endpoint's health and queue; query the provider's "
        "order status API for paid orders instead of waiting."
    ),
    "callback_failure_high": N_(
        "Check the callback handler's logs (signature checks, timeouts, 5xx) "
        "and whether the provider retries; reconcile paid orders by query."
    ),
    "volume_drop": N_(
        "Check the checkout page, SDK and channel availability; confirm with the provider "
        "whether payments are reaching them."
    ),
    "volume_spike": N_(
        "Check for a promotion or an attack (card testing, bots); consider rate limits and risk rules."
    ),
    "amount_deviation": N_("Check recent price or currency changes and for small-amount card testing."),
    "complaint_spike": N_(
        "Read the latest complaints; if users say they paid but orders are unpaid, "
        "check callbacks and reconcile."
    ),
    "stuck_payments": N_(
        "Query the provider for the listed orders and mark paid ones; check the callback "
        "endpoint. Tell customer service not to ask users to pay again."
    ),
    "reconciliation_difference": N_(
        "Open the channel's reconciliation tickets (paypulse tickets list); refund a double charge, "
        "fulfil an order the provider says is paid, and query the provider for the rest."
    ),
}
#: Severity as a word in a sentence, and as it stands in a title's brackets.
SEVERITY_WORDS: Final = {
    "critical": (N_("Critical"), N_("critical")),
    "warning": (N_("Warning"), N_("warning")),
    "info": (N_("Info"), N_("info")),
}
STATUS_WORDS: Final = {"firing": N_("FIRING"), "resolved": N_("RESOLVED")}
#: Between the items of a list (channels): ", " in English, "、" in Chinese.
LIST_SEPARATOR: Final = C_("list separator", ", ")
#: Display names of the channel ids PayPulse knows; a deployment may name others (``channel_names``).
CHANNEL_NAMES: Final = {
    "alipay": C_("channel", "alipay"),
    "wechat": C_("channel", "wechat"),
    "unionpay": C_("channel", "unionpay"),
    "card": C_("channel", "card"),
}


def _compile(language: Language) -> gettext.GNUTranslations:
    """The language's ``.po`` source compiled in memory; fuzzy entries are left out."""
    path = LOCALE_DIR / _GETTEXT_LOCALES[language] / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale=_GETTEXT_LOCALES[language], domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


_TRANSLATIONS: Final = {language: _compile(language) for language in LANGUAGES}


def translations(language: Language) -> gettext.GNUTranslations:
    """The compiled catalogue of ``language``."""
    return _TRANSLATIONS[language]


def english(msgid: str) -> str:
    """``msgid`` as the English catalogue words it (the alert log and detectors speak English).

    >>> english(ACTIONS["amount_deviation"])
    'Check recent price or currency changes and for small-amount card testing.'
    """
    return _TRANSLATIONS["en"].gettext(msgid)


@dataclass(frozen=True)
class Messages:
    """One reader's language, time zone and currency: the words and formats of one delivery target.

    >>> zh = Messages("zh-CN")
    >>> zh.kind_title("success_rate_drop"), zh.channel("alipay"), zh.money(1234.5)
    ('支付成功率下降', '支付宝', '¥1,234.50')
    >>> en = Messages("en", zone="UTC")
    >>> en.kind_title("success_rate_drop"), en.channel("alipay"), en.money(1234.5)
    ('Payment success rate drop', 'Alipay', 'CN¥1,234.50')
    >>> from datetime import UTC
    >>> zh.when(datetime(2024, 5, 1, 8, 3, 9, tzinfo=UTC)), en.when(datetime(2024, 5, 1, 8, 3, 9, tzinfo=UTC))
    ('2024-05-01 16:03:09 UTC+08:00', '2024-05-01 08:03:09 UTC')
    """

    language: Language = "en"
    zone: str = DEFAULT_ZONE
    currency: str = DEFAULT_CURRENCY
    #: channel id -> display name; wins over the catalogue's names
    channel_names: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"language {self.language!r} is not one of {', '.join(LANGUAGES)}")
        ZoneInfo(self.zone)  # an unknown zone fails here, when the target is built, not at 3 a.m.

    # -- words ----------------------------------------------------------------------------------

    def gettext(self, msgid: str) -> str:
        return _TRANSLATIONS[self.language].gettext(msgid)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _TRANSLATIONS[self.language].ngettext(singular, plural, n)

    def pgettext(self, context: str, msgid: str) -> str:
        return _TRANSLATIONS[self.language].pgettext(context, msgid)

    def kind_title(self, kind: str) -> str | None:
        """The kind's title, or None for a kind PayPulse does not know (then it is data)."""
        msgid = KIND_TITLES.get(kind)
        return None if msgid is None else self.gettext(msgid)

    def what(self, kind: str, measure: str | None = None) -> str | None:
        msgid = WHAT.get((kind, measure)) if measure else WHAT.get(kind)
        return None if msgid is None else self.gettext(msgid)

    def action(self, kind: str) -> str | None:
        msgid = ACTIONS.get(kind)
        return None if msgid is None else self.gettext(msgid)

    def severity(self, severity: str, *, in_title: bool = False) -> str | None:
        words = SEVERITY_WORDS.get(severity)
        return None if words is None else self.gettext(words[in_title])

    def status(self, status: str) -> str | None:
        msgid = STATUS_WORDS.get(status)
        return None if msgid is None else self.gettext(msgid)

    def channel(self, channel: str) -> str | None:
        """The channel's display name: the deployment's, else the catalogue's; None if neither knows it."""
        if channel in self.channel_names:
            return self.channel_names[channel]
        return self.pgettext("channel", channel) if channel in CHANNEL_NAMES else None

    # -- numbers, money, times ------------------------------------------------------------------

    @cached_property
    def locale(self) -> Locale:
        return Locale.parse(_GETTEXT_LOCALES[self.language])

    @cached_property
    def tz(self) -> tzinfo:
        return ZoneInfo(self.zone)

    def decimal(self, value: float, pattern: str = "#,##0.0") -> str:
        return format_decimal(value, pattern, locale=self.locale)

    def percent(self, value: float, pattern: str = "#,##0.00%") -> str:
        return format_percent(value, pattern, locale=self.locale)

    def money(self, amount: float) -> str:
        return format_currency(amount, self.currency, locale=self.locale)

    def value(self, value: float, unit: str) -> str:
        """A measured value in its unit (:data:`UNITS`): a percentage, seconds, a rate, or money.

        >>> zh = Messages("zh-CN")
        >>> zh.value(0.9234, "ratio"), zh.value(31.5, "seconds"), zh.value(1234.5, "per_min")
        ('92.34%', '31.5 秒', '1,234.5/分钟')
        >>> zh.value(88, "amount")
        '¥88.00'
        """
        if unit == "ratio":
            return self.percent(value)
        if unit == "seconds":
            return self.gettext(_SECONDS).format(value=self.decimal(value))
        if unit == "per_min":
            return self.gettext(_PER_MIN).format(value=self.decimal(value))
        if unit == "count":
            return self.decimal(value)
        return self.money(value)

    def change(self, value: float, baseline: float, unit: str) -> str:
        """The gap in words: percentage points for rates, relative change otherwise.

        >>> en = Messages("en")
        >>> en.change(0.85, 0.97, "ratio"), en.change(30.0, 10.0, "seconds"), en.change(1.0, 0.0, "per_min")
        ('-12.00 pts', '+200.0%', 'no baseline')
        """
        if unit == "ratio":
            points = self.decimal((value - baseline) * 100, "+#,##0.00;-#,##0.00")
            return self.gettext(_POINTS).format(value=points)
        if baseline == 0:
            return self.gettext(_NO_BASELINE)
        return self.percent((value - baseline) / abs(baseline), "+#,##0.0%;-#,##0.0%")

    def when(self, moment: datetime) -> str:
        """Date and time to the second in the reader's zone, with the zone's offset from UTC."""
        shown = format_datetime(moment, "yyyy-MM-dd HH:mm:ss", tzinfo=self.tz, locale=self.locale)
        return f"{shown} {self.zone_label(moment)}"

    def clock_time(self, moment: datetime) -> str:
        return format_datetime(moment, "HH:mm:ss", tzinfo=self.tz, locale=self.locale)

    def zone_label(self, moment: datetime) -> str:
        offset = format_datetime(moment, "xxx", tzinfo=self.tz, locale=self.locale)
        return "UTC" if offset == "+00:00" else f"UTC{offset}"

    @property
    def reads_the_log(self) -> bool:
        """English in UTC: the alert log's own summary sentence reads right as it is."""
        return self.language == "en" and self.zone == "UTC"


#: English with times in UTC, the alert log's own terms: what ``json://`` hooks and tests get by default.
ENGLISH: Final = Messages("en", zone="UTC")
