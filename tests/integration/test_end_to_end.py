"""The whole path, for real: simulated events -> the Bytewax dataflow -> alert log, dead letters,
banner and /metrics scraped by a real Prometheus."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from bytewax.testing import run_main

from dashboards.metrics import metric_names
from dataflows.flow import build_flow
from engine.core import Engine
from engine.outputs import Outputs
from engine.sources import FileSource
from kernel.clock import ManualClock
from kernel.settings import Settings
from paypulse.exposition import EngineCollector, build_registry
from paypulse.simulator import Simulator, load_scenario, write_lines
from statuspage import Banner, BannerStore

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
pytestmark = pytest.mark.integration


def simulate(path: Path, scenario: str, **overrides: object) -> Simulator:
    sim = Simulator(load_scenario(SCENARIOS / scenario, **overrides))
    with path.open("wb") as f:
        write_lines(sim.chunks(60_000), lambda line: f.write(line + b"\n"))
    return sim


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def replay(events: Path, tmp: Path, banner: Banner | None = None) -> tuple[Engine, Settings]:
    settings = Settings(dead_letter=tmp / "dead.jsonl", alerting={"log": tmp / "alerts.jsonl"})
    event_clock = ManualClock()
    if banner is not None:
        banner.clock = event_clock
    outputs = Outputs(
        settings.alerting.log, settings.dead_letter, [banner] if banner else [], event_clock=event_clock
    )
    engines: list[Engine] = []
    run_main(build_flow(settings, FileSource(events), outputs, engines.append))
    outputs.close()
    return engines[-1], settings


@pytest.fixture(scope="module")
def drop_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("drop")
    events = tmp / "events.jsonl"
    sim = simulate(events, "drop.toml")
    banner = Banner(
        BannerStore(tmp / "banner.sqlite3"), ManualClock(), hold_s=300, message="Payments may be delayed."
    )
    engine, settings = replay(events, tmp, banner)
    return {"tmp": tmp, "events": events, "labels": sim.labels(), "engine": engine, "settings": settings,
            "banner": banner}  # fmt: skip


def test_injected_success_rate_drop_gives_one_firing_and_one_resolved_alert(drop_run: dict) -> None:
    alerts = read_jsonl(drop_run["settings"].alerting.log)
    assert [(a["kind"], a["scope"]["channel"], a["scope"]["merchant_id"], a["status"]) for a in alerts] == [
        ("success_rate_drop", "alipay", None, "firing"),
        ("success_rate_drop", "alipay", None, "resolved"),
    ]
    firing, resolved = alerts
    label = drop_run["labels"][0]
    assert firing["severity"] == "critical"
    assert label["start"] <= firing["detected_at"] <= label["end"]
    assert firing["started_at"] <= firing["detected_at"]
    assert firing["impact"]["orders_per_min"] > 0 and firing["impact"]["channels"] == ["alipay"]
    assert firing["suggested_action"] and "alipay" in firing["summary"]
    assert resolved["resolved_at"] >= label["end"]
    assert resolved["fingerprint"] == firing["fingerprint"] and resolved["id"] != firing["id"]


def test_banner_turns_on_for_the_incident_and_off_after_recovery(drop_run: dict) -> None:
    history = [(t.on, t.channel, t.reason) for t in reversed(drop_run["banner"].history())]
    assert history[0] == (True, "alipay", "alert_firing")
    assert (False, "alipay", "recovered") in history
    assert drop_run["banner"].state().on is False


def test_replay_cli_prints_speed_and_scores_against_labels(drop_run: dict, tmp_path: Path) -> None:
    """Also: another process replaying the same file writes the same alert log, byte for byte (no
    wall time, hash seed or thread timing enters the alerts)."""
    labels = tmp_path / "labels.jsonl"
    labels.write_bytes(b"".join(orjson.dumps(label) + b"\n" for label in drop_run["labels"]))
    command = [sys.executable, "-m", "paypulse", "replay", str(drop_run["events"])]
    command += ["--alerts-out", str(tmp_path / "alerts.jsonl"), "--labels", str(labels)]
    command += ["--dead-letter", str(tmp_path / "dead.jsonl")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "events/s" in result.stderr
    total_row = next(line for line in result.stdout.splitlines() if line.strip("│ ").startswith("all"))
    cells = [c.strip() for c in total_row.strip("│ ").split("│")]
    assert cells[1:6] == ["1", "1", "1", "1.00", "1.00"]  # labels, found, alerts, precision, recall
    assert (tmp_path / "alerts.jsonl").read_bytes() == drop_run["settings"].alerting.log.read_bytes()


def test_every_malformed_line_lands_in_the_dead_letter_file_with_its_reason(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    simulate(events, "bad-lines.toml")
    engine, settings = replay(events, tmp_path)
    dead = read_jsonl(settings.dead_letter)
    assert dead, "the scenario injects malformed lines"
    assert {d["reason"] for d in dead} >= {
        "bad_json",
        "missing_field",
        "bad_amount",
        "bad_timestamp",
        "unknown_type",
    }
    assert all(("raw" in d or "raw_base64" in d) and d["detail"] for d in dead)
    assert sum(engine.stats.rejected.values()) == len(dead)
    lines = events.read_bytes().splitlines()
    accepted = sum(engine.stats.accepted.values()) + engine.stats.duplicates
    assert accepted + len(dead) == len(lines)


def test_metrics_are_scraped_by_a_real_prometheus(drop_run: dict, prometheus, metrics_endpoint) -> None:  # type: ignore[no-untyped-def]
    engine = drop_run["engine"]
    registry, _batch = build_registry(EngineCollector(lambda: engine.view(), drop_run["banner"]))
    endpoint = metrics_endpoint(registry)
    prom = prometheus(targets=[endpoint.target])
    prom.wait_for("up", lambda r: r and r[0]["value"][1] == "1", timeout=30)
    result = prom.wait_for('paypulse_events_accepted_total{type="payment"}', timeout=30)
    assert float(result[0]["value"][1]) == engine.stats.accepted["payment"]
    ratio = prom.query('paypulse_success_ratio{channel="alipay",merchant="all"}')
    assert 0.8 < float(ratio[0]["value"][1]) <= 1.0
    alerts = prom.query('paypulse_alerts_total{kind="success_rate_drop"}')
    assert sorted((r["metric"]["status"], r["value"][1]) for r in alerts) == [
        ("firing", "1"),
        ("resolved", "1"),
    ]


def test_exposed_metrics_are_all_in_the_catalogue(drop_run: dict) -> None:
    registry, batch = build_registry(EngineCollector(lambda: drop_run["engine"].view(), drop_run["banner"]))
    batch.observe(0.01)
    exposed = {family.name for family in registry.collect()}
    catalogue = {name.removesuffix("_total") for name in metric_names()}
    assert exposed <= catalogue, exposed - catalogue
