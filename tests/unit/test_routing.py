"""The routing table: which routes an alert change goes to, and which tables are refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from alerting.routing import Route, match_routes, routes_from_settings, target_key
from kernel.alerts import Alert, Impact, Scope
from kernel.errors import ConfigError
from kernel.settings import AlertingSettings, RouteSettings

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)

TABLE = [
    Route("everything", ("t1",), frozenset(), "info"),
    Route("oncall", ("t2",), frozenset(), "critical"),
    Route("payments-team", ("t3",), frozenset({"success_rate_drop", "stuck_payments"}), "warning"),
    Route("risk", ("t4",), frozenset({"amount_deviation"}), "info"),
]


def alert(kind: str, severity: str) -> Alert:
    return Alert(kind, Scope("alipay"), "firing", severity, T0, T0, 0.8, 0.95, Impact(10, 100), "act", "sum")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "severity", "expected"),
    [
        ("success_rate_drop", "critical", ["everything", "oncall", "payments-team"]),
        ("success_rate_drop", "warning", ["everything", "payments-team"]),
        ("success_rate_drop", "info", ["everything"]),
        ("stuck_payments", "warning", ["everything", "payments-team"]),
        ("amount_deviation", "info", ["everything", "risk"]),
        ("volume_spike", "warning", ["everything"]),
        ("volume_spike", "critical", ["everything", "oncall"]),
    ],
)
def test_alert_goes_to_every_matching_route(kind: str, severity: str, expected: list[str]) -> None:
    assert [r.name for r in match_routes(TABLE, alert(kind, severity))] == expected


def test_no_matching_route_gives_empty_list() -> None:
    assert match_routes(TABLE[1:2], alert("volume_drop", "warning")) == []


def route(name: str, urls: list[str], **kw: object) -> RouteSettings:
    return RouteSettings(name=name, urls=[SecretStr(u) for u in urls], **kw)  # type: ignore[arg-type]


def test_routes_from_settings_keeps_filters_and_hashes_urls() -> None:
    settings = AlertingSettings(
        routes=[
            route("oncall", ["json://127.0.0.1:9/a", "json://127.0.0.1:9/a", "json://127.0.0.1:9/b"]),
            route("risk", ["json://127.0.0.1:9/c"], kinds=["amount_deviation"], min_severity="info"),
        ]
    )
    routes = routes_from_settings(settings)
    assert [r.name for r in routes] == ["oncall", "risk"]
    assert routes[0].targets == (target_key("json://127.0.0.1:9/a"), target_key("json://127.0.0.1:9/b"))
    assert routes[1].kinds == frozenset({"amount_deviation"})
    assert routes[1].min_severity == "info"
    assert all("127.0.0.1" not in key for r in routes for key in r.targets)


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        ([route("a", ["json://h/x"], kinds=["succes_rate_drop"])], "unknown alert kind(s) succes_rate_drop"),
        ([route("a", [])], "urls is empty"),
        ([route("a", ["json://h/x"]), route("a", ["json://h/y"])], "duplicate route name"),
        ([route(" ", ["json://h/x"])], "name must not be empty"),
    ],
)
def test_bad_routing_table_is_a_config_error(routes: list[RouteSettings], message: str) -> None:
    with pytest.raises(ConfigError, match=r"alerting\.routes\[\d\]") as err:
        routes_from_settings(AlertingSettings(routes=routes))
    assert message in str(err.value)
