"""The event parser: one row per malformed line with its dead-letter reason, one per valid form.

Written as Apprise's plugin tests are: a table of input -> expected outcome, so a new rule is
one new row and a reader sees the whole contract at a glance.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kernel.errors import REJECT_REASONS
from kernel.events import (
    MAX_KEPT,
    MAX_LINE_BYTES,
    Callback,
    Complaint,
    DeadLetter,
    Payment,
    parse_batch,
    parse_line,
)

TS = 1_767_225_600_000  # 2026-01-01T00:00:00Z

PAYMENT = {"type": "payment", "ts": TS, "channel": "alipay", "order_id": "o1", "amount": 12.5,
           "status": "succeeded"}  # fmt: skip
CALLBACK = {"type": "callback", "ts": TS + 3000, "channel": "alipay", "order_id": "o1", "paid_at": TS,
            "status": "processed"}  # fmt: skip
COMPLAINT = {"type": "complaint", "ts": TS, "channel": "wechat", "category": "charged_twice"}

REQUIRED = {
    "payment": ("type", "ts", "channel", "order_id", "amount", "status"),
    "callback": ("type", "ts", "channel", "order_id", "paid_at", "status"),
    "complaint": ("type", "ts", "channel"),
}
BASE = {"payment": PAYMENT, "callback": CALLBACK, "complaint": COMPLAINT}
#: Invalid UTF-8 inside a string value: msgspec only notices when it builds the ``str``.
LATIN1_IN_STRING = b'{"type": "payment", "ts": 1767225600000, "channel": "caf\xe9", "order_id": "o1"}'


def line(base: dict, drop: tuple[str, ...] = (), **changes: object) -> bytes:
    """``base`` with ``changes`` applied and ``drop`` removed, as one JSON line."""
    data = {k: v for k, v in {**base, **changes}.items() if k not in drop}
    return json.dumps(data).encode()


def raw_json(base: dict, field: str, token: str) -> bytes:
    """``base`` with ``field`` set to a raw JSON token (for values json.dumps will not write, like 1e400)."""
    marker = "__RAW__"
    return json.dumps({**base, field: marker}).replace(f'"{marker}"', token).encode()


def _missing_rows() -> list:
    rows = []
    for kind, fields in REQUIRED.items():
        for name in fields:
            if name == "type":
                continue
            rows.append(pytest.param(line(BASE[kind], drop=(name,)), "missing_field", id=f"{kind}-no-{name}"))
    rows.append(pytest.param(line(PAYMENT, drop=("type",)), "missing_field", id="no-type"))
    return rows


MALFORMED = [
    pytest.param(b"{" + b" " * MAX_LINE_BYTES + b"}", "too_long", id="too-long"),
    pytest.param(b"\xff\xfe{}", "bad_encoding", id="not-utf8"),
    pytest.param(
        LATIN1_IN_STRING,
        "bad_encoding",
        id="latin1-in-string",
    ),
    pytest.param(b"", "bad_json", id="empty"),
    pytest.param(b"{bad", "bad_json", id="broken-object"),
    pytest.param(line(PAYMENT) + b" x", "bad_json", id="trailing-garbage"),
    pytest.param(line(PAYMENT)[:-5], "bad_json", id="truncated"),
    pytest.param(b"[1, 2]", "not_object", id="array"),
    pytest.param(b'"payment"', "not_object", id="string"),
    pytest.param(b"42", "not_object", id="number"),
    pytest.param(b"null", "not_object", id="null"),
    pytest.param(line(PAYMENT, type="refund"), "unknown_type", id="unknown-type"),
    pytest.param(line(PAYMENT, type=5), "unknown_type", id="type-not-string"),
    *_missing_rows(),
    pytest.param(line(PAYMENT, status="pending"), "bad_field", id="payment-bad-status"),
    pytest.param(line(CALLBACK, status="succeeded"), "bad_field", id="callback-bad-status"),
    pytest.param(b'{"type":"payment","x":' + b"[" * 1000 + b"]" * 1000 + b"}", "too_deep", id="nested-1000"),
    pytest.param(b'{"a":' + b"[" * 20_000 + b"]" * 20_000 + b"}", "too_deep", id="nested-20000"),
    pytest.param(b"[" * 20_000 + b"]" * 20_000, "too_deep", id="nested-array-at-top"),
    pytest.param(b'{"a":' + b"[" * 32 + b"]" * 32 + b"}", "too_deep", id="nested-33"),
    pytest.param(line(PAYMENT, channel="all"), "bad_id", id="channel-reserved-all"),
    pytest.param(line(PAYMENT, merchant_id="all"), "bad_id", id="merchant-reserved-all"),
    pytest.param(line(PAYMENT, channel=""), "bad_id", id="empty-channel"),
    pytest.param(line(PAYMENT, channel=7), "bad_id", id="channel-not-string"),
    pytest.param(line(PAYMENT, channel="x" * 33), "bad_id", id="channel-too-long"),
    pytest.param(line(PAYMENT, channel="x" * 256), "bad_id", id="channel-256"),
    pytest.param(line(PAYMENT, channel="ali\u0000pay"), "bad_id", id="channel-nul"),
    pytest.param(line(PAYMENT).replace(b"alipay", b"ali\x00pay"), "bad_json", id="channel-raw-nul-byte"),
    pytest.param(line(PAYMENT, channel="<script>"), "bad_id", id="channel-html"),
    pytest.param(line(PAYMENT, channel="支付宝"), "bad_id", id="channel-not-ascii"),
    pytest.param(line(PAYMENT, merchant_id="[x](http://e.vil)"), "bad_id", id="merchant-markdown"),
    pytest.param(line(PAYMENT, merchant_id="m 1"), "bad_id", id="merchant-space"),
    pytest.param(line(PAYMENT, order_id="o\n1"), "bad_id", id="order-id-newline"),
    pytest.param(line(PAYMENT, order_id="x" * 65), "bad_id", id="order-id-too-long"),
    pytest.param(line(PAYMENT, event_id="e" * 129), "bad_id", id="event-id-too-long"),
    pytest.param(line(PAYMENT, event_id="e|1"), "bad_id", id="event-id-pipe"),
    pytest.param(line(PAYMENT, error_code="@all"), "bad_id", id="error-code-mention"),
    pytest.param(line(PAYMENT, currency="RMB"), "bad_currency", id="currency-not-iso"),
    pytest.param(line(PAYMENT, currency="cny"), "bad_currency", id="currency-lowercase"),
    pytest.param(line(PAYMENT, currency="C" * 60_000), "bad_currency", id="currency-60k"),
    pytest.param(line(PAYMENT, currency="XXX"), "bad_currency", id="currency-no-currency"),
    pytest.param(line(PAYMENT, merchant_id=5), "bad_id", id="merchant-id-int"),
    pytest.param(line(PAYMENT, event_id=""), "bad_id", id="event-id-empty"),
    pytest.param(line(PAYMENT, currency=156), "bad_currency", id="currency-int"),
    pytest.param(line(PAYMENT, error_code=500), "bad_id", id="error-code-int"),
    pytest.param(line(COMPLAINT, category=3), "bad_field", id="category-int"),
    pytest.param(line(COMPLAINT, order_id=["o1"]), "bad_id", id="complaint-order-id-list"),
    pytest.param(line(PAYMENT, amount=0), "bad_amount", id="amount-zero"),
    pytest.param(line(PAYMENT, amount="1_000"), "bad_amount", id="amount-underscore"),
    pytest.param(line(PAYMENT, amount="1e3"), "bad_amount", id="amount-exponent-string"),
    pytest.param(line(PAYMENT, amount=" 12"), "bad_amount", id="amount-space"),
    pytest.param(line(PAYMENT, amount="12."), "bad_amount", id="amount-trailing-dot"),
    pytest.param(line(PAYMENT, amount="\u0661\u0662"), "bad_amount", id="amount-arabic-digits"),
    pytest.param(line(PAYMENT, amount="12.345"), "bad_amount", id="amount-three-decimals-cny"),
    pytest.param(line(PAYMENT, amount=12.345), "bad_amount", id="amount-three-decimals-number"),
    pytest.param(line(PAYMENT, amount="1.5", currency="JPY"), "bad_amount", id="amount-decimals-jpy"),
    pytest.param(line(PAYMENT, amount=1.7e308), "bad_amount", id="amount-huge"),
    pytest.param(line(PAYMENT, amount="10000000.01"), "bad_amount", id="amount-over-max"),
    pytest.param(line(PAYMENT, amount=-3.5), "bad_amount", id="amount-negative"),
    pytest.param(line(PAYMENT, amount="-1.00"), "bad_amount", id="amount-negative-string"),
    pytest.param(line(PAYMENT, amount="abc"), "bad_amount", id="amount-not-number"),
    pytest.param(line(PAYMENT, amount="NaN"), "bad_amount", id="amount-nan"),
    pytest.param(line(PAYMENT, amount="inf"), "bad_amount", id="amount-inf"),
    pytest.param(line(PAYMENT, amount="1e400"), "bad_amount", id="amount-overflow-string"),
    pytest.param(raw_json(PAYMENT, "amount", "1e400"), "bad_amount", id="amount-overflow-number"),
    pytest.param(line(PAYMENT, amount=True), "bad_amount", id="amount-bool"),
    pytest.param(line(PAYMENT, amount=None), "bad_amount", id="amount-null"),
    pytest.param(line(PAYMENT, amount=[1]), "bad_amount", id="amount-list"),
    pytest.param(line(CALLBACK, amount="12.345"), "bad_amount", id="callback-amount-three-decimals"),
    pytest.param(line(CALLBACK, amount=0), "bad_amount", id="callback-amount-zero"),
    pytest.param(line(CALLBACK, amount=-1), "bad_amount", id="callback-amount-negative"),
    pytest.param(line(CALLBACK, amount="1e3"), "bad_amount", id="callback-amount-exponent"),
    pytest.param(line(CALLBACK, amount="NaN"), "bad_amount", id="callback-amount-nan"),
    pytest.param(raw_json(CALLBACK, "amount", "1e400"), "bad_amount", id="callback-amount-overflow"),
    pytest.param(line(CALLBACK, amount=True), "bad_amount", id="callback-amount-bool"),
    pytest.param(line(CALLBACK, amount={"v": 1}), "bad_amount", id="callback-amount-object"),
    pytest.param(line(CALLBACK, amount="10000000.01"), "bad_amount", id="callback-amount-over-max"),
    pytest.param(
        line(CALLBACK, amount="1.5", currency="JPY"), "bad_amount", id="callback-amount-decimals-jpy"
    ),
    pytest.param(line(CALLBACK, amount="5", currency="RMB"), "bad_currency", id="callback-currency-not-iso"),
    pytest.param(line(CALLBACK, currency="XXX"), "bad_currency", id="callback-currency-without-amount"),
    pytest.param(line(PAYMENT, ts="2026-01-01T00:00:00"), "bad_timestamp", id="ts-naive"),
    pytest.param(line(PAYMENT, ts="yesterday"), "bad_timestamp", id="ts-text"),
    pytest.param(raw_json(PAYMENT, "ts", f"{TS}.5"), "bad_timestamp", id="ts-float"),
    pytest.param(line(PAYMENT, ts=TS // 1000), "bad_timestamp", id="ts-seconds"),
    pytest.param(line(PAYMENT, ts=0), "bad_timestamp", id="ts-1970-ms"),
    pytest.param(line(PAYMENT, ts=-5), "bad_timestamp", id="ts-negative"),
    pytest.param(line(PAYMENT, ts=10**22), "bad_timestamp", id="ts-huge"),
    pytest.param(line(PAYMENT, ts=True), "bad_timestamp", id="ts-bool"),
    pytest.param(line(PAYMENT, ts=None), "bad_timestamp", id="ts-null"),
    pytest.param(line(CALLBACK, paid_at="x"), "bad_timestamp", id="paid-at-text"),
    pytest.param(line(CALLBACK, paid_at=5), "bad_timestamp", id="paid-at-tiny"),
    pytest.param(line(CALLBACK, paid_at=TS + 3000 + 301_000), "bad_timestamp", id="paid-at-after-arrival"),
    pytest.param(line(CALLBACK, paid_at=TS - 8 * 86_400_000), "bad_timestamp", id="paid-at-8-days-before"),
    pytest.param(
        line(PAYMENT, ts="1970-01-01T00:00:00Z"),
        "bad_timestamp",
        id="ts-1970-rfc3339",
    ),
    pytest.param(
        line(CALLBACK, paid_at="2200-01-01T00:00:00Z"),
        "bad_timestamp",
        id="paid-at-2200-rfc3339",
    ),
]


@pytest.mark.parametrize(("raw", "reason"), MALFORMED)
def test_malformed_line_becomes_dead_letter_with_reason(raw: bytes, reason: str) -> None:
    result = parse_line(raw)
    assert isinstance(result, DeadLetter), result
    assert result.reason == reason, result.detail
    assert result.raw == raw[:MAX_KEPT]


#: Reasons given after parsing: by the engine (too late, a clock ahead) or by the Kafka source.
NOT_THE_PARSERS = {"too_late", "clock_ahead", "kafka_error"}


def test_table_covers_every_reason_the_parser_can_give() -> None:
    covered = {p.values[1] for p in MALFORMED}
    assert covered <= set(REJECT_REASONS)
    assert covered == set(REJECT_REASONS) - NOT_THE_PARSERS


def test_dead_letter_keeps_at_most_max_kept_bytes() -> None:
    raw = b"{" + b"x" * (MAX_LINE_BYTES + 10)
    letter = parse_line(raw)
    assert isinstance(letter, DeadLetter)
    assert letter.raw == raw[:MAX_KEPT]
    assert str(MAX_LINE_BYTES) in letter.detail


VALID = [
    pytest.param(line(PAYMENT), Payment(TS, "alipay", "o1", 12.5, "succeeded"), id="payment-epoch-ms"),
    pytest.param(
        line(PAYMENT, ts="2026-01-01T08:00:00+08:00"),
        Payment(TS, "alipay", "o1", 12.5, "succeeded"),
        id="payment-rfc3339-offset",
    ),
    pytest.param(
        line(PAYMENT, ts="2026-01-01T00:00:00.250Z"),
        Payment(TS + 250, "alipay", "o1", 12.5, "succeeded"),
        id="payment-rfc3339-z-millis",
    ),
    pytest.param(
        line(PAYMENT, amount="12.50", status="failed", error_code="TIMEOUT"),
        Payment(TS, "alipay", "o1", 12.5, "failed", error_code="TIMEOUT"),
        id="payment-decimal-string-failed",
    ),
    pytest.param(
        line(PAYMENT, amount=3, merchant_id="m1", event_id="e1", currency="USD"),
        Payment(TS, "alipay", "o1", 3.0, "succeeded", merchant_id="m1", event_id="e1", currency="USD"),
        id="payment-all-optional-fields",
    ),
    pytest.param(
        line(PAYMENT, extra="ignored"),
        Payment(TS, "alipay", "o1", 12.5, "succeeded"),
        id="payment-unknown-field-ignored",
    ),
    pytest.param(
        line(CALLBACK), Callback(TS + 3000, "alipay", "o1", TS, "processed"), id="callback-epoch-ms"
    ),
    pytest.param(
        line(CALLBACK, ts="2026-01-01T00:00:03Z", paid_at="2026-01-01T08:00:00+08:00", status="failed"),
        Callback(TS + 3000, "alipay", "o1", TS, "failed"),
        id="callback-rfc3339",
    ),
    pytest.param(
        line(CALLBACK, amount="12.50"),
        Callback(TS + 3000, "alipay", "o1", TS, "processed", amount=12.5),
        id="callback-amount-string",
    ),
    pytest.param(
        line(CALLBACK, amount=500, currency="JPY"),
        Callback(TS + 3000, "alipay", "o1", TS, "processed", amount=500.0, currency="JPY"),
        id="callback-amount-jpy",
    ),
    pytest.param(line(COMPLAINT), Complaint(TS, "wechat", "charged_twice"), id="complaint"),
    pytest.param(
        line(COMPLAINT, category="spam"), Complaint(TS, "wechat", "other"), id="complaint-unknown-category"
    ),
    pytest.param(
        line(COMPLAINT, drop=("category",), order_id="o9", merchant_id="m2"),
        Complaint(TS, "wechat", "other", order_id="o9", merchant_id="m2"),
        id="complaint-no-category",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), VALID)
def test_valid_line_becomes_normalised_event(raw: bytes, expected: object) -> None:
    event = parse_line(raw)
    assert event == expected
    assert type(event.ts) is int


def test_payment_defaults_currency_to_cny_and_optional_fields_to_none() -> None:
    event = parse_line(line(PAYMENT))
    assert isinstance(event, Payment)
    assert (event.currency, event.merchant_id, event.event_id, event.error_code) == ("CNY", None, None, None)


def test_parse_batch_keeps_order_and_pairs_each_event_with_its_raw_line() -> None:
    lines = [
        line(PAYMENT, order_id="a"),
        b"nope",
        line(CALLBACK, order_id="b"),
        line(PAYMENT, amount=0),
        b"x" * (MAX_LINE_BYTES + 1),
        line(COMPLAINT, order_id="c"),
    ]
    events, raws, dead = parse_batch(lines)
    assert [type(e).__name__ for e in events] == ["Payment", "Callback", "Complaint"]
    assert [e.order_id for e in events] == ["a", "b", "c"]
    assert raws == [lines[0], lines[2], lines[5]]
    assert [(d.raw, d.reason) for d in dead] == [
        (b"nope", "bad_json"),
        (lines[3], "bad_amount"),
        (lines[4][:MAX_KEPT], "too_long"),
    ]


def test_parse_batch_agrees_with_parse_line() -> None:
    lines = [p.values[0] for p in MALFORMED + VALID if p.values[0] != LATIN1_IN_STRING]
    events, _raws, dead = parse_batch(lines)
    singles = [parse_line(raw) for raw in lines]
    assert events == [s for s in singles if not isinstance(s, DeadLetter)]
    assert dead == [s for s in singles if isinstance(s, DeadLetter)]


# -- properties --------------------------------------------------------------------------------

EVENT_TYPES = (Payment, Callback, Complaint)
_EPOCH_MS_RANGE = (946_684_800_000, 4_102_444_800_000)  # 2000..2100


def _is_outcome(result: object) -> bool:
    if isinstance(result, DeadLetter):
        return result.reason in REJECT_REASONS
    return isinstance(result, EVENT_TYPES)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_any_bytes_give_an_event_or_a_dead_letter(raw: bytes) -> None:
    assert _is_outcome(parse_line(raw))


def _splice(raw: bytes, at: int, junk: bytes) -> bytes:
    at %= len(raw) + 1
    return raw[:at] + junk + raw[at:]


@example(raw=line(PAYMENT), at=30, junk=b"\xe9")
@settings(max_examples=300)
@given(
    st.sampled_from([line(PAYMENT), line(CALLBACK), line(COMPLAINT)]),
    st.integers(0, 200),
    st.binary(max_size=4),
)
def test_valid_line_with_bytes_spliced_in_gives_an_event_or_a_dead_letter(
    raw: bytes, at: int, junk: bytes
) -> None:
    assert _is_outcome(parse_line(_splice(raw, at, junk)))
    events, _raws, dead = parse_batch([_splice(raw, at, junk)])
    assert len(events) + len(dead) == 1


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00", "12.50", "NaN", "inf", "-1", "0"])
)
_plausible_values = {
    "type": st.sampled_from(["payment", "callback", "complaint", "refund", ""]) | _scalars,
    "ts": st.integers(min_value=TS - 10**12, max_value=TS + 10**12) | _scalars,
    "paid_at": st.integers(min_value=TS - 10**9, max_value=TS) | _scalars,
    "channel": st.sampled_from(["alipay", "wechat", ""]) | _scalars,
    "order_id": st.text(min_size=1, max_size=10) | _scalars,
    "amount": st.floats(min_value=-10, max_value=1e6) | st.decimals(allow_nan=True).map(str) | _scalars,
    "status": st.sampled_from(["succeeded", "failed", "processed", "pending"]) | _scalars,
    "category": st.sampled_from(["refund", "charged_twice", "weird"]) | _scalars,
    "merchant_id": st.text(max_size=5) | _scalars,
    "event_id": st.text(max_size=5) | _scalars,
    "currency": st.sampled_from(["CNY", "USD"]) | _scalars,
    "error_code": _scalars,
    "extra": _scalars
    | st.lists(_scalars, max_size=3)
    | st.dictionaries(st.text(max_size=3), _scalars, max_size=3),
}
_plausible_objects = st.fixed_dictionaries(
    {}, optional={name: strategy for name, strategy in _plausible_values.items()}
)


@settings(max_examples=500)
@given(_plausible_objects)
def test_any_json_object_of_plausible_fields_gives_an_event_or_a_dead_letter(data: dict) -> None:
    raw = json.dumps(data, allow_nan=True).encode()
    result = parse_line(raw)
    events, _raws, dead = parse_batch([raw])
    assert events + dead == [result]  # the batch parser's inlined checks agree with parse_line
    assert _is_outcome(result)
    if not isinstance(result, DeadLetter):
        if type(data.get("ts")) is int:  # epoch ms outside 2000..2100 is refused
            assert _EPOCH_MS_RANGE[0] <= result.ts <= _EPOCH_MS_RANGE[1]
        if isinstance(result, Payment):
            assert result.amount > 0 and result.amount != float("inf")
