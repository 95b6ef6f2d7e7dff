"""Which channel names get a scope of their own: a bounded set that a name earns by volume.

Every channel with its own scope costs detectors, windows, per-event steppers, metric series and
alert state, so the set is bounded (``capacity``, 32) and the rest is pooled as ``"other"``.
While there is room, a new name is admitted on its first event: a shop's channels are few and
all show up in its first minute. Once the set is full, a name must earn its place. It is counted
while pooled, and once a minute :meth:`ChannelNames.review` admits a pooled name that had at
least ``min_volume`` events in that minute and more than twice the per-minute volume of the
weakest admitted name, which is retired (never one an alert still holds). So junk names (a
million distinct strings, or a few that came first and fell silent) cannot keep a real channel
out, and the counts behind the review are bounded as well: a Misra-Gries summary of the pooled
names, emptied every minute.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Final

from engine.merchants import HeavyHitters

__all__ = ["OTHER", "ChannelNames"]

OTHER: Final = "other"


class ChannelNames:
    """The admitted channel names; everything else maps to ``"other"``.

    >>> names = ChannelNames(capacity=2, min_volume=3)
    >>> [names.name_of(n) for n in ("junk-1", "junk-2", "alipay", "alipay", "alipay", "alipay")]
    ['junk-1', 'junk-2', 'other', 'other', 'other', 'other']
    >>> names.review({"junk-1": 0.2, "junk-2": 1.0}, keep=())   # alipay earned junk-1's place
    ['junk-1']
    >>> names.name_of("alipay"), names.name_of("junk-1")
    ('alipay', 'other')
    """

    def __init__(self, capacity: int = 32, min_volume: int = 20, candidates: int = 256) -> None:
        self.capacity = capacity
        self.min_volume = min_volume
        self.admitted: dict[str, str] = {OTHER: OTHER}  # name -> itself: the hot path is one .get
        self.pooled = HeavyHitters(candidates)

    def name_of(self, name: str) -> str:
        """The scope name for a channel (the engine inlines this on its hot path)."""
        return self.admitted.get(name) or self.place(name)

    def place(self, name: str) -> str:
        """The scope name for a channel not admitted yet: itself while there is room, else
        ``"other"`` (and it is counted toward a place)."""
        if len(self.admitted) <= self.capacity:  # "other" does not take a place
            self.admitted[name] = name
            return name
        self.pooled.add(name)
        return OTHER

    def review(self, per_minute: Mapping[str, float], keep: Collection[str]) -> list[str]:
        """Once a minute: pooled names that earned a place take it from the weakest admitted
        names; returns the retired ones. ``per_minute`` is each admitted name's recent volume;
        names in ``keep`` (an alert holds them) are never retired."""
        retired: list[str] = []
        volume = {n: per_minute.get(n, 0.0) for n in self.admitted if n != OTHER and n not in keep}
        for name in self.pooled.top(self.capacity):
            count = self.pooled.counts[name]
            if count < self.min_volume or not volume:
                break
            weakest = min(volume, key=lambda n: (volume[n], n))
            if count <= 2 * volume[weakest]:
                break
            del volume[weakest], self.admitted[weakest]
            retired.append(weakest)
            self.admitted[name] = name
        self.pooled.counts = {}
        return retired

    def snapshot(self) -> dict:
        return {"v": 1, "admitted": sorted(n for n in self.admitted if n != OTHER)}

    def restore(self, state: dict) -> None:
        self.admitted = {OTHER: OTHER, **{n: n for n in state["admitted"]}}
