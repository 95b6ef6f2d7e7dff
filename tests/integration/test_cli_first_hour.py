"""A newcomer's first hour with the real `paypulse` command: what it prints, and how it stops.

Ctrl-C (and SIGTERM, as ``docker stop`` sends) ends `paypulse demo` and `paypulse run` (file,
standard input, Kafka) with exit code 0 and one summary line, no traceback; a port already taken
is one line naming the port and what changes it, exit code 2; ``paypulse.example.toml`` runs as
shipped; a run on a file ends with what it read and where its results went; the demo's links stand
whole on lines of their own in an 80-column pipe, and its processing lag reads in the demo's
sped-up time. Tests that start the command are marked ``integration``; the rest take milliseconds.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from alerting.delivery.dispatcher import build_notifiers
from kernel.settings import load_settings
from paypulse.cli.main import app
from paypulse.simulator import Simulator, line_writer, load_scenario, write_lines

ROOT = Path(__file__).resolve().parents[2]
PAYPULSE = Path(sys.executable).parent / "paypulse"
EXAMPLE = ROOT / "paypulse.example.toml"
SUMMARY = re.compile(
    r"^paypulse: (?P<how>stopped by Ctrl-C|stopped by SIGTERM|input ended|demo finished): "
    r"(?P<events>[\d,]+) events in [\d.]+ s: (?P<accepted>[\d,]+) accepted.*, "
    r"(?P<duplicates>[\d,]+) duplicates, (?P<rejected>[\d,]+) rejected.*; "
    r"alerts: (?P<fired>[\d,]+) fired, (?P<resolved>[\d,]+) resolved",
    re.MULTILINE,
)


def _environment(**extra: str) -> dict[str, str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.upper().startswith(("PAYPULSE_", "COLUMNS", "LINES"))
    }
    return {**clean, "PAYPULSE_STATUSPAGE__PORT": "0", "PAYPULSE_METRICS__PORT": "0", **extra}


def _default_sigint() -> None:
    """Ctrl-C as a terminal delivers it: a background or test runner's SIG_IGN is not inherited."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Running:
    """A `paypulse` process whose output (stdout and stderr together) is read as it comes."""

    def __init__(self, *args: str | Path, cwd: Path, env: dict[str, str], stdin: int | None = None) -> None:
        self.process = subprocess.Popen(
            [str(PAYPULSE), *map(str, args)], cwd=cwd, env=env, stdin=stdin, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, preexec_fn=_default_sigint,
        )  # fmt: skip
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                self._seen.notify_all()

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        with self._seen:
            while True:
                for line in self.lines:
                    if found := re.search(pattern, line):
                        return found
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no line matching {pattern!r} in:\n" + self.output)
                self._seen.wait(min(left, 0.5))

    def stop(self, signum: int = signal.SIGINT, timeout: float = 60) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(timeout)
        self._reader.join(10)
        return code

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def running() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for proc in started:
        if proc.process.poll() is None:
            proc.process.kill()
            proc.process.wait(10)


def assert_clean_stop(proc: Running, code: int, how: str = "Ctrl-C") -> re.Match[str]:
    out = proc.output
    assert code == 0, out
    assert "Traceback" not in out and "BytewaxRuntimeError" not in out and "panicked" not in out, out
    summary = SUMMARY.search(out)
    assert summary is not None, out
    assert summary["how"] == f"stopped by {how}", out
    assert len([line for line in proc.lines if line.startswith("paypulse: stopped")]) == 1, out
    return summary


def simulate(path: Path, scenario: str = "drop.toml", **overrides: object) -> int:
    simulator = Simulator(load_scenario(ROOT / "scenarios" / scenario, **overrides))
    with path.open("wb") as out:
        return write_lines(simulator.chunks(60_000), line_writer(out))


@pytest.fixture(scope="module")
def long_events(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """About 300,000 lines: seconds of work, so a Ctrl-C lands while they are read."""
    path = tmp_path_factory.mktemp("events") / "events.jsonl"
    return path, simulate(path, duration="5h")


@pytest.fixture(scope="module")
def small_events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("events") / "small.jsonl"
    simulate(path, duration="20m")
    with path.open("ab") as out:
        out.write(b'{"type":"payment"\n')  # one bad line, for the summary's rejected count
    return path


# -- Ctrl-C and SIGTERM -------------------------------------------------------------------------


@pytest.mark.integration
def test_ctrl_c_stops_the_demo_with_a_summary_and_its_links_stand_whole_in_a_pipe(
    tmp_path: Path, running: list[Running]
) -> None:
    demo = Running("demo", "--port", "0", "--metrics-port", "0", "--state-dir", tmp_path / "demo",
                   cwd=tmp_path, env=_environment(COLUMNS="80"))  # fmt: skip
    running.append(demo)
    metrics = demo.wait_for(r"^metrics: +(http://127\.0\.0\.1:\d+/metrics)$")[1]
    status = demo.wait_for(r"^status page: +(http://127\.0\.0\.1:\d+/)$")[1]
    assert demo.lines[:2] == [f"metrics:     {metrics}", f"status page: {status}"], demo.output
    assert httpx.get(status, timeout=10).status_code == 200
    lag = None
    deadline = time.monotonic() + 60
    while lag is None and time.monotonic() < deadline:  # once the watermark has moved
        found = re.search(
            r"^paypulse_processing_lag_seconds (\S+)$", httpx.get(metrics, timeout=10).text, re.M
        )
        lag = float(found[1]) if found else None
        time.sleep(0.5)
    assert lag is not None, "no processing lag on /metrics after a minute of demo"
    assert 0 < lag < 120, f"the demo's lag is {lag:.0f} s; PayPulseLagging fires above 120 s"
    summary = assert_clean_stop(demo, demo.stop())
    assert int(summary["events"].replace(",", "")) > 0
    tables = [line for line in demo.lines if line[:1] in "┏┃┡│└"]
    assert tables and all(len(line) <= 80 for line in tables), "the view fits 80 columns: " + demo.output


@pytest.mark.integration
def test_ctrl_c_stops_a_run_on_a_file_early_with_a_summary(
    tmp_path: Path, running: list[Running], long_events: tuple[Path, int]
) -> None:
    events, lines = long_events
    run = Running("run", "--events", events, cwd=tmp_path, env=_environment())
    running.append(run)
    run.wait_for("Ctrl-C stops")
    summary = assert_clean_stop(run, run.stop())
    assert int(summary["events"].replace(",", "")) < lines, "stopped before the end of the file"


@pytest.mark.integration
def test_sigterm_stops_a_run_on_standard_input_whose_writer_stays_quiet(
    tmp_path: Path, running: list[Running], small_events: Path
) -> None:
    run = Running("run", cwd=tmp_path, env=_environment(PAYPULSE_SOURCE__KIND="stdin"), stdin=subprocess.PIPE)
    running.append(run)
    assert run.process.stdin is not None
    run.process.stdin.write(small_events.read_text()[:200_000])
    run.process.stdin.flush()  # and the pipe stays open: the read blocks
    run.wait_for("Ctrl-C stops")
    time.sleep(1)
    summary = assert_clean_stop(run, run.stop(signal.SIGTERM), how="SIGTERM")
    assert int(summary["accepted"].replace(",", "")) > 0


@pytest.mark.integration
def test_ctrl_c_stops_a_run_on_kafka_with_a_summary(
    tmp_path: Path, running: list[Running], kafka_broker: str
) -> None:
    from paypulse.cli.simulate import kafka_writer
    from tests.fixtures.kafka import create_topic

    create_topic(kafka_broker, "first-hour", 2)
    simulator = Simulator(load_scenario(ROOT / "scenarios" / "drop.toml", duration="10m"))
    with kafka_writer(kafka_broker, "first-hour") as write:
        write_lines(simulator.chunks(60_000), write)
    env = _environment(PAYPULSE_SOURCE__KIND="kafka", PAYPULSE_SOURCE__BROKERS=f'["{kafka_broker}"]',
                       PAYPULSE_SOURCE__TOPIC="first-hour")  # fmt: skip
    run = Running("run", cwd=tmp_path, env=env)
    running.append(run)
    metrics = run.wait_for(r"^ +metrics: +(http://127\.0\.0\.1:\d+/metrics)$")[1]
    run.wait_for("Ctrl-C stops")
    # Stop once the engine has accepted events from the topic (the alert log only opens with the
    # first alert, and this stretch of traffic may have none): the Ctrl-C lands while it reads.
    accepted = 0.0
    deadline = time.monotonic() + 60
    while accepted == 0 and time.monotonic() < deadline:
        found = re.findall(
            r"^paypulse_events_accepted_total\{[^}]*\} (\S+)$", httpx.get(metrics, timeout=10).text, re.M
        )
        accepted = sum(map(float, found))
        time.sleep(0.2)
    assert accepted > 0, "no event accepted from Kafka after a minute:\n" + run.output
    summary = assert_clean_stop(run, run.stop())
    assert int(summary["accepted"].replace(",", "")) > 0, run.output


# -- ports ---------------------------------------------------------------------------------------


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 that a real listening socket holds for the test."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    [line] = done.stderr.strip().splitlines()
    return line


def _paypulse(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PAYPULSE), *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip


@pytest.mark.integration
def test_a_taken_port_names_itself_and_the_option_that_changes_it(tmp_path: Path, taken_port: int) -> None:
    env = {k: v for k, v in _environment().items() if not k.endswith("__PORT")}  # they beat --port
    demo = one_line(_paypulse("demo", "--port", taken_port, "--metrics-port", "0", "--state-dir", "d",
                              cwd=tmp_path, env=env))  # fmt: skip
    assert demo == (
        f"paypulse: cannot serve the status page on 127.0.0.1:{taken_port}: the port is already in use "
        f"(statuspage.port = {taken_port}, from the command line); stop what holds it, or choose another "
        "port with --port (0 = any free port)"
    )
    demo = one_line(_paypulse("demo", "--port", "0", "--metrics-port", taken_port, "--state-dir", "d",
                              cwd=tmp_path, env=env))  # fmt: skip
    assert f"cannot serve /metrics on 127.0.0.1:{taken_port}: the port is already in use" in demo
    assert demo.endswith("choose another port with --metrics-port (0 = any free port)")


@pytest.mark.integration
def test_a_taken_port_in_the_settings_names_the_setting(
    tmp_path: Path, taken_port: int, small_events: Path
) -> None:
    (tmp_path / "paypulse.toml").write_text(f"[metrics]\nport = {taken_port}\n")
    env = {k: v for k, v in _environment().items() if k != "PAYPULSE_METRICS__PORT"}
    run = one_line(
        _paypulse("run", "--config", "paypulse.toml", "--events", small_events, cwd=tmp_path, env=env)
    )
    assert run == (
        f"paypulse: cannot serve /metrics on 127.0.0.1:{taken_port}: the port is already in use "
        f"(metrics.port = {taken_port}, in paypulse.toml); stop what holds it, or choose another port "
        "with metrics.port in the config file or PAYPULSE_METRICS__PORT (0 = any free port)"
    )
    assert not (tmp_path / "var" / "alerts.jsonl").exists(), "nothing ran"


# -- the example settings and a run's summary ----------------------------------------------------


def test_the_example_settings_build_no_notifier_from_placeholder_routes() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.alerting.routes == []
    assert build_notifiers(settings.alerting) == {}


def test_the_example_route_is_valid_once_uncommented(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    block = text[text.index("# [[alerting.routes]]") :].split("\n\n", 1)[0]
    uncommented = "\n".join(line.removeprefix("# ") for line in block.splitlines())
    (tmp_path / "routes.toml").write_text(uncommented + "\n")
    settings = load_settings(tmp_path / "routes.toml")
    [route] = settings.alerting.routes
    schemes = [url.get_secret_value().split("://")[0] for url in route.urls]
    assert schemes == ["dingtalk", "wecombot", "mailtos"]
    assert len(build_notifiers(settings.alerting)) == 3, "Apprise accepts each example URL"


def test_files_the_example_names_exist() -> None:
    named = re.findall(r'"((?:scenarios|dashboards)/[\w./-]+)"', EXAMPLE.read_text())
    assert named, "the example points at a scenario for source.kind = 'simulator'"
    for path in named:
        assert (ROOT / path).is_file(), f"paypulse.example.toml names {path}, which does not exist"


@pytest.mark.integration
def test_the_example_settings_run_a_file_and_say_what_came_of_it(tmp_path: Path, small_events: Path) -> None:
    done = _paypulse("run", "--config", EXAMPLE, "--events", small_events, cwd=tmp_path, env=_environment())
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    summary = SUMMARY.search(done.stderr)
    assert summary is not None and summary["how"] == "input ended", done.stderr
    assert summary["rejected"] == "1" and "bad_json 1" in done.stderr, done.stderr
    assert "outputs: alert log var/alerts.jsonl, rejected lines var/dead-letter.jsonl" in done.stderr
    assert "/metrics and the status page stopped with the run" in done.stderr
    dead = [orjson.loads(line) for line in (tmp_path / "var" / "dead-letter.jsonl").read_bytes().splitlines()]
    assert [d["reason"] for d in dead] == ["bad_json"]


@pytest.mark.integration
def test_the_example_settings_run_the_simulator(tmp_path: Path) -> None:
    env = _environment(PAYPULSE_SOURCE__KIND="simulator",
                       PAYPULSE_SOURCE__SCENARIO=str(ROOT / "scenarios" / "drop.toml"))  # fmt: skip
    done = _paypulse("run", "--config", EXAMPLE, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "reading the simulator, scenario " in done.stderr
    summary = SUMMARY.search(done.stderr)
    assert summary is not None and summary["how"] == "input ended", done.stderr
    alerts = [orjson.loads(line) for line in (tmp_path / "var" / "alerts.jsonl").read_bytes().splitlines()]
    assert [(a["kind"], a["scope"]["channel"], a["status"]) for a in alerts] == [
        ("success_rate_drop", "alipay", "firing"),
        ("success_rate_drop", "alipay", "resolved"),
    ]
    assert (summary["fired"], summary["resolved"]) == ("1", "1")


def test_version_prints_the_installed_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"paypulse {version('paypulse')}\n"
