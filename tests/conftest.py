"""Shared fixtures. Real components (Prometheus, Chromium, Kafka, HTTP receivers) live in
``tests/fixtures/`` and start on 127.0.0.1 with a free port, torn down after use.

Test order: the slowest modules run first. ``scripts/test`` hands whole modules to the xdist
workers in collection order (``--dist loadscope --no-loadscope-reorder``); xdist's own order, most
tests first, left the long modules with one to fifteen tests (the detection suite, the recovery
test) to the end of the run, where one worker ground through them while the other sat idle. Started
first, they run while the other worker takes the many short modules, and those fill the gaps at the
end. A module missing from the list only loses balance, never a test.
"""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.fixtures.prometheus",
    "tests.fixtures.receiver",
    "tests.fixtures.chromium",
    "tests.fixtures.kafka",
    "tests.fixtures.cli",
    "tests.fixtures.outbox",
]

#: Longest first, by CPU time on 2 cores (``--durations=0``, summed by module); refresh it when
#: a module's cost changes a lot.
SLOWEST_FIRST = [
    "tests/integration/test_detection_suite.py",
    "tests/integration/test_cli_first_hour.py",
    "tests/integration/test_recovery.py",
    "tests/integration/test_run_restart.py",
    "tests/integration/test_end_to_end.py",
    "tests/integration/test_kafka.py",
    "tests/integration/test_detection_world_script.py",
    "tests/unit/test_clock_ahead.py",
    "tests/integration/test_hostile_corpus.py",
    "tests/contract/test_detectors.py",
    "tests/integration/test_merchant_state_is_bounded.py",
    "tests/integration/test_prometheus_scrape.py",
    "tests/unit/test_late_callbacks.py",
    "tests/integration/test_oncall_scenario.py",
    "tests/integration/test_statuspage_i18n_browser.py",
    "tests/integration/test_statuspage_browser.py",
    "tests/integration/test_statuspage_hardening.py",
    "tests/integration/test_statuspage_incidents_api.py",
    "tests/integration/test_detection_delay_script.py",
    "tests/unit/test_engine_fuzz.py",
    "tests/unit/test_world_model.py",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules of :data:`SLOWEST_FIRST` first, in its order; the rest after, as collected.
    Sorting by module keeps each module's tests together, so module fixtures still run once."""
    rank = {path: i for i, path in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
