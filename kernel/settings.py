"""One typed settings model: a TOML file plus ``PAYPULSE_*`` environment variables.

Loaded once at start-up by the CLI (:func:`load_settings`) and passed down as an argument;
nothing reads settings at import time, so tests build ``Settings(...)`` directly. Every
section forbids unknown keys, so a typo is an error that names the field, not a silent default.
Environment variables beat the file: ``PAYPULSE_DETECTORS__MIN_ATTEMPTS=50``; a ``PAYPULSE_*``
variable that names no setting is an error too, suggesting the nearest name.

Every duration is read by :func:`kernel.durations.parse_duration` and every duration and count
has a range. A :class:`ConfigError` names the field, the value as written, where it was set
(``in paypulse.toml``, ``from environment variable PAYPULSE_WINDOWS__LATENESS``, ``from the
command line``) and the fix; :meth:`Settings.origin` keeps that for later checks (output paths).
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import UnionType
from typing import Any, Final, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from kernel.alerting_settings import (
    EACH_ALERT,
    GROUP_LABELS,
    AlertingSettings,
    EscalationSettings,
    OnCallSettings,
    RouteNodeSettings,
    RouteSettings,
    TimeIntervalSettings,
)
from kernel.durations import Duration, format_duration
from kernel.errors import ConfigError
from kernel.reconciliation import Policy as ReconciliationSettings
from kernel.section import DAY, HOUR, MINUTE, ZERO, Section, Text

__all__ = [
    "EACH_ALERT",
    "GROUP_LABELS",
    "AlertingSettings",
    "DetectorSettings",
    "EscalationSettings",
    "EventSettings",
    "MetricsSettings",
    "OnCallSettings",
    "ReconciliationSettings",
    "RecoverySettings",
    "RouteNodeSettings",
    "RouteSettings",
    "Settings",
    "SourceSettings",
    "StatusPageSettings",
    "TimeIntervalSettings",
    "WindowSettings",
    "env_names",
    "load_settings",
]


class SourceSettings(Section):
    kind: Literal["file", "stdin", "kafka", "simulator"] = Field("file", description="where events come from")
    path: Path | None = Field(None, description="JSONL file to read when kind = 'file'")
    brokers: list[Text] = Field(
        ["127.0.0.1:9092"], min_length=1, description="Kafka bootstrap servers, host:port"
    )
    topic: Text = Field("payments", description="Kafka topic of payment events")
    kafka_config: dict[str, str] = Field({}, description="extra librdkafka settings, e.g. security")
    scenario: Path | None = Field(None, description="scenario TOML when kind = 'simulator'")
    batch_size: int = Field(1000, ge=1, le=100_000, description="lines handed to the core at once")
    batch_timeout: Duration = Field(
        timedelta(milliseconds=200),
        gt=ZERO,
        le=MINUTE,
        description="a partial batch is handed on after this long",
    )


class EventSettings(Section):
    max_amount: float = Field(
        10_000_000.0,
        gt=0,
        le=1e12,
        description="largest plausible payment, in the currency's major unit; above it a line is bad_amount",
    )


class WindowSettings(Section):
    width: Duration = Field(
        timedelta(seconds=10), ge=timedelta(seconds=1), le=HOUR, description="tumbling event-time window"
    )
    lateness: Duration = Field(
        timedelta(seconds=30),
        ge=ZERO,
        le=HOUR,
        description="how out of order events may be; later ones are dead-lettered",
    )
    max_ahead: Duration = Field(
        timedelta(minutes=10),
        gt=ZERO,
        le=DAY,
        description="an event this far ahead of the stream that the stream contradicts is clock_ahead",
    )
    top_merchants: int = Field(
        200, ge=0, le=10_000, description="merchants tracked one by one; the rest are pooled as 'other'"
    )
    stuck_timeout: Duration = Field(
        timedelta(minutes=5),
        gt=ZERO,
        le=DAY,
        description="a paid order with no processed callback after this is stuck",
    )
    max_pending_orders: int = Field(
        2_000_000, ge=1000, le=100_000_000, description="bound on paid orders awaiting their callback"
    )
    slow_callback: Duration = Field(
        timedelta(seconds=60), gt=ZERO, le=DAY, description="a callback later than this counts as delayed"
    )

    @field_validator("width")
    @classmethod
    def _whole_seconds(cls, width: timedelta) -> timedelta:
        if width.total_seconds() % 1:
            raise ValueError("must be a whole number of seconds, e.g. 10, '10s' or 'PT10S'")
        return width


class DetectorSettings(Section):
    min_attempts: int = Field(30, ge=1, le=1_000_000, description="no success-rate verdict on fewer payments")
    min_failures: int = Field(
        10, ge=1, le=1_000_000, description="no success-rate alert on fewer failed payments"
    )
    min_callbacks: int = Field(20, ge=1, le=1_000_000, description="no callback verdict on fewer callbacks")
    warmup: Duration = Field(
        timedelta(minutes=10), ge=ZERO, le=7 * DAY, description="learn this long before a scope may alert"
    )
    fire_after: int = Field(
        2, ge=1, le=1000, description="consecutive bad windows before firing (threshold tests)"
    )
    resolve_after: int = Field(6, ge=1, le=1000, description="consecutive good windows before resolving")
    success_rate_drop: float = Field(
        0.03,
        gt=0,
        lt=0.25,
        description="smallest success-rate drop (absolute) worth an alert; a second test covers 4x this",
    )
    false_pages_per_week: float = Field(
        1.0,
        gt=0,
        le=1000,
        description="false pages a week for the whole deployment; every live test gets an equal share",
    )
    max_onset: Duration = Field(
        timedelta(hours=1),
        ge=MINUTE,
        le=DAY,
        description="a change whose evidence took longer than this to gather is a drift, not an incident",
    )
    callback_p95_limit: Duration = Field(
        timedelta(seconds=30), gt=ZERO, le=HOUR, description="callback p95 latency limit"
    )
    callback_failure_limit: float = Field(
        0.05, gt=0, lt=0.25, description="smallest callback failure-rate rise worth an alert (4x covered too)"
    )
    callback_late_share: float = Field(
        0.03,
        gt=0,
        lt=0.25,
        description="smallest rise in the share of callbacks later than windows.slow_callback worth an alert",
    )
    volume_ratio: float = Field(
        0.5, gt=0, lt=1, description="volume alerts need observed/baseline below this or above its inverse"
    )
    amount_ratio: float = Field(
        0.3, gt=0, le=10, description="relative shift of mean ticket size that alerts"
    )
    seasonal: bool = Field(
        True,
        description="judge volume and ticket size against the same time of day and week once a day is seen",
    )
    seasonal_slot: Duration = Field(
        timedelta(minutes=5),
        ge=MINUTE,
        le=DAY,
        description="resolution of the seasonal profile; must divide a day",
    )
    complaint_min: int = Field(
        5, ge=1, le=1_000_000, description="complaints a spike needs over the span it is judged on"
    )
    stuck_min: int = Field(
        10, ge=1, le=1_000_000, description="stuck payments an alert needs over the span it is judged on"
    )

    @field_validator("seasonal_slot")
    @classmethod
    def _divides_a_day(cls, slot: timedelta) -> timedelta:
        seconds = slot.total_seconds()
        if seconds < 60 or seconds % 60 or 86_400 % seconds:
            raise ValueError("must be whole minutes that divide a day, e.g. '5m', '15m' or '1h'")
        return slot


class StatusPageSettings(Section):
    host: Text = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    db: Path = Field(Path("var/banner.sqlite3"), description="banner state, survives restarts")
    hold: Duration = Field(
        timedelta(minutes=5), ge=ZERO, le=DAY, description="banner stays on this long after recovery"
    )
    message: Text = Field(
        "Payments may be delayed. If you have paid, please do not pay again.",
        max_length=500,
        description="what end users read while the banner is on",
    )
    ops_token: SecretStr | None = Field(None, description="bearer token for the ops override API")

    @field_validator("ops_token")
    @classmethod
    def _tokennot_blank(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and not token.get_secret_value().strip():
            raise ValueError("must not be blank; leave it unset to refuse every override")
        return token


class RecoverySettings(Section):
    """Where ``paypulse run`` keeps what it learned and how far it read, to resume after a crash."""

    enabled: bool = Field(True, description="resume where the last run stopped (Kafka and file sources)")
    dir: Path = Field(Path("var/recovery"), description="snapshots and read positions, one folder per source")
    snapshot_every: Duration = Field(
        timedelta(seconds=10),
        gt=ZERO,
        le=HOUR,
        description="a crash replays at most this much input (its alerts are not written or sent twice)",
    )


class MetricsSettings(Section):
    host: Text = "127.0.0.1"
    port: int = Field(9464, ge=0, le=65535, description="/metrics is served here by `paypulse run`")


ENV_PREFIX: Final = "PAYPULSE_"
_DEFAULT: Final = "(the default)"
_COMMAND: Final = "from the command line"
#: Settings whose values may hold secrets (list positions left out): a message never repeats them.
_SECRETS: Final = (
    ("alerting", "routes", "urls"),
    ("alerting", "oncall", "contacts"),
    ("alerting", "escalation", "ack_secret"),
    ("source", "kafka_config"),
    ("statuspage", "ops_token"),
)


class Settings(BaseSettings):
    """Everything PayPulse can be told, with defaults a payment ops team can start from."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    dead_letter: Path = Field(Path("var/dead-letter.jsonl"), description="rejected lines and reasons")
    source: SourceSettings = SourceSettings()
    events: EventSettings = EventSettings()
    windows: WindowSettings = WindowSettings()
    detectors: DetectorSettings = DetectorSettings()
    alerting: AlertingSettings = AlertingSettings()
    statuspage: StatusPageSettings = StatusPageSettings()
    metrics: MetricsSettings = MetricsSettings()
    reconciliation: ReconciliationSettings = ReconciliationSettings()
    recovery: RecoverySettings = RecoverySettings()

    # Where each value came from ("in paypulse.toml", "from environment variable ..."), for
    # messages about it later, such as an output path that cannot be written.
    _origins: dict[str, str] = PrivateAttr(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)

    def origin(self, field: str) -> str:
        """Where ``field`` (dotted, e.g. ``"alerting.log"``) was set, as messages say it.

        >>> Settings().origin("alerting.log")
        '(the default)'
        >>> Settings().with_origin("from the command line", "alerting.log").origin("alerting.log")
        'from the command line'
        """
        return _origin_of(self._origins, tuple(field.split(".")))

    def with_origin(self, origin: str, *fields: str) -> Settings:
        """A copy noting that ``fields`` were set from ``origin`` (a command-line option, say)."""
        copy = self.model_copy()
        copy._origins = {**self._origins, **dict.fromkeys(fields, origin)}
        return copy


def load_settings(path: Path | None = None, *, defaults: Mapping[str, Any] | None = None) -> Settings:
    """Read the TOML file (if any) and the environment; raise :class:`ConfigError` naming the field.

    ``defaults`` are values the command sets itself (``paypulse demo``'s state directory); the
    file and the environment override them. Every error says where the bad value came from:
    ``in paypulse.toml``, ``from environment variable PAYPULSE_WINDOWS__LATENESS`` or
    ``from the command line``.
    """
    data = _read_toml(path) if path is not None else {}
    environment = _environment()
    origins: dict[str, str] = {}
    _note(origins, (), defaults or {}, _COMMAND)
    _note(origins, (), data, f"in {path}")
    for name, var in environment.items():
        origins[".".join(var.path)] = f"from environment variable {name}"
    values = _merge(dict(defaults or {}), data)
    try:
        settings = Settings(**values)
    except ValidationError as err:
        problems = [_readable(e, origins, environment, values) for e in err.errors()]
        raise ConfigError.from_validation(problems, lambda loc: _origin_of(origins, loc)) from None
    except SettingsError as err:  # a value the environment check did not foresee
        raise ConfigError(f"invalid {ENV_PREFIX}* environment variable: {err}") from None
    settings._origins = origins
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    """The config file as data; every way it can be unreadable is one line naming the file."""
    fix = "pass a TOML file such as a copy of paypulse.example.toml"
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; copy paypulse.example.toml") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory; {fix}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {err.object[err.start]:#04x} at offset "
            f"{err.start}); save it as UTF-8"
        ) from None
    except OSError as err:
        raise ConfigError(f"config file {path} cannot be read: {err.strerror}; {fix}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from None


# --- the environment ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _EnvVar:
    path: tuple[str, ...]  # the setting it names, e.g. ("windows", "lateness")
    value: Any  # as set; decoded from JSON for a list, table or dict


def env_names(model: type[BaseModel] = Settings, prefix: str = ENV_PREFIX) -> dict[str, tuple[str, ...]]:
    """Every environment variable that names a setting, and the setting's path.

    A table can be set whole (as a JSON object) or field by field; a list or dict only whole.

    >>> env_names()["PAYPULSE_WINDOWS__LATENESS"], env_names()["PAYPULSE_ALERTING__ROUTES"]
    (('windows', 'lateness'), ('alerting', 'routes'))
    """
    names: dict[str, tuple[str, ...]] = {}
    for field, info in model.model_fields.items():
        name = f"{prefix}{field.upper()}"
        names[name] = (field,)
        if _is_section(info.annotation):
            inner = env_names(info.annotation, f"{name}__")  # type: ignore[arg-type]
            names.update({n: (field, *path) for n, path in inner.items()})
    return names


def _environment() -> dict[str, _EnvVar]:
    """The ``PAYPULSE_*`` variables set, checked: an unknown name or malformed JSON is an error."""
    known = env_names()
    found: dict[str, _EnvVar] = {}
    for name, value in sorted(os.environ.items()):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        path = known.get(name.upper())
        if path is None:
            raise ConfigError(_unknown_variable(name, known))
        if _is_complex(_annotation(path)):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as err:
                shown = "" if _is_secret(path) else f" = {value!r}"
                raise ConfigError(
                    f"invalid setting {'.'.join(path)}{shown} from environment variable {name}: not valid "
                    f"JSON ({err.msg} at character {err.pos}); write it as JSON, e.g. {_json_example(path)}"
                ) from None
        found[name] = _EnvVar(path, value)
    return found


def _unknown_variable(name: str, known: Mapping[str, tuple[str, ...]]) -> str:
    """The message for a ``PAYPULSE_*`` variable that names no setting, with the nearest that does."""
    tails = {n.removeprefix(ENV_PREFIX): n for n in known}
    close = difflib.get_close_matches(name.upper().removeprefix(ENV_PREFIX), tails, n=1, cutoff=0.6)
    hint = (
        f"did you mean {tails[close[0]]}?"
        if close
        else f"{ENV_PREFIX}<SECTION>__<FIELD> names a setting, e.g. {ENV_PREFIX}WINDOWS__LATENESS"
    )
    return f"unknown environment variable {name}: PayPulse has no such setting; {hint} (or unset it)"


def _json_example(path: tuple[str, ...]) -> str:
    annotation = _annotation(path)
    if get_origin(annotation) is list:
        inner = get_args(annotation)[0]
        if _is_section(inner):
            return """'[{"name": "oncall", "urls": ["json://host/"]}]'"""
        return """'["127.0.0.1:9092"]'"""
    if get_origin(annotation) is dict:
        return """'{"security.protocol": "SASL_SSL"}'"""
    return """'{"field": "value"}'"""


# --- model walking -----------------------------------------------------------------------------


def _is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_complex(annotation: Any) -> bool:
    """True for what pydantic-settings reads as JSON from the environment: tables, lists, dicts."""
    if _is_section(annotation) or get_origin(annotation) in (list, tuple, set, frozenset, dict):
        return True
    return get_origin(annotation) in (Union, UnionType) and any(map(_is_complex, get_args(annotation)))


def _annotation(path: tuple[Any, ...]) -> Any:
    """The type of the setting at ``path``, or None where the path leaves the model."""
    model: Any = Settings
    annotation: Any = None
    for part in path:
        if not _is_section(model) or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        model = get_args(annotation)[0] if get_origin(annotation) is list else annotation
    return annotation


def _field_info(loc: tuple[Any, ...]) -> FieldInfo | None:
    """The pydantic field at ``loc`` (list indices skipped), for its bounds."""
    model: Any = Settings
    info = None
    for part in loc:
        if isinstance(part, int):
            continue
        if not _is_section(model) or part not in model.model_fields:
            return None
        info = model.model_fields[part]
        model = get_args(info.annotation)[0] if get_origin(info.annotation) is list else info.annotation
    return info


def _siblings(loc: tuple[Any, ...]) -> list[str]:
    """The keys the table holding ``loc`` accepts."""
    model: Any = Settings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not _is_section(model) or part not in model.model_fields:
            return []
        annotation = model.model_fields[part].annotation
        model = get_args(annotation)[0] if get_origin(annotation) is list else annotation
    return list(model.model_fields) if _is_section(model) else []


# --- errors, readable --------------------------------------------------------------------------


def _note(origins: dict[str, str], prefix: tuple[str, ...], data: Mapping[str, Any], origin: str) -> None:
    """Record ``origin`` for every key (and table) in ``data``."""
    for key, value in data.items():
        path = (*prefix, str(key))
        origins[".".join(path)] = origin
        if isinstance(value, Mapping) and _is_section(_annotation(path)):
            _note(origins, path, value, origin)


def _origin_of(origins: Mapping[str, str], loc: tuple[Any, ...]) -> str:
    """The origin of the longest recorded prefix of ``loc``."""
    parts = [str(p) for p in loc]
    for n in range(len(parts), 0, -1):
        found = origins.get(".".join(parts[:n]))
        if found is not None:
            return found
    return _DEFAULT


def _dig(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return data


_MISSING: Final = object()


def _readable(
    err: Mapping[str, Any],
    origins: Mapping[str, str],
    environment: Mapping[str, _EnvVar],
    values: Mapping[str, Any],
) -> dict[str, Any]:
    """One pydantic error as ConfigError wants it: the value as written, and a message saying the fix."""
    loc = tuple(err.get("loc", ()))
    out: dict[str, Any] = {"loc": loc, "msg": _message(err, loc)}
    if _is_secret(loc):
        return out  # no "input": the value is not shown
    origin = _origin_of(origins, loc)
    var = environment.get(origin.removeprefix("from environment variable "))
    written = _dig(var.value, loc[len(var.path) :]) if var else _dig(values, loc)
    value = err.get("input", _MISSING) if written is _MISSING else written
    if value is not _MISSING and not isinstance(value, Mapping):
        out["input"] = value
    return out


def _is_secret(loc: tuple[Any, ...]) -> bool:
    """True if the value at ``loc`` is, or holds, a secret (a route URL, a token).

    >>> _is_secret(("alerting", "routes", 0, "urls", 1)), _is_secret(("alerting", "routes"))
    (True, True)
    >>> _is_secret(("alerting", "routes", 0, "min_severity"))
    False
    """
    names = tuple(p for p in loc if not isinstance(p, int))
    if names[:2] == ("alerting", "route") and ("urls" in names or len(names) < 3 or names[-1] == "routes"):
        return True  # a tree node's URLs, or a node holding them
    return any(names[: len(s)] == s or s[: len(names)] == names for s in _SECRETS)


def _message(err: Mapping[str, Any], loc: tuple[Any, ...]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        siblings = _siblings(loc)
        close = difflib.get_close_matches(str(loc[-1]), siblings, n=1, cutoff=0.6)
        where = ".".join(str(p) for p in loc[:-1])
        if close:
            return f"no such setting; did you mean {where + '.' if where else ''}{close[0]}?"
        known = f"[{where}] has" if where else "the tables are"
        return f"no such setting; {known} {', '.join(siblings)}"
    if kind == "missing":
        return "is required"
    if kind == "too_short" and (err.get("ctx") or {}).get("min_length") == 1:
        return "must not be empty"
    info = _field_info(loc)
    bounds = _range(info) if info is not None else ""
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal") and bounds:
        return bounds
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ").replace("Input should be", "must be")
    return f"{msg}; it {bounds}" if bounds else msg


def _range(info: FieldInfo) -> str:
    """A field's bounds in one phrase, ``must be at least 0s and at most 1h``; empty if it has none."""
    phrases = []
    for bound in info.metadata:
        for attr, words in (("gt", "more than"), ("ge", "at least"), ("lt", "less than"), ("le", "at most")):
            limit = getattr(bound, attr, None)
            if limit is not None:
                shown = format_duration(limit) if isinstance(limit, timedelta) else str(limit)
                phrases.append(f"{words} {shown}")
    return "must be " + " and ".join(phrases) if phrases else ""


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, table by table."""
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            base[key] = _merge(dict(base[key]), value)
        else:
            base[key] = value
    return base
