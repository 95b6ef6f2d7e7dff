"""The event contract: JSON Lines in, typed events or dead letters out.

Three event types share ``type``, ``ts``, ``channel`` and optional ``merchant_id`` / ``event_id``:

* ``payment``: ``order_id``, ``amount`` (number or decimal string, > 0), ``currency`` (CNY),
  ``status`` (succeeded | failed), optional ``error_code``. One attempt reaching a terminal state.
* ``callback``: ``order_id``, ``paid_at``, ``status`` (processed | failed), optional ``amount``
  and ``currency`` (what the provider says was paid, checked as a payment's are). The provider's
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
from dataclasses import dataclass
from datetime import datetime
from string import ascii_letters, digits
from typing import Annotated, Final, Literal

import msgspec
from babel.numbers import get_currency_precision, list_currencies

from kernel.errors import InputError

__all__ = [
    "COMPLAINT_CATEGORIES",
    "DEFAULT_LIMITS",
    "MAX_DEPTH",
    "MAX_KEPT",
    "MAX_LINE_BYTES",
    "RESERVED_NAMES",
    "Callback",
    "Complaint",
    "DeadLetter",
    "Event",
    "EventLimits",
    "Payment",
    "event_time_ms",
    "parse_batch",
    "parse_line",
]

MAX_LINE_BYTES: Final = 64 * 1024
MAX_KEPT: Final = 4096  # raw bytes kept in a dead letter; enough to see what went wrong
MAX_DEPTH: Final = 32  # nesting a line may have; an event has one level, unknown fields a few more
#: Names that mean an aggregate on /metrics and in alerts, so no channel or merchant may take them.
RESERVED_NAMES: Final = frozenset({"all"})
COMPLAINT_CATEGORIES: Final = ("paid_not_updated", "charged_twice", "refund", "other")
#: Characters an id may hold: what payment providers allow in order numbers (WeChat Pay's
#: out_trade_no, Alipay's out_trade_no), and nothing that means something in HTML, Markdown,
#: SMS, a Prometheus label or a terminal.
ID_CHARS: Final = ascii_letters + digits + "_-.:"
#: ISO 4217 code -> decimals of its minor unit, from CLDR (via Babel); XXX and XTS are not money.
CURRENCY_DECIMALS: Final = {
    code: get_currency_precision(code) for code in sorted(list_currencies()) if code not in ("XXX", "XTS")
}
_SCALE: Final = {code: 10**decimals for code, decimals in CURRENCY_DECIMALS.items()}
_EPOCH_MS_MIN: Final = 946_684_800_000  # 2000-01-01: an integer below this is seconds, not ms
_EPOCH_MS_MAX: Final = 4_102_444_800_000  # 2100-01-01
_PAID_AT_AHEAD_MS: Final = 5 * 60_000  # a provider's payment time may run this far ahead of arrival
_INF: Final = math.inf
_KNOWN_CAP: Final = 100_000  # names already checked, remembered so the hot path skips the check

_Stamp = int | Annotated[datetime, msgspec.Meta(tz=True)]
_Channel = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
_EventId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
_Currency = Annotated[str, msgspec.Meta(min_length=3, max_length=3)]


@dataclass(frozen=True, slots=True)
class EventLimits:
    """Limits of the event contract that depend on the shop: the largest plausible payment.

    A ticket above ``max_amount`` (in the currency's major unit) is a bug or an attack, not a
    sale, and one such value would swing the amount detector's mean.
    """

    max_amount: float = 10_000_000.0


DEFAULT_LIMITS: Final = EventLimits()


class Payment(msgspec.Struct, tag="payment", tag_field="type", gc=False):
    """A payment attempt that reached a terminal state at the provider."""

    ts: _Stamp
    channel: _Channel
    order_id: _Id
    amount: float | str
    status: Literal["succeeded", "failed"]
    merchant_id: _Id | None = None
    event_id: _EventId | None = None
    currency: _Currency = "CNY"
    error_code: _Id | None = None


class Callback(msgspec.Struct, tag="callback", tag_field="type", gc=False):
    """The provider's asynchronous payment notification, as it reached the merchant."""

    ts: _Stamp
    channel: _Channel
    order_id: _Id
    paid_at: _Stamp
    status: Literal["processed", "failed"]
    merchant_id: _Id | None = None
    event_id: _EventId | None = None
    amount: float | str | None = None  # the amount the provider notified, for live reconciliation
    currency: _Currency = "CNY"


class Complaint(msgspec.Struct, tag="complaint", tag_field="type", gc=False):
    """A customer complaint about a payment."""

    ts: _Stamp
    channel: _Channel
    category: str = "other"
    order_id: _Id | None = None
    merchant_id: _Id | None = None
    event_id: _EventId | None = None


Event = Payment | Callback | Complaint


class DeadLetter(msgspec.Struct, frozen=True, gc=False):
    """A line we could not accept: the raw bytes (cut at 4 KiB) and why."""

    raw: bytes
    reason: str
    detail: str = ""

    @classmethod
    def of(cls, raw: bytes, reason: str, detail: str = "") -> DeadLetter:
        """The one place a raw line is cut to :data:`MAX_KEPT` bytes."""
        return cls(raw[:MAX_KEPT], reason, detail)


_DECODER: Final = msgspec.json.Decoder(Event)
#: Names (channels, merchants, error codes) already found safe; bounded, cleared when full.
_known: set[str] = set()


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
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    return ts if type(ts) is int else int(ts.timestamp() * 1000)


def parse_line(raw: bytes, limits: EventLimits = DEFAULT_LIMITS) -> Event | DeadLetter:
    """Decode one JSON line into a normalised event, or a dead letter naming the reason.

    Never raises for bad input: the stream goes on, and the line is kept with its reason.

    >>> parse_line(b'{"type":"payment","ts":1767225600000,"channel":"alipay","order_id":"o1",'
    ...            b'"amount":"12.50","status":"succeeded"}').amount
    12.5
    >>> parse_line(b'{"type":"payment","ts":"2026-01-01T00:00:00","channel":"alipay"}').reason
    'bad_timestamp'
    >>> parse_line(b'{"type":"complaint","ts":1767225600000,"channel":"<b>alipay</b>"}').reason
    'bad_id'
    """
    if len(raw) > MAX_LINE_BYTES:
        return DeadLetter.of(raw, "too_long", f"{len(raw)} bytes > {MAX_LINE_BYTES}")
    if _too_deep(raw):
        return DeadLetter.of(raw, "too_deep", f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return _normalise(_DECODER.decode(raw), limits)
    except (msgspec.DecodeError, InputError, UnicodeDecodeError, RecursionError) as err:
        return _dead_letter(raw, err)


def parse_batch(
    lines: list[bytes], limits: EventLimits = DEFAULT_LIMITS
) -> tuple[list[Event], list[bytes], list[DeadLetter]]:
    """Parse many lines: the events in order, the raw line of each event, and the dead letters.

    The raw lines travel along because an event can still be rejected later (too late for its
    window), and the dead-letter file keeps what arrived, not our re-encoding of it.

    This is :func:`parse_line` with the common case of :func:`_normalise` written out in the
    loop: a Python call costs about as much as checking a field, and clean lines would pay two or
    three of them. A line that fails any check, or is not plainly valid, goes to
    :func:`parse_line`, which names the reason; so the two always agree.
    """
    events: list[Event] = []
    raws: list[bytes] = []
    dead: list[DeadLetter] = []
    decode = _DECODER.decode
    known = _known
    id_chars = ID_CHARS
    max_amount = limits.max_amount
    for raw in lines:
        if len(raw) > MAX_LINE_BYTES:
            dead.append(DeadLetter.of(raw, "too_long", f"{len(raw)} bytes > {MAX_LINE_BYTES}"))
            continue
        if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _too_deep(raw):
            dead.append(DeadLetter.of(raw, "too_deep", f"JSON nested deeper than {MAX_DEPTH} levels"))
            continue
        try:
            event = decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as err:
            dead.append(_dead_letter(raw, err))
            continue
        ts = event.ts
        if type(ts) is not int:
            ts = int(ts.timestamp() * 1000)
        ok = (
            _EPOCH_MS_MIN <= ts <= _EPOCH_MS_MAX
            and event.channel in known
            and (event.merchant_id is None or event.merchant_id in known)
        )
        # the ids that differ on every line, checked in one pass (see _safe)
        ids = event.order_id or ""
        if event.event_id is not None:
            ids += event.event_id
        kind = type(event)
        if kind is Payment:
            amount = _plain_amount(event.amount, _SCALE.get(event.currency, 0), max_amount)
            ok = ok and amount > 0.0 and (event.error_code is None or event.error_code in known)
            event.amount = amount
        elif kind is Callback:
            paid_at = event.paid_at
            if type(paid_at) is not int:
                paid_at = int(paid_at.timestamp() * 1000)
            ok = ok and ts - 7 * 86_400_000 <= paid_at <= ts + _PAID_AT_AHEAD_MS
            event.paid_at = paid_at
            if event.amount is not None:
                event.amount = _plain_amount(event.amount, _SCALE.get(event.currency, 0), max_amount)
                ok = ok and event.amount > 0.0
            else:
                ok = ok and event.currency in _SCALE
        elif event.category not in COMPLAINT_CATEGORIES:
            event.category = "other"
        if ok and ids.isascii() and not ids.strip(id_chars):
            event.ts = ts
            events.append(event)
            raws.append(raw)
        else:
            result = parse_line(raw, limits)  # names the reason, or accepts what only looked odd
            if type(result) is DeadLetter:
                dead.append(result)
            else:
                events.append(result)  # type: ignore[arg-type]
                raws.append(raw)
    return events, raws, dead


def _normalise(event: Event, limits: EventLimits) -> Event:
    """Check every field against the contract and turn the decoded union fields into their one
    internal form (ms ints, float amounts). Raises :class:`InputError` naming the reason."""
    event.ts = _to_ms(event.ts, "ts")
    _check_name(event.channel, "channel")
    if event.merchant_id is not None:
        _check_name(event.merchant_id, "merchant_id")
    if event.event_id is not None:
        _check_id(event.event_id, "event_id")
    if event.order_id is not None:
        _check_id(event.order_id, "order_id")
    if type(event) is Payment:
        event.amount = _to_amount(event.amount, _decimals(event.currency), limits.max_amount)
        if event.error_code is not None:
            _check_name(event.error_code, "error_code")
    elif type(event) is Callback:
        event.paid_at = _to_ms(event.paid_at, "paid_at")
        if not event.ts - 7 * 86_400_000 <= event.paid_at <= event.ts + _PAID_AT_AHEAD_MS:
            raise InputError(
                "bad_timestamp", "paid_at must be at most 7 days before ts and 5 minutes after it"
            )
        decimals = _decimals(event.currency)
        if event.amount is not None:
            event.amount = _to_amount(event.amount, decimals, limits.max_amount)
    elif event.category not in COMPLAINT_CATEGORIES:
        event.category = "other"
    return event


def _plain_amount(amount: float | str, scale: int, max_amount: float) -> float:
    """``amount`` as a float when it is plainly valid in a currency of ``scale`` (10 ** decimals;
    0 for no currency), else 0.0: :func:`parse_batch`'s fast check, which leaves naming what is
    wrong to :func:`_to_amount`.

    >>> _plain_amount("12.50", 100, 1e7), _plain_amount(12.5, 100, 1e7), _plain_amount("1.005", 100, 1e7)
    (12.5, 12.5, 0.0)
    >>> _plain_amount(float("nan"), 100, 1e7), _plain_amount("5", 0, 1e7), _plain_amount("1e3", 100, 1e7)
    (0.0, 0.0, 0.0)
    """
    if type(amount) is str:
        whole, dot, cents = amount.partition(".")
        if not (
            whole.isdigit()
            and whole.isascii()
            and (not dot or (cents.isdigit() and cents.isascii() and 10 ** len(cents) <= scale))
        ):
            return 0.0
        amount = float(amount)
    elif not 0.0 < amount <= max_amount:  # also NaN and infinity, before they reach round()
        return 0.0
    else:
        scaled = amount * scale
        if abs(scaled - round(scaled)) > 1e-6 * scaled:
            return 0.0
    return amount if 0.0 < amount <= max_amount and scale > 0 else 0.0


def _decimals(currency: str) -> int:
    """Decimals of ``currency``'s minor unit; InputError ``bad_currency`` if it is no ISO 4217 code."""
    decimals = CURRENCY_DECIMALS.get(currency)
    if decimals is None:
        raise InputError("bad_currency", f"currency {currency!r} is not an ISO 4217 code")
    return decimals


def _safe(value: str) -> bool:
    """True when ``value`` holds only :data:`ID_CHARS` (str.strip scans it in C).

    >>> _safe("o-2026.01:42"), _safe("o 1"), _safe("<script>"), _safe("ｏ1")
    (True, False, False, False)
    """
    return value.isascii() and not value.strip(ID_CHARS)


def _check_id(value: str, field: str) -> None:
    if not _safe(value):
        raise InputError("bad_id", f"{field} {value[:64]!r} may hold only letters, digits and _ - . :")


def _check_name(value: str, field: str) -> None:
    """Check a name that repeats (channel, merchant, error code) once, then remember it."""
    if value not in _known:
        _check_id(value, field)
        if value in RESERVED_NAMES:
            raise InputError("bad_id", f"{field} {value!r} is reserved for the aggregate of all")
        _remember(value)


def _too_deep(raw: bytes) -> bool:
    """True when the line nests arrays and objects deeper than :data:`MAX_DEPTH`, brackets inside
    strings not counted. A fixed limit, checked before decoding: the decoder's own limit is
    Python's recursion limit, which depends on how deep its caller already is.

    >>> _too_deep(b'{"a":' + b"[" * 40 + b"]" * 40 + b"}"), _too_deep(b'{"a":"' + b"[" * 40 + b'"}')
    (True, False)
    """
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return False
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


def _remember(name: str) -> None:
    if len(_known) >= _KNOWN_CAP:
        _known.clear()
    _known.add(name)


def _to_ms(value: int | datetime, field: str) -> int:
    ms = value if type(value) is int else int(value.timestamp() * 1000)  # type: ignore[union-attr]
    if not _EPOCH_MS_MIN <= ms <= _EPOCH_MS_MAX:
        raise InputError("bad_timestamp", f"{field}={value} is outside 2000..2100 (epoch ms or RFC 3339)")
    return ms


def _to_amount(value: float | str, decimals: int, max_amount: float) -> float:
    """A positive amount with at most the currency's decimals, no larger than ``max_amount``.

    Strings must be plain decimals (``"59.90"``): Python's ``float`` would also take ``"1_000"``,
    ``"1e3"``, ``" 5"`` and other digits than ASCII ones.

    >>> _to_amount("59.90", 2, 1e7), _to_amount(100.0, 0, 1e7), _to_amount(59.9, 2, 1e7)
    (59.9, 100.0, 59.9)
    >>> def reason(value):
    ...     try:
    ...         _to_amount(value, 2, 1e7)
    ...     except InputError as err:
    ...         return err.reason
    >>> {reason(bad) for bad in ("1_000", "1e3", "12.345", ".5", "١٢", 1.7e308, 0.001, float("nan"))}
    {'bad_amount'}
    """
    if type(value) is str:
        whole, dot, cents = value.partition(".")
        if not (whole.isascii() and whole.isdigit() and (not dot or (cents.isascii() and cents.isdigit()))):
            raise InputError("bad_amount", f"amount {value[:32]!r} is not a plain decimal like '59.90'")
        if len(cents) > decimals:
            raise InputError("bad_amount", f"amount {value[:32]!r} has more than {decimals} decimals")
        value = float(value)
    elif not 0 < value <= max_amount:  # also refuses NaN and infinity
        raise InputError("bad_amount", f"amount {value!r} must be > 0 and at most {max_amount:g}")
    else:
        scaled = value * 10**decimals
        if abs(scaled - round(scaled)) > 1e-6 * max(1.0, abs(scaled)):
            raise InputError("bad_amount", f"amount {value!r} has more than {decimals} decimals")
    if not 0 < value <= max_amount:
        raise InputError("bad_amount", f"amount {value!r} must be > 0 and at most {max_amount:g}")
    return value  # type: ignore[return-value]


def _dead_letter(raw: bytes, err: Exception) -> DeadLetter:
    if isinstance(err, InputError):
        return DeadLetter.of(raw, err.reason, err.detail)
    if isinstance(err, RecursionError):
        return DeadLetter.of(raw, "too_deep", "JSON nested too deeply")
    if isinstance(err, UnicodeDecodeError):  # msgspec raises it for invalid UTF-8 inside a string
        return DeadLetter.of(raw, "bad_encoding", str(err))
    return DeadLetter.of(raw, _reason_of(raw, str(err)), str(err))


_ID_PATHS: Final = tuple(
    f"at `$.{f}`" for f in ("channel", "merchant_id", "order_id", "event_id", "error_code")
)


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
    if message.endswith(_ID_PATHS):
        return "bad_id"
    if message.endswith("at `$.currency`"):
        return "bad_currency"
    if message.startswith("Expected `object`"):
        return "not_object"
    if "at `$." in message:
        return "bad_field"
    return "bad_json"
