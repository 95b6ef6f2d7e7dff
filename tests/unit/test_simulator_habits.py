"""Normal weekly and daily habits of traffic: weekends and recurring volume changes, unlabelled."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from kernel.errors import ConfigError
from paypulse.simulator import Simulator, validate_scenario

pytestmark = pytest.mark.integration  # long streams through the engine or simulator: not the fast loop

_CST = timezone(timedelta(hours=8))


def _payments(scenario: dict) -> list[tuple[str, str]]:
    """(channel, local 'Www HH:MM') of each payment line."""
    out = []
    for line in Simulator(validate_scenario(scenario)).lines():
        event = orjson.loads(line)
        if event["type"] == "payment":
            local = datetime.fromisoformat(event["ts"]).astimezone(_CST)
            out.append((event["channel"], local.strftime("%a %H:%M")))
    return out


def test_weekend_ratio_scales_saturday_and_sunday_only() -> None:
    # 2026-03-06 is a Friday: the same noon hour on Friday, Saturday and Sunday
    counts = {}
    for day in ("06", "07", "08"):
        counts[day] = len(
            _payments(
                {
                    "start": f"2026-03-{day}T12:00:00+08:00",
                    "duration": "10m",
                    "rate_per_s": 5,
                    "seed": 3,
                    "daily": {"weekend_ratio": 2.0},
                }
            )
        )
    assert 1.7 < counts["07"] / counts["06"] < 2.3
    assert 1.7 < counts["08"] / counts["06"] < 2.3


def test_a_habit_repeats_every_local_day_on_its_channel_and_is_not_labelled() -> None:
    scenario = {
        "start": "2026-03-02T23:00:00+08:00",
        "duration": "25h",
        "rate_per_s": 5,
        "habits": [
            {"kind": "volume_drop", "channel": "card", "at": "23:30", "duration": "30m", "size": 0.95}
        ],
    }
    payments = _payments(scenario)
    card = Counter(
        when[:6] + ("in" if when[4:] >= "23:30" else "out")
        for channel, when in payments
        if channel == "card" and when[4:6] == "23"
    )
    # each day's 23:00-23:30 has card traffic; 23:30-24:00 has almost none, on both days
    assert card["Mon 23in"] < 0.15 * card["Mon 23out"]
    assert card["Tue 23in"] < 0.15 * card["Tue 23out"]
    alipay_late = [when for channel, when in payments if channel == "alipay" and when[4:] >= "23:30"]
    assert alipay_late, "other channels keep their traffic"
    assert Simulator(validate_scenario(scenario)).labels() == []


@pytest.mark.parametrize(
    ("habit", "field"),
    [
        ({"kind": "success_rate_drop", "at": "10:00", "duration": "5m", "size": 0.1}, "kind"),
        ({"kind": "volume_spike", "at": "25:00", "duration": "5m", "size": 3}, "at"),
        ({"kind": "volume_spike", "at": "10:00", "duration": "5m", "size": 0.5}, "size"),
        (
            {"kind": "volume_drop", "channel": "paypal", "at": "10:00", "duration": "5m", "size": 0.5},
            "paypal",
        ),
    ],
)
def test_a_bad_habit_is_refused_naming_the_field(habit: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        validate_scenario({"habits": [habit]})
