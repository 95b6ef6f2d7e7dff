"""Settings: the example file stays in step with the model; bad config names its field, value and source."""

from __future__ import annotations

import os
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from kernel.durations import format_duration
from kernel.errors import ConfigError
from kernel.settings import AlertingSettings, Settings, env_names, load_settings
from paypulse.cli.common import check_writable, settings_with

EXAMPLE = Path(__file__).resolve().parents[2] / "paypulse.example.toml"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PAYPULSE_* variable of the machine running the tests may leak into them."""
    for name in list(os.environ):
        if name.startswith("PAYPULSE_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "paypulse.toml"
    path.write_text(text)
    return path


def _fields(
    model: type[BaseModel], prefix: str = "", within: frozenset = frozenset()
) -> list[tuple[str, str]]:
    """(table, key) for every field, recursing into sections and route entries (a routing tree's
    child routes, which are routes again, once)."""
    out = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        inner = getattr(annotation, "__args__", (None,))[0]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += _fields(annotation, f"{prefix}{name}.", within | {model})
        elif isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in within | {model}:
            out += _fields(inner, f"{prefix}{name}.", within | {model})
        elif isinstance(inner, type) and issubclass(inner, BaseModel):
            continue
        else:
            out.append((prefix.rstrip("."), info.alias or name))  # as the file spells it
    return out


def test_example_loads_and_runs_as_shipped_with_its_routes_commented_out() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.alerting.routes == []  # placeholders would be refused as URLs: they are examples
    assert "# [[alerting.routes]]" in EXAMPLE.read_text()


def test_example_values_are_the_defaults_apart_from_the_example_route() -> None:
    loaded = load_settings(EXAMPLE).model_dump()
    loaded["alerting"]["routes"] = []
    assert loaded == Settings().model_dump()


def test_example_documents_every_field() -> None:
    text = EXAMPLE.read_text()
    lines = [line.strip().lstrip("# ").strip() for line in text.splitlines()]
    missing = []
    for table, key in _fields(Settings):
        header = f"[[{table}]]" if table == "alerting.routes" else f"[{table}]"
        if table and header not in text:
            missing.append(f"[{table}]")
            continue
        if f"[{table}.{key}]" in lines:  # a field that is a table of its own
            continue
        if not any(line.startswith((f"{key} =", f'"{key}" =')) for line in lines):
            missing.append(f"{table}.{key}" if table else key)
    assert not missing, f"paypulse.example.toml does not mention {missing}"


def test_example_comments_every_setting() -> None:
    lines = EXAMPLE.read_text().splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith(("#", "[", " ", '"', "]")) and "=" in line:
            assert lines[i - 1].startswith("#"), f"line {i + 1} ({line!r}) has no comment above it"


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYPULSE_DETECTORS__MIN_ATTEMPTS", "50")
    settings = load_settings(EXAMPLE)
    assert settings.detectors.min_attempts == 50
    assert settings.detectors.min_failures == 10, "the rest of [detectors] still comes from the file"


def test_environment_overrides_a_value_the_file_sets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[detectors]\nmin_attempts = 80\nstuck_min = 3\n")
    monkeypatch.setenv("PAYPULSE_DETECTORS__MIN_ATTEMPTS", "50")
    settings = load_settings(path)
    assert (settings.detectors.min_attempts, settings.detectors.stuck_min) == (50, 3)


def test_bad_environment_value_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYPULSE_DETECTORS__MIN_ATTEMPTS", "0")
    with pytest.raises(ConfigError, match=r"detectors\.min_attempts = '?0'?"):
        load_settings(None)


def test_typo_key_is_an_error_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path, "[detectors]\nmin_atempts = 50\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert "detectors.min_atempts" in str(err.value)
    assert str(path) in str(err.value)


def test_unknown_top_level_table_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"detector\b"):
        load_settings(write(tmp_path, "[detector]\nmin_attempts = 50\n"))


def test_bad_value_is_an_error_naming_field_value_source_and_range(tmp_path: Path) -> None:
    path = write(tmp_path, "[detectors]\nmin_attempts = 0\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert str(err.value) == (
        f"invalid setting detectors.min_attempts = 0 in {path}: must be at least 1 and at most 1000000"
    )


def test_bad_route_names_its_position(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[[alerting.routes]]\nname = "x"\nurls = ["json://127.0.0.1/"]\nmin_severity = "high"\n'
    )
    with pytest.raises(ConfigError, match=r"alerting\.routes\.0\.min_severity = 'high'"):
        load_settings(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"does not exist; copy paypulse\.example\.toml") as err:
        load_settings(missing)
    assert str(missing) in str(err.value)


def test_invalid_toml_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings(write(tmp_path, "[detectors\n"))


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("30", timedelta(seconds=30)),
        ("2.5", timedelta(seconds=2.5)),
        ('"30"', timedelta(seconds=30)),
        ('"PT30S"', timedelta(seconds=30)),
        ('"PT5M"', timedelta(minutes=5)),
        ('"30s"', timedelta(seconds=30)),
        ('"5m"', timedelta(minutes=5)),
        ('"1m30s"', timedelta(seconds=90)),
        ('"500ms"', timedelta(milliseconds=500)),
        ("0", timedelta(0)),
    ],
)
def test_durations_accept_seconds_units_and_iso8601(
    tmp_path: Path, written: str, expected: timedelta
) -> None:
    settings = load_settings(write(tmp_path, f"[windows]\nlateness = {written}\n"))
    assert settings.windows.lateness == expected


@pytest.mark.parametrize("written", ['"00:00:45"', '"soon"', '"5 minutes"', '"P1M"', "true"])
def test_other_duration_spellings_are_refused_with_the_field_and_the_spellings_named(
    tmp_path: Path, written: str
) -> None:
    with pytest.raises(ConfigError, match=r"windows\.lateness = .* is not a duration; write it like '20m'"):
        load_settings(write(tmp_path, f"[windows]\nlateness = {written}\n"))


def test_window_width_must_be_whole_seconds(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"windows\.width = 1\.5 .*whole number of seconds"):
        load_settings(write(tmp_path, "[windows]\nwidth = 1.5\n"))


def test_no_file_gives_the_defaults() -> None:
    assert load_settings(None) == Settings()


def test_secrets_never_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYPULSE_STATUSPAGE__OPS_TOKEN", "s3cret-token")
    settings = load_settings(EXAMPLE)
    assert settings.statuspage.ops_token is not None
    assert settings.statuspage.ops_token.get_secret_value() == "s3cret-token"
    assert "s3cret-token" not in repr(settings) and "ACCESS_TOKEN" not in repr(settings)


def test_example_is_valid_toml_with_only_known_tables() -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    assert set(data) <= set(Settings.model_fields)


# --- every duration and count is checked for sign and range --------------------------------------


def _leaf_fields(kind: type) -> list[tuple[str, str, FieldInfo]]:
    """(table, key, field) for every field of type ``kind`` in a [table] (routes left out)."""
    out = []
    for table, info in Settings.model_fields.items():
        section = info.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            out += [(table, key, f) for key, f in section.model_fields.items() if f.annotation is kind]
    return out


DURATIONS = _leaf_fields(timedelta)
COUNTS = _leaf_fields(int)
DURATION_IDS = [f"{table}.{key}" for table, key, _ in DURATIONS]
#: Zero is no setting at all for these (a zero back-off retries in a loop, a zero max_ahead holds
#: every event); for the rest zero means "off" (no lateness, no warm-up, no hold).
ZERO_REFUSED = {
    "recovery.snapshot_every",
    "source.batch_timeout",
    "windows.width",
    "windows.max_ahead",
    "windows.stuck_timeout",
    "windows.slow_callback",
    "detectors.callback_p95_limit",
    "detectors.seasonal_slot",
    "detectors.max_onset",
    "alerting.repeat_interval",
    "alerting.retry_backoff",
}
ZERO_ALLOWED = {
    "windows.lateness",
    "detectors.warmup",
    "alerting.resolve_hold",
    "statuspage.hold",
    "reconciliation.cutoff",
}


def test_every_duration_field_is_classified_for_zero() -> None:
    assert DURATION_IDS and set(DURATION_IDS) == ZERO_REFUSED | ZERO_ALLOWED


@pytest.mark.parametrize(("table", "key", "info"), DURATIONS, ids=DURATION_IDS)
def test_every_duration_refuses_a_negative_value_in_the_file(
    tmp_path: Path, table: str, key: str, info: FieldInfo
) -> None:
    path = write(tmp_path, f"[{table}]\n{key} = -30\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    message = str(err.value)
    assert message.startswith(f"invalid setting {table}.{key} = -30 in {path}: ")
    assert "cannot be negative" in message and "\n" not in message


@pytest.mark.parametrize(("table", "key", "info"), DURATIONS, ids=DURATION_IDS)
def test_every_duration_refuses_a_negative_value_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, table: str, key: str, info: FieldInfo
) -> None:
    variable = f"PAYPULSE_{table.upper()}__{key.upper()}"
    monkeypatch.setenv(variable, "-5m")
    with pytest.raises(ConfigError) as err:
        load_settings(EXAMPLE)
    assert str(err.value).startswith(
        f"invalid setting {table}.{key} = '-5m' from environment variable {variable}: "
    )


@pytest.mark.parametrize(("table", "key", "info"), DURATIONS, ids=DURATION_IDS)
def test_every_duration_reads_seconds_units_and_iso8601(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str, key: str, info: FieldInfo
) -> None:
    default = info.default
    seconds = default.total_seconds()
    for written in (f"{seconds:g}", f'"{format_duration(default)}"', f'"PT{seconds:g}S"'):
        settings = load_settings(write(tmp_path, f"[{table}]\n{key} = {written}\n"))
        assert getattr(getattr(settings, table), key) == default, written
    monkeypatch.setenv(f"PAYPULSE_{table.upper()}__{key.upper()}", format_duration(default))
    assert getattr(getattr(load_settings(None), table), key) == default


@pytest.mark.parametrize(("table", "key", "info"), DURATIONS, ids=DURATION_IDS)
def test_zero_is_refused_only_where_it_makes_no_sense(
    tmp_path: Path, table: str, key: str, info: FieldInfo
) -> None:
    path = write(tmp_path, f'[{table}]\n{key} = "0s"\n')
    if f"{table}.{key}" in ZERO_ALLOWED:
        assert getattr(getattr(load_settings(path), table), key) == timedelta(0)
    else:
        with pytest.raises(ConfigError, match=rf"{table}\.{key} = '0s' in .*: must be"):
            load_settings(path)


@pytest.mark.parametrize(("table", "key", "info"), DURATIONS, ids=DURATION_IDS)
def test_every_duration_has_an_upper_bound(tmp_path: Path, table: str, key: str, info: FieldInfo) -> None:
    with pytest.raises(ConfigError, match=rf"{table}\.{key} = '400d' in .*: must be .*at most \d+[smhd]"):
        load_settings(write(tmp_path, f'[{table}]\n{key} = "400d"\n'))


@pytest.mark.parametrize(("table", "key", "info"), COUNTS, ids=[f"{t}.{k}" for t, k, _ in COUNTS])
def test_every_count_is_bounded_both_ways(tmp_path: Path, table: str, key: str, info: FieldInfo) -> None:
    for bad in (-1, 10**12):
        with pytest.raises(
            ConfigError, match=rf"{table}\.{key} = {bad} in .*: must be at least \d+ and at most"
        ):
            load_settings(write(tmp_path, f"[{table}]\n{key} = {bad}\n"))


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            "[windows]\nlateness = -30",
            "invalid setting windows.lateness = -30 in {path}: -30 is not a duration: "
            "durations cannot be negative; it must be at least 0s and at most 1h",
        ),
        ("[windows]\nmax_ahead = -30", "windows.max_ahead = -30 in {path}: "),
        ("[alerting]\nretry_backoff = -30", "alerting.retry_backoff = -30 in {path}: "),
        ("[alerting]\nresolve_hold = -30", "alerting.resolve_hold = -30 in {path}: "),
        ("[statuspage]\nhold = -60", "statuspage.hold = -60 in {path}: "),
        (
            '[statuspage]\nmessage = "  "',
            "invalid setting statuspage.message = '  ' in {path}: must not be blank",
        ),
        ('[statuspage]\nops_token = ""', "invalid setting statuspage.ops_token in {path}: must not be blank"),
        ('[metrics]\nhost = ""', "invalid setting metrics.host = '' in {path}: must not be blank"),
        ('[source]\ntopic = ""', "invalid setting source.topic = '' in {path}: must not be blank"),
        (
            '[windows]\nlateness = "2h"',
            "windows.lateness = '2h' in {path}: must be at least 0s and at most 1h",
        ),
        (
            '[detectors]\nseasonal_slot = "7m"',
            "detectors.seasonal_slot = '7m' in {path}: must be whole minutes",
        ),
    ],
)
def test_values_the_tester_found_are_refused_naming_field_value_and_file(
    tmp_path: Path, toml: str, expected: str
) -> None:
    path = write(tmp_path, toml + "\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert expected.format(path=path) in str(err.value)


def test_unknown_key_suggests_the_nearest_one(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"detectors\.min_atempts = 50 in .*: no such setting; did you mean "
        r"detectors\.min_attempts\?",
    ):
        load_settings(write(tmp_path, "[detectors]\nmin_atempts = 50\n"))
    with pytest.raises(
        ConfigError, match=r"invalid setting detector in .*: no such setting; did you mean detectors\?"
    ):
        load_settings(write(tmp_path, "[detector]\nmin_attempts = 50\n"))


# --- the environment ---------------------------------------------------------------------------


#: Tables set as a whole from the environment (lists of tables, and the routing tree).
WHOLE = (
    "alerting.routes",
    "alerting.route",
    "alerting.oncall.people",
    "alerting.oncall.overrides",
    "alerting.escalation.levels",
)


def test_every_setting_has_an_environment_variable() -> None:
    names = env_names()
    for table, key in _fields(Settings):
        if any(table == t or table.startswith(f"{t}.") for t in WHOLE):
            continue  # a list of tables, or the routing tree, is set whole: PAYPULSE_ALERTING__ROUTES
        name = "PAYPULSE_" + "__".join(p.upper() for p in (*table.split("."), key) if p)
        assert names[name] == (*[t for t in table.split(".") if t], key)


@pytest.mark.parametrize(
    ("variable", "hint"),
    [
        ("PAYPULSE_WINDOWS_LATENESS", "did you mean PAYPULSE_WINDOWS__LATENESS?"),
        ("PAYPULSE_DETECTOR__MIN_ATTEMPTS", "did you mean PAYPULSE_DETECTORS__MIN_ATTEMPTS?"),
        ("PAYPULSE_STATUSPAGE__OPS_TOKN", "did you mean PAYPULSE_STATUSPAGE__OPS_TOKEN?"),
        ("PAYPULSE_FOO", "PAYPULSE_<SECTION>__<FIELD> names a setting, e.g. PAYPULSE_WINDOWS__LATENESS"),
    ],
)
def test_unknown_environment_variable_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, hint: str
) -> None:
    monkeypatch.setenv(variable, "1")
    with pytest.raises(ConfigError) as err:
        load_settings(None)
    assert str(err.value).startswith(
        f"unknown environment variable {variable}: PayPulse has no such setting; "
    )
    assert hint in str(err.value)


def test_malformed_json_in_an_environment_variable_names_it_and_hides_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYPULSE_ALERTING__ROUTES", "dingtalk://SECRET@TOKEN/")
    with pytest.raises(ConfigError) as err:
        load_settings(EXAMPLE)
    message = str(err.value)
    assert message.startswith(
        "invalid setting alerting.routes from environment variable PAYPULSE_ALERTING__ROUTES: not valid JSON"
    )
    assert """e.g. '[{"name": "oncall", "urls": ["json://host/"]}]'""" in message
    assert "SECRET" not in message and "TOKEN" not in message


def test_malformed_list_in_an_environment_variable_shows_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYPULSE_SOURCE__BROKERS", "kafka-1:9092")
    with pytest.raises(
        ConfigError,
        match=r"source\.brokers = 'kafka-1:9092' from environment variable "
        r"PAYPULSE_SOURCE__BROKERS: not valid JSON .*e\.g\. '\[\"127\.0\.0\.1:9092\"\]'",
    ):
        load_settings(None)


def test_route_errors_from_the_environment_never_show_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYPULSE_ALERTING__ROUTES", '[{"name": "x", "urls": [42], "min_severity": "high"}]')
    with pytest.raises(ConfigError) as err:
        load_settings(None)
    lines = str(err.value).splitlines()
    assert lines == [
        "invalid setting alerting.routes.0.urls.0 from environment variable PAYPULSE_ALERTING__ROUTES: "
        "must be a valid string",
        "invalid setting alerting.routes.0.min_severity = 'high' from environment variable "
        "PAYPULSE_ALERTING__ROUTES: must be 'critical', 'warning' or 'info'",
    ]


def test_non_number_in_an_environment_variable_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYPULSE_DETECTORS__MIN_ATTEMPTS", "fifty")
    with pytest.raises(
        ConfigError,
        match=r"^invalid setting detectors\.min_attempts = 'fifty' from environment "
        r"variable PAYPULSE_DETECTORS__MIN_ATTEMPTS: must be a valid integer",
    ):
        load_settings(EXAMPLE)


def test_error_names_the_environment_when_it_overrides_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "[windows]\nlateness = 10\nmax_ahead = -1\n")
    monkeypatch.setenv("PAYPULSE_WINDOWS__LATENESS", "-30")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert str(err.value).splitlines() == [
        "invalid setting windows.lateness = '-30' from environment variable PAYPULSE_WINDOWS__LATENESS: "
        "'-30' is not a duration: durations cannot be negative; it must be at least 0s and at most 1h",
        f"invalid setting windows.max_ahead = -1 in {path}: "
        "-1 is not a duration: durations cannot be negative; it must be more than 0s and at most 1d",
    ]


def test_origin_says_where_each_value_came_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[alerting]\nlog = "a.jsonl"\n')
    monkeypatch.setenv("PAYPULSE_DEAD_LETTER", "dl.jsonl")
    settings = load_settings(path)
    assert settings.origin("alerting.log") == f"in {path}"
    assert settings.origin("dead_letter") == "from environment variable PAYPULSE_DEAD_LETTER"
    assert settings.origin("statuspage.db") == "(the default)"
    assert (
        settings_with(path, alerting={"log": Path("b.jsonl")}).origin("alerting.log")
        == "from the command line"
    )


def test_values_a_command_sets_are_named_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        ConfigError,
        match=r"^invalid setting statuspage\.port = 70000 from the command line: "
        r"must be at least 0 and at most 65535$",
    ):
        load_settings(None, defaults={"statuspage": {"port": 70000}})
    monkeypatch.setenv("PAYPULSE_METRICS__PORT", "9999")
    settings = load_settings(None, defaults={"metrics": {"port": 1234}, "source": {"batch_size": 5}})
    assert (settings.metrics.port, settings.source.batch_size) == (9999, 5), "the environment still wins"


# --- the file itself ---------------------------------------------------------------------------


def test_a_directory_as_config_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=rf"^config file {tmp_path} is a directory; pass a TOML file"):
        load_settings(tmp_path)


def test_a_non_utf8_config_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[statuspage]\nmessage = "Zahlung verzögert"\n'.encode("latin-1"))
    with pytest.raises(
        ConfigError,
        match=rf"^config file {path} is not UTF-8 text \(byte 0xf6 at offset 36\); "
        "save it as UTF-8$",
    ):
        load_settings(path)


def test_an_unreadable_config_file_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "")

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(
        ConfigError, match=rf"^config file {path} cannot be read: Permission denied; pass a TOML"
    ):
        load_settings(path)


# --- output paths ------------------------------------------------------------------------------


def test_check_writable_creates_directories_and_accepts_writable_paths(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        defaults={
            "dead_letter": tmp_path / "a" / "dl.jsonl",
            "alerting": {"log": tmp_path / "b" / "alerts.jsonl", "outbox": tmp_path / "b" / "outbox.sqlite3"},
            "statuspage": {"db": tmp_path / "c" / "banner.sqlite3"},
        },
    )
    check_writable(settings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]
    assert list(tmp_path.rglob("*.*")) == [], "only directories are created"


def test_check_writable_names_the_field_and_where_it_was_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("PAYPULSE_DEAD_LETTER", str(blocker / "dl.jsonl"))
    with pytest.raises(ConfigError) as err:
        check_writable(load_settings(None))
    assert str(err.value) == (
        f"invalid setting dead_letter = '{blocker}/dl.jsonl' from environment variable PAYPULSE_DEAD_LETTER: "
        f"cannot write there: {blocker} is a file, not a directory; choose a path in a writable directory"
    )


def test_check_writable_refuses_a_directory_and_an_unwritable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, f'[alerting]\nlog = "{tmp_path}"\n')
    with pytest.raises(
        ConfigError,
        match=rf"^invalid setting alerting\.log = '{tmp_path}' in {path}: "
        "cannot write there: it is a directory",
    ):
        check_writable(load_settings(path), "alerting.log")
    monkeypatch.setattr("paypulse.cli.common.os.access", lambda *_: False)
    with pytest.raises(
        ConfigError,
        match=r"^invalid setting statuspage\.db = 'var/banner\.sqlite3' \(the "
        r"default\): cannot write there: directory var is not writable",
    ):
        check_writable(Settings(), "statuspage.db")


def test_check_writable_blames_a_command_line_option(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("")
    settings = settings_with(None, alerting={"log": tmp_path / "x" / "alerts.jsonl"})
    with pytest.raises(ConfigError, match=r"alerting\.log = .* from the command line: cannot write there"):
        check_writable(settings, "alerting.log")


@pytest.mark.parametrize(
    ("field", "value"),
    [("endpoints", {"dingtalk": "egress.example.com/dingtalk"}), ("link", "status page"), ("rate_limit", 0)],
)
def test_delivery_settings_refuse_what_cannot_be_used(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        AlertingSettings(**{field: value})
