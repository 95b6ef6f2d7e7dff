"""Events as JSON Lines, the way the shop's four integrations happen to write them.

The wallets send RFC 3339 times with milliseconds, the card and UnionPay gateways epoch
milliseconds; Alipay and UnionPay amounts are decimal strings, the others numbers with two
decimals. Callbacks carry epoch-ms arrival times and an RFC 3339 ``paid_at``; complaints come from
the help desk with second-resolution RFC 3339 times. Lines are built as ``str`` for a whole
column at a time (numpy string functions), so a block of 100,000 events takes a fraction of a
second.
"""

from __future__ import annotations

import numpy as np

from benchmarks.world.channels import CHANNELS, ERROR_CODES, INCIDENT_ERROR
from benchmarks.world.records import CATEGORIES, Callbacks, Complaints, Payments

__all__ = ["Encoder"]

_ISO_TS = np.array([True, True, False, False])  # per channel: RFC 3339 (else epoch ms)
_TEXT_AMOUNT = np.array([True, False, True, False])  # per channel: "59.90" (else 59.90)


class Encoder:
    """Encodes blocks of one run; ``tag`` (from the seed) keeps ids of different runs apart."""

    def __init__(self, merchant_ids: list[str], tag: str) -> None:
        self.merchants = np.array(merchant_ids, dtype=object)
        self.channels = np.array(CHANNELS, dtype=object)
        self.tag = tag
        codes = ["", *(f',"error_code":"{c}"' for c in (*ERROR_CODES, INCIDENT_ERROR))]
        self.error_parts = np.array(codes, dtype=object)  # indexed by error + 1
        self.categories = np.array(CATEGORIES, dtype=object)

    def payments(self, pay: Payments) -> np.ndarray:
        """One line per payment, in the order of ``pay`` (an object array of ``str``)."""
        iso = _ISO_TS[pay.channel]
        ts = np.where(iso, _quoted(_rfc3339(pay.ts_ms, "ms")), pay.ts_ms.astype(str)).tolist()
        text = _amount(pay.cents)
        amount = np.where(_TEXT_AMOUNT[pay.channel], _quoted(text), text).tolist()
        status = np.where(pay.ok, "succeeded", "failed").tolist()
        error = self.error_parts[pay.error + 1].tolist()
        tag = self.tag
        lines = [
            f'{{"type":"payment","ts":{t},"channel":"{c}","merchant_id":"{m}","order_id":"{tag}-{o}",'
            f'"amount":{a},"currency":"CNY","status":"{s}"{e},"event_id":"p{tag}-{o}"}}'
            for t, c, m, o, a, s, e in zip(
                ts,
                self.channels[pay.channel].tolist(),
                self.merchants[pay.merchant].tolist(),
                pay.order.tolist(),
                amount,
                status,
                error,
                strict=True,
            )
        ]
        return _objects(lines)

    def callbacks(self, cb: Callbacks) -> np.ndarray:
        paid = _rfc3339(cb.paid_ms, "ms").tolist()
        status = np.where(cb.ok, "processed", "failed").tolist()
        tag = self.tag
        lines = [
            f'{{"type":"callback","ts":{t},"channel":"{c}","merchant_id":"{m}","order_id":"{tag}-{o}",'
            f'"paid_at":"{p}","status":"{s}","event_id":"c{tag}-{o}-{k}"}}'
            for t, c, m, o, p, s, k in zip(
                cb.ts_ms.tolist(),
                self.channels[cb.channel].tolist(),
                self.merchants[cb.merchant].tolist(),
                cb.order.tolist(),
                paid,
                status,
                cb.attempt.tolist(),
                strict=True,
            )
        ]
        return _objects(lines)

    def complaints(self, comp: Complaints) -> np.ndarray:
        ts = _rfc3339(comp.ts_ms, "s").tolist()
        merchant = np.where(
            comp.merchant >= 0, ',"merchant_id":"' + self.merchants[np.maximum(comp.merchant, 0)] + '"', ""
        ).tolist()
        order = [f',"order_id":"{self.tag}-{o}"' if o >= 0 else "" for o in comp.order.tolist()]
        lines = [
            f'{{"type":"complaint","ts":"{t}","channel":"{c}"{m},"category":"{k}"{o}}}'
            for t, c, m, k, o in zip(
                ts,
                self.channels[comp.channel].tolist(),
                merchant,
                self.categories[comp.category].tolist(),
                order,
                strict=True,
            )
        ]
        return _objects(lines)


def _rfc3339(ms: np.ndarray, unit: str) -> np.ndarray:
    return np.datetime_as_string(ms.astype("datetime64[ms]"), unit=unit, timezone="UTC")


def _quoted(values: np.ndarray) -> np.ndarray:
    return np.strings.add(np.strings.add('"', values), '"')


def _amount(cents: np.ndarray) -> np.ndarray:
    """``"59.90"`` for 5990 cents."""
    whole = (cents // 100).astype(str)
    frac = np.strings.zfill((cents % 100).astype(str), 2)
    return np.strings.add(np.strings.add(whole, "."), frac)


def _objects(lines: list[str]) -> np.ndarray:
    out = np.empty(len(lines), dtype=object)
    out[:] = lines
    return out
