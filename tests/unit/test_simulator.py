"""Normal simulated traffic: deterministic, parseable, and shaped like a real payment day."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

import pytest

from kernel.events import Callback, Complaint, DeadLetter, Payment, parse_line
from paypulse.simulator import Scenario, Simulator, validate_scenario

HOUR_MS = 3_600_000


def _peak(**extra: object) -> Scenario:
    """Two hours around the noon peak: enough payments for tight tolerances, fast to draw."""
    return validate_scenario(
        {"start": "2026-03-02T11:00:00+08:00", "duration": "2h", "rate_per_s": 12, **extra}
    )


@pytest.fixture(scope="module")
def peak_lines() -> list[bytes]:
    return list(Simulator(_peak(), seed=1).lines())


@pytest.fixture(scope="module")
def peak_events(peak_lines: list[bytes]) -> list[Payment | Callback | Complaint]:
    parsed = [parse_line(line) for line in peak_lines]
    assert not [p for p in parsed if isinstance(p, DeadLetter)]
    return parsed  # type: ignore[return-value]


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not() -> None:
    scenario = _peak(duration="3m")
    first = list(Simulator(scenario, seed=42).lines())
    assert first == list(Simulator(scenario, seed=42).lines())
    assert first != list(Simulator(scenario, seed=43).lines())
    assert list(Simulator(scenario.model_copy(update={"seed": 42})).lines()) == first


def test_chunking_does_not_change_the_stream() -> None:
    sim = Simulator(_peak(duration="150s"), seed=3)
    whole = list(sim.lines())
    for step in (1000, 7_000, 3_600_000):
        assert [line for _, chunk in sim.chunks(step_ms=step) for line in chunk] == whole


def test_chunks_cover_the_duration_and_hold_lines_that_arrived_in_them() -> None:
    scenario = _peak(duration="65500ms")
    chunks = list(Simulator(scenario, seed=3).chunks(step_ms=1000))
    ends = [end for end, _ in chunks]
    assert ends == [scenario.start_ms + 1000 * k for k in range(1, 66)] + [scenario.end_ms]
    max_jitter = scenario.max_jitter.total_seconds() * 1000
    for end, lines in chunks:
        begin = end - 1000 if end != scenario.end_ms else end - 500
        for line in lines:
            ts = parse_line(line).ts  # type: ignore[union-attr]
            assert begin - max_jitter <= ts < end


def test_every_line_is_an_event_with_a_unique_id_except_exact_duplicates(peak_lines, peak_events) -> None:
    by_id: dict[str, set[bytes]] = defaultdict(set)
    for line, event in zip(peak_lines, peak_events, strict=True):
        by_id[event.event_id].add(line)
    assert all(len(lines) == 1 for lines in by_id.values())  # a repeated id is a byte-identical line
    duplicates = len(peak_lines) - len(by_id)
    assert 0.0005 < duplicates / len(peak_lines) < 0.002


def test_channel_shares_and_success_rates_match_the_scenario(peak_events) -> None:
    payments = [e for e in peak_events if type(e) is Payment]
    total = Counter(p.channel for p in payments)
    ok = Counter(p.channel for p in payments if p.status == "succeeded")
    expected = {c.name: (c.share, c.success_rate) for c in Scenario().channels}
    for channel, (share, rate) in expected.items():
        assert total[channel] / len(payments) == pytest.approx(share, abs=0.01), channel
        assert ok[channel] / total[channel] == pytest.approx(rate, abs=0.012), channel
    assert all((p.status == "failed") == (p.error_code is not None) for p in payments)
    assert all(p.currency == "CNY" and p.amount > 0 for p in payments)


def test_amounts_are_lognormal_per_channel_and_some_are_decimal_strings(peak_lines, peak_events) -> None:
    alipay = [e.amount for e in peak_events if type(e) is Payment and e.channel == "alipay"]
    card = [e.amount for e in peak_events if type(e) is Payment and e.channel == "card"]
    assert statistics.median(alipay) == pytest.approx(60, rel=0.05)
    assert statistics.median(card) == pytest.approx(220, rel=0.08)
    payments = [line for line in peak_lines if line.startswith(b'{"type":"payment"')]
    as_text = sum(b'"amount":"' in line for line in payments)
    assert 0.15 < as_text / len(payments) < 0.25


def test_merchant_volume_is_long_tailed(peak_events) -> None:
    merchants = Counter(e.merchant_id for e in peak_events if type(e) is Payment)
    n = merchants.total()
    ranked = merchants.most_common()
    assert ranked[0][0] == "m00001"
    assert ranked[0][1] / n == pytest.approx(1 / sum(1 / r for r in range(1, 2001)), abs=0.01)  # ~12%
    assert sum(count for _, count in ranked[:20]) / n > 0.4
    assert len(merchants) > 1500  # the long tail is there too


def test_callbacks_follow_succeeded_payments_with_lognormal_latency(peak_events) -> None:
    paid = {e.order_id: e for e in peak_events if type(e) is Payment and e.status == "succeeded"}
    failed_orders = {e.order_id for e in peak_events if type(e) is Payment and e.status == "failed"}
    end = max(e.ts for e in peak_events)
    # a payment paid in the last seconds may reach the stream after the end, its callback before
    callbacks = [e for e in peak_events if type(e) is Callback and e.paid_at < end - 30_000]
    assert all(cb.order_id in paid and cb.paid_at == paid[cb.order_id].ts for cb in callbacks)
    assert not failed_orders & {cb.order_id for cb in callbacks}
    latencies = [(cb.ts - cb.paid_at) / 1000 for cb in callbacks if cb.status == "processed"]
    assert statistics.median(latencies) == pytest.approx(1.5, rel=0.1)
    failures = [cb for cb in callbacks if cb.status == "failed"]
    assert 0.002 < len(failures) / len(callbacks) < 0.0045
    retried = {cb.order_id: cb.ts for cb in callbacks if cb.status == "processed"}
    for cb in failures:
        if cb.ts < end - 600_000:
            assert retried[cb.order_id] > cb.ts  # a processed retry comes later
    settled = [o for o, p in paid.items() if p.ts < end - 900_000]
    never = set(settled) - {cb.order_id for cb in callbacks}
    assert len(never) / len(settled) < 0.001


def test_complaints_are_rare_and_mostly_paid_not_updated(peak_events) -> None:
    complaints = [e for e in peak_events if type(e) is Complaint]
    assert 10 <= len(complaints) <= 60  # ~0.3 per minute at peak over two hours
    many = Simulator(_peak(duration="30m", complaints={"per_minute_at_peak": 30}), seed=2)
    categories = Counter(
        e.category for e in map(parse_line, many.lines()) if type(e) is Complaint
    ).most_common()
    assert categories[0][0] == "paid_not_updated"
    assert {c for c, _ in categories} == {"paid_not_updated", "refund", "charged_twice", "other"}


def test_daily_cycle_has_a_night_trough_and_two_peaks() -> None:
    day = validate_scenario({"start": "2026-03-02T00:00:00+08:00", "duration": "24h", "rate_per_s": 1})
    per_hour = Counter()
    for line in Simulator(day, seed=5).lines():
        event = parse_line(line)
        if type(event) is Payment:
            per_hour[(event.ts - day.start_ms) // HOUR_MS] += 1
    assert per_hour[4] < 0.25 * per_hour[12]
    assert per_hour[12] > per_hour[16] < per_hour[20]
    assert max(per_hour, key=per_hour.__getitem__) in (11, 12, 13, 19, 20, 21)


def test_events_arrive_out_of_order_but_never_30_seconds_late(peak_events) -> None:
    newest, worst, late = 0, 0, 0
    for event in peak_events:
        if event.ts < newest:
            late += 1
            worst = max(worst, newest - event.ts)
        newest = max(newest, event.ts)
    assert late > 0.01 * len(peak_events)  # there is disorder
    assert 1_000 < worst <= 8_000 < 30_000  # bounded by max_jitter, under the 30 s lateness


def test_no_jitter_means_no_disorder() -> None:
    lines = Simulator(_peak(duration="2m", max_jitter=0, duplicate_rate=0), seed=1).lines()
    stamps = [parse_line(line).ts for line in lines]  # type: ignore[union-attr]
    assert stamps == sorted(stamps)
