"""Shared fixtures. Real components (Prometheus, Chromium, Kafka, HTTP receivers) live in
``tests/fixtures/`` and start on 127.0.0.1 with a free port, torn down after use."""

pytest_plugins = [
    "tests.fixtures.prometheus",
    "tests.fixtures.receiver",
    "tests.fixtures.chromium",
    "tests.fixtures.kafka",
]
