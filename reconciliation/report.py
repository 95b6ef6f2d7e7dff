"""The run's outputs: differences as JSON Lines and as a CSV finance opens in Excel, and the summary.

Amounts are written in the major unit as decimal strings (``"12.34"``), times as ISO 8601 in the
bill's time zone, so a finance reader never meets minor units or epoch milliseconds. The CSV is
UTF-8 with a BOM, without which Excel shows Chinese text as mojibake.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from reconciliation.fields import format_minor
from reconciliation.judge import Difference

__all__ = ["CSV_COLUMNS", "difference_record", "write_differences"]

CSV_COLUMNS: Final = (
    "day",
    "provider",
    "order_id",
    "provider_txn_id",
    "class",
    "risk",
    "state",
    "amount_delta",
    "currency",
    "our_amount",
    "their_amount",
    "our_status",
    "action",
    "resolution",
    "ticket_id",
    "held_until",
)


def _side(side: dict[str, Any] | None, zone: ZoneInfo) -> dict[str, Any] | None:
    """One side of a difference for people: money as decimal strings, times as ISO 8601."""
    if side is None:
        return None
    out = {}
    for key, value in side.items():
        if key in ("amount", "refund", "refunded") and value is not None:
            value = format_minor(value, side["currency"])
        elif key.endswith("_ms"):
            key, value = ("at" if key == "at_ms" else key[:-3] + "_at"), value and _iso(value, zone)
        elif key == "fee" and value is not None:
            value = f"{value.normalize():f}"
        out[key] = value
    return out


def _iso(ms: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, zone).isoformat()


def difference_record(diff: Difference, zone: ZoneInfo) -> dict[str, Any]:
    """One line of differences.jsonl."""
    return {
        "order_id": diff.order_id,
        "provider_txn_id": diff.provider_txn_id,
        "class": diff.klass,
        "risk": diff.risk,
        "ours": _side(diff.ours, zone),
        "theirs": _side(diff.theirs, zone),
        "amount_delta": format_minor(diff.amount_delta, diff.currency),
        "currency": diff.currency,
        "action": diff.action,
        "ticket_id": diff.ticket_id,
        "state": "final" if diff.final else "transient",
        "held_until": diff.held_until.isoformat() if diff.held_until else None,
        "resolution": diff.resolution,
        "day": diff.day.isoformat(),
        "provider": diff.provider,
    }


def write_differences(diffs: Iterable[Difference], out_dir: Path, zone: ZoneInfo) -> None:
    """Write ``differences.jsonl`` and ``differences.csv`` (UTF-8 with BOM) into ``out_dir``."""
    with (
        (out_dir / "differences.jsonl").open("w", encoding="utf-8") as jsonl,
        (out_dir / "differences.csv").open("w", encoding="utf-8-sig", newline="") as table,
    ):
        writer = csv.writer(table)
        writer.writerow(CSV_COLUMNS)
        for diff in diffs:
            record = difference_record(diff, zone)
            jsonl.write(json.dumps(record, ensure_ascii=False) + "\n")
            ours, theirs = record["ours"] or {}, record["theirs"] or {}
            flat = {
                **record,
                "our_amount": ours.get("amount"),
                "their_amount": theirs.get("amount"),
                "our_status": ours.get("status"),
            }
            writer.writerow([flat.get(c) for c in CSV_COLUMNS])
