"""A real Prometheus scrapes a real /metrics, runs PayPulse's rules, and parses every board query.

The registry here is built with prometheus_client directly, holding catalogue metrics; it is
what ``paypulse run`` exposes, in miniature. The boards' queries go to the same server, whose
API answers 400 to a PromQL syntax error.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from typer.testing import CliRunner

from dashboards.boards import all_boards, as_promql, expressions
from dashboards.metrics import by_name
from dashboards.provision import RULES_FILE, connect, push
from kernel.errors import PayPulseError
from paypulse.cli.main import app

pytestmark = pytest.mark.integration


def catalogue_registry() -> tuple[CollectorRegistry, dict[str, Any]]:
    """A registry holding a few catalogue metrics, created from the catalogue's own entries."""
    registry = CollectorRegistry()

    def family(name: str) -> tuple[str, str, tuple[str, ...]]:
        metric = by_name(name)
        return metric.name.removesuffix("_total"), metric.help, metric.labels

    metrics = {
        "accepted": Counter(*family("paypulse_events_accepted_total"), registry=registry),
        "payments": Counter(*family("paypulse_payments_total"), registry=registry),
        "watermark": Gauge(*family("paypulse_watermark_timestamp_seconds"), registry=registry),
        "success": Gauge(*family("paypulse_success_ratio"), registry=registry),
        "batch": Histogram(*family("paypulse_batch_duration_seconds"), registry=registry),
    }
    return registry, metrics


def test_prometheus_scrapes_metrics_and_reads_values_back(prometheus, metrics_endpoint) -> None:
    registry, m = catalogue_registry()
    m["accepted"].labels(type="payment").inc(42)
    m["watermark"].set(1_700_000_000)
    m["success"].labels(channel="alipay", merchant="all").set(0.97)
    m["batch"].observe(0.02)
    endpoint = metrics_endpoint(registry)

    prom = prometheus(targets=[endpoint.target])
    up = prom.wait_for('up{job="paypulse"}', lambda r: r and r[0]["value"][1] == "1")
    assert up[0]["metric"]["instance"] == endpoint.target

    prom.wait_for('paypulse_events_accepted_total{type="payment"}')
    assert prom.value('paypulse_events_accepted_total{type="payment"}') == 42
    assert prom.value("paypulse_watermark_timestamp_seconds") == 1_700_000_000
    assert prom.value('paypulse_success_ratio{channel="alipay", merchant="all"}') == 0.97
    assert prom.value("paypulse_batch_duration_seconds_count") == 1

    # What Prometheus learned about each family agrees with the catalogue.
    metadata = prom.get("/api/v1/metadata").json()["data"]
    scraped = {name: entries[0]["type"] for name, entries in metadata.items() if name.startswith("paypulse_")}
    assert scraped, metadata
    for name, kind in scraped.items():
        # OpenMetrics, which Prometheus asks for, names a counter family without "_total".
        entry = by_name(name + "_total" if kind == "counter" else name)
        assert kind == entry.type, name


def test_recording_rules_produce_values_from_scraped_counters(prometheus, metrics_endpoint) -> None:
    registry, m = catalogue_registry()
    succeeded = m["payments"].labels(channel="alipay", status="succeeded")
    failed = m["payments"].labels(channel="alipay", status="failed")
    endpoint = metrics_endpoint(registry)

    prom = prometheus(targets=[endpoint.target], rule_files=[RULES_FILE])
    prom.wait_for('paypulse_payments_total{channel="alipay"}', lambda r: len(r) == 2)
    succeeded.inc(80)
    failed.inc(20)

    result = prom.wait_for(
        "channel:paypulse_payment_success:ratio_rate5m",
        lambda r: bool(r) and r[0]["value"][1] not in ("NaN", "0"),
    )
    assert result[0]["metric"] == {
        "__name__": "channel:paypulse_payment_success:ratio_rate5m",
        "channel": "alipay",
    }
    assert float(result[0]["value"][1]) == pytest.approx(0.8)
    assert prom.value('channel:paypulse_payments:rate5m{channel="alipay"}') > 0

    rules = prom.get("/api/v1/rules").json()["data"]["groups"]
    assert {g["name"] for g in rules} == {"paypulse-recording", "paypulse-alerts"}
    assert all(r["health"] == "ok" for g in rules for r in g["rules"]), rules


def board_queries() -> list[tuple[str, str]]:
    """(board uid, PromQL) for every panel query and every variable's series selector."""
    queries = []
    for board in all_boards():
        queries += [(board["uid"], as_promql(e)) for e in expressions(board)]
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                selector = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["definition"])
                assert selector, variable["definition"]
                queries.append((board["uid"], as_promql(selector.group(1))))
    return queries


def test_every_board_query_is_valid_promql(prometheus) -> None:
    prom = prometheus(rule_files=[RULES_FILE])
    bad = prom.get("/api/v1/query", query="sum by (channel (paypulse_success_ratio)")
    assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"

    queries = board_queries()
    assert len(queries) > 40
    errors = []
    for uid, query in queries:
        response = prom.get("/api/v1/query", query=query)
        if response.status_code != 200:
            errors.append(f"{uid}: {query}: {response.json().get('error')}")
    assert errors == []


class FakeGrafana(BaseHTTPRequestHandler):
    """Grafana's dashboard endpoint as far as a push needs it; records what it receives."""

    received: ClassVar[list[tuple[str, str, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append((self.path, self.headers.get("Authorization", ""), body))
        if self.headers.get("Authorization") != "Bearer s3cret":
            self._reply(401, {"message": "invalid API key"})
            return
        uid = body["dashboard"]["uid"]
        self._reply(200, {"status": "success", "uid": uid, "version": 1, "url": f"/d/{uid}"})

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture
def grafana() -> Iterator[str]:
    FakeGrafana.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGrafana)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_push_overwrites_every_board_through_grafana_api(grafana: str) -> None:
    results = push(connect(grafana, "s3cret"), folder_uid="ops")
    assert [r["uid"] for r in results] == ["paypulse-overview", "paypulse-merchants", "paypulse-health"]
    path, auth, body = FakeGrafana.received[0]
    assert (path, auth) == ("/api/dashboards/db", "Bearer s3cret")
    assert body["overwrite"] is True and body["folderUid"] == "ops"
    assert body["dashboard"]["id"] is None and body["dashboard"]["title"] == "Payments overview"


def test_push_command_reads_token_from_named_variable_and_reports_refusal(grafana: str) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        app, ["dashboards", "push", "--url", grafana, "--token-env", "PP_TOKEN"], env={"PP_TOKEN": "s3cret"}
    )
    assert ok.exit_code == 0, ok.output
    assert "paypulse-health version 1 /d/paypulse-health" in ok.output

    refused = runner.invoke(
        app, ["dashboards", "push", "--url", grafana, "--token-env", "PP_TOKEN"], env={"PP_TOKEN": "wrong"}
    )
    assert isinstance(refused.exception, PayPulseError)
    assert "Grafana refused dashboard 'paypulse-overview'" in str(refused.exception)
