"""The scenario file: shipped scenarios load, and every mistake names its field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kernel.errors import ConfigError
from paypulse.simulator import Scenario, Simulator, load_scenario, parse_duration, validate_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
INC = '[[incidents]]\nstart = "1m"\nduration = "1m"\n'


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20m", 1200), ("1h30m", 5400), ("90s", 90), ("250ms", 0.25), ("2d", 172800), ("1.5h", 5400), (45, 45)],
)
def test_parse_duration_reads_what_people_write(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "m20", "1h 30x", "-5m", True])
def test_parse_duration_refuses_anything_else(text: object) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_shipped_scenarios_load_and_label_their_incidents() -> None:
    expected = {
        "demo.toml": (timedelta(hours=2), [("success_rate_drop", "alipay", "01:20", "01:35")]),
        "day.toml": (
            timedelta(hours=24),
            [
                ("success_rate_drop", "wechat", "02:00", "02:20"),
                ("stuck_payments", "alipay", "07:00", "07:15"),
            ],
        ),
        "clean-day.toml": (timedelta(hours=24), []),
        "drop.toml": (timedelta(hours=2), [("success_rate_drop", "alipay", "03:00", "03:15")]),
        "bad-lines.toml": (timedelta(minutes=10), []),
    }
    assert sorted(p.name for p in SCENARIOS.glob("*.toml")) == sorted(expected)
    for name, (duration, incidents) in expected.items():
        scenario = load_scenario(SCENARIOS / name)
        assert scenario.duration == duration, name
        labels = Simulator(scenario).labels()
        got = [
            (lab["kind"], lab["scope"]["channel"], lab["start"][11:16], lab["end"][11:16]) for lab in labels
        ]
        assert got == incidents, name
        assert all(lab["scope"]["merchant_id"] is None and lab["start"].endswith("Z") for lab in labels)
    demo = load_scenario(SCENARIOS / "demo.toml")
    assert demo.start == datetime(2026, 3, 2, 1, 0, tzinfo=UTC) and demo.rate_per_s == 50
    assert load_scenario(SCENARIOS / "drop.toml").rate_per_s == 10
    assert load_scenario(SCENARIOS / "bad-lines.toml").bad_line_rate == 0.01


def test_defaults_match_the_documented_traffic() -> None:
    scenario = Scenario()
    assert [(c.name, c.share, c.success_rate) for c in scenario.channels] == [
        ("alipay", 0.45, 0.97),
        ("wechat", 0.35, 0.965),
        ("unionpay", 0.12, 0.94),
        ("card", 0.08, 0.92),
    ]
    assert (scenario.rate_per_s, scenario.merchants.count, scenario.daily.utc_offset) == (50, 2000, "+08:00")
    assert (scenario.duplicate_rate, scenario.bad_line_rate) == (0.001, 0.0)


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "field", "hint"),
    [
        ("rate_per_sec = 5", "rate_per_sec", "Extra inputs are not permitted"),
        ("rate_per_s = 0", "rate_per_s", "greater than 0"),
        ('duration = "2 hours"', "duration", "write it like '20m'"),
        ("max_jitter = 40", "max_jitter", "30 s lateness"),
        ("start = 2026-03-02T09:00:00", "start", "timezone"),
        ('[daily]\nutc_offset = "8"', "daily.utc_offset", "+08:00"),
        (
            INC + 'kind = "outage"\nsize = 0.1',
            "incidents.0.kind",
            "unknown kind",
        ),
        (
            INC + 'kind = "success_rate_drop"\nchannel = "alipy"\nsize = 0.1',
            "incidents.0.channel",
            "unknown channel 'alipy'",
        ),
        (
            INC + 'kind = "volume_drop"\nmerchant_id = "m99999"\nsize = 0.5',
            "incidents.0.merchant_id",
            "m00001 (busiest) to m02000",
        ),
        (
            INC + 'kind = "success_rate_drop"\nsize = 15',
            "incidents.0",
            "absolute drop",
        ),
        (
            '[[incidents]]\nkind = "volume_spike"\nstart = "later"\nduration = "1m"\nsize = 2',
            "incidents.0.start",
            "neither an offset",
        ),
        (
            INC + 'kind = "volume_spike"\nsize = 2\ncategory = "refund"',
            "incidents.0",
            "complaint_spike only",
        ),
        (
            '[[channels]]\nname = "alipay"\nshare = 0.5\nsuccess_rate = 0.9',
            "channels",
            "sum to 1",
        ),
    ],
)
def test_a_wrong_setting_is_a_config_error_naming_the_field(
    tmp_path: Path, text: str, field: str, hint: str
) -> None:
    message = _error(tmp_path, text)
    assert f"invalid setting {field}" in message
    assert hint in message
    assert str(tmp_path / "s.toml") in message


def test_missing_or_broken_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_scenario(tmp_path / "nope.toml")
    assert "not valid TOML" in _error(tmp_path, "duration = ")


def test_overrides_replace_the_file_values() -> None:
    scenario = load_scenario(SCENARIOS / "demo.toml", seed=9, duration="10m")
    assert (scenario.seed, scenario.duration) == (9, timedelta(minutes=10))
    with pytest.raises(ConfigError, match="invalid setting duration"):
        load_scenario(SCENARIOS / "demo.toml", duration="0s")


def test_incident_start_is_an_offset_or_an_aware_time() -> None:
    scenario = validate_scenario(
        {
            "start": "2026-03-02T09:00:00+08:00",
            "incidents": [
                {"kind": "volume_drop", "start": "1h30m", "duration": "10m", "size": 0.5},
                {"kind": "volume_drop", "start": "2026-03-02T11:00:00+08:00", "duration": "10m", "size": 0.5},
            ],
        }
    )
    windows = [inc.window(scenario.start) for inc in scenario.incidents]
    assert [w[0].strftime("%H:%M") for w in windows] == ["02:30", "03:00"]
    with pytest.raises(ConfigError, match="needs a zone"):
        validate_scenario(
            {
                "incidents": [
                    {"kind": "volume_drop", "start": "2026-03-02T11:00:00", "duration": "1m", "size": 0.5}
                ]
            }
        )
