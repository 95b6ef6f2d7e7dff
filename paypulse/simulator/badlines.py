"""Deliberately malformed lines, so the dead-letter path is exercised with realistic garbage.

Each kind is a mistake real producers make, and each maps to the reason
:func:`kernel.events.parse_line` must give it; tests hold the parser to that table.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import orjson

__all__ = ["BAD_LINE_KINDS", "make_bad_line", "pick_kinds"]

#: Kind of malformed line -> the dead-letter reason the parser must give it.
BAD_LINE_KINDS: Final = {
    "bad_json": "bad_json",
    "missing_field": "missing_field",
    "negative_amount": "bad_amount",
    "bad_timestamp": "bad_timestamp",
    "unknown_type": "unknown_type",
}
KIND_NAMES: Final = tuple(BAD_LINE_KINDS)

_MISSING: Final = ("order_id", "status", "amount", "channel", "ts")
_BAD_STAMPS: Final = ("yesterday", "2026-03-02 09:00:00", "2026-13-45T25:61:00Z", 1767225600)
_UNKNOWN_TYPES: Final = ("refund", "chargeback", "Payment", "")


def make_bad_line(kind: str, event: dict[str, Any], pick: int) -> bytes:
    """One malformed line of ``kind``, built from a valid payment ``event``; ``pick`` varies the form.

    >>> from kernel.events import parse_line
    >>> good = {"type": "payment", "ts": 1767225600000, "channel": "alipay", "order_id": "o1",
    ...         "amount": 12.5, "status": "succeeded"}
    >>> [parse_line(make_bad_line(k, good, 1)).reason for k in BAD_LINE_KINDS]
    ['bad_json', 'missing_field', 'bad_amount', 'bad_timestamp', 'unknown_type']
    """
    bad = dict(event)
    if kind == "bad_json":
        raw = orjson.dumps(bad)
        forms = (raw[: len(raw) // 2], raw.replace(b'"', b"'"), raw + b"}", raw[:-1] + b",}")
        return forms[pick % len(forms)]
    if kind == "missing_field":
        del bad[_MISSING[pick % len(_MISSING)]]
    elif kind == "negative_amount":
        amount = float(bad["amount"])
        bad["amount"] = f"-{amount:.2f}" if pick % 2 else -amount
    elif kind == "bad_timestamp":
        bad["ts"] = _BAD_STAMPS[pick % len(_BAD_STAMPS)]
    elif kind == "unknown_type":
        bad["type"] = _UNKNOWN_TYPES[pick % len(_UNKNOWN_TYPES)]
    else:
        raise ValueError(f"unknown bad-line kind {kind!r}; use one of {KIND_NAMES}")
    return orjson.dumps(bad)


def pick_kinds(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` kinds, uniformly."""
    return [KIND_NAMES[i] for i in rng.integers(0, len(KIND_NAMES), n).tolist()]
