"""Settings: the example file stays in step with the model, and bad config names its field."""

from __future__ import annotations

import os
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel

from paypulse.errors import ConfigError
from paypulse.settings import Settings, load_settings

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


def _fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
    """(table, key) for every field, recursing into sections and route entries."""
    out = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        inner = getattr(annotation, "__args__", (None,))[0]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += _fields(annotation, f"{prefix}{name}.")
        elif isinstance(inner, type) and issubclass(inner, BaseModel):
            out += _fields(inner, f"{prefix}{name}.")
        else:
            out.append((prefix.rstrip("."), name))
    return out


def test_example_loads() -> None:
    settings = load_settings(EXAMPLE)
    [route] = settings.alerting.routes
    assert route.name == "oncall"
    schemes = [url.get_secret_value().split("://")[0] for url in route.urls]
    assert schemes == ["dingtalk", "wecombot", "mailtos"]


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
    assert settings.alerting.routes[0].name == "oncall"


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


def test_bad_value_is_an_error_naming_field_and_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, "[detectors]\nmin_attempts = 0\n"))
    assert "invalid setting detectors.min_attempts = 0" in str(err.value)
    assert "greater than or equal to 1" in str(err.value)


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
        ('"PT30S"', timedelta(seconds=30)),
        ('"PT5M"', timedelta(minutes=5)),
        ('"00:00:45"', timedelta(seconds=45)),
    ],
)
def test_durations_accept_seconds_iso8601_and_clock_time(
    tmp_path: Path, written: str, expected: timedelta
) -> None:
    settings = load_settings(write(tmp_path, f"[windows]\nlateness = {written}\n"))
    assert settings.windows.lateness == expected


@pytest.mark.parametrize("written", ['"30s"', '"5m"', '"soon"'])
def test_duration_shorthand_is_refused_with_the_field_named(tmp_path: Path, written: str) -> None:
    """pydantic parses ISO 8601 and seconds, not "30s"; the example file says so."""
    with pytest.raises(ConfigError, match=r"windows\.lateness"):
        load_settings(write(tmp_path, f"[windows]\nlateness = {written}\n"))


def test_window_width_must_be_whole_seconds(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"windows\.width = 0\.5.*whole number of seconds"):
        load_settings(write(tmp_path, "[windows]\nwidth = 0.5\n"))


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
