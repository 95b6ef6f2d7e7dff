"""Does a flood of distinct names leave memory and /metrics flat?

Channel names and merchant ids come from the data, and each name with a scope of its own costs
detectors, windows, metric series and alert state. So the engine bounds them: 32 channel places
earned by volume, the rest pooled as ``"other"`` (``engine/names.py``), and the heaviest
``windows.top_merchants`` merchants picked by a Misra-Gries summary. A producer bug or an attacker
sending a new name on every line must not grow memory or the number of /metrics series.

One run measures two streams of the same length, each through a fresh
:class:`~engine.core.Engine` in its own child process (batches of ``source.batch_size``):

* ``clean``: the scenario's stream (``scenarios/day.toml`` by default), ``--warmup`` lines and
  then ``2 x (--channels + --merchants)`` more;
* ``flood``: the same ``--warmup`` lines, then the scenario's stream goes on with a flood line
  after each of its lines: first ``--channels`` payments each on a channel never seen before,
  then ``--merchants`` payments each from a merchant never seen before (on the channel of the
  line before). A flood line is a valid, succeeded payment stamped with the time of the line
  before it, so it is on time and counted. It succeeded (``--status``), so it also waits for a
  callback that never comes and ends up stuck, as junk order ids would; ``--status failed``
  leaves only the names.

Columns, from the child:

* ``peak RSS``: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the child (the parent imports
  nothing heavy, so the peak it passes on across ``exec`` is below the child's own);
  ``warm-up RSS``: the current RSS after the warm-up;
* ``series``: sample lines of ``generate_latest`` over a registry with an
  :class:`~paypulse.exposition.EngineCollector` (``# HELP``/``# TYPE`` lines not counted): after
  the warm-up, at the end of the stream (before ``finish``), and the largest seen on the way
  (sampled every ``--sample-every`` batches);
* the bounded state at the end: channel names admitted, channels with windows, detector scopes,
  Misra-Gries merchant counters, event ids kept for deduplication, paid orders awaiting their
  callback; alert changes over the run; and the engine's events per CPU-second (the simulator
  and the flood lines' making are not counted).

Run: ``.venv/bin/python benchmarks/name_flood.py [--channels 1000000] [--merchants 1000000]
[--warmup 300000]`` (about 3 minutes on 2 cores at the defaults).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

VARIANTS = ("clean", "flood")
_FLOOD = (
    '{"type":"payment","event_id":"flood-%d","ts":%d,"channel":"%s","merchant_id":"%s",'
    '"order_id":"flood-%d","amount":"12.50","currency":"CNY","status":"%s"}'
)


def rss_mib() -> float:
    """This process's current resident set size in MiB (``VmRSS``; 0.0 where /proc is missing)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, kB on Linux


# -- the child: one stream through one engine -----------------------------------------------------


def flooded(normal: Iterator[bytes], channels: int, merchants: int, status: str) -> Iterator[bytes]:
    """``normal`` with a flood line after each of its lines: new channels, then new merchants."""
    from itertools import islice

    import orjson

    from kernel.events import event_time_ms

    for n, line in enumerate(islice(normal, channels + merchants)):
        yield line
        ts = event_time_ms(line) or 0
        base = orjson.loads(line)
        if n < channels:
            channel, merchant = f"fc-{n}", base.get("merchant_id") or "m00001"
        else:
            channel, merchant = base["channel"], f"fm-{n}"
        yield (_FLOOD % (n, ts, channel, merchant, n, status)).encode()


def run_child(
    variant: str, scenario: Path, warmup: int, channels: int, merchants: int, status: str, every: int
) -> dict:
    from itertools import islice

    from prometheus_client import generate_latest

    from engine.core import Engine
    from kernel.settings import Settings
    from paypulse.exposition import EngineCollector, build_registry
    from paypulse.simulator import Simulator, load_scenario

    settings = Settings()
    engine = Engine(settings)
    registry, _batch = build_registry(EngineCollector(lambda: engine.view()))

    def series() -> int:
        return sum(1 for row in generate_latest(registry).splitlines() if not row.startswith(b"#"))

    normal = Simulator(load_scenario(scenario, duration="366d")).lines()
    flood = channels + merchants
    warm = islice(normal, warmup)
    rest = islice(normal, 2 * flood) if variant == "clean" else flooded(normal, channels, merchants, status)
    size = settings.source.batch_size
    lines = alerts = batches = 0
    cpu = 0.0
    figures: dict = {}
    for phase, stream in (("warmup", warm), ("rest", rest)):
        while batch := list(islice(stream, size)):
            started = time.process_time()
            alerts += len(engine.process(batch).alerts)
            cpu += time.process_time() - started
            lines += len(batch)
            batches += 1
            if phase == "rest" and batches % every == 0:
                figures["series_max"] = max(figures.get("series_max", 0), series())
        if phase == "warmup":
            figures |= {"warmup_rss_mib": rss_mib(), "series_before": series()}
    figures["series_after"] = series()
    figures["series_max"] = max(figures.get("series_max", 0), figures["series_after"])
    started = time.process_time()
    alerts += len(engine.finish().alerts)
    cpu += time.process_time() - started
    return figures | {
        "variant": variant,
        "lines": lines,
        "peak_rss_mib": peak_rss_mib(),
        "channel_names": len(engine.names.admitted),
        "window_channels": len(engine.windows.channels),
        "detector_scopes": len(engine.detectors),
        "heavy_counters": len(engine.heavy.counts),
        "event_ids": len(engine.ids),
        "pending_orders": len(engine.stuck.pending),
        "alert_changes": alerts,
        "accepted": sum(engine.stats.accepted.values()),
        "rejected": sum(engine.stats.rejected.values()),
        "cpu_rate": lines / cpu,
    }


# -- the parent: two children, one table -----------------------------------------------------------


def measure(variant: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--child", variant, "--scenario", str(args.scenario)]
    command += ["--warmup", str(args.warmup), "--channels", str(args.channels)]
    command += ["--merchants", str(args.merchants), "--sample-every", str(args.sample_every)]
    command += ["--status", args.status]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {variant} run failed (exit {done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


COLUMNS = (
    ("stream", lambda r: r["variant"]),
    ("lines", lambda r: f"{r['lines']:,}"),
    ("peak RSS MiB", lambda r: f"{r['peak_rss_mib']:.0f}"),
    ("warm-up RSS MiB", lambda r: f"{r['warmup_rss_mib']:.0f}"),
    ("series after warm-up", lambda r: f"{r['series_before']:,}"),
    ("series at end", lambda r: f"{r['series_after']:,}"),
    ("series max", lambda r: f"{r['series_max']:,}"),
    ("channel names", lambda r: f"{r['channel_names']}"),
    ("window channels", lambda r: f"{r['window_channels']}"),
    ("detector scopes", lambda r: f"{r['detector_scopes']}"),
    ("heavy counters", lambda r: f"{r['heavy_counters']:,}"),
    ("event ids", lambda r: f"{r['event_ids']:,}"),
    ("pending orders", lambda r: f"{r['pending_orders']:,}"),
    ("alert changes", lambda r: f"{r['alert_changes']}"),
    ("events/CPU-s", lambda r: f"{r['cpu_rate'] / 1000:,.0f}k"),
)


def table(rows: list[dict]) -> str:
    """A Markdown table the README can quote."""
    lines = [
        "| " + " | ".join(name for name, _ in COLUMNS) + " |",
        "|---" + "|---:" * (len(COLUMNS) - 1) + "|",
    ]
    lines += ["| " + " | ".join(cell(r) for _, cell in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=int, default=1_000_000, help="flood lines with a new channel each")
    parser.add_argument(
        "--merchants", type=int, default=1_000_000, help="flood lines with a new merchant each"
    )
    parser.add_argument("--warmup", type=int, default=300_000, help="normal lines before the flood")
    parser.add_argument("--scenario", type=Path, default=Path("scenarios/day.toml"), help="the normal stream")
    parser.add_argument(
        "--status", choices=("succeeded", "failed"), default="succeeded", help="the flood payments' status"
    )
    parser.add_argument("--sample-every", type=int, default=200, help="batches between /metrics samples")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        figures = run_child(
            args.child,
            args.scenario,
            args.warmup,
            args.channels,
            args.merchants,
            args.status,
            args.sample_every,
        )
        print(json.dumps(figures))
        return
    if min(args.channels, args.merchants, args.warmup) < 0 or args.sample_every < 1:
        parser.error("counts must be >= 0 and --sample-every >= 1")
    if not args.scenario.is_file():
        parser.error(f"scenario {args.scenario} does not exist; see scenarios/*.toml")

    rows = []
    for variant in VARIANTS:
        began = time.perf_counter()
        row = measure(variant, args)
        print(f"{variant}: {row['lines']:,} lines in {time.perf_counter() - began:.0f} s", flush=True)
        rows.append(row)
    if rows[0]["lines"] != rows[1]["lines"]:
        raise SystemExit(f"the streams differ in length: {rows[0]['lines']} vs {rows[1]['lines']}")

    print()
    print(
        f"{args.warmup:,} warm-up lines, then {args.channels:,} new channels and {args.merchants:,} new "
        f"merchants ({args.status} payments), one after each normal line; Python {sys.version.split()[0]}:"
    )
    print()
    print(table(rows))
    print()
    clean, flood = rows
    print(
        f"flood vs clean: peak RSS {flood['peak_rss_mib'] / clean['peak_rss_mib']:.2f}x, "
        f"/metrics series at the end {flood['series_after'] / clean['series_after']:.2f}x "
        f"(largest seen {flood['series_max']:,} vs {clean['series_max']:,})"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} CPUs")
    if args.json is not None:
        args.json.write_text(
            json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=2)
        )


if __name__ == "__main__":
    main()
