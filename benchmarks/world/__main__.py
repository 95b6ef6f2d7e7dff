"""``python -m benchmarks.world``: write the second traffic model's stream and labels.

    python -m benchmarks.world --peak 4 --days 2 --incidents all --seed 7 \\
        --out events.jsonl --labels-out labels.jsonl --start 2026-03-02

Without ``--incidents`` the traffic is clean. See :mod:`benchmarks.world.plan` for the specs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

if __package__ in (None, ""):  # pragma: no cover - run as a file
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.world.plan import PlanError
from benchmarks.world.world import WorldConfig, write_world


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.world", description="Generate the evaluation traffic model's events."
    )
    parser.add_argument(
        "--peak", type=float, default=4.0, help="payments/s at the evening peak (1, 4, 30, 300)"
    )
    parser.add_argument("--days", type=int, default=1, help="whole days from local midnight of --start")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 3, 2), help="first day, local")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--merchants", type=int, default=300)
    parser.add_argument("--incidents", default="", help="'all' or KIND[~VARIANT][/SCOPE][@[dN-]HH:MM],...")
    parser.add_argument("--out", type=Path, help="events JSONL (default: stdout)")
    parser.add_argument("--labels-out", type=Path, help="incident labels JSONL")
    args = parser.parse_args(argv)
    try:
        config = WorldConfig(
            peak=args.peak,
            days=args.days,
            start=args.start,
            seed=args.seed,
            merchants=args.merchants,
            incidents=args.incidents,
        )
        started = time.perf_counter()
        world = write_world(config, args.out or sys.stdout.buffer, args.labels_out)
    except (PlanError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    c = world.counts
    print(
        f"{c.lines:,} lines ({c.payments:,} payments, {c.callbacks:,} callback deliveries, "
        f"{c.complaints:,} complaints, {c.duplicates:,} re-sent) and {len(world.incidents)} incident(s) "
        f"in {time.perf_counter() - started:.1f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
