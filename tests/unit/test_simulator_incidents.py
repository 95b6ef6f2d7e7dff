"""Scripted incidents change exactly their scope during their window, and nothing else.

One run carries one incident of every kind, each on its own scope, all in the same window;
a twin run without incidents (same seed) is the baseline.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from kernel.events import Callback, Complaint, Payment, parse_line
from paypulse.simulator import Scenario, Simulator, validate_scenario

pytestmark = pytest.mark.integration  # long streams through the engine or simulator: not the fast loop

MINUTE = 60_000
INCIDENTS = [
    {"kind": "success_rate_drop", "channel": "alipay", "size": 0.2},
    {"kind": "stuck_payments", "channel": "wechat", "size": 0.3},
    {"kind": "callback_latency_high", "channel": "unionpay", "size": 10},
    {"kind": "callback_failure_high", "channel": "card", "size": 0.2},
    {"kind": "volume_drop", "merchant_id": "m00002", "size": 0.8},
    {"kind": "volume_spike", "merchant_id": "m00005", "size": 4},
    {"kind": "amount_deviation", "merchant_id": "m00003", "size": 3},
    {"kind": "complaint_spike", "merchant_id": "m00010", "size": 20, "category": "refund"},
]


def _scenario(incidents: list[dict[str, object]]) -> Scenario:
    return validate_scenario(
        {
            "start": "2026-03-02T12:00:00+08:00",
            "duration": "40m",
            "rate_per_s": 30,
            "seed": 4,
            "incidents": [{**inc, "start": "10m", "duration": "15m"} for inc in incidents],
        }
    )


@dataclass
class Run:
    scenario: Scenario
    lines: list[bytes]
    payments: list[Payment] = field(default_factory=list)
    callbacks: list[Callback] = field(default_factory=list)
    complaints: list[Complaint] = field(default_factory=list)

    def __post_init__(self) -> None:
        for line in self.lines:
            event = parse_line(line)
            {Payment: self.payments, Callback: self.callbacks, Complaint: self.complaints}[
                type(event)
            ].append(
                event  # type: ignore[arg-type]
            )
        self.begin = self.scenario.start_ms + 10 * MINUTE
        self.end = self.scenario.start_ms + 25 * MINUTE

    def during(self, ts: int) -> bool:
        return self.begin <= ts < self.end

    def pays(self, when: Callable[[int], bool], **scope: str) -> list[Payment]:
        return [p for p in self.payments if when(p.ts) and all(getattr(p, k) == v for k, v in scope.items())]

    def outside(self, ts: int) -> bool:
        return not self.during(ts)


@pytest.fixture(scope="module")
def hit() -> Run:
    scenario = _scenario(INCIDENTS)
    return Run(scenario, list(Simulator(scenario).lines()))


@pytest.fixture(scope="module")
def clean() -> Run:
    scenario = _scenario([])
    return Run(scenario, list(Simulator(scenario).lines()))


def _success(payments: list[Payment]) -> float:
    return sum(p.status == "succeeded" for p in payments) / len(payments)


def test_labels_are_the_scripted_incidents(hit: Run) -> None:
    labels = Simulator(hit.scenario).labels()
    assert [(lab["kind"], lab["scope"]["channel"], lab["scope"]["merchant_id"]) for lab in labels] == [
        (inc["kind"], inc.get("channel"), inc.get("merchant_id")) for inc in INCIDENTS
    ]
    assert {(lab["start"], lab["end"]) for lab in labels} == {
        ("2026-03-02T04:10:00Z", "2026-03-02T04:25:00Z")
    }


def test_labels_are_clipped_to_the_simulated_time() -> None:
    scenario = _scenario(INCIDENTS[:1]).model_copy(update={"duration": _scenario([]).duration / 2})
    assert [(lab["start"], lab["end"]) for lab in Simulator(scenario).labels()] == [
        ("2026-03-02T04:10:00Z", "2026-03-02T04:20:00Z")
    ]
    assert Simulator(scenario.model_copy(update={"duration": _scenario([]).duration / 8})).labels() == []


def test_blocks_without_an_incident_are_byte_identical_to_the_clean_run(hit: Run, clean: Run) -> None:
    def quiet(run: Run) -> set[bytes]:  # lines drawn in blocks (minutes) before or after the window
        return {line for line in run.lines if not 10 <= _block_of(line) < 25}

    assert quiet(hit) == quiet(clean)
    assert len(quiet(hit)) > 0.5 * len(hit.lines)


def _block_of(line: bytes) -> int:
    event_id = parse_line(line).event_id  # type: ignore[union-attr]
    return int(event_id[1:].split("-")[0])


def test_success_rate_drop_hits_its_channel_only_during_its_window(hit: Run) -> None:
    assert _success(hit.pays(hit.during, channel="alipay")) == pytest.approx(0.77, abs=0.015)
    assert _success(hit.pays(hit.outside, channel="alipay")) == pytest.approx(0.97, abs=0.006)
    assert _success(hit.pays(hit.during, channel="wechat")) == pytest.approx(0.965, abs=0.008)
    codes = [p.error_code for p in hit.pays(hit.during, channel="alipay") if p.status == "failed"]
    assert codes.count("CHANNEL_UNAVAILABLE") > 0.8 * len(codes)
    outside = [p.error_code for p in hit.pays(hit.outside) if p.status == "failed"]
    assert "CHANNEL_UNAVAILABLE" not in outside


def _missing_callbacks(run: Run, when: Callable[[int], bool], channel: str) -> float:
    called = {c.order_id for c in run.callbacks}
    last = run.scenario.end_ms - 10 * MINUTE  # later payments may still be waiting at the end
    paid = [p for p in run.pays(when, channel=channel) if p.status == "succeeded" and p.ts < last]
    return sum(p.order_id not in called for p in paid) / len(paid)


def test_stuck_payments_lose_callbacks_in_scope_and_bring_complaints(hit: Run, clean: Run) -> None:
    assert _missing_callbacks(hit, hit.during, "wechat") == pytest.approx(0.3, abs=0.03)
    assert _missing_callbacks(hit, hit.outside, "wechat") < 0.002
    assert _missing_callbacks(hit, hit.during, "alipay") < 0.002

    def unpaid_complaints(run: Run) -> int:
        return sum(c.channel == "wechat" and c.category == "paid_not_updated" for c in run.complaints)

    assert unpaid_complaints(hit) >= unpaid_complaints(clean) + 5


def _latency(run: Run, when: Callable[[int], bool], channel: str) -> float:
    return statistics.median(
        c.ts - c.paid_at for c in run.callbacks if when(c.paid_at) and c.channel == channel
    )


def test_callback_latency_high_multiplies_latency_in_scope(hit: Run) -> None:
    assert _latency(hit, hit.during, "unionpay") == pytest.approx(15_000, rel=0.15)
    assert _latency(hit, hit.outside, "unionpay") == pytest.approx(1_500, rel=0.1)
    assert _latency(hit, hit.during, "alipay") == pytest.approx(1_500, rel=0.1)


def _callback_failures(run: Run, when: Callable[[int], bool], channel: str) -> float:
    firsts: dict[str, Callback] = {}
    for cb in sorted(run.callbacks, key=lambda c: c.ts):
        if when(cb.paid_at) and cb.channel == channel:
            firsts.setdefault(cb.order_id, cb)
    return sum(cb.status == "failed" for cb in firsts.values()) / len(firsts)


def test_callback_failure_high_fails_callbacks_in_scope_and_they_are_retried(hit: Run) -> None:
    assert _callback_failures(hit, hit.during, "card") == pytest.approx(0.2, abs=0.03)
    assert _callback_failures(hit, hit.outside, "card") < 0.01
    assert _callback_failures(hit, hit.during, "wechat") < 0.01
    processed = {c.order_id for c in hit.callbacks if c.status == "processed"}
    failed = [c for c in hit.callbacks if c.status == "failed" and c.ts < hit.scenario.end_ms - 10 * MINUTE]
    assert failed and all(c.order_id in processed for c in failed)


def test_volume_incidents_change_only_their_merchant(hit: Run, clean: Run) -> None:
    def ratio(when_hit: Callable[[int], bool], merchant: str) -> float:
        return len(hit.pays(when_hit, merchant_id=merchant)) / len(
            clean.pays(clean.during if when_hit == hit.during else clean.outside, merchant_id=merchant)
        )

    assert ratio(hit.during, "m00002") == pytest.approx(0.2, abs=0.05)  # volume_drop 0.8
    assert ratio(hit.during, "m00005") == pytest.approx(4.0, rel=0.12)  # volume_spike x4
    assert ratio(hit.outside, "m00002") == pytest.approx(1.0, abs=0.06)
    assert ratio(hit.outside, "m00005") == pytest.approx(1.0, abs=0.1)
    assert ratio(hit.during, "m00001") == pytest.approx(1.0, abs=0.05)


def test_amount_deviation_multiplies_ticket_size_of_its_merchant(hit: Run) -> None:
    def median(when: Callable[[int], bool], merchant: str) -> float:
        return statistics.median(p.amount for p in hit.pays(when, merchant_id=merchant))

    assert median(hit.during, "m00003") / median(hit.outside, "m00003") == pytest.approx(3.0, rel=0.15)
    assert median(hit.during, "m00001") / median(hit.outside, "m00001") == pytest.approx(1.0, rel=0.1)


def test_complaint_spike_adds_complaints_of_its_category_to_its_merchant(hit: Run) -> None:
    spike = [c for c in hit.complaints if c.merchant_id == "m00010" and c.category == "refund"]
    assert sum(hit.during(c.ts) for c in spike) == pytest.approx(20 * 15, rel=0.15)
    assert sum(hit.outside(c.ts) for c in spike) <= 2
    others = [c for c in hit.complaints if c.merchant_id != "m00010" and hit.during(c.ts)]
    assert len(others) < 40  # the rest stay rare
