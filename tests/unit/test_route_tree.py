"""The routing tree: Alertmanager's first-match-wins with continue, inheritance, time of day; the
flat list as before; and trees refused with the place of the mistake."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerting.route_tree import tree_from_settings
from kernel.alerts import Alert, Impact, Scope
from kernel.errors import ConfigError
from kernel.settings import AlertingSettings, RouteSettings

# Monday 2026-03-02 10:00 in Beijing, and 23:00 the same day
OFFICE = datetime(2026, 3, 2, 2, 0, tzinfo=UTC).timestamp()
NIGHT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC).timestamp()
INTERVALS = {
    "office": {"weekdays": ["mon-fri"], "times": ["09:00-18:00"]},
    "night": {"times": ["22:00-24:00"]},
}


def alert(severity: str = "critical", channel: str | None = "alipay", merchant: str | None = None) -> Alert:
    t = datetime(2026, 3, 2, tzinfo=UTC)
    return Alert("success_rate_drop", Scope(channel, merchant), "firing", severity, t, t, 0.8, 0.97,  # type: ignore[arg-type]
                 Impact(1, 2), "act", "sum")  # fmt: skip


def tree(route: dict) -> AlertingSettings:
    return AlertingSettings(route=route, time_intervals=INTERVALS)  # type: ignore[arg-type]


TREE = tree(
    {
        "name": "group",
        "urls": ["dingtalk://root-token/"],
        "routes": [
            {"name": "vip", "merchants": ["m42"], "urls": ["wecombot://vip"], "continue": True},
            {"name": "office", "min_severity": "warning", "during": ["office"], "urls": ["json://h/office"]},
            {"name": "night-phone", "min_severity": "critical", "mute_during": ["night"],
             "routes": [{"name": "wechat-only", "channels": ["wechat"]}]},
        ],
    }
)  # fmt: skip


@pytest.mark.parametrize(
    ("case", "now", "expected"),
    [
        (alert(merchant="m42"), OFFICE, ["vip", "office"]),  # continue: vip, then the first that matches
        (alert(), OFFICE, ["office"]),  # first match wins: night-phone is not tried
        (alert(), NIGHT, ["night-phone"]),  # outside office hours; inherits the group's URLs
        (alert(channel="wechat"), NIGHT, ["wechat-only"]),  # the deepest match takes it
        (alert("info"), NIGHT, ["group"]),  # no child takes it: the root does
    ],
)
def test_first_match_wins_unless_continue(case: Alert, now: float, expected: list[str]) -> None:
    assert [r.name for r in tree_from_settings(TREE).match(case, now)] == expected


def test_a_child_without_urls_sends_to_its_parents_and_mute_intervals_mute() -> None:
    routes = {r.name: r for r in tree_from_settings(TREE).routes}
    assert routes["wechat-only"].targets == routes["group"].targets
    assert routes["night-phone"].muted(NIGHT) and not routes["night-phone"].muted(OFFICE)


def test_the_flat_list_still_sends_to_every_match() -> None:
    flat = AlertingSettings(
        routes=[
            RouteSettings(name="all", urls=["json://h/a"], min_severity="info"),  # type: ignore[list-item]
            RouteSettings(name="pay", urls=["json://h/b"], kinds=["success_rate_drop"]),  # type: ignore[list-item]
        ]
    )
    assert [r.name for r in tree_from_settings(flat).match(alert(), OFFICE)] == ["all", "pay"]


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (
            {"routes": [{"name": "x"}]},
            r"alerting\.route\.routes\[0\] \(name 'x'\): no urls here or on a route above",
        ),
        (
            {"urls": ["json://h/a"], "routes": [{"name": "a"}, {"name": "a"}]},
            r"routes\[1\] .*duplicate route name",
        ),
        (
            {"urls": ["json://h/a"], "routes": [{"name": "a", "kinds": ["nope"]}]},
            r"unknown alert kind\(s\) nope",
        ),
    ],
)
def test_a_broken_tree_names_the_place_and_the_fix(route: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        tree_from_settings(tree(route))


def test_a_route_naming_an_unknown_interval_is_a_settings_error() -> None:
    with pytest.raises(
        ValueError, match=r"route\.routes\[0\]\.during names time interval 'lunch'.*add \[alerting"
    ):
        tree({"urls": ["json://h/a"], "routes": [{"name": "a", "during": ["lunch"]}]})
