"""What readers see in their language: channel names, the banner's words and incident states.

Payers know "支付宝", not ``alipay``: a channel's id is for machines (the API, the embed's
``data-channels``) and is never shown. :class:`Wording` turns ids and states into words per
language, from the catalogue by default and from the names and messages an operator configures.

>>> wording = Wording(load_catalogues())
>>> wording.channels("zh-CN", ["alipay", "wechat"]), wording.channels("en", ["card", "all"])
(['支付宝', '微信支付'], ['Bank card', 'all payment methods'])
>>> wording.channels("en", ["x-new-psp", "y-other"])  # unknown ids are never shown
['other payment methods']
>>> wording.join("zh-CN", ["支付宝", "微信支付"]), wording.join("en", ["Alipay", "WeChat Pay", "UnionPay"])
('支付宝和微信支付', 'Alipay, WeChat Pay, and UnionPay')
>>> wording.banner_message("zh-CN")
'支付可能延迟。如您已付款，请勿重复支付。'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from babel.lists import format_list

from statuspage.banner import ALL_CHANNELS
from statuspage.i18n import DEFAULT_LANGUAGE, LANGUAGES, LOCALES, N_, Catalogue, load_catalogues

__all__ = ["DEFAULT_BANNER_MESSAGE", "DEFAULT_CHANNEL_NAMES", "RESOLVED_MESSAGE", "Wording"]

#: The default channels' names, as catalogue msgids (the English names); translated per reader.
DEFAULT_CHANNEL_NAMES: Final[Mapping[str, str]] = {
    "alipay": N_("Alipay"),
    "wechat": N_("WeChat Pay"),
    "unionpay": N_("UnionPay"),
    "card": N_("Bank card"),
}
#: What payers read while the banner is on; equal to the default of ``statuspage.message``.
DEFAULT_BANNER_MESSAGE: Final = N_("Payments may be delayed. If you have paid, please do not pay again.")
#: The last update's text when ops resolve an incident without words of their own.
RESOLVED_MESSAGE: Final = N_("This incident has been resolved.")
_ALL = N_("all payment methods")
_OTHER = N_("other payment methods")
_STATE_LABELS: Final[Mapping[str, str]] = {
    "investigating": N_("Investigating"),
    "identified": N_("Identified"),
    "monitoring": N_("Monitoring"),
    "resolved": N_("Resolved"),
}


class Wording:
    """Words for ids and states, per language.

    ``channel_names`` maps a channel id to its name in each language (``{"zh-CN": ..., "en": ...}``;
    zh-CN is required, a missing language falls back to it). It adds to and replaces
    :data:`DEFAULT_CHANNEL_NAMES`. ``banner_messages`` is the banner's text per language, for
    languages where the catalogue's :data:`DEFAULT_BANNER_MESSAGE` should not be used.
    """

    def __init__(
        self,
        catalogues: Mapping[str, Catalogue],
        channel_names: Mapping[str, Mapping[str, str]] | None = None,
        banner_messages: Mapping[str, str] | None = None,
    ) -> None:
        self.catalogues = catalogues
        self._channels: dict[str, dict[str, str]] = {
            cid: {lang: catalogues[lang].gettext(msgid) for lang in LANGUAGES}
            for cid, msgid in DEFAULT_CHANNEL_NAMES.items()
        }
        for cid, names in (channel_names or {}).items():
            self._channels[cid] = _per_language(f"channel_names[{cid!r}]", names)
        self._banner = {lang: catalogues[lang].gettext(DEFAULT_BANNER_MESSAGE) for lang in LANGUAGES}
        for lang, text in (banner_messages or {}).items():
            if lang not in LANGUAGES:
                raise ValueError(f"banner_messages: {lang!r} is not one of {', '.join(LANGUAGES)}")
            if not text.strip():
                raise ValueError(f"banner_messages[{lang!r}] must not be blank")
            self._banner[lang] = text.strip()

    @classmethod
    def default(cls) -> Wording:
        return cls(load_catalogues())

    def gettext(self, lang: str, msgid: str) -> str:
        return self.catalogues[lang].gettext(msgid)

    def channel(self, lang: str, channel: str) -> str:
        """One channel's name: ``"all payment methods"`` for ``all``, a generic name for unknown ids."""
        if channel == ALL_CHANNELS:
            return self.gettext(lang, _ALL)
        names = self._channels.get(channel)
        return self.gettext(lang, _OTHER) if names is None else names[lang]

    def channels(self, lang: str, channels: Iterable[str]) -> list[str]:
        """Names of ``channels`` in order, each once (every unknown id becomes the one generic name)."""
        return list(dict.fromkeys(self.channel(lang, c) for c in channels))

    def join(self, lang: str, names: list[str]) -> str:
        """Names as one phrase in the language's own way (CLDR, as the page's ``Intl.ListFormat``)."""
        return format_list(names, locale=LOCALES[lang]) if names else ""

    def banner_message(self, lang: str) -> str:
        """The banner's own text in ``lang`` (ops overrides carry their own words)."""
        return self._banner[lang]

    def state(self, lang: str, state: str) -> str:
        """An incident state's label (``identified`` -> ``已确定原因``)."""
        return self.gettext(lang, _STATE_LABELS[state])


def _per_language(what: str, names: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(set(names) - set(LANGUAGES))
    if unknown:
        raise ValueError(f"{what}: {', '.join(unknown)} is not one of {', '.join(LANGUAGES)}")
    if not names.get(DEFAULT_LANGUAGE, "").strip():
        raise ValueError(f"{what} needs a {DEFAULT_LANGUAGE} name")
    fallback = names[DEFAULT_LANGUAGE].strip()
    return {lang: (names.get(lang) or "").strip() or fallback for lang in LANGUAGES}
