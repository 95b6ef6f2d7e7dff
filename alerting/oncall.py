"""Who is on call at a moment: a weekly rotation, overrides for holidays and swaps, and a lead.

The rotation hands over every week at the moment ``alerting.oncall.handover`` names (a Monday
10:00 in Beijing, say): in week ``n`` after it the primary is ``rotation[n % len]`` and the
secondary the name after it. An override covering the moment replaces the primary, the
secondary, or both. The moment is the injected clock's, so a replay pages whoever was on call in
the replayed week. :meth:`Schedule.contact_urls` spells every person's contact URLs, which become
delivery targets like the routes' URLs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal
from zoneinfo import ZoneInfo

from kernel.settings import OnCallSettings

__all__ = ["Person", "Role", "Schedule"]

Role = Literal["primary", "secondary", "lead"]
_WEEK: Final = 7 * 86_400.0


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    mobile: str


def _epoch(moment: datetime, zone: ZoneInfo) -> float:
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)).timestamp()


class Schedule:
    """The on-call schedule of ``alerting.oncall`` (the settings have checked its names).

    >>> from kernel.settings import OnCallSettings
    >>> s = Schedule(OnCallSettings(people=[{"name": "zhang", "mobile": "13800000001"},
    ...     {"name": "li", "mobile": "13800000002"}], rotation=["zhang", "li"],
    ...     handover=datetime(2026, 1, 5, 10, 0)))
    >>> monday_noon = datetime(2026, 1, 5, 4, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    >>> s.who("primary", monday_noon).name, s.who("secondary", monday_noon).name
    ('zhang', 'li')
    >>> s.who("primary", monday_noon + 7 * 86400).name
    'li'
    """

    def __init__(self, settings: OnCallSettings) -> None:
        self._settings = settings
        zone = ZoneInfo(settings.zone)
        self._people = {p.name: Person(p.name, p.mobile) for p in settings.people}
        self._handover = _epoch(settings.handover, zone)
        self._overrides = [(_epoch(o.start, zone), _epoch(o.end, zone), o) for o in settings.overrides]

    @property
    def people(self) -> tuple[Person, ...]:
        return tuple(self._people.values())

    def who(self, role: Role, at: float) -> Person | None:
        """Who has ``role`` at ``at`` (epoch seconds); None when nobody is configured for it."""
        if role == "lead":
            return self._people.get(self._settings.lead or "")
        rotation = self._settings.rotation
        name = None
        if rotation:
            week = int((at - self._handover) // _WEEK)
            name = rotation[(week + (role == "secondary")) % len(rotation)]
        for start, end, override in self._overrides:
            if start <= at < end and getattr(override, role):
                name = getattr(override, role)
        return None if name is None else self._people[name]

    def contact_url(self, person: Person, via: str) -> str:
        """The contact's Apprise URL for ``person``: its template with their mobile filled in."""
        return self._settings.contacts[via].get_secret_value().replace("{mobile}", person.mobile)

    def contact_urls(self) -> list[str]:
        """Every person's every contact URL, for building their notifiers."""
        return [self.contact_url(person, via) for person in self.people for via in self._settings.contacts]
