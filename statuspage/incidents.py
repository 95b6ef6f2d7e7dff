"""Incidents: what ops tell payers about a disruption, as a thread of updates in Statuspage's states.

An incident opens in ``investigating``, ``identified`` or ``monitoring``; each update moves it to
any state (a fix that did not hold goes back to ``investigating``), and ``resolved`` closes it
for good: nothing can be added after. Every title and message is written per language, zh-CN
required and English optional (the English page shows the Chinese text when there is none).
Texts are kept verbatim as plain text; whoever shows them escapes them (the page's template
autoescapes, its script sets ``textContent``).

Incidents live in the banner's SQLite file (:class:`~statuspage.store.BannerStore`), so the
monitor, ``paypulse statuspage`` and ``paypulse incident`` share them.

>>> from kernel.clock import ManualClock
>>> from statuspage.store import BannerStore
>>> clock = ManualClock(1000.0)
>>> incidents = Incidents(BannerStore(":memory:"), clock)
>>> opened = incidents.open({"zh-CN": "支付宝支付失败"}, {"zh-CN": "正在调查。", "en": "Investigating."})
>>> clock.advance(60); _ = incidents.update(opened.id, "identified", {"zh-CN": "已找到原因。"})
>>> clock.advance(60); done = incidents.resolve(opened.id, {"zh-CN": "已恢复。"})
>>> done.state, done.resolved_at, [(u.state, u.at) for u in done.updates]
('resolved', 1120.0, [('resolved', 1120.0), ('identified', 1060.0), ('investigating', 1000.0)])
>>> incidents.update(opened.id, "monitoring", {"zh-CN": "再看看。"})
Traceback (most recent call last):
...
statuspage.incidents.IncidentError: incident 1 is resolved; open a new incident instead of updating it
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from kernel.clock import Clock
from kernel.errors import PayPulseError, StateError
from kernel.events import ID_CHARS
from statuspage.i18n import DEFAULT_LANGUAGE, LANGUAGES
from statuspage.store import BannerStore

__all__ = [
    "MAX_BY",
    "MAX_CHANNELS",
    "MAX_MESSAGE",
    "MAX_TITLE",
    "OPEN_STATES",
    "STATES",
    "Incident",
    "IncidentError",
    "IncidentUpdate",
    "Incidents",
    "State",
    "plain_text",
]

State = Literal["investigating", "identified", "monitoring", "resolved"]
#: Statuspage's incident states, in the order an incident usually goes through them.
STATES: Final[tuple[str, ...]] = get_args(State)
#: The states an incident may open in.
OPEN_STATES: Final = STATES[:-1]
MAX_TITLE: Final = 200
MAX_MESSAGE: Final = 2000
MAX_BY: Final = 100
MAX_CHANNELS: Final = 20
_MAX_CHANNEL_ID = 64


class IncidentError(PayPulseError):
    """An incident change that cannot be made; ``.reason`` is one of :data:`REASONS`.

    The API answers ``not_found`` with 404, ``resolved`` with 409 and the rest with 422; the
    CLI prints the message and exits with 2.
    """

    REASONS: Final = ("not_found", "resolved", "bad_state", "bad_text", "bad_channel")

    def __init__(self, reason: str, message: str) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown incident error reason {reason!r}")
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class IncidentUpdate:
    """One message from ops; times are epoch seconds."""

    id: int
    state: str
    message: Mapping[str, str]  # language -> text; always zh-CN, maybe en
    at: float
    by: str


@dataclass(frozen=True, slots=True)
class Incident:
    """An incident with its updates, newest first; ``state`` is the latest update's."""

    id: int
    title: Mapping[str, str]
    channels: tuple[str, ...]
    state: str
    created_at: float
    updated_at: float
    resolved_at: float | None
    updates: tuple[IncidentUpdate, ...]

    @property
    def resolved(self) -> bool:
        return self.state == "resolved"


class Incidents:
    """Open, update, resolve and read incidents in a :class:`BannerStore`, with times from ``clock``."""

    def __init__(self, store: BannerStore, clock: Clock) -> None:
        self._store = store
        self.clock = clock

    def open(
        self,
        title: Mapping[str, str | None],
        message: Mapping[str, str | None],
        *,
        state: str = "investigating",
        channels: Iterable[str] = (),
        by: str = "ops",
    ) -> Incident:
        """Open an incident with its first update; raises IncidentError for a bad value."""
        if state not in OPEN_STATES:
            raise IncidentError(
                "bad_state", f"state {state!r}: an incident opens as one of {', '.join(OPEN_STATES)}"
            )
        texts = _localized("title", title, MAX_TITLE, lines=False)
        words = _localized("message", message, MAX_MESSAGE, lines=True)
        names = _channels(channels)
        who = _text("by", by, MAX_BY, lines=False)
        with self._store.writing():
            now = self.clock.now()
            incident_id = self._store.add_incident(texts, names, state, now)
            self._store.add_incident_update(incident_id, state, words, now, who)
        return self.get(incident_id)

    def update(
        self, incident_id: int, state: str, message: Mapping[str, str | None], *, by: str = "ops"
    ) -> Incident:
        """Add an update moving the incident to ``state``; IncidentError once it is resolved."""
        if state not in STATES:
            raise IncidentError("bad_state", f"state {state!r} is not one of {', '.join(STATES)}")
        words = _localized("message", message, MAX_MESSAGE, lines=True)
        who = _text("by", by, MAX_BY, lines=False)
        with self._store.writing():
            current = self._store.incident(incident_id)
            if current is None:
                raise IncidentError("not_found", f"there is no incident {incident_id}")
            if current["state"] == "resolved":
                raise IncidentError(
                    "resolved",
                    f"incident {incident_id} is resolved; open a new incident instead of updating it",
                )
            self._store.add_incident_update(incident_id, state, words, self.clock.now(), who)
        return self.get(incident_id)

    def resolve(self, incident_id: int, message: Mapping[str, str | None], *, by: str = "ops") -> Incident:
        """The last update: the incident is over."""
        return self.update(incident_id, "resolved", message, by=by)

    def get(self, incident_id: int) -> Incident:
        row = self._store.incident(incident_id)
        if row is None:
            raise IncidentError("not_found", f"there is no incident {incident_id}")
        return _incident(row)

    def latest(self, limit: int = 20) -> list[Incident]:
        """At most ``limit`` incidents: unresolved ones first, then the most recently updated."""
        if limit < 1:
            raise ValueError(f"limit must be >= 1 (got {limit})")
        return [_incident(row) for row in self._store.incidents(limit)]


def plain_text(value: str, *, lines: bool = False) -> str:
    """``value`` stripped; ValueError when it is blank or holds control characters.

    Readers see it on the page and the store keeps it: a NUL or an escape sequence there is a
    mistake. ``lines`` lets line breaks through (an incident update may have paragraphs);
    ``\\r\\n`` becomes ``\\n``.

    >>> plain_text("  Card payments are slow.  ")
    'Card payments are slow.'
    >>> plain_text("一\\r\\n二", lines=True)
    '一\\n二'
    >>> plain_text("a\\x1b[31mb")
    Traceback (most recent call last):
    ...
    ValueError: must not contain control characters (U+001B)
    """
    if lines:
        value = value.replace("\r\n", "\n")
    allowed = "\n" if lines else ""
    bad = sorted({f"U+{ord(c):04X}" for c in value if unicodedata.category(c) == "Cc" and c not in allowed})
    if bad:
        raise ValueError(f"must not contain control characters ({', '.join(bad[:5])})")
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


def _text(field: str, value: str, limit: int, *, lines: bool) -> str:
    try:
        text = plain_text(value, lines=lines)
    except ValueError as err:
        raise IncidentError("bad_text", f"{field} {err}") from None
    if len(text) > limit:
        raise IncidentError("bad_text", f"{field} must be at most {limit} characters (got {len(text)})")
    return text


def _localized(field: str, texts: Mapping[str, str | None], limit: int, *, lines: bool) -> dict[str, str]:
    """``texts`` checked: zh-CN required, other page languages optional (None or "" = none)."""
    unknown = sorted(set(texts) - set(LANGUAGES))
    if unknown:
        raise IncidentError("bad_text", f"{field}: {', '.join(unknown)} is not one of {', '.join(LANGUAGES)}")
    if not texts.get(DEFAULT_LANGUAGE):
        raise IncidentError("bad_text", f"{field} needs a {DEFAULT_LANGUAGE} text")
    return {
        lang: _text(f"{field} ({lang})", text, limit, lines=lines)
        for lang in LANGUAGES
        if (text := texts.get(lang))
    }


def _channels(channels: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys(channels))
    if len(names) > MAX_CHANNELS:
        raise IncidentError("bad_channel", f"at most {MAX_CHANNELS} channels (got {len(names)})")
    for name in names:
        if not name or len(name) > _MAX_CHANNEL_ID or not name.isascii() or name.strip(ID_CHARS):
            raise IncidentError(
                "bad_channel",
                f"channel {name[:64]!r} must be 1-{_MAX_CHANNEL_ID} letters, digits and _ - . :",
            )
    return names


def _incident(row: dict[str, Any]) -> Incident:
    try:
        return Incident(
            id=int(row["id"]),
            title=dict(row["title"]),
            channels=tuple(row["channels"]),
            state=str(row["state"]),
            created_at=float(row["created_at"]),
            updated_at=float(row["updated_at"]),
            resolved_at=None if row["resolved_at"] is None else float(row["resolved_at"]),
            updates=tuple(
                IncidentUpdate(
                    int(u["id"]), str(u["state"]), dict(u["message"]), float(u["at"]), str(u["by"])
                )
                for u in row["updates"]
            ),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise StateError(f"incident row cannot be read: {err!r}") from None
