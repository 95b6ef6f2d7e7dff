"""The exporter, the metric catalogue, the rules and the boards agree on every label value.

A rule matching ``outcome="sent"`` while the exporter says ``outcome="delivered"`` matches
nothing, and nothing complains: the backlog alert then fired on any backlog, delivered or not.
These tests derive every value the exporter can emit from the code that produces it, check the
catalogue against that, scrape a real exporter, and hold every label matcher in the rules, their
promtool tests and the board queries to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args, get_type_hints

import pytest
import yaml
from prometheus_client import CollectorRegistry

from alerting.delivery.dispatcher import OUTCOMES, Dispatcher, Outcome
from alerting.notifications import DeliveryResult, Notification
from alerting.outbox import Outbox
from dashboards.boards import all_boards, expressions
from dashboards.metrics import METRICS, SCORE_ONLY_KINDS, by_name, metrics_in, series_names
from dashboards.provision import RULES_DIR, RULES_FILE
from detectors.suite import build_detectors
from engine.core import Engine
from kernel.alerts import KINDS, UNSCORED_KINDS, Alert, Impact, Scope, Severity, Status
from kernel.clock import ManualClock
from kernel.errors import REJECT_REASONS
from kernel.events import COMPLAINT_CATEGORIES, Callback, Complaint, Payment
from kernel.observation import Observation
from kernel.settings import DetectorSettings, Settings
from paypulse.exposition import EngineCollector
from paypulse.simulator import Simulator, validate_scenario

# --- what the exporter can emit, from the code that emits it -------------------------------------


def _literal(struct: type, name: str) -> tuple[str, ...]:
    return get_args(get_type_hints(struct)[name])


def _quantiles() -> tuple[str, ...]:
    """``latency_p50`` ... on an Observation become ``quantile="0.5"`` ...; the exporter reads those."""
    fields = [f for f in Observation.__dataclass_fields__ if re.fullmatch(r"latency_p\d+", f)]
    return tuple(f"{float('0.' + f.removeprefix('latency_p')):g}" for f in fields)


def _detector_kinds() -> tuple[str, ...]:
    """The kinds of every detector the engine builds, for a channel and for a merchant, in order."""
    kinds: dict[str, None] = {}
    for scope in (Scope("alipay"), Scope("alipay", "m00001")):
        kinds |= dict.fromkeys(d.kind for d in build_detectors(scope, DetectorSettings(), 10_000))
    return tuple(kinds)


#: (metric, label) -> every value the exporter can give that label.
EMITTED: dict[tuple[str, str], tuple[str, ...]] = {
    ("paypulse_events_accepted_total", "type"): tuple(
        t.__struct_config__.tag
        for t in (Payment, Callback, Complaint)  # type: ignore[attr-defined]
    ),
    ("paypulse_events_rejected_total", "reason"): REJECT_REASONS,
    ("paypulse_payments_total", "status"): _literal(Payment, "status"),
    ("paypulse_callbacks_total", "status"): _literal(Callback, "status"),
    ("paypulse_complaints_total", "category"): COMPLAINT_CATEGORIES,
    ("paypulse_complaints_per_minute", "category"): COMPLAINT_CATEGORIES,
    ("paypulse_callback_latency_seconds", "quantile"): _quantiles(),
    ("paypulse_detector_score", "kind"): _detector_kinds(),
    ("paypulse_alerts_firing", "kind"): KINDS,
    ("paypulse_alerts_firing", "severity"): get_args(Severity),
    ("paypulse_alerts_total", "kind"): KINDS,
    ("paypulse_alerts_total", "status"): get_args(Status),
    ("paypulse_notifications_total", "outcome"): get_args(Outcome),
}
#: Labels Prometheus itself adds to every scraped series.
TARGET_LABELS = frozenset({"job", "instance"})


def test_derived_values_are_what_the_code_says() -> None:
    assert (
        EMITTED[("paypulse_notifications_total", "outcome")] == OUTCOMES == ("delivered", "retry", "parked")
    )
    assert EMITTED[("paypulse_events_accepted_total", "type")] == ("payment", "callback", "complaint")
    assert EMITTED[("paypulse_callback_latency_seconds", "quantile")] == ("0.5", "0.95", "0.99")
    assert EMITTED[("paypulse_alerts_firing", "severity")] == ("critical", "warning", "info")


def test_catalogue_lists_exactly_the_values_the_exporter_can_emit() -> None:
    closed = {(m.name, label): values for m in METRICS for label, values in m.values}
    assert {k: set(v) for k, v in closed.items()} == {k: set(v) for k, v in EMITTED.items()}


def test_every_alert_kind_has_a_detector_but_live_reconciliation_and_only_score_kinds_do_not_alert() -> None:
    assert set(_detector_kinds()) == (set(KINDS) - set(UNSCORED_KINDS)) | set(SCORE_ONLY_KINDS)


# --- a real scrape ------------------------------------------------------------------------------

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@dataclass
class ScriptedNotifier:
    script: list[DeliveryResult] = field(default_factory=list)
    name: str = "json://h/p"

    def send(self, n: Notification) -> DeliveryResult:
        return self.script.pop(0) if self.script else DeliveryResult(True, False, "delivered")


def _alert(channel: str) -> Alert:
    return Alert("success_rate_drop", Scope(channel), "firing", "critical", T0, T0, 0.8, 0.97, Impact(10, 99),
                 "act", "sum")  # fmt: skip


@pytest.fixture
def scraped(tmp_path: Path) -> Iterator[list[tuple[str, dict[str, str]]]]:
    """Every (sample name, labels) a real collector exposes over a simulated stream and deliveries."""
    engine = Engine(Settings())
    scenario = validate_scenario(
        {"start": "2026-03-02T12:00:00+08:00", "duration": "3m", "rate_per_s": 20, "bad_line_rate": 0.05}
    )
    engine.process(list(Simulator(scenario).lines()))
    clock = ManualClock(1_000_000.0)
    outbox = Outbox(tmp_path / "outbox.sqlite3", clock)
    ok = DeliveryResult(True, False, "delivered")
    # one target's rows go in order: a permanent failure holds nothing back, a retried one does
    script = [DeliveryResult(False, False, "HTTP 400"), ok, DeliveryResult(False, True, "HTTP 503")]
    dispatcher = Dispatcher(outbox, {"t1": ScriptedNotifier(script)}, clock)  # type: ignore[dict-item]
    for channel in ("alipay", "wechat", "card"):
        outbox.enqueue("oncall", ["t1"], _alert(channel), "first")
    assert sorted(o.outcome for o in dispatcher.run_once()) == ["delivered", "parked", "retry"]
    registry = CollectorRegistry()
    registry.register(EngineCollector(lambda: engine.view(), dispatcher=dispatcher))
    yield [(s.name, s.labels) for family in registry.collect() for s in family.samples]
    outbox.close()


def test_a_real_scrape_uses_only_catalogue_names_labels_and_values(
    scraped: list[tuple[str, dict[str, str]]],
) -> None:
    families = {m.name: m for m in METRICS}
    known = series_names()
    problems = []
    for name, labels in scraped:
        if name not in known:
            problems.append(f"{name} is not in the catalogue")
            continue
        metric = families[next(m for m in families if name in families[m].series)]
        expected = set(metric.labels) | ({"le"} if name.endswith("_bucket") else set())
        if set(labels) != expected:
            problems.append(f"{name} has labels {sorted(labels)}, the catalogue says {sorted(expected)}")
        for label, value in labels.items():
            allowed = metric.values_of(label)
            if allowed is not None and value not in allowed:
                problems.append(f'{name}{{{label}="{value}"}}: not one of {allowed}')
    assert problems == []
    outcomes = {labels["outcome"] for name, labels in scraped if name == "paypulse_notifications_total"}
    assert outcomes == {"delivered", "retry", "parked"}
    reasons = {labels["reason"] for name, labels in scraped if name == "paypulse_events_rejected_total"}
    assert reasons, "the stream had bad lines"


# --- every matcher in the rules, their promtool tests and the boards -----------------------------

_SELECTOR = re.compile(r"([A-Za-z_:][\w:]*)?\s*\{([^}]*)\}")
_MATCHER = re.compile(r'\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")

RULE_GROUPS = yaml.safe_load(RULES_FILE.read_text())["groups"]
RECORDED = {r["record"]: r["expr"] for g in RULE_GROUPS for r in g["rules"] if "record" in r}
RULE_EXPRS = [r["expr"] for g in RULE_GROUPS for r in g["rules"]]


def _promtool_selectors() -> list[str]:
    """Series and expressions written in the promtool tests: they must look like real scrapes too."""
    out = []
    for path in sorted((RULES_DIR / "tests").glob("*.yml")):
        for case in yaml.safe_load(path.read_text())["tests"]:
            out += [s["series"] for s in case.get("input_series", [])]
            for check in case.get("promql_expr_test", []):
                out.append(check["expr"])
                out += [s["labels"] for s in check.get("exp_samples", [])]
            for check in case.get("alert_rule_test", []):
                for alert in check.get("exp_alerts", []):
                    labels = alert.get("exp_labels", {})
                    if "outcome" in labels or "reason" in labels or "kind" in labels:
                        pairs = ", ".join(f'{k}="{v}"' for k, v in labels.items() if k not in ("alertname",))
                        out.append(f"{{{pairs}}}")
    return out


def _board_selectors() -> list[str]:
    out = []
    for board in all_boards():
        out += expressions(board)
        for variable in board["templating"]["list"]:
            match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable.get("definition") or "")
            if match:
                out.append(f"{match.group(1)} by ({match.group(2)})")  # the label it lists must exist
    return out


SOURCES = (
    [(f"rule: {e}", e) for e in RULE_EXPRS]
    + [(f"promtool test: {e}", e) for e in _promtool_selectors()]
    + [(f"board: {e}", e) for e in _board_selectors()]
)


def _recorded_labels(name: str) -> set[str]:
    """Labels a recorded series can carry: those its expression groups by, through other recordings."""
    expr = RECORDED[name]
    labels = {x.strip() for group in _GROUPING.findall(expr) for x in group.split(",") if x.strip()}
    for used in metrics_in(expr) & RECORDED.keys():
        labels |= _recorded_labels(used)
    return labels


def _labels_of(name: str) -> tuple[set[str], dict[str, tuple[str, ...]]] | None:
    """Label names a series may be matched on and the closed ones' values; None for Prometheus' own."""
    if name in RECORDED:
        return _recorded_labels(name), {}
    family = next((m for m in METRICS if name in m.series), None)
    if family is None:
        return None
    names = set(family.labels) | TARGET_LABELS | ({"le"} if name.endswith("_bucket") else set())
    return names, {label: EMITTED[(family.name, label)] for label, _ in family.values}


def _literal_alternatives(pattern: str) -> list[str] | None:
    """``a|b`` as ``["a", "b"]``; None for a real regex or a Grafana variable, which are not checked."""
    if "$" in pattern:
        return None
    parts = pattern.split("|")
    return parts if all(re.fullmatch(r"[\w.:-]*", p) for p in parts) else None


def problems_in(expr: str) -> list[str]:
    """Every matcher or grouping in ``expr`` that names a metric, label or value PayPulse never emits."""
    problems = [f"unknown metric {m}" for m in metrics_in(expr) - series_names() - RECORDED.keys() - {"up"}]
    used: set[str] = set()
    for name, body in _SELECTOR.findall(expr):
        found = _labels_of(name) if name else None
        matchers = _MATCHER.findall(body)
        if "".join(m.group(0) for m in _MATCHER.finditer(body)).strip() != body.strip():
            problems.append(f"cannot read the matchers {{{body}}}")
        for label, op, value in matchers:
            if found is None:
                if name in ("", "up"):
                    allowed = _values_anywhere(label)
                    if allowed is not None and value not in allowed and op in ("=", "!="):
                        problems.append(f'{label}="{value}" is a value no PayPulse metric has')
                continue
            names, closed = found
            if label not in names:
                problems.append(f"{name} has no label {label!r} (it has {sorted(names)})")
            values = [value] if op in ("=", "!=") else _literal_alternatives(value)
            for one in values or []:
                if label in closed and one not in closed[label]:
                    problems.append(f'{name}{{{label}{op}"{value}"}}: {one!r} is never emitted; use one of '
                                    f"{closed[label]}")  # fmt: skip
    for name in metrics_in(expr):
        found = _labels_of(name)
        if found is not None:
            used |= found[0]
    for group in _GROUPING.findall(expr):
        for label in (x.strip() for x in group.split(",")):
            if label and used and label not in used:
                problems.append(f"groups by {label!r}, which none of {sorted(metrics_in(expr))} has")
    return problems


def _values_anywhere(label: str) -> set[str] | None:
    """All values a closed label has on any metric, for a selector without a metric name."""
    values = [v for (_, lbl), vs in EMITTED.items() if lbl == label for v in vs]
    return set(values) if values else None


@pytest.mark.parametrize(("where", "expr"), SOURCES, ids=[w[:90] for w, _ in SOURCES])
def test_every_matcher_names_a_label_and_value_the_exporter_emits(where: str, expr: str) -> None:
    assert problems_in(expr) == [], where


def test_sources_cover_rules_promtool_tests_and_boards() -> None:
    kinds = {where.split(":")[0] for where, _ in SOURCES}
    assert kinds == {"rule", "promtool test", "board"}
    assert any('outcome="delivered"' in expr for _, expr in SOURCES)


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ('sum(increase(paypulse_notifications_total{outcome="sent"}[10m]))', "'sent' is never emitted"),
        ('paypulse_alerts_firing{severity="page"}', "'page' is never emitted"),
        ('paypulse_events_rejected_total{reason=~"bad_json|too_old"}', "'too_old' is never emitted"),
        ('paypulse_payments_total{state="failed"}', "has no label 'state'"),
        ("sum by (route) (paypulse_payments_total)", "groups by 'route'"),
        ("rate(paypulse_payment_total[5m])", "unknown metric paypulse_payment_total"),
        ('channel:paypulse_payments:rate5m{merchant="m1"}', "has no label 'merchant'"),
    ],
)
def test_the_check_catches_what_it_is_for(expr: str, problem: str) -> None:
    found = problems_in(expr)
    assert any(problem in p for p in found), found


def test_the_check_accepts_variables_regexes_and_open_labels() -> None:
    assert problems_in('paypulse_success_ratio{channel=~"$channel", merchant!="all"}') == []
    assert problems_in('paypulse_callback_latency_seconds{quantile=~"0.95|0.99"}') == []
    assert (
        problems_in("histogram_quantile(0.9, sum by (le) (rate(paypulse_batch_duration_seconds_bucket[5m])))")
        == []
    )
    assert by_name("paypulse_notifications_total").values_of("outcome") == OUTCOMES
