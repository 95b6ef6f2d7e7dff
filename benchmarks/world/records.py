"""One block of generated events as columns of numpy arrays, one class per event type.

Times are epoch milliseconds (int64); channels, merchants and codes are indices into
:data:`~benchmarks.world.channels.CHANNELS`, the merchant list and the code tables.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TypeVar

import numpy as np

__all__ = ["CATEGORIES", "Callbacks", "Complaints", "Payments", "concat", "take"]

CATEGORIES = ("paid_not_updated", "charged_twice", "refund", "other")


@dataclass
class Payments:
    ts_ms: np.ndarray
    channel: np.ndarray
    merchant: np.ndarray
    order: np.ndarray  # order number, unique in the stream
    cents: np.ndarray
    ok: np.ndarray
    error: np.ndarray  # index into ERROR_CODES; len(ERROR_CODES) for the incident code; -1 if ok

    def __len__(self) -> int:
        return len(self.ts_ms)


@dataclass
class Callbacks:
    """Delivery attempts of payment notifications; ``ts_ms`` is when one reached the shop."""

    ts_ms: np.ndarray
    paid_ms: np.ndarray
    channel: np.ndarray
    merchant: np.ndarray
    order: np.ndarray
    attempt: np.ndarray  # 0 for the first delivery, then 1, 2, ... for the provider's retries
    ok: np.ndarray

    def __len__(self) -> int:
        return len(self.ts_ms)


@dataclass
class Complaints:
    ts_ms: np.ndarray
    channel: np.ndarray
    merchant: np.ndarray  # -1: not given
    order: np.ndarray  # -1: not given
    category: np.ndarray  # index into CATEGORIES

    def __len__(self) -> int:
        return len(self.ts_ms)


_Block = TypeVar("_Block", Payments, Callbacks, Complaints)


def concat(parts: list[_Block]) -> _Block:
    """Join blocks of one type, column by column."""
    kind = type(parts[0])
    return kind(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(kind)})


def take(block: _Block, index: np.ndarray) -> _Block:
    """The rows of ``block`` selected by a mask or an index array."""
    kind = type(block)
    return kind(**{f.name: getattr(block, f.name)[index] for f in fields(kind)})
