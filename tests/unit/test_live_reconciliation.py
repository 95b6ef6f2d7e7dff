"""Live reconciliation: differences found on the stream, confirmed with a simulated provider,
ticketed once in a real state file, alerted per channel, and carried across a restart."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine.core import Engine
from kernel.errors import ConfigError
from kernel.events import DeadLetter, Event, parse_line
from kernel.reconciliation import Policy, Realtime
from kernel.settings import Settings
from reconciliation.ledger import Ledger
from reconciliation.live import LiveReconciler
from reconciliation.provider import ProviderOrder, QueryFailed
from reconciliation.tickets import LiveTickets, find

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, 08:00 in Shanghai
S = 1000


@dataclass
class SimulatedProvider:
    """The provider's order API: what it holds per order, failing the first ``failures`` calls."""

    orders: dict[str, ProviderOrder] = field(default_factory=dict)
    failures: int = 0
    calls: list[str] = field(default_factory=list)

    def query(self, channel: str, order_id: str) -> ProviderOrder:
        self.calls.append(order_id)
        if self.failures > 0:
            self.failures -= 1
            raise QueryFailed("HTTP 503 from the order query API")
        return self.orders.get(order_id, ProviderOrder(paid=False))


def pay(order: str, at: int, amount: str = "12.50", status: str = "succeeded", **extra: object) -> bytes:
    data = {"type": "payment", "ts": T0 + at, "channel": "alipay", "order_id": order, "amount": amount,
            "status": status, "merchant_id": "m1", **extra}  # fmt: skip
    return json.dumps(data).encode()


def callback(order: str, at: int, amount: str | None = None, **extra: object) -> bytes:
    data = {"type": "callback", "ts": T0 + at, "channel": "alipay", "order_id": order, "paid_at": T0 + at - S,
            "status": "processed", **extra}  # fmt: skip
    if amount is not None:
        data["amount"] = amount
    return json.dumps(data).encode()


def ticks(to: int, every: int = 60 * S) -> list[bytes]:
    """Clean traffic on another channel that moves stream time on to ``to``."""
    lines = []
    for at in range(0, to, every):
        lines += [pay(f"w{at}", at, "1.00", channel="wechat"), callback(f"w{at}", at + S, channel="wechat")]
    return lines


def in_time(lines: list[bytes]) -> list[bytes]:
    return sorted(lines, key=lambda raw: json.loads(raw)["ts"])


def settings(tickets: Path | None = None, **realtime: object) -> Settings:
    live = {"enabled": True, "quiet": "5m", **realtime}
    if tickets is not None:
        live["tickets"] = tickets
    return Settings(reconciliation={"realtime": live})


def run(engine: Engine, lines: list[bytes], batch: int = 50, finish: bool = True) -> tuple[list, list]:
    """Feed ``lines`` in batches; (differences, alert changes)."""
    diffs, alerts = [], []
    for start in range(0, len(lines), batch):
        out = engine.process(lines[start : start + batch])
        diffs += out.differences
        alerts += out.alerts
    if finish:
        out = engine.finish()
        diffs += out.differences
        alerts += out.alerts
    return diffs, alerts


# a day's stretch with one of each live difference, 20 minutes of stream time
DAY = in_time(
    [
        pay("dup", 10 * S), callback("dup", 12 * S), pay("dup", 40 * S), callback("dup", 42 * S),  # twice
        pay("over", 20 * S), callback("over", 25 * S, amount="13.00"),  # charged 0.50 more
        pay("fine", 30 * S), callback("fine", 31 * S, amount="12.50"),  # agrees
        pay("lost", 60 * S, status="failed"), callback("lost", 62 * S, amount="12.50"),  # statuses disagree
        callback("early", 70 * S, amount="12.50"), pay("early", 75 * S),  # callback first, then agrees
        pay("stuck", 80 * S),  # no callback ever
        pay("dup", 300 * S), callback("dup", 302 * S),  # charged a third time: the same difference
        *ticks(20 * 60 * S),
    ]
)  # fmt: skip
PROVIDER = {
    "dup": ProviderOrder(paid=True, payments=2, amount=12.5, currency="CNY"),
    "over": ProviderOrder(paid=True, payments=1, amount=13.0, currency="CNY"),
    "lost": ProviderOrder(paid=True, payments=1, amount=12.5, currency="CNY"),
    "stuck": ProviderOrder(paid=True, payments=1, amount=12.5, currency="CNY"),
}


def test_each_live_difference_is_found_confirmed_and_classed_as_the_batch_classes_it() -> None:
    provider = SimulatedProvider(dict(PROVIDER))
    diffs, _ = run(Engine(settings(), query=provider), DAY)
    found = {(d.order_id, d.klass, d.risk, d.amount_delta, d.review) for d in diffs}
    assert found == {
        ("dup", "duplicate_payment", "high", 1250, False),
        ("over", "amount_over", "medium", 50, False),
        ("lost", "provider_paid_ours_unpaid", "high", 1250, False),
        ("stuck", "provider_paid_ours_unpaid", "high", 1250, False),
    }
    assert sorted(provider.calls) == ["dup", "lost", "over", "stuck"], "each order asked about once"
    assert all(d.provider == "alipay" and str(d.day) == "2026-01-01" for d in diffs)


def test_provider_refutes_or_reclassifies_what_it_does_not_hold() -> None:
    provider = SimulatedProvider(
        {"over": ProviderOrder(paid=True, payments=1, amount=12.5, currency="CNY")}  # callback was wrong
    )  # "dup" shows one payment, "lost" and "stuck" none at all
    engine = Engine(settings(), query=provider)
    diffs, _ = run(engine, DAY)
    assert [(d.order_id, d.klass, d.amount_delta) for d in diffs] == [
        ("stuck", "ours_paid_provider_missing", -1250)
    ]
    assert engine.live is not None
    assert engine.live.reconciler.counts["refuted"] == 3


def test_without_a_query_hook_every_case_is_ticketed_to_review() -> None:
    diffs, _ = run(Engine(settings()), DAY)
    assert {(d.order_id, d.klass) for d in diffs} == {
        ("dup", "duplicate_payment"),
        ("over", "amount_over"),
        ("lost", "provider_paid_ours_unpaid"),
        ("stuck", "provider_paid_ours_unpaid"),
    }
    assert all(d.review and d.action.startswith("to review") for d in diffs)


def test_unanswered_queries_back_off_exponentially_in_event_time_then_go_to_review() -> None:
    provider = SimulatedProvider(failures=10)
    live = LiveReconciler(Realtime(query_attempts=3, query_backoff="30s"), "Asia/Shanghai", provider)
    live.take([_parse(pay("dup", 0)), _parse(pay("dup", 5 * S))])
    asked_at = []
    for second in range(0, 300, 5):
        before = len(provider.calls)
        diffs = live.tick(T0 + second * S)
        if len(provider.calls) > before:
            asked_at.append(second)
        if diffs:
            break
    assert asked_at == [5, 35, 95], "after 30 s, then 60 s more"
    assert [(d.klass, d.review) for d in diffs] == [("duplicate_payment", True)]
    assert live.tick(T0 + 3600 * S) == [] and len(provider.calls) == 3, "decided once"


def test_alert_fires_on_the_channel_with_the_first_difference_and_resolves_when_quiet() -> None:
    _, alerts = run(Engine(settings(), query=SimulatedProvider(dict(PROVIDER))), DAY)
    live = [(a.kind, a.scope.channel, a.status) for a in alerts if a.kind == "reconciliation_difference"]
    assert live == [
        ("reconciliation_difference", "alipay", "firing"),
        ("reconciliation_difference", "alipay", "resolved"),
    ]
    firing = next(a for a in alerts if a.kind == "reconciliation_difference")
    assert firing.severity == "warning"
    assert "on order" in firing.summary and "tickets" in firing.suggested_action


def test_differences_and_alerts_do_not_depend_on_how_lines_are_batched() -> None:
    outcomes = []
    for batch in (1, 7, 500):
        diffs, alerts = run(Engine(settings(), query=SimulatedProvider(dict(PROVIDER))), DAY, batch=batch)
        outcomes.append(([d.key for d in diffs], [a.to_json() for a in alerts]))
    assert outcomes[0] == outcomes[1] == outcomes[2]


def test_restart_from_a_snapshot_neither_loses_nor_repeats_a_ticket(tmp_path: Path) -> None:
    state = tmp_path / "reconciliation.sqlite3"
    config = settings(tickets=state)
    half = len(DAY) // 3
    provider = SimulatedProvider(dict(PROVIDER))
    first = Engine(config, query=provider)
    tickets = LiveTickets.from_policy(config.reconciliation)
    assert tickets is not None
    diffs, _ = run(first, DAY[:half], finish=False)
    tickets.write(diffs)
    snapshot = json.loads(json.dumps(first.snapshot()))
    # the crash comes after more lines were processed and ticketed, but before the next snapshot
    more, _ = run(first, DAY[half : 2 * half], finish=False)
    tickets.write(more)
    resumed = Engine(config, query=provider)
    resumed.restore(snapshot)
    again, _ = run(resumed, DAY[half:])
    tickets.write(again)
    tickets.close()
    ledger = Ledger(state)
    rows = find(ledger, status=None)
    ledger.close()
    assert sorted((r["order_id"], r["class"]) for r in rows) == [
        ("dup", "duplicate_payment"),
        ("lost", "provider_paid_ours_unpaid"),
        ("over", "amount_over"),
        ("stuck", "provider_paid_ours_unpaid"),
    ]
    assert all(r["provider"] == "alipay" and r["assignee"] in ("ops", "cs") for r in rows)
    assert provider.calls.count("dup") == 1, "decided before the snapshot: not asked again"


def test_a_second_run_over_the_same_events_opens_no_second_ticket(tmp_path: Path) -> None:
    config = settings(tickets=tmp_path / "state.sqlite3")
    for _ in range(2):
        tickets = LiveTickets.from_policy(config.reconciliation)
        assert tickets is not None
        diffs, _ = run(Engine(config), DAY)
        tickets.write(diffs)
        tickets.close()
    ledger = Ledger(tmp_path / "state.sqlite3")
    assert len(find(ledger, status=None)) == 4
    assert len(ledger.audit_log()) == 4, "one 'open' audit row per ticket"
    ledger.close()


def test_state_is_bounded_by_max_orders() -> None:
    live = LiveReconciler(Realtime(max_orders=1000), "Asia/Shanghai")
    live.take([_parse(pay(f"o{i}", i)) for i in range(5000)])
    live.take([_parse(callback(f"c{i}", i)) for i in range(5000)])
    assert len(live.paid) == 1000 and len(live.waiting) == 1000
    live.tick(T0 + 10 * 86_400 * S)
    assert not live.paid and not live.waiting, "nothing outlives the horizon"


def test_off_by_default_and_then_the_engine_keeps_nothing_for_it() -> None:
    engine = Engine(Settings())
    assert engine.live is None and "live" not in engine.snapshot()
    assert Policy().realtime.enabled is False


@pytest.mark.parametrize("path", ["nowhere.at_all:factory", "json:no_such_factory"])
def test_a_query_hook_that_cannot_be_loaded_is_a_config_error(path: str) -> None:
    with pytest.raises(ConfigError, match=r"reconciliation\.realtime\.query"):
        Engine(settings(query=path))


def _parse(raw: bytes) -> Event:
    event = parse_line(raw)
    assert not isinstance(event, DeadLetter), event
    return event
