"""The Prometheus rules pass promtool: syntax (`check rules`) and behaviour (`test rules`).

The promtool tests in dashboards/rules/tests show every alert firing and staying quiet; the
checks here also make sure no alert was added without such a test, and that the tests would
notice a changed threshold.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from dashboards.provision import RULES_DIR, RULES_FILE, rule_files

pytestmark = pytest.mark.integration

PROMTOOL = "/usr/bin/promtool"
TEST_FILES = sorted((RULES_DIR / "tests").glob("*.yml"))


def promtool(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=60, cwd=cwd, check=False
    )
    print(result.stdout, result.stderr, sep="\n")  # shown by pytest when the test fails
    return result


def alerting_rules() -> list[dict]:
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_rule_files_pass_promtool_check() -> None:
    assert rule_files() == [RULES_FILE]
    result = promtool("check", "rules", *rule_files())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 17 rules found" in result.stdout


def test_rule_unit_tests_pass_promtool_test() -> None:
    assert TEST_FILES, "no promtool tests found"
    result = promtool("test", "rules", *TEST_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(TEST_FILES)


def test_every_alert_has_severity_summary_description_and_runbook() -> None:
    rules = alerting_rules()
    assert {r["alert"] for r in rules} == {
        "PayPulseDown",
        "PayPulseStalled",
        "PayPulseLagging",
        "PayPulseRejectingEvents",
        "PayPulseOutboxBacklog",
        "PayPulseNotificationsParked",
        "PayPulseAlertFiring",
        "PaymentSuccessRateLow",
    }
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert set(rule["annotations"]) == {"summary", "description", "runbook"}, rule["alert"]


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {r["alert"] for r in alerting_rules()}
    assert names - fired == set(), "alerts never shown firing"
    assert names - quiet == set(), "alerts never shown staying quiet"


def test_promtool_tests_catch_a_changed_threshold(tmp_path: Path) -> None:
    """Run the same tests against a rules file whose success-rate threshold was loosened."""
    broken = RULES_FILE.read_text().replace("ratio_rate5m < 0.90", "ratio_rate5m < 0.70")
    assert broken != RULES_FILE.read_text()
    (tmp_path / RULES_FILE.name).write_text(broken)
    (tmp_path / "tests").mkdir()
    for path in TEST_FILES:
        shutil.copy(path, tmp_path / "tests" / path.name)
    result = promtool("test", "rules", *sorted((tmp_path / "tests").glob("*.yml")))
    assert result.returncode != 0
    assert "PaymentSuccessRateLow" in result.stdout + result.stderr
