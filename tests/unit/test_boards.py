"""Boards, rules and the metric catalogue agree with each other, and the boards are well-formed JSON.

A query naming a metric that PayPulse does not expose draws an empty panel or a silent alert,
and nothing else complains; these tests are where it fails instead. PromQL syntax is checked
against a real Prometheus in tests/integration/test_prometheus_scrape.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dashboards.boards import BUILDERS, all_boards, as_promql, expressions, iter_panels
from dashboards.boards._grafana import GRID_WIDTH, Board, Target, timeseries
from dashboards.metrics import METRICS, by_name, metric_names, metrics_in, series_names
from dashboards.provision import RULES_FILE, export
from kernel.errors import PayPulseError
from paypulse.cli.main import app

RULES = yaml.safe_load(RULES_FILE.read_text())["groups"]
RECORDED = frozenset(r["record"] for g in RULES for r in g["rules"] if "record" in r)
RULE_EXPRS = [r["expr"] for g in RULES for r in g["rules"]]
#: Prometheus' own series that rules and boards may use besides PayPulse's.
PROMETHEUS_SERIES = frozenset({"up"})
KNOWN = series_names() | RECORDED | PROMETHEUS_SERIES
BOARDS = all_boards()


def unknown_metrics(expr: str) -> set[str]:
    return metrics_in(expr) - KNOWN


def variable_selectors(board: dict) -> list[str]:
    out = []
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["definition"])
            assert match, variable["definition"]
            out.append(match.group(1))
    return out


# --- the catalogue ---------------------------------------------------------------------------


def test_catalogue_names_are_unique_and_follow_naming_rules() -> None:
    names = metric_names()
    assert len(names) == len(set(names)) == 27
    for metric in METRICS:
        assert re.fullmatch(r"paypulse_[a-z_]+", metric.name), metric.name
        assert metric.name.endswith("_total") == (metric.type == "counter"), metric.name
        assert metric.help and metric.help.endswith("."), metric.name
        assert {label for label, _ in metric.values} <= set(metric.labels), metric.name


def test_catalogue_closed_label_values_come_from_the_core() -> None:
    assert "too_late" in by_name("paypulse_events_rejected_total").values_of("reason")
    assert by_name("paypulse_detector_score").values_of("kind")[0] == "success_rate_drop"
    assert by_name("paypulse_notifications_total").values_of("outcome") == ("delivered", "retry", "parked")
    assert by_name("paypulse_success_ratio").labels == ("channel", "merchant")


def test_by_name_names_an_unknown_metric() -> None:
    with pytest.raises(KeyError, match="paypulse_sucess_ratio"):
        by_name("paypulse_sucess_ratio")


# --- every query references known metrics ------------------------------------------------------


def test_metric_reference_check_catches_a_typo() -> None:
    assert unknown_metrics('avg(paypulse_sucess_ratio{merchant="all"})') == {"paypulse_sucess_ratio"}
    assert unknown_metrics("rate(paypulse_batch_duration_seconds_bucket[5m])") == set()


@pytest.mark.parametrize("board", BOARDS, ids=lambda b: b["uid"])
def test_board_queries_reference_only_catalogue_metrics_or_recorded_rules(board: dict) -> None:
    exprs = expressions(board) + variable_selectors(board)
    assert exprs
    for expr in exprs:
        assert metrics_in(expr), f"no metric found in {expr!r}"
        assert unknown_metrics(expr) == set(), expr


def test_rule_expressions_reference_only_catalogue_metrics_or_recorded_rules() -> None:
    assert len(RULE_EXPRS) == 17
    for expr in RULE_EXPRS:
        assert unknown_metrics(expr) == set(), expr


def test_every_catalogue_metric_is_on_a_board_or_in_a_rule() -> None:
    used = set().union(*(metrics_in(e) for b in BOARDS for e in expressions(b)), *map(metrics_in, RULE_EXPRS))
    unused = [m.name for m in METRICS if not set(m.series) & used]
    assert unused == []


def test_recorded_series_used_by_boards_are_defined() -> None:
    used = {name for b in BOARDS for e in expressions(b) for name in metrics_in(e) if ":" in name}
    assert used and used <= RECORDED


# --- board JSON --------------------------------------------------------------------------------


def test_boards_have_unique_uids_and_titles() -> None:
    assert (
        [b["uid"] for b in BOARDS]
        == list(BUILDERS)
        == ["paypulse-overview", "paypulse-merchants", "paypulse-health"]
    )
    assert sorted(b["title"] for b in BOARDS) == ["Merchants", "PayPulse health", "Payments overview"]


@pytest.mark.parametrize("board", BOARDS, ids=lambda b: b["uid"])
def test_panel_ids_are_unique_and_grid_positions_valid(board: dict) -> None:
    panels = list(iter_panels(board))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        pos = panel["gridPos"]
        assert set(pos) == {"x", "y", "w", "h"}, panel["title"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= GRID_WIDTH and pos["w"] >= 1, panel["title"]
        assert pos["y"] >= 0 and pos["h"] >= 1, panel["title"]
        covered = {
            (x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not covered & cells, f"panel {panel['title']!r} overlaps another"
        cells |= covered


@pytest.mark.parametrize("board", BOARDS, ids=lambda b: b["uid"])
def test_panels_query_the_datasource_variable_with_unique_ref_ids(board: dict) -> None:
    assert board["templating"]["list"][0]["name"] == "datasource"
    for panel in iter_panels(board):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)) and refs[0] == "A", panel["title"]


def test_merchants_board_is_templated_by_merchant() -> None:
    board = next(b for b in BOARDS if b["uid"] == "paypulse-merchants")
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["merchant"]["type"] == "query"
    assert variables["merchant"]["multi"] is True
    panel_exprs = [e for e in expressions(board) if "topk" not in e]
    assert panel_exprs and all('merchant=~"$merchant"' in e for e in panel_exprs)


def test_overview_board_shows_the_payment_signals() -> None:
    board = next(b for b in BOARDS if b["uid"] == "paypulse-overview")
    text = " ".join(expressions(board))
    for name in (
        "paypulse_success_ratio",
        "paypulse_volume_baseline_per_minute",
        "paypulse_amount_per_minute",
        "paypulse_callback_latency_seconds",
        "paypulse_callback_delayed_ratio",
        "paypulse_complaints_per_minute",
        "paypulse_stuck_payments",
        "paypulse_alerts_firing",
        "paypulse_detector_score",
    ):
        assert name in text
    assert any(p["type"] == "table" and p["title"] == "Alerts firing" for p in iter_panels(board))


def test_as_promql_fills_grafana_variables() -> None:
    assert as_promql('x{channel=~"${channel}"}[$__rate_interval]') == 'x{channel=~".*"}[1m]'
    with pytest.raises(KeyError, match=r"\$shop"):
        as_promql('x{merchant="$shop"}')


# --- the builder -------------------------------------------------------------------------------


def test_board_wraps_panels_that_do_not_fit_and_rows_start_new_lines() -> None:
    panel = timeseries("t", Target("up"))
    board = Board("u", "T", "d").add(panel, w=16, h=5).add(panel, w=16, h=3).row("r").add(panel, w=8)
    positions = [p["gridPos"] for p in board.to_json()["panels"]]
    assert positions == [
        {"x": 0, "y": 0, "w": 16, "h": 5},
        {"x": 0, "y": 5, "w": 16, "h": 3},
        {"x": 0, "y": 8, "w": 24, "h": 1},
        {"x": 0, "y": 9, "w": 8, "h": 8},
    ]
    assert [p["id"] for p in board.to_json()["panels"]] == [1, 2, 3, 4]


def test_board_refuses_a_panel_wider_than_the_grid_or_without_queries() -> None:
    with pytest.raises(ValueError, match="width"):
        Board("u", "T", "d").add(timeseries("t", Target("up")), w=25)
    with pytest.raises(ValueError, match="at least one query"):
        timeseries("t")


# --- export ------------------------------------------------------------------------------------


def test_export_command_writes_parseable_boards_and_the_rules(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["dashboards", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == [
        "boards/paypulse-health.json",
        "boards/paypulse-merchants.json",
        "boards/paypulse-overview.json",
        "rules/paypulse.rules.yml",
    ]
    assert str(out / "rules" / "paypulse.rules.yml") in result.output
    for board in BOARDS:
        assert json.loads((out / "boards" / f"{board['uid']}.json").read_text()) == board
    assert (out / "rules" / "paypulse.rules.yml").read_bytes() == RULES_FILE.read_bytes()


def test_export_refuses_a_file_as_target(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("x")
    with pytest.raises(PayPulseError, match="not a directory"):
        export(target)
