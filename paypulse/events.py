"""The event contract: JSON Lines in, typed events or dead letters out.

Three event types share ``type``, ``ts``, ``channel`` and optional ``merchant_id`` / ``event_id``:

* ``payment``: ``order_id``, ``amount`` (number or decimal string, > 0), ``currency`` (CNY),
  ``status`` (succeeded | failed), optional ``error_code``. One attempt reaching a terminal state.
* ``callback``: ``order_id``, ``paid_at``, ``status`` (processed | failed). The provider's
  asynchronous notification; ``ts`` is its arrival, so latency is ``ts - paid_at``.
* ``complaint``: ``category`` (paid_not_updated | charged_twice | refund | other; unknown values
  become other), optional ``order_id``.

Timestamps are RFC 3339 with a zone or integer epoch milliseconds; internally every time is an
``int`` of epoch milliseconds, because the hot path compares and buckets millions of them.

Decoding uses msgspec typed structs, which validate while parsing (about 0.7 µs a line). Only a
line that fails is looked at again, slowly, to name its reason, so clean traffic pays nothing
for good error messages.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Final, Literal

import msgspec

from paypulse.errors import InputError

__all__ = [
    "COMPLAINT_CATEGORIES",
    "MAX_LINE_BYTES",
    "Callback",
    "Complaint",
    "DeadLetter",
    "Event",
    "Payment",
    "event_time_ms",
    "parse_batch",
    "parse_line",
]

MAX_LINE_BYTES: Final = 64 * 1024
MAX_KEPT: Final = 4096  # raw bytes kept in a dead letter; enough to see what went wrong
COMPLAINT_CATEGORIES: Final = ("paid_not_updated", "charged_twice", "refund", "other")
_EPOCH_MS_MIN: Final = 946_684_800_000  # 2000-01-01: an integer below this is seconds, not ms
_EPOCH_MS_MAX: Final = 4_102_444_800_000  # 2100-01-01
_INF: Final = math.inf

_Stamp = int | Annotated[datetime, msgspec.Meta(tz=True)]
_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class Payment(msgspec.Struct, tag="payment", tag_field="type", gc=False):
    """A payment attempt that reached a terminal state at the provider."""

    ts: _Stamp
    channel: _Id
    order_id: _Id
    amount: float | str
    status: Literal["succeeded", "failed"]
    merchant_id: _Id | None = None
    event_id: _Id | None = None
    currency: str = "CNY"
    error_code: str | None = None


class Callback(msgspec.Struct, tag="callback", tag_field="type", gc=False):
    """The provider's asynchronous payment notification, as it reached the merchant."""

    ts: _Stamp
    channel: _Id
    order_id: _Id
    paid_at: _Stamp
    status: Literal["processed", "failed"]
    merchant_id: _Id | None = None
    event_id: _Id | None = None


class Complaint(msgspec.Struct, tag="complaint", tag_field="type", gc=False):
    """A customer complaint about a payment."""

    ts: _Stamp
    channel: _Id
    category: str = "other"
    order_id: _Id | None = None
    merchant_id: _Id | None = None
    event_id: _Id | None = None


Event = Payment | Callback | Complaint


class DeadLetter(msgspec.Struct, frozen=True, gc=False):
    """A line we could not accept: the raw bytes (cut at 4 KiB) and why."""

    raw: bytes
    reason: str
    detail: str = ""


_DECODER: Final = msgspec.json.Decoder(Event)


class _Timed(msgspec.Struct, gc=False):
    ts: _Stamp


_TIME_DECODER: Final = msgspec.json.Decoder(_Timed)


def event_time_ms(raw: bytes) -> int | None:
    """The event time of a line, for ordering before the engine parses it; None if it has none.

    Only ``ts`` is decoded (msgspec skips the rest), so this costs a fraction of a full parse.

    >>> event_time_ms(b'{"type":"payment","ts":"2026-01-01T00:00:01Z","channel":"alipay"}')
    1767225601000
    >>> event_time_ms(b'not json') is None
    True
    """
    try:
        ts = _TIME_DECODER.decode(raw).ts
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    return ts if type(ts) is int else int(ts.timestamp() * 1000)


def parse_line(raw: bytes) -> Event | DeadLetter:
    """Decode one JSON line into a normalised event, or a dead letter naming the reason.

    Never raises for bad input: the stream goes on, and the line is kept with its reason.

    >>> parse_line(b'{"type":"payment","ts":1767225600000,"channel":"alipay","order_id":"o1",'
    ...            b'"amount":"12.50","status":"succeeded"}').amount
    12.5
    >>> parse_line(b'{"type":"payment","ts":"2026-01-01T00:00:00","channel":"alipay"}').reason
    'bad_timestamp'
    """
    if len(raw) > MAX_LINE_BYTES:
        return DeadLetter(raw[:MAX_KEPT], "too_long", f"{len(raw)} bytes > {MAX_LINE_BYTES}")
    try:
        return _normalise(_DECODER.decode(raw))
    except (msgspec.DecodeError, InputError, UnicodeDecodeError) as err:
        return _dead_letter(raw, err)


def parse_batch(lines: list[bytes]) -> tuple[list[Event], list[bytes], list[DeadLetter]]:
    """Parse many lines: the events in order, the raw line of each event, and the dead letters.

    The raw lines travel along because an event can still be rejected later (too late for its
    window), and the dead-letter file keeps what arrived, not our re-encoding of it.

    This is :func:`parse_line` with :func:`_normalise` written out in the loop: a Python call
    costs about as much as checking a field, and clean lines would pay two or three of them.
    A line that fails any check goes to :func:`parse_line`, which names the reason.
    """
    events: list[Event] = []
    raws: list[bytes] = []
    dead: list[DeadLetter] = []
    decode = _DECODER.decode
    for raw in lines:
        if len(raw) > MAX_LINE_BYTES:
            dead.append(DeadLetter(raw[:MAX_KEPT], "too_long", f"{len(raw)} bytes > {MAX_LINE_BYTES}"))
            continue
        try:
            event = decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError) as err:
            dead.append(_dead_letter(raw, err))
            continue
        ts = event.ts
        if type(ts) is not int:
            ts = int(ts.timestamp() * 1000)
        kind = type(event)
        if kind is Payment:
            amount = event.amount
            if type(amount) is str:
                try:
                    amount = float(amount)
                except ValueError:
                    amount = 0.0  # refused below, with the reason
            ok = _EPOCH_MS_MIN <= ts <= _EPOCH_MS_MAX and 0.0 < amount < _INF  # also refuses NaN
            event.amount = amount
        elif kind is Callback:
            paid_at = event.paid_at
            if type(paid_at) is not int:
                paid_at = int(paid_at.timestamp() * 1000)
            ok = _EPOCH_MS_MIN <= ts <= _EPOCH_MS_MAX and _EPOCH_MS_MIN <= paid_at <= _EPOCH_MS_MAX
            event.paid_at = paid_at
        else:
            ok = _EPOCH_MS_MIN <= ts <= _EPOCH_MS_MAX
            if event.category not in COMPLAINT_CATEGORIES:
                event.category = "other"
        if ok:
            event.ts = ts
            events.append(event)
            raws.append(raw)
        else:
            dead.append(parse_line(raw))  # type: ignore[arg-type]  # a dead letter: it fails the same check
    return events, raws, dead


def _normalise(event: Event) -> Event:
    """Turn the decoded union fields into their one internal form (ms ints, float amounts)."""
    event.ts = _to_ms(event.ts, "ts")
    if type(event) is Payment:
        event.amount = _to_amount(event.amount)
    elif type(event) is Callback:
        event.paid_at = _to_ms(event.paid_at, "paid_at")
    elif event.category not in COMPLAINT_CATEGORIES:
        event.category = "other"
    return event


def _to_ms(value: int | datetime, field: str) -> int:
    ms = value if type(value) is int else int(value.timestamp() * 1000)  # type: ignore[union-attr]
    if not _EPOCH_MS_MIN <= ms <= _EPOCH_MS_MAX:
        raise InputError("bad_timestamp", f"{field}={value} is outside 2000..2100 (epoch ms or RFC 3339)")
    return ms


def _to_amount(value: float | str) -> float:
    if type(value) is str:
        try:
            value = float(value)
        except ValueError:
            raise InputError("bad_amount", f"amount {value!r} is not a decimal number") from None
    if not (value > 0 and math.isfinite(value)):
        raise InputError("bad_amount", f"amount {value!r} must be a finite number > 0")
    return value  # type: ignore[return-value]


def _dead_letter(raw: bytes, err: Exception) -> DeadLetter:
    if isinstance(err, InputError):
        return DeadLetter(raw[:MAX_KEPT], err.reason, err.detail)
    if isinstance(err, UnicodeDecodeError):  # msgspec raises it for invalid UTF-8 inside a string
        return DeadLetter(raw[:MAX_KEPT], "bad_encoding", str(err))
    return DeadLetter(raw[:MAX_KEPT], _reason_of(raw, str(err)), str(err))


def _reason_of(raw: bytes, message: str) -> str:
    """Name the reason from msgspec's message; it says what failed and where (``at `$.ts```).

    >>> _reason_of(b'{}', "Object missing required field `type`")
    'missing_field'
    >>> _reason_of(b'{}', "Expected `float | str`, got `bool` - at `$.amount`")
    'bad_amount'
    """
    if isinstance(message, str) and message.startswith(("JSON is malformed", "Input data was truncated")):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return "bad_encoding"
        return "bad_json"
    if "missing required field" in message:
        return "missing_field"
    if message.endswith("at `$.type`"):
        return "unknown_type"
    if message.endswith(("at `$.ts`", "at `$.paid_at`")):
        return "bad_timestamp"
    if message.endswith("at `$.amount`"):
        return "bad_amount"
    if message.startswith("Expected `object`"):
        return "not_object"
    if "at `$." in message:
        return "bad_field"
    return "bad_json"
