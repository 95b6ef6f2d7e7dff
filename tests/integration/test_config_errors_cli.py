"""Configuration mistakes as a user makes them: the `paypulse` command, one line, exit code 2.

Each case runs the command (in-process, through the ``main`` the script runs:
:mod:`tests.fixtures.cli`) and checks what an operator sees: exit code 2, a single line on stderr
that names the setting (or the file, or the variable) and where it was set, and never a Python
traceback. One case runs the installed script in a fresh process, to show the script is that.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel.errors import ConfigError
from paypulse.cli import main as cli_main
from tests.fixtures.cli import Cli, Done

PAYPULSE = Path(sys.executable).parent / "paypulse"
ROOT = Path(__file__).resolve().parents[2]


def one_clear_line(done: Done) -> str:
    """The single stderr line of a run refused with exit code 2, without the ``paypulse:`` prefix."""
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert done.returncode == 2, done.stderr
    assert lines[0].startswith("paypulse: "), lines[0]
    return lines[0].removeprefix("paypulse: ")


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[windows]\nlateness = -30", "invalid setting windows.lateness = -30 in paypulse.toml: -30 is not a "
         "duration: durations cannot be negative; it must be at least 0s and at most 1h"),
        ('[windows]\nmax_ahead = "-10m"', "invalid setting windows.max_ahead = '-10m' in paypulse.toml: "),
        ("[alerting]\nretry_backoff = -5", "invalid setting alerting.retry_backoff = -5 in paypulse.toml"),
        ("[alerting]\nresolve_hold = -120", "invalid setting alerting.resolve_hold = -120 in paypulse.toml"),
        ("[statuspage]\nhold = -60", "invalid setting statuspage.hold = -60 in paypulse.toml: "),
        ('[statuspage]\nmessage = " "', "invalid setting statuspage.message = ' ' in paypulse.toml: "
         "must not be blank"),
        ('[windows]\nlateness = "2h"', "invalid setting windows.lateness = '2h' in paypulse.toml: "
         "must be at least 0s and at most 1h"),
        ("[detectors]\nmin_atempts = 50", "invalid setting detectors.min_atempts = 50 in paypulse.toml: "
         "no such setting; did you mean detectors.min_attempts?"),
    ],
)  # fmt: skip
def test_bad_value_in_the_file_is_one_line_naming_field_value_and_file(
    tmp_path: Path, toml: str, expected: str, paypulse: Cli
) -> None:
    (tmp_path / "paypulse.toml").write_text(toml + "\n")
    line = one_clear_line(paypulse("run", "--config", "paypulse.toml", cwd=tmp_path))
    assert line.startswith(expected), line


def test_a_value_the_config_used_to_refuse_now_loads(tmp_path: Path, paypulse: Cli) -> None:
    """'5m' is a duration in the config as in scenario files and `simulate --duration`."""
    (tmp_path / "paypulse.toml").write_text('[windows]\nlateness = "5m"\nmax_ahead = "PT20M"\n')
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"type": "payment", "ts": "2026-03-02T10:00:01Z", "channel": "alipay", "order_id": "o-1",'
        ' "amount": "9.90", "status": "succeeded"}\n'
    )
    done = paypulse("replay", events, "--alerts-out", "a.jsonl", "--config", "paypulse.toml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "replayed 1 events" in done.stderr


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PAYPULSE_WINDOWS__LATENESS", "-30", "invalid setting windows.lateness = '-30' from environment "
         "variable PAYPULSE_WINDOWS__LATENESS: '-30' is not a duration: durations cannot be negative"),
        ("PAYPULSE_DETECTORS__MIN_ATTEMPTS", "many", "invalid setting detectors.min_attempts = 'many' from "
         "environment variable PAYPULSE_DETECTORS__MIN_ATTEMPTS: must be a valid integer"),
        ("PAYPULSE_ALERTING__ROUTES", "notjson", "invalid setting alerting.routes from environment variable "
         "PAYPULSE_ALERTING__ROUTES: not valid JSON (Expecting value at character 0); write it as JSON"),
        ("PAYPULSE_FOO", "1", "unknown environment variable PAYPULSE_FOO: PayPulse has no such setting; "),
        ("PAYPULSE_WINDOWS_LATENESS", "30", "unknown environment variable PAYPULSE_WINDOWS_LATENESS: "
         "PayPulse has no such setting; did you mean PAYPULSE_WINDOWS__LATENESS? (or unset it)"),
    ],
)  # fmt: skip
def test_bad_environment_variable_is_one_line_naming_the_variable(
    tmp_path: Path, variable: str, value: str, expected: str, paypulse: Cli
) -> None:
    (tmp_path / "paypulse.toml").write_text("[windows]\nlateness = 10\n")
    done = paypulse("run", "--config", "paypulse.toml", env={variable: value}, cwd=tmp_path)
    line = one_clear_line(done)
    assert line.startswith(expected), line
    assert "paypulse.toml" not in line, "a value from the environment is not blamed on the file"


def test_environment_is_checked_by_every_command_that_loads_settings(tmp_path: Path, paypulse: Cli) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("")
    for args in (("replay", events), ("demo", "--duration", "1")):
        line = one_clear_line(paypulse(*args, env={"PAYPULSE_FOO": "1"}, cwd=tmp_path))
        assert line.startswith("unknown environment variable PAYPULSE_FOO"), (args, line)


@pytest.fixture
def unreadable(tmp_path: Path) -> Iterator[Path]:
    """A config path that exists but cannot be read: mode 000, or a socket when root ignores modes."""
    if os.geteuid() != 0:
        path = tmp_path / "secret.toml"
        path.write_text("[windows]\nlateness = 10\n")
        path.chmod(0)
        yield path
        path.chmod(0o600)
        return
    path = tmp_path / "socket.toml"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    yield path
    sock.close()


def test_several_wrong_settings_are_one_line_each(tmp_path: Path, paypulse: Cli) -> None:
    (tmp_path / "paypulse.toml").write_text('[statuspage]\nhold = -60\nmessage = ""\n')
    done = paypulse("run", "--config", "paypulse.toml", cwd=tmp_path)
    assert (done.returncode, "Traceback" in done.stderr) == (2, False)
    assert done.stderr.splitlines() == [
        "paypulse: invalid setting statuspage.hold = -60 in paypulse.toml: -60 is not a duration: "
        "durations cannot be negative; it must be at least 0s and at most 1d",
        "paypulse: invalid setting statuspage.message = '' in paypulse.toml: must not be blank",
    ]


def test_a_directory_as_config_is_one_line(tmp_path: Path, paypulse: Cli) -> None:
    (tmp_path / "conf").mkdir()
    line = one_clear_line(paypulse("run", "--config", "conf", cwd=tmp_path))
    assert line == "config file conf is a directory; pass a TOML file such as a copy of paypulse.example.toml"


def test_an_unreadable_config_is_one_line(tmp_path: Path, unreadable: Path, paypulse: Cli) -> None:
    (tmp_path / "events.jsonl").write_text("")
    line = one_clear_line(paypulse("replay", "events.jsonl", "--config", unreadable, cwd=tmp_path))
    assert line.startswith(f"config file {unreadable} cannot be read: "), line


def test_a_non_utf8_config_is_one_line(tmp_path: Path, paypulse: Cli) -> None:
    (tmp_path / "latin1.toml").write_bytes('[statuspage]\nmessage = "Zahlung verzögert"\n'.encode("latin-1"))
    line = one_clear_line(paypulse("run", "-c", "latin1.toml", cwd=tmp_path))
    assert line == "config file latin1.toml is not UTF-8 text (byte 0xf6 at offset 36); save it as UTF-8"


@pytest.mark.integration
def test_a_missing_config_is_one_line_from_the_installed_script(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("PAYPULSE_")}
    done = subprocess.run(
        [str(PAYPULSE), "run", "--config", "nope.toml"],
        env=clean,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    line = one_clear_line(Done(done.returncode, done.stdout, done.stderr))
    assert line == "config file nope.toml does not exist; copy paypulse.example.toml"


# --- output paths are checked before anything runs -------------------------------------------------


@pytest.fixture
def blocker(tmp_path: Path) -> Path:
    """A plain file, so that nothing can be created under it, whoever runs the test."""
    path = tmp_path / "not-a-dir"
    path.write_text("")
    return path


def test_run_refuses_an_unwritable_dead_letter_path_at_start(
    tmp_path: Path, blocker: Path, paypulse: Cli
) -> None:
    (tmp_path / "paypulse.toml").write_text(f'dead_letter = "{blocker}/dl.jsonl"\n')
    line = one_clear_line(paypulse("run", "--config", "paypulse.toml", cwd=tmp_path))
    assert line == (
        f"invalid setting dead_letter = '{blocker}/dl.jsonl' in paypulse.toml: cannot write there: "
        f"{blocker} is a file, not a directory; choose a path in a writable directory"
    )


def test_replay_refuses_an_unwritable_alert_log_given_on_the_command_line(
    tmp_path: Path, blocker: Path, paypulse: Cli
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"type": "payment"}\n')
    done = paypulse("replay", events, "--alerts-out", blocker / "alerts.jsonl", cwd=tmp_path)
    line = one_clear_line(done)
    assert line.startswith(f"invalid setting alerting.log = '{blocker}/alerts.jsonl' from the command line: "
                           f"cannot write there: {blocker} is a file, not a directory")  # fmt: skip


def test_replay_refuses_an_outbox_path_from_the_environment_only_if_it_writes_it(
    tmp_path: Path, blocker: Path, paypulse: Cli
) -> None:
    """replay writes alerts and dead letters, not the outbox: a bad outbox path is not its business."""
    events = tmp_path / "events.jsonl"
    events.write_text("")
    env = {"PAYPULSE_DEAD_LETTER": str(tmp_path), "PAYPULSE_ALERTING__OUTBOX": str(blocker / "o.sqlite3")}
    line = one_clear_line(
        paypulse("replay", events, "--alerts-out", tmp_path / "a.jsonl", env=env, cwd=tmp_path)
    )
    assert line == (
        f"invalid setting dead_letter = '{tmp_path}' from environment variable PAYPULSE_DEAD_LETTER: "
        "cannot write there: it is a directory; choose a path in a writable directory"
    )


def test_demo_refuses_a_state_dir_it_cannot_create(tmp_path: Path, blocker: Path, paypulse: Cli) -> None:
    line = one_clear_line(paypulse("demo", "--duration", "1", "--state-dir", blocker / "demo", cwd=tmp_path))
    assert line.startswith(
        f"invalid setting dead_letter = '{blocker}/demo/dead-letter.jsonl' from the command line: "
        f"cannot write there: {blocker} is a file, not a directory"
    )


# --- one parser for every duration ---------------------------------------------------------------


def test_simulate_reads_durations_like_the_settings(tmp_path: Path, paypulse: Cli) -> None:
    out = tmp_path / "events.jsonl"
    scenario = ROOT / "scenarios" / "drop.toml"
    done = paypulse("simulate", "-s", scenario, "--out", out, "--duration", "PT2M", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0
    line = one_clear_line(
        paypulse("simulate", "-s", scenario, "--out", out, "--duration", "-5m", cwd=tmp_path)
    )
    assert line == "invalid setting --duration = '-5m': '-5m' is not a duration: durations cannot be negative"


# --- the edge itself -------------------------------------------------------------------------------


def test_an_error_of_ours_wrapped_by_the_engine_still_ends_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bytewax re-raises a step's exception as the cause of its own; main finds ours in the chain."""

    def wrapped(**_: object) -> None:
        try:
            raise ConfigError("invalid setting x = 1 in p.toml: must be 2")
        except ConfigError as err:
            raise RuntimeError("error calling `mapper` in step 'x'") from err

    monkeypatch.setattr(cli_main, "app", wrapped)
    with pytest.raises(SystemExit) as done:
        cli_main.main()
    assert done.value.code == 2
    assert capsys.readouterr().err == "paypulse: invalid setting x = 1 in p.toml: must be 2\n"


def test_an_error_nobody_foresaw_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(**_: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli_main, "app", broken)
    with pytest.raises(ZeroDivisionError):
        cli_main.main()
