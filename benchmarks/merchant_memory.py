"""Does PayPulse's memory stay flat as the number of merchants grows?

Per-merchant state is meant to be bounded by construction: the heaviest ``windows.top_merchants``
merchants get their own detectors, a Misra-Gries summary of ``10 x top_merchants`` counters picks
them, and the long tail is counted only in its channel. So the same number of lines should cost
the same memory whether they come from 1,000 merchants or from 99,999.

One run generates ``--events`` lines of the scenario (``scenarios/day.toml`` by default) for each
merchant count (1,000, 10,000, 99,999) and Zipf exponent (1.0, and 0.6: a flatter tail, where far
more merchants are near the top-K cut and it changes from minute to minute), each file the same
length. Each file is then run through the :class:`~engine.core.Engine` in a plain loop over
batches of ``source.batch_size`` lines (throughput.py's ``engine`` variant, without the output
files) in its own child process, so that the peak RSS is that run's own. The rows are interleaved
over ``--rounds`` rounds; the peak RSS reported is the largest over the rounds, events/s the best.

Columns, from the child's state at the end of the stream (after ``Engine.finish``):

* ``peak RSS``: ``VmHWM`` of the child, imports included; ``state``: peak RSS minus the RSS just
  before the first line (imports and an empty engine), i.e. what the stream's state cost;
* ``vs 1k``: both ratios against the 1,000-merchant row of the same exponent, from the same run;
* ``detector scopes``: scopes with live detectors, total (merchants among them);
* ``kept scopes``: merchant scopes whose recent observations the engine keeps for /metrics;
* ``heavy``: Misra-Gries counters; ``pending``: paid orders awaiting their callback;
* ``snapshot``: ``len(orjson.dumps(engine.snapshot()))``, what a checkpoint writes;
* ``events/s`` by wall time and ``events/CPU-s`` by the child's CPU time (steadier on a busy machine).

Under the table, any merchant-keyed state above its designed bound (``top_merchants`` plus the
merchant scopes still firing; ``10 x top_merchants`` counters) is listed as ``ABOVE BOUND``.

Run: ``.venv/bin/python benchmarks/merchant_memory.py [--events 1000000] [--rounds 1] [--json out.json]``
(about 4 minutes on 2 cores at the defaults).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks._common` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import Rates, best_of_rounds, generate_events, peak_rss_mib

MERCHANT_COUNTS = (1_000, 10_000, 99_999)
ZIPF_EXPONENTS = (1.0, 0.6)
# loaded before the clock and the RSS baseline, so neither counts imports
IMPORTS = ("engine.core", "kernel.settings", "engine.sources", "orjson")


@dataclass(frozen=True)
class Row(Rates):
    """One child's figures for one (merchant count, Zipf exponent)."""

    merchants: int
    zipf: float
    lines: int
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    start_rss_mib: float  # before the first line: interpreter, imports, empty engine
    detector_scopes: int
    merchant_detector_scopes: int
    kept_merchant_scopes: int  # merchant scopes in Engine.history
    scored_merchant_scopes: int  # merchant scopes in Engine.scores
    heavy_entries: int
    heavy_capacity: int
    top_merchants: int
    pending_orders: int
    firing: int
    snapshot_bytes: int
    alert_changes: int

    @property
    def state_mib(self) -> float:
        return self.peak_rss_mib - self.start_rss_mib


# -- the child: one stream through one engine -----------------------------------------------------


def rss_mib() -> float:
    """This process's current resident set size in MiB (``VmRSS``; 0.0 where /proc is missing)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_child(events: Path, config: Path | None) -> dict:
    """Run ``events`` through a fresh engine; the figures as plain data."""
    for module in IMPORTS:
        importlib.import_module(module)
    import orjson

    from engine.core import Engine
    from engine.sources import FileSource, batched
    from kernel.settings import load_settings

    settings = load_settings(config)
    engine = Engine(settings)
    source = FileSource(events)
    start_rss = rss_mib()
    alerts = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for part in source.partitions():
        for _, lines in batched(source.read(part, None), settings.source.batch_size):
            alerts += len(engine.process(lines).alerts)
    alerts += len(engine.finish().alerts)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    peak = peak_rss_mib()  # before the snapshot below, whose bytes are not engine state
    stats = engine.stats
    return {
        "lines": sum(stats.accepted.values()) + sum(stats.rejected.values()) + stats.duplicates,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss_mib": peak,
        "start_rss_mib": start_rss,
        "detector_scopes": len(engine.detectors),
        "merchant_detector_scopes": sum(1 for s in engine.detectors if s.merchant_id is not None),
        "kept_merchant_scopes": sum(1 for s in engine.history if s.merchant_id is not None),
        "scored_merchant_scopes": len({s for _k, s in engine.scores if s.merchant_id is not None}),
        "heavy_entries": len(engine.heavy.counts),
        "heavy_capacity": engine.heavy.capacity,
        "top_merchants": engine.top_merchants,
        "pending_orders": len(engine.stuck.pending),
        "firing": len(engine.lifecycle.firing),
        "snapshot_bytes": len(orjson.dumps(engine.snapshot())),
        "alert_changes": alerts,
    }


def measure(merchants: int, zipf: float, events: Path, config: Path | None) -> Row:
    """One fresh child process over ``events``."""
    command = [sys.executable, __file__, "--child", "--events-file", str(events)]
    if config is not None:
        command += ["--config", str(config)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(
            f"the run with {merchants:,} merchants failed (exit {done.returncode}):\n{done.stderr}"
        )
    return Row(merchants, zipf, **json.loads(done.stdout.strip().splitlines()[-1]))


# -- the parent: streams, rounds, table -----------------------------------------------------------


def write_scenario(base: Path, merchants: int, zipf: float, out: Path) -> Path:
    """``base`` with its merchants replaced by ``merchants`` Zipf(``zipf``) ones, written to ``out``."""
    text = base.read_text()
    if "merchants" in tomllib.loads(text):
        raise SystemExit(f"{base} sets [merchants] itself; use a scenario without it (this script sets it)")
    out.write_text(f"{text}\n[merchants]\ncount = {merchants}\nzipf_exponent = {zipf}\n")
    return out


def table(rows: list[Row]) -> str:
    """A Markdown table the README can quote; ratios against the 1,000-merchant row of each exponent."""
    first = {r.zipf: r for r in rows if r.merchants == MERCHANT_COUNTS[0]}
    lines = [
        "| merchants | zipf | peak RSS MiB | vs 1k | state MiB | vs 1k | detector scopes (merchants) "
        "| kept scopes | heavy | pending | snapshot bytes | events/s | events/CPU-s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        base = first.get(r.zipf, r)
        state_ratio = r.state_mib / base.state_mib if base.state_mib > 0 else float("nan")
        cells = [
            f"{r.merchants:,}",
            f"{r.zipf:.1f}",
            f"{r.peak_rss_mib:.0f}",
            f"{r.peak_rss_mib / base.peak_rss_mib:.2f}",
            f"{r.state_mib:.0f}",
            f"{state_ratio:.2f}",
            f"{r.detector_scopes} ({r.merchant_detector_scopes})",
            f"{r.kept_merchant_scopes}",
            f"{r.heavy_entries:,}",
            f"{r.pending_orders:,}",
            f"{r.snapshot_bytes:,}",
            f"{r.rate / 1000:,.0f}k",
            f"{r.cpu_rate / 1000:,.0f}k",
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def bounds_broken(rows: list[Row]) -> list[str]:
    """Per-merchant state found above its designed bound (the tracked top-K plus the firing scopes)."""
    broken = []
    for r in rows:
        limit = r.top_merchants + r.firing
        where = f"{r.merchants:,} merchants, zipf {r.zipf}"
        if r.heavy_entries > r.heavy_capacity:
            broken.append(f"{where}: {r.heavy_entries} heavy-hitter counters > capacity {r.heavy_capacity}")
        for name, n in (
            ("merchant detector scopes", r.merchant_detector_scopes),
            ("merchant scopes kept in Engine.history", r.kept_merchant_scopes),
            ("merchant scopes in Engine.scores", r.scored_merchant_scopes),
        ):
            if n > limit:
                broken.append(f"{where}: {n} {name} > top_merchants + firing = {limit}")
    return broken


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="lines per stream (each row)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each row, interleaved")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--scenario", type=Path, default=Path("scenarios/day.toml"), help="base scenario")
    parser.add_argument("--rate-per-s", type=float, default=None, help="replace the scenario's peak rate")
    parser.add_argument("--config", type=Path, default=None, help="PayPulse settings TOML for the engine")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--events-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(run_child(args.events_file, args.config)))
        return
    if args.events < 1 or args.rounds < 1:
        parser.error("--events and --rounds must be >= 1")
    if not args.scenario.is_file():
        parser.error(f"scenario {args.scenario} does not exist; see scenarios/*.toml")

    cases = [(m, z) for z in ZIPF_EXPONENTS for m in MERCHANT_COUNTS]
    with tempfile.TemporaryDirectory(prefix="paypulse-merchants-") as tmp:
        workdir = Path(tmp)
        files = {}
        for merchants, zipf in cases:
            began = time.perf_counter()
            scenario = write_scenario(args.scenario, merchants, zipf, workdir / f"s-{merchants}-{zipf}.toml")
            path = workdir / f"events-{merchants}-{zipf}.jsonl"
            count, hours = generate_events(path, scenario, args.events, rate_per_s=args.rate_per_s)
            files[(merchants, zipf)] = path
            print(
                f"generated {count:,} lines ({hours:.1f} h of event time) with {merchants:,} merchants, "
                f"zipf {zipf} in {time.perf_counter() - began:.0f} s",
                flush=True,
            )

        def run(case: tuple[int, float]) -> Row:
            row = measure(*case, files[case], args.config)
            if row.lines != args.events:
                raise SystemExit(f"{case}: the engine saw {row.lines} lines, expected {args.events}")
            return row

        best, peak = best_of_rounds(
            cases,
            args.rounds,
            run,
            lambda case, row: (
                f"{case[0]:>6,} merchants zipf {case[1]}: peak RSS "
                f"{row.peak_rss_mib:4.0f} MiB, {row.rate:8,.0f} events/s"
            ),
        )
    rows = [Row(**{**asdict(best[c]), "peak_rss_mib": peak[c]}) for c in cases]

    print()
    print(f"{args.events:,} lines per row, best of {args.rounds}, Python {sys.version.split()[0]}:")
    print()
    print(table(rows))
    print()
    broken = bounds_broken(rows)
    for line in broken:
        print(f"ABOVE BOUND: {line}")
    if not broken:
        print("every row within its bound: merchant scopes <= top_merchants + firing, counters <= capacity")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} CPUs")
    if args.json is not None:
        payload = {"events": args.events, "rounds": args.rounds, "rows": [asdict(r) for r in rows]}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
