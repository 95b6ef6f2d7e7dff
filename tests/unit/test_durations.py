"""One duration parser for settings, scenario files and `--duration`: what it reads and refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel import durations
from kernel.durations import format_duration, parse_duration
from paypulse.simulator import parse_duration as scenario_parse_duration
from paypulse.simulator.fields import Duration as ScenarioDuration


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        (30, 30),
        (2.5, 2.5),
        ("30", 30),
        (" 0.2 ", 0.2),
        ("0", 0),
        ("500ms", 0.5),
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("1.5h", 5400),
        ("2d15h", 2 * 86400 + 15 * 3600),
        ("1m0.5s", 60.5),
        ("PT30S", 30),
        ("PT5M", 300),
        ("PT1H30M", 5400),
        ("P1D", 86400),
        ("P1DT2H", 93600),
        ("P1W", 604800),
        ("PT0.5S", 0.5),
        ("pt30s", 30),
        (timedelta(minutes=2), 120),
    ],
)
def test_reads_seconds_units_and_iso8601(written: object, seconds: float) -> None:
    assert parse_duration(written) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "written",
    ["", " ", "soon", "m20", "1h 30x", "5 minutes", "30m1h", "5m5m", "00:05:00", "P1M", "P", "PT", "5M",
     "1e3", "nan", float("nan"), float("inf"), True, None, [30], {"s": 30}],
)  # fmt: skip
def test_refuses_anything_else_and_says_how_to_write_it(written: object) -> None:
    with pytest.raises(ValueError, match=r"is not a duration; write it like '20m', '1h30m', .* or 'PT30S'$"):
        parse_duration(written)


@pytest.mark.parametrize("written", [-30, -0.5, "-30", "-5m", "-PT30S", timedelta(seconds=-1)])
def test_refuses_negative_durations_in_every_spelling(written: object) -> None:
    with pytest.raises(ValueError, match=r"is not a duration: durations cannot be negative$"):
        parse_duration(written)


def test_refuses_a_duration_too_long_for_a_timedelta() -> None:
    with pytest.raises(ValueError, match="too long to be a duration"):
        parse_duration(1e30)


def test_settings_scenarios_and_the_command_line_share_the_one_parser() -> None:
    assert scenario_parse_duration is parse_duration
    assert ScenarioDuration is durations.Duration


@given(st.integers(min_value=0, max_value=10**12))
def test_format_is_read_back_exactly(ms: int) -> None:
    duration = timedelta(milliseconds=ms)
    assert parse_duration(format_duration(duration)) == duration


@given(st.integers(min_value=0, max_value=10**9))
def test_all_three_spellings_agree(seconds: int) -> None:
    as_units = format_duration(timedelta(seconds=seconds))
    assert parse_duration(seconds) == parse_duration(str(seconds)) == parse_duration(as_units)
    assert parse_duration(f"PT{seconds}S") == parse_duration(seconds)
