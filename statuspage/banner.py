"""The public status banner: what end users are told while paying is unreliable.

The banner is a small state machine over alerts. A firing, critical, customer-facing alert on a
channel (or on all channels) turns that channel on and holds it by its fingerprint; when the last
fingerprint on a channel resolves, the channel stays on for a recovery hold, so a flapping incident
does not make the banner blink. Ops can force it on (with their own words) or off, for a while or
until cleared.

Nothing here ticks. Hold and override expiry are worked out from the injected clock whenever the
banner is read or fed, and the transitions they cause are recorded at the moment they happened,
not the moment somebody looked. The engine injects an event-time clock during replays and the
system clock live, so a replayed day gives the same banner history as the day itself.

>>> from datetime import UTC, datetime
>>> from kernel.alerts import Alert, Impact, Scope
>>> from kernel.clock import ManualClock
>>> from statuspage.store import BannerStore
>>> def alert(status):
...     t = datetime(2024, 5, 1, tzinfo=UTC)
...     return Alert("success_rate_drop", Scope("alipay"), status, "critical", t, t, 0.7, 0.95,
...                  Impact(120.0, 9000.0, ("alipay",)), "switch route", "alipay success 70%")
>>> clock = ManualClock(1000.0)
>>> banner = Banner(BannerStore(":memory:"), clock, hold_s=300, message="Payments may be delayed.")
>>> banner.observe(alert("firing"))
>>> banner.state().on, banner.state().channels
(True, ('alipay',))
>>> clock.advance(60); banner.observe(alert("resolved"))
>>> banner.state().hold_until
1360.0
>>> clock.advance(300); banner.state().on
False
>>> [(t.at, t.on, t.reason) for t in banner.history()]
[(1360.0, False, 'recovered'), (1000.0, True, 'alert_firing')]
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from kernel.alerts import Alert
from kernel.clock import Clock
from kernel.errors import StateError
from kernel.settings import StatusPageSettings
from statuspage.store import BannerStore

__all__ = ["ALL_CHANNELS", "REASONS", "Banner", "BannerState", "Override", "Transition"]

#: The channel name shown when an alert without a channel (all payments) holds the banner.
ALL_CHANNELS = "all"
#: Why the banner changed; the closed set of ``Transition.reason`` values, public in /api/history.
REASONS = ("alert_firing", "recovered", "override_on", "override_off", "override_cleared", "override_expired")
_SNAPSHOT_VERSION = 1

Source = Literal["auto", "override", "none"]


@dataclass(frozen=True, slots=True)
class BannerState:
    """What the banner shows right now. Times are epoch seconds."""

    on: bool
    channels: tuple[str, ...]  # affected channels, sorted; ("all",) when an all-channel alert holds it
    message: str | None  # None while off
    since: float | None  # when it turned on
    source: Source  # "auto" (alerts), "override" (ops), "none" (off, nothing happening)
    override_until: float | None = None  # an ops override ends then; None = until cleared (or none)
    hold_until: float | None = None  # set during the recovery hold: every alert resolved, still on

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "channels": list(self.channels)}


@dataclass(frozen=True, slots=True)
class Transition:
    """One change users could see: a channel turned on or off, or ops stepped in."""

    at: float
    on: bool  # the banner as users see it, right after this change
    channel: str | None  # the channel that changed; None for an override
    source: Literal["auto", "override"]
    reason: str  # one of REASONS
    detail: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Override:
    """Ops forcing the banner on (with their message) or off, until ``until`` or until cleared."""

    on: bool
    message: str | None
    until: float | None
    by: str
    set_at: float


@dataclass(slots=True)
class _Channel:
    since: float
    holders: dict[str, str] = field(default_factory=dict)  # fingerprint -> alert kind
    hold_until: float | None = None


class Banner:
    """The banner state machine, persisted in a :class:`BannerStore` and safe to share across threads.

    ``hold_s`` is the recovery hold; ``message`` is what users read while alerts hold it on.
    """

    def __init__(self, store: BannerStore, clock: Clock, hold_s: float, message: str) -> None:
        if hold_s < 0:
            raise ValueError(f"hold_s must be >= 0 seconds (got {hold_s})")
        if not message.strip():
            raise ValueError("message must not be empty: it is what users read while the banner is on")
        self.hold_s = float(hold_s)
        self.message = message
        self._store = store
        self.clock = clock
        self._lock = threading.RLock()
        self._channels: dict[str, _Channel] = {}
        self._override: Override | None = None
        self._updated_at: float | None = None
        with self._lock:
            self._refresh()

    @classmethod
    def from_settings(cls, settings: StatusPageSettings, clock: Clock, keep: int = 100) -> Banner:
        """Open (or create) the banner at ``settings.db`` with the configured hold and message."""
        return cls(
            BannerStore(settings.db, keep=keep), clock, settings.hold.total_seconds(), settings.message
        )

    @property
    def store(self) -> BannerStore:
        """The store the banner lives in; incidents share it (:class:`statuspage.incidents.Incidents`)."""
        return self._store

    def close(self) -> None:
        """Close the store; the state stays in the file for the next start."""
        with self._lock:
            self._store.close()

    # -- feeding -----------------------------------------------------------------------------

    def observe(self, alert: Alert) -> None:
        """Let one alert change move the banner.

        Only a firing, critical, customer-facing alert without a merchant turns a channel on:
        one merchant's trouble is that merchant's business, not every payer's. Any other change
        for a fingerprint that holds a channel (resolved, or downgraded) releases it.
        """
        with self._lock, self._store.transaction():
            self._refresh()
            now = self.clock.now()
            changes = self._settle(now)
            channel = alert.scope.channel or ALL_CHANNELS
            qualifies = (
                alert.status == "firing"
                and alert.severity == "critical"
                and alert.customer_facing
                and alert.scope.merchant_id is None
            )
            held = self._channels.get(channel)
            if qualifies and held is None:
                self._channels[channel] = _Channel(since=now, holders={alert.fingerprint: alert.kind})
                changes.append(self._auto(now, channel, "alert_firing", f"{alert.kind} on {channel}"))
            elif qualifies and held is not None:
                touched = alert.fingerprint not in held.holders or held.hold_until is not None
                held.holders[alert.fingerprint] = alert.kind
                held.hold_until = None
                self._updated_at = now if touched else self._updated_at
            elif held is not None and alert.fingerprint in held.holders:
                del held.holders[alert.fingerprint]
                if not held.holders:
                    held.hold_until = now + self.hold_s
                    changes.extend(self._settle(now))  # a zero hold ends at once
                self._updated_at = now
            else:
                if changes:
                    self._save(changes, now)
                return
            self._save(changes, now)

    def override(self, on: bool, message: str | None, until: float | None, by: str) -> None:
        """Force the banner on (showing ``message``, or the default) or off, until ``until`` or cleared.

        Raises ValueError when ``until`` is not in the future or ``by`` is empty: an override
        nobody owns, or one that is over before it starts, is a mistake worth saying so.
        """
        if not by.strip():
            raise ValueError("by must name who sets the override")
        text = message.strip() if on and message is not None and message.strip() else None
        with self._lock, self._store.transaction():
            self._refresh()
            now = self.clock.now()
            if until is not None and until <= now:
                raise ValueError(f"override until {until} is not after now ({now})")
            changes = self._settle(now)
            self._override = Override(on=on, message=text, until=until, by=by.strip(), set_at=now)
            ends = "until cleared" if until is None else f"for {round(until - now)} s"
            if on:
                detail = f"forced on by {self._override.by} {ends}: {text or self.message}"
            else:
                detail = f"forced off by {self._override.by} {ends}"
            reason = "override_on" if on else "override_off"
            changes.append(Transition(now, self._view(now).on, None, "override", reason, detail))
            self._save(changes, now)

    def clear_override(self, by: str = "ops") -> bool:
        """End the override, handing the banner back to the alerts; False if there was none."""
        with self._lock, self._store.transaction():
            self._refresh()
            now = self.clock.now()
            changes = self._settle(now)
            cleared = self._override is not None
            if cleared:
                self._override = None
                detail = f"override cleared by {by}"
                changes.append(
                    Transition(now, self._view(now).on, None, "override", "override_cleared", detail)
                )
            self._save(changes, now)
            return cleared

    # -- reading -----------------------------------------------------------------------------

    def state(self) -> BannerState:
        """What users should see now, with holds and overrides that ran out already applied."""
        with self._lock:
            now = self._current()
            return self._view(now)

    def updated_at(self) -> float | None:
        """When the state last changed (a hold or override running out counts at its own time)."""
        with self._lock:
            self._current()
            return self._updated_at

    def history(self, limit: int = 50) -> list[Transition]:
        """The latest transitions, newest first; at most the store's ``keep``."""
        if limit < 1:
            raise ValueError(f"limit must be >= 1 (got {limit})")
        with self._lock:
            self._current()
            return [Transition(**row) for row in self._store.history(limit)]

    # -- snapshot ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able copy of everything the banner remembers, with ``"v"``."""
        with self._lock:
            return {
                "v": _SNAPSHOT_VERSION,
                "channels": {
                    name: {"since": c.since, "holders": dict(c.holders), "hold_until": c.hold_until}
                    for name, c in sorted(self._channels.items())
                },
                "override": None if self._override is None else asdict(self._override),
                "updated_at": self._updated_at,
            }

    def restore(self, state: dict[str, Any]) -> None:
        """Take over a :meth:`snapshot`; raises StateError for a version or shape we cannot read."""
        if state.get("v") != _SNAPSHOT_VERSION:
            raise StateError(f"banner snapshot version {state.get('v')!r} is not {_SNAPSHOT_VERSION}")
        try:
            channels = {
                str(name): _Channel(
                    float(c["since"]),
                    {str(k): str(v) for k, v in c["holders"].items()},
                    None if c["hold_until"] is None else float(c["hold_until"]),
                )
                for name, c in state["channels"].items()
            }
            override = None if state["override"] is None else Override(**state["override"])
            updated_at = state["updated_at"]
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise StateError(f"banner snapshot cannot be restored: {err!r}") from None
        with self._lock:
            self._channels, self._override, self._updated_at = channels, override, updated_at

    # -- inside ------------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Reload from the store when it is new to us or another process wrote to it."""
        if self._store.changed_elsewhere():
            snapshot = self._store.load()
            if snapshot is None:
                self._channels, self._override, self._updated_at = {}, None, None
            else:
                self.restore(snapshot)

    def _current(self) -> float:
        """Bring the state up to the clock, writing only when a hold or override ran out."""
        self._refresh()
        now = self.clock.now()
        if self._expiries(now):
            with self._store.transaction():
                self._refresh()
                self._save(self._settle(now), now)
        return now

    def _expiries(self, now: float) -> list[tuple[float, str | None]]:
        """(time, channel) of every hold that has run out, and (time, None) for an ended override."""
        due: list[tuple[float, str | None]] = [
            (c.hold_until, name)
            for name, c in self._channels.items()
            if not c.holders and c.hold_until is not None and c.hold_until <= now
        ]
        if self._override is not None and self._override.until is not None and self._override.until <= now:
            due.append((self._override.until, None))
        return sorted(due, key=lambda d: (d[0], d[1] or ""))

    def _settle(self, now: float) -> list[Transition]:
        """Apply expiries in the order they happened, each recorded at its own time."""
        changes = []
        for at, channel in self._expiries(now):
            if channel is None:
                self._override = None
                changes.append(
                    Transition(
                        at, self._view(at).on, None, "override", "override_expired", "override ran out"
                    )
                )
            else:
                del self._channels[channel]
                changes.append(
                    self._auto(
                        at,
                        channel,
                        "recovered",
                        f"{channel} recovered; held {self.hold_s:g} s after the last alert",
                    )
                )
        return changes

    def _auto(self, at: float, channel: str, reason: str, detail: str) -> Transition:
        """A channel's change, recorded with what users see after it (an override may hide it)."""
        return Transition(at, self._view(at).on, channel, "auto", reason, detail)

    def _view(self, now: float) -> BannerState:
        names = sorted(self._channels)
        shown = (ALL_CHANNELS,) if ALL_CHANNELS in names else tuple(names)
        auto_since = min((c.since for c in self._channels.values()), default=None)
        ov = self._override
        if ov is not None and ov.on:
            since = ov.set_at if auto_since is None else min(auto_since, ov.set_at)
            return BannerState(
                True, shown or (ALL_CHANNELS,), ov.message or self.message, since, "override", ov.until
            )
        if ov is not None:
            return BannerState(False, (), None, None, "override", ov.until)
        if not names:
            return BannerState(False, (), None, None, "none")
        holding = [c.hold_until for c in self._channels.values() if not c.holders]
        in_hold = len(holding) == len(names)
        hold_until = max((h for h in holding if h is not None), default=None) if in_hold else None
        return BannerState(True, shown, self.message, auto_since, "auto", None, hold_until)

    def _save(self, changes: list[Transition], now: float) -> None:
        if changes:
            self._updated_at = max(c.at for c in changes)
        written = now if self._updated_at is None else self._updated_at
        self._store.save(self.snapshot(), [c.to_json() for c in changes], written)
