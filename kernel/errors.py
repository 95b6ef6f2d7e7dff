"""PayPulse's one error hierarchy.

* PayPulseError    caught at the CLI edge: exit code 2 and one readable line
  + ConfigError    a setting is wrong: names the field, the value and the fix
  + InputError     one event is bad: ``.reason`` from a closed set, becomes a DeadLetter
  + DeliveryError  ``.retryable``: the outbox retries (5xx, timeout) or parks it (bad URL, 4xx)
  + StateError     a snapshot or stored row we cannot restore
  + InputFileError a whole input file is missing, unreadable or not the layout asked for

Bad events never escape as exceptions: :func:`kernel.events.parse_line` turns them into
values, so one poisoned line cannot stop the stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "REJECT_REASONS",
    "ConfigError",
    "DeliveryError",
    "InputError",
    "InputFileError",
    "PayPulseError",
    "StateError",
    "UsageError",
]

#: Every reason a line can be dead-lettered for; also the label values of
#: ``paypulse_events_rejected_total{reason}``, so the set is closed and public.
REJECT_REASONS = (
    "too_long",
    "too_deep",
    "bad_encoding",
    "bad_json",
    "not_object",
    "unknown_type",
    "missing_field",
    "bad_field",
    "bad_id",
    "bad_amount",
    "bad_currency",
    "bad_timestamp",
    "too_late",
    "clock_ahead",
    "kafka_error",
)


class PayPulseError(Exception):
    """Base of every error PayPulse raises on purpose."""


class ConfigError(PayPulseError):
    """A setting is wrong. The message names the field, the value, where it was set and the fix.

    ``invalid setting windows.lateness = -30 in paypulse.toml: ...``; a value from the
    environment says ``from environment variable PAYPULSE_WINDOWS__LATENESS`` instead.
    """

    @classmethod
    def from_validation(
        cls,
        errors: Iterable[Mapping[str, Any]],
        source: Path | str | Callable[[tuple[Any, ...]], str] | None,
    ) -> ConfigError:
        """Build one readable line per error from pydantic's error list.

        ``source`` says where the values came from: a file, a phrase, or a function of the
        error's location (settings mix a file and the environment). An error without an
        ``input`` (a secret) does not show its value.

        >>> str(ConfigError.from_validation(
        ...     [{"loc": ("detectors", "min_attempts"), "msg": "must be at least 1", "input": 0}],
        ...     Path("paypulse.toml")))
        'invalid setting detectors.min_attempts = 0 in paypulse.toml: must be at least 1'
        >>> str(ConfigError.from_validation(
        ...     [{"loc": ("windows", "lateness"), "msg": "must be at least 0s", "input": "-5"}],
        ...     lambda loc: "from environment variable PAYPULSE_" + "__".join(loc).upper()))
        "invalid setting windows.lateness = '-5' from environment variable PAYPULSE_WINDOWS__LATENESS: \
must be at least 0s"
        """
        lines = []
        for err in errors:
            loc = tuple(err.get("loc", ()))
            field = ".".join(str(part) for part in loc) or "(top level)"
            value = err.get("input", _UNSHOWN)
            shown = "" if value is _UNSHOWN or isinstance(value, Mapping) else f" = {value!r}"
            where = source(loc) if callable(source) else source
            where = f" in {where}" if isinstance(where, Path) else f" {where}" if where else ""
            lines.append(f"invalid setting {field}{shown}{where}: {err.get('msg', 'invalid')}")
        return cls("\n".join(lines))


_UNSHOWN = object()


class InputError(PayPulseError):
    """One event is malformed; ``reason`` is one of :data:`REJECT_REASONS`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        assert reason in REJECT_REASONS, reason
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class DeliveryError(PayPulseError):
    """A notification could not be delivered; ``retryable`` tells the outbox what to do."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class StateError(PayPulseError):
    """Stored state (a snapshot, an outbox row) cannot be restored."""


class InputFileError(PayPulseError):
    """A whole input file (a statement, an order export) is missing, unreadable or of another layout.

    The message names the file and what was expected; one bad row is never this, it is a reject.

    >>> str(InputFileError("bill.csv", "not a WeChat Pay trade bill: expected a header starting 交易时间"))
    'bill.csv: not a WeChat Pay trade bill: expected a header starting 交易时间'
    """

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem

    def __reduce__(self) -> tuple[type[InputFileError], tuple[Path, str]]:
        return type(self), (self.path, self.problem)  # crosses process boundaries as itself


class UsageError(PayPulseError):
    """An operator's command or API call is wrong: the message names the argument and the fix."""
