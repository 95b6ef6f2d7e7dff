"""The page's languages: which one a reader gets, and the gettext catalogue for each.

The status page speaks simplified Chinese (``zh-CN``, the default: the shop's payers read it) and
English (``en``). :func:`negotiate` picks one per request: an explicit ``?lang=`` first, then the
reader's earlier choice (a cookie), then the browser's ``Accept-Language`` by quality, where any
Chinese (``zh``, ``zh-TW``, ``zh-Hans-CN``) means ``zh-CN`` and any English means ``en``.

Every word a reader sees comes from one Babel/gettext catalogue, written in English as msgids:
``locale/<locale>/LC_MESSAGES/messages.po``, compiled to the ``.mo`` next to it. Templates
(``{% trans %}``, ``_()``), Python (:func:`N_`) and the page's scripts (``gettext()``) are
extracted with ``babel.cfg``. After changing a message, from the checkout::

    pybabel extract -F statuspage/babel.cfg --no-location --sort-output --project=PayPulse \
        --copyright-holder="PayPulse contributors" -o statuspage/locale/messages.pot statuspage
    pybabel update -i statuspage/locale/messages.pot -d statuspage/locale \
        --no-fuzzy-matching --ignore-obsolete
    # translate the new entries in both .po files (English: the msgid again), then
    pybabel compile -d statuspage/locale

``tests/unit/test_statuspage_i18n.py`` fails while any message lacks a translation in either
language, or a ``.mo`` is older than its ``.po``.

>>> negotiate(accept_language="en-US,en;q=0.9,zh-CN;q=0.8")
'en'
>>> negotiate(accept_language="zh-TW,en;q=0.8")
'zh-CN'
>>> negotiate(query="en", cookie="zh-CN", accept_language="zh-CN")
'en'
>>> negotiate()
'zh-CN'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from babel.messages.mofile import read_mo
from babel.support import Translations

from kernel.errors import StateError

__all__ = [
    "COOKIE",
    "DEFAULT_LANGUAGE",
    "DOMAIN",
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "LOCALES",
    "LOCALE_DIR",
    "N_",
    "Catalogue",
    "load_catalogues",
    "match_language",
    "negotiate",
    "parse_accept_language",
]

#: The languages the page speaks, as BCP 47 tags (``<html lang>``, ``?lang=``, ``data-lang``).
LANGUAGES: Final = ("zh-CN", "en")
DEFAULT_LANGUAGE: Final = "zh-CN"
#: Each language's gettext locale, the folder name under ``locale/``.
LOCALES: Final[Mapping[str, str]] = {"zh-CN": "zh_CN", "en": "en"}
#: How the language switch names each language: in that language, so a reader finds their own.
LANGUAGE_NAMES: Final[Mapping[str, str]] = {"zh-CN": "简体中文", "en": "English"}
#: The cookie keeping a reader's choice from the language switch.
COOKIE: Final = "paypulse_lang"
DOMAIN: Final = "messages"
LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"

_MAX_HEADER = 1000  # a longer Accept-Language is cut: no browser sends one, and it is parsed per request
_MAX_RANGES = 20


def N_(msgid: str) -> str:
    """Mark ``msgid`` for the catalogue without translating it; the caller translates it per reader."""
    return msgid


def match_language(tag: str | None) -> str | None:
    """The page language for a language tag, or None when the page does not speak it.

    Only the primary subtag counts: a Chinese reader is better served by simplified Chinese
    than by English, whatever the region or script.

    >>> [match_language(t) for t in ("zh", "zh-HK", "ZH_cn", "zh-Hant-TW", "en-GB", "fr", "*", "")]
    ['zh-CN', 'zh-CN', 'zh-CN', 'zh-CN', 'en', None, None, None]
    """
    primary = (tag or "").strip().replace("_", "-").split("-", 1)[0].lower()
    return {"zh": "zh-CN", "en": "en"}.get(primary)


def parse_accept_language(header: str | None) -> list[str]:
    """The language ranges of an ``Accept-Language`` header, most wanted first (RFC 9110 §12.5.4).

    Ranges with ``q=0`` (not acceptable) or a malformed weight are dropped; equal weights keep
    the header's order.

    >>> parse_accept_language("fr;q=0.5, en-US, zh-CN;q=0.9, de;q=0, it;q=x")
    ['en-US', 'zh-CN', 'fr']
    >>> parse_accept_language(None)
    []
    """
    ranges: list[tuple[float, int, str]] = []
    for position, item in enumerate((header or "")[:_MAX_HEADER].split(",")[:_MAX_RANGES]):
        tag, *params = (part.strip() for part in item.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if tag and 0.0 < weight <= 1.0:
            ranges.append((-weight, position, tag))
    return [tag for _, _, tag in sorted(ranges)]


def negotiate(
    *, query: str | None = None, cookie: str | None = None, accept_language: str | None = None
) -> str:
    """The language for one request: ``?lang=``, then the cookie, then ``Accept-Language``, then zh-CN.

    A value the page does not speak is skipped, never an error: a reader always gets a page.

    >>> negotiate(query="xx", cookie="en")
    'en'
    >>> negotiate(accept_language="fr, de;q=0.8")
    'zh-CN'
    """
    for chosen in (query, cookie):
        lang = match_language(chosen)
        if lang is not None:
            return lang
    for tag in parse_accept_language(accept_language):
        lang = match_language(tag)
        if lang is not None:
            return lang
    return DEFAULT_LANGUAGE


@dataclass(frozen=True, slots=True)
class Catalogue:
    """One language's compiled messages: gettext for templates and Python, a dict for the scripts."""

    lang: str
    translations: Translations
    messages: Mapping[str, str]  # msgid -> translation, every message in the catalogue

    def gettext(self, msgid: str) -> str:
        return self.translations.gettext(msgid)


def load_catalogues(directory: Path = LOCALE_DIR) -> dict[str, Catalogue]:
    """Read the compiled catalogue of every language in :data:`LANGUAGES`.

    gettext quietly falls back to the msgid when a catalogue file is missing, which would show
    English on the Chinese page; a missing or unreadable ``.mo`` is a StateError instead.
    """
    catalogues = {}
    for lang in LANGUAGES:
        path = directory / LOCALES[lang] / "LC_MESSAGES" / f"{DOMAIN}.mo"
        try:
            with path.open("rb") as file:
                translations = Translations(file, domain=DOMAIN)
            with path.open("rb") as file:
                compiled = read_mo(file)
        except (OSError, ValueError) as err:
            raise StateError(
                f"message catalogue {path} cannot be read ({err}); run "
                f"`pybabel compile -d {directory}` from the source checkout"
            ) from None
        messages = {str(m.id): str(m.string) for m in compiled if m.id and isinstance(m.id, str)}
        catalogues[lang] = Catalogue(lang, translations, messages)
    return catalogues
