"""Repeated event ids count once while a copy could still arrive, within a fixed memory."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.dedup import EventIdFilter


def test_repeat_within_the_horizon_is_not_first() -> None:
    seen = EventIdFilter(horizon_ms=60_000, max_ids=100)
    assert seen.first("e1", 0)
    assert not seen.first("e1", 60_000)
    assert seen.first("e2", 1)


def test_repeat_after_the_horizon_counts_again() -> None:
    seen = EventIdFilter(horizon_ms=60_000, max_ids=100)
    assert seen.first("e1", 0)
    assert seen.first("e1", 60_001)
    assert not seen.first("e1", 100_000), "the horizon restarts at the second sighting"


def test_out_of_order_repeat_is_still_a_repeat() -> None:
    seen = EventIdFilter(horizon_ms=60_000, max_ids=100)
    assert seen.first("e1", 50_000)
    assert not seen.first("e1", 20_000)


def test_at_most_max_ids_are_remembered_oldest_dropped_first() -> None:
    seen = EventIdFilter(horizon_ms=10**9, max_ids=3)
    for i in range(5):
        assert seen.first(f"e{i}", i)
    assert len(seen) == 3
    assert not seen.first("e4", 10)
    assert seen.first("e0", 11), "forgotten for want of room"


def test_expire_forgets_ids_older_than_the_horizon() -> None:
    seen = EventIdFilter(horizon_ms=1_000, max_ids=100)
    for i in range(5):
        seen.first(f"e{i}", i * 500)
    seen.expire(now_ms=3_000)  # keeps ids seen at 2000 ms or later
    assert len(seen) == 1
    assert not seen.first("e4", 2_500)
    assert seen.first("e3", 2_500), "forgotten by expiry although still within the horizon of 2500"


def test_snapshot_restore_keeps_what_was_seen() -> None:
    seen = EventIdFilter(horizon_ms=60_000, max_ids=100)
    for i in range(10):
        seen.first(f"e{i}", i * 1_000)
    state = json.loads(json.dumps(seen.snapshot()))
    assert state["v"] == 1
    restored = EventIdFilter(horizon_ms=60_000, max_ids=100)
    restored.restore(state)
    assert [restored.first(f"e{i}", 20_000) for i in range(12)] == [False] * 10 + [True, True]


@settings(max_examples=200)
@given(
    st.lists(st.tuples(st.sampled_from([f"e{i}" for i in range(8)]), st.integers(0, 5_000)), max_size=80),
    st.integers(1, 5),
)
def test_memory_stays_within_max_ids(sightings: list[tuple[str, int]], max_ids: int) -> None:
    seen = EventIdFilter(horizon_ms=1_000, max_ids=max_ids)
    for event_id, ts in sorted(sightings, key=lambda s: s[1]):
        seen.first(event_id, ts)
        assert len(seen) <= max_ids
        seen.expire(ts)
        assert len(seen) <= max_ids


@settings(max_examples=100)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 3_000)), max_size=60))
def test_with_room_enough_a_repeat_is_caught_exactly_within_the_horizon(
    sightings: list[tuple[str, int]],
) -> None:
    horizon = 1_000
    seen = EventIdFilter(horizon_ms=horizon, max_ids=10)
    kept: dict[str, int] = {}
    for event_id, ts in sorted(sightings, key=lambda s: s[1]):
        expected = event_id not in kept or ts - kept[event_id] > horizon
        assert seen.first(event_id, ts) == expected
        if expected:
            kept[event_id] = ts


def test_expire_keeps_an_id_seen_again_after_its_old_sighting() -> None:
    seen = EventIdFilter(horizon_ms=60_000, max_ids=100)
    assert seen.first("e1", 0)
    assert seen.first("e1", 70_000)  # beyond the horizon: a new sighting
    seen.expire(now_ms=65_000)  # the first sighting is forgotten, the second is not
    assert len(seen) == 1
    assert not seen.first("e1", 80_000)
    seen.expire(now_ms=131_000)
    assert len(seen) == 0
