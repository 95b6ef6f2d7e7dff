"""Events per second and peak memory of PayPulse's dataflow, its engine, and a plain loop.

One run generates ``--events`` simulated lines into a temporary JSON Lines file, then measures,
interleaved and best of ``--rounds``:

* ``bytewax``: ``paypulse replay``'s code path: ``dataflows.flow.build_flow`` over a
  ``FileSource`` with ``Outputs`` to temporary files, run by ``bytewax.testing.run_main``;
* ``engine``: the same :class:`~engine.core.Engine` and ``Outputs`` driven by a plain loop
  over the same batches (no Bytewax), so ``bytewax / engine`` is what the dataflow costs;
* ``plain``: ``benchmarks/plain_loop.py``, the windowed counting alone in one plain loop
  (orjson, hand validation, windows keyed overall / per channel / per merchant, DDSketch; no
  deduplication, joins or detectors), the yardstick the first two are held to.

Each measurement runs in its own child process, so its peak RSS (``ru_maxrss``) is its own:
interpreter, imports and state. Time is measured inside the child from the first line read
to the last output written, so interpreter start and imports are not in events/s.

Run: ``.venv/bin/python benchmarks/throughput.py [--events 1000000] [--scenario scenarios/day.toml]
[--rounds 3] [--profile]``. ``--profile`` adds a cProfile of the engine loop on the same file.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as a script: make `benchmarks._common` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import Rates, best_of_rounds, generate_events, peak_rss_mib

if TYPE_CHECKING:  # imported where used: the plain loop's child must not load them (its peak RSS is its own)
    from engine.core import Engine
    from kernel.settings import Settings

VARIANTS = ("bytewax", "engine", "plain")
DESCRIPTIONS = {
    "bytewax": "(a) paypulse replay: Bytewax dataflow over the engine",
    "engine": "(b) engine in a plain loop over batches, no Bytewax",
    "plain": "(c) plain loop: orjson + windowed counting, no detectors",
}


@dataclass(frozen=True)
class Measurement(Rates):
    variant: str
    lines: int
    seconds: float
    cpu_seconds: float  # this process's CPU time: steadier than wall time on a busy machine
    peak_rss_mib: float
    alerts: int  # alert changes written; (a) and (b) must agree


# -- the variants, each run inside a child process -----------------------------------------------


def _settings(config: Path | None, workdir: Path, variant: str) -> Settings:
    """The configured settings with the alert log and dead-letter file moved into ``workdir``."""
    from kernel.settings import load_settings

    settings = load_settings(config)
    log = workdir / f"alerts-{variant}.jsonl"
    dead = workdir / f"dead-letter-{variant}.jsonl"
    log.unlink(missing_ok=True)
    dead.unlink(missing_ok=True)
    return settings.model_copy(
        update={"alerting": settings.alerting.model_copy(update={"log": log}), "dead_letter": dead}
    )


def run_bytewax(events: Path, settings: Settings) -> tuple[int, int]:
    """What ``paypulse replay`` runs; returns (lines seen, alert changes written)."""
    from bytewax.testing import run_main

    from dataflows.flow import build_flow
    from engine.outputs import Outputs
    from engine.sources import FileSource

    outputs = Outputs(settings.alerting.log, settings.dead_letter)
    engines = []
    run_main(build_flow(settings, FileSource(events), outputs, on_engine=engines.append))
    return _lines_seen(engines[-1]), outputs.alerts_written


def run_engine(events: Path, settings: Settings) -> tuple[int, int]:
    """The engine and outputs in a plain loop over the same batches the dataflow reads."""
    from engine.core import Engine
    from engine.outputs import Outputs
    from engine.sources import FileSource, batched

    engine = Engine(settings)
    outputs = Outputs(settings.alerting.log, settings.dead_letter)
    source = FileSource(events)
    for part in source.partitions():
        for _, lines in batched(source.read(part, None), settings.source.batch_size):
            out = engine.process(lines)
            outputs.write(out, out.event_time_ms)
    out = engine.finish()
    outputs.write(out, out.event_time_ms)
    outputs.close()
    return _lines_seen(engine), outputs.alerts_written


def _lines_seen(engine: Engine) -> int:
    stats = engine.stats
    return sum(stats.accepted.values()) + sum(stats.rejected.values()) + stats.duplicates


def run_plain(events: Path, settings: Settings | None) -> tuple[int, int]:
    """The reference loop; closed windows are counted, not kept."""
    from benchmarks.plain_loop import run_plain_loop

    loop = run_plain_loop(events)
    return loop.events + loop.invalid, 0


# What each variant imports, loaded before its clock starts so that import time is not measured.
IMPORTS = {
    "bytewax": ("bytewax.testing", "dataflows.flow", "engine.outputs", "engine.sources"),
    "engine": ("engine.core", "engine.outputs", "engine.sources"),
    "plain": ("benchmarks.plain_loop",),
}

RUNNERS: dict[str, Callable[[Path, Any], tuple[int, int]]] = {
    "bytewax": run_bytewax,
    "engine": run_engine,
    "plain": run_plain,
}


def _child(variant: str, events: Path, workdir: Path, config: Path | None) -> None:
    """Measure one variant in this process and print the result as one JSON line."""
    settings = None if variant == "plain" else _settings(config, workdir, variant)
    for module in IMPORTS[variant]:
        importlib.import_module(module)
    started, cpu_started = time.perf_counter(), time.process_time()
    lines, alerts = RUNNERS[variant](events, settings)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    result = {
        "lines": lines,
        "seconds": seconds,
        "cpu": cpu,
        "peak_rss_mib": peak_rss_mib(),
        "alerts": alerts,
    }
    print(json.dumps(result))


def measure(variant: str, events: Path, workdir: Path, config: Path | None) -> Measurement:
    """Run one variant in a fresh child process."""
    command = [sys.executable, __file__, "--child", variant, "--events-file", str(events)]
    command += ["--workdir", str(workdir)]
    if config is not None:
        command += ["--config", str(config)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"variant {variant} failed (exit {done.returncode}):\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Measurement(
        variant, result["lines"], result["seconds"], result["cpu"], result["peak_rss_mib"], result["alerts"]
    )


# -- profile -------------------------------------------------------------------------------------


def profile_engine(events: Path, workdir: Path, config: Path | None, top: int = 30) -> str:
    """cProfile of the engine loop (b) on ``events``: the top functions by own time, then cumulative."""
    settings = _settings(config, workdir, "profile")
    for module in IMPORTS["engine"]:
        importlib.import_module(module)
    profiler = cProfile.Profile()
    profiler.enable()
    run_engine(events, settings)
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return text.getvalue()


# -- report --------------------------------------------------------------------------------------


def table(best: dict[str, Measurement], peak: dict[str, float]) -> str:
    """A Markdown table the README can quote."""
    plain, plain_cpu = best["plain"].rate, best["plain"].cpu_rate
    rows = [
        "| variant | events/s | vs plain | events/CPU-s | vs plain (CPU) | peak RSS (MiB) | alert changes |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for variant in VARIANTS:
        m = best[variant]
        alerts = "-" if variant == "plain" else str(m.alerts)
        rate, ratio, rss = f"{m.rate / 1000:,.0f}k", f"{m.rate / plain:.2f}", f"{peak[variant]:.0f}"
        cpu_rate, cpu_ratio = f"{m.cpu_rate / 1000:,.0f}k", f"{m.cpu_rate / plain_cpu:.2f}"
        cells = [DESCRIPTIONS[variant], rate, ratio, cpu_rate, cpu_ratio, rss, alerts]
        rows.append(f"| {' | '.join(cells)} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="simulated lines to generate")
    parser.add_argument("--scenario", type=Path, default=Path("scenarios/day.toml"), help="scenario TOML")
    parser.add_argument("--bad-line-rate", type=float, default=0.002, help="malformed lines per valid line")
    parser.add_argument("--rate-per-s", type=float, default=None, help="replace the scenario's peak rate")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each variant; the best counts")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset to run")
    parser.add_argument("--config", type=Path, default=None, help="PayPulse settings TOML for (a) and (b)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of the engine loop")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--events-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        _child(args.child, args.events_file, args.workdir, args.config)
        return
    variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown or "plain" not in variants:
        parser.error(f"--variants takes a subset of {','.join(VARIANTS)} that includes plain (got {unknown})")
    if args.events < 1 or args.rounds < 1:
        parser.error("--events and --rounds must be >= 1")

    with tempfile.TemporaryDirectory(prefix="paypulse-bench-") as tmp:
        workdir = Path(tmp)
        events = workdir / "events.jsonl"
        began = time.perf_counter()
        count, hours = generate_events(
            events, args.scenario, args.events, args.bad_line_rate, args.rate_per_s
        )
        size_mib = events.stat().st_size / 2**20
        print(
            f"generated {count:,} lines ({size_mib:.0f} MiB, {hours:.1f} h of event time) "
            f"from {args.scenario} in {time.perf_counter() - began:.1f} s",
            flush=True,
        )

        def run(variant: str) -> Measurement:
            m = measure(variant, events, workdir, args.config)
            if m.lines != count:
                raise SystemExit(f"variant {variant} saw {m.lines} lines, expected {count}")
            return m

        best, peak = best_of_rounds(
            variants,
            args.rounds,
            run,
            lambda variant, m: (
                f"{variant:8s} {m.rate:>10,.0f} events/s  "
                f"{m.seconds:6.2f} s ({m.cpu_seconds:6.2f} s CPU)  peak RSS {m.peak_rss_mib:5.0f} MiB"
            ),
        )
        if "bytewax" in best and "engine" in best and best["bytewax"].alerts != best["engine"].alerts:
            print(
                f"WARNING: the dataflow wrote {best['bytewax'].alerts} alert changes, "
                f"the engine loop {best['engine'].alerts}"
            )
        print()
        print(f"{count:,} events, best of {args.rounds}, Python {sys.version.split()[0]}:")
        print()
        print(table(best, peak) if len(best) == len(VARIANTS) else _partial(best))
        for variant, label in (("bytewax", "(a)/(c)"), ("engine", "(b)/(c)")):
            if variant in best:
                m, c = best[variant], best["plain"]
                print(
                    f"{label} = {m.rate / c.rate:.2f} by wall time, {m.cpu_rate / c.cpu_rate:.2f} by CPU time"
                )
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"load average at the end: {load:.1f} on {os.cpu_count()} CPUs (wall figures suffer above it)")
        if args.profile:
            print()
            print(profile_engine(events, workdir, args.config))


def _partial(best: dict[str, Measurement]) -> str:
    plain = best["plain"].rate
    return "\n".join(f"{v}: {m.rate:,.0f} events/s ({m.rate / plain:.2f} of plain)" for v, m in best.items())


if __name__ == "__main__":
    main()
