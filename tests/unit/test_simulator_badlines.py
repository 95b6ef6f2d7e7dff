"""Malformed lines: each kind fails parsing with the reason the dead-letter path expects."""

from __future__ import annotations

from collections import Counter

import pytest

from kernel.events import DeadLetter, parse_line
from paypulse.simulator import BAD_LINE_KINDS, Simulator, validate_scenario
from paypulse.simulator.badlines import make_bad_line

GOOD = {
    "type": "payment",
    "event_id": "e1",
    "ts": 1772416800000,
    "channel": "alipay",
    "order_id": "o1",
    "amount": 12.5,
    "status": "succeeded",
}


@pytest.mark.parametrize(("kind", "reason"), sorted(BAD_LINE_KINDS.items()))
def test_every_form_of_a_kind_is_dead_lettered_with_its_reason(kind: str, reason: str) -> None:
    forms = {make_bad_line(kind, GOOD, pick) for pick in range(20)}
    assert len(forms) >= 2  # the kind comes in several shapes
    for line in forms:
        parsed = parse_line(line)
        assert isinstance(parsed, DeadLetter), line
        assert parsed.reason == reason, (line, parsed.detail)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown bad-line kind"):
        make_bad_line("cosmic_ray", GOOD, 0)


def test_bad_line_rate_mixes_malformed_lines_of_every_kind_into_the_stream() -> None:
    scenario = validate_scenario(
        {"start": "2026-03-02T12:00:00+08:00", "duration": "3m", "rate_per_s": 30, "bad_line_rate": 0.01}
    )
    parsed = [parse_line(line) for line in Simulator(scenario).lines()]
    dead = [p for p in parsed if isinstance(p, DeadLetter)]
    good = len(parsed) - len(dead)
    assert len(dead) / good == pytest.approx(0.01, rel=0.25)
    assert set(Counter(d.reason for d in dead)) == set(BAD_LINE_KINDS.values())
    assert not [p for p in parsed if not isinstance(p, DeadLetter) and p.event_id.startswith("bad")]


def test_no_bad_lines_unless_asked() -> None:
    scenario = validate_scenario({"start": "2026-03-02T12:00:00+08:00", "duration": "2m", "rate_per_s": 30})
    assert not [line for line in Simulator(scenario).lines() if isinstance(parse_line(line), DeadLetter)]
