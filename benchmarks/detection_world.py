"""Detection judged on two traffic models: the independent one (benchmarks/world) and the simulator.

The detectors' defaults were chosen on PayPulse's own simulator, so figures on it alone say how well
they fit one author's idea of traffic. ``benchmarks/world`` is a second model, written from a plain
description of a shop and never used for tuning. For each model and each peak rate (1, 4, 30 and
300 payments/s) this script runs

* **clean**: a learning day, then ``--clean-days`` days of normal traffic (a week by default; one
  day at 300/s): every alert is false;
* **incidents**: a clean first day, then a day with one incident of every kind (the world model's
  day plan: 15 incidents, 80 minutes apart; for the simulator, one incident per kind taken from
  ``scenarios/suite/`` with its own size, channel and duration, moved onto the second day).

Each stream is written to a file in a temporary directory, replayed through
:class:`~engine.core.Engine` in the batches ``paypulse replay`` uses (``source.batch_size``,
1,000 lines) and :meth:`~engine.core.Engine.finish`, and the alerts detected after the learning
day are scored with :func:`paypulse.evaluation.evaluate` as ``paypulse replay --labels`` scores
them. The table has one row per model, rate and kind: labels, found, recall, false alerts per day
over all scopes (the pages a whole deployment would get), median and p90 delay. Then every false
alert (kind, scope, when, value vs baseline, and the incident it came during, if any) and every
missed incident. ``--json-out`` writes the same as JSON.

``--hours H`` replays only the first H hours of each run's last day (and scores the incidents that
start in them): a look at the plumbing in a fraction of the time, not a figure to quote.

Run: ``.venv/bin/python benchmarks/detection_world.py [--quick] [--jobs 2] [--json-out FILE]``.
The full run takes one to two hours on 2 cores (300/s is most of it: 26 million lines a day); ``--quick``
(rates 1, 4 and 30, one clean day at 1 and 4/s, no clean run at 30/s) about 5 minutes on 2 idle cores.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._bounds import bounds_s
from benchmarks.world import World, WorldConfig, write_world
from engine.core import Engine
from engine.sources import FileSource, batched
from kernel.settings import Settings
from paypulse.evaluation import Evaluation, KindScore, evaluate

__all__ = ["Job", "RunResult", "main", "plan_jobs", "run_job", "summarise"]

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "scenarios" / "suite"
MODELS = ("world", "simulator")
RATES = (1.0, 4.0, 30.0, 300.0)
START = date(2026, 3, 2)  # a Monday
_DAY = timedelta(days=1)
#: The simulator's day of incidents: one suite scenario per kind (its incident as written), at a
#: local time of day two that keeps its quiet (night) or busy (day) character, 80+ minutes apart.
SIM_DAY_PLAN = (
    ("amount-deviation-card-quiet", "02:40"),
    ("volume-drop-alipay-quiet", "04:00"),
    ("callback-failure-high-alipay-quiet", "05:20"),
    ("volume-spike-alipay-busy", "10:40"),
    ("success-rate-drop-alipay-busy", "12:00"),
    ("complaint-spike-alipay-busy", "13:20"),
    ("success-rate-drop-merchant", "18:40"),
    ("stuck-payments-card-busy", "20:00"),
    ("callback-latency-high-card-busy", "21:20"),
)
FULL_CLEAN_DAYS = {1.0: 7, 4.0: 7, 30.0: 7, 300.0: 1}
QUICK_CLEAN_DAYS = {1.0: 1, 4.0: 1, 30.0: 0}


@dataclass(frozen=True)
class Job:
    """One stream to generate, replay and score: ``days`` long, the first ``learn_days`` unscored."""

    model: str
    rate: float
    run: str  # "clean" or "incidents"
    days: int
    seed: int
    learn_days: int = 1
    hours: float = 24.0  # of the last day, replayed and scored

    @property
    def cost(self) -> float:
        """Rough seconds to run it (a cost per window plus one per event), to start long jobs first."""
        return (self.days - 1 + self.hours / 24) * (12 + 1.5 * self.rate)

    @property
    def end(self) -> datetime:
        """Where the replay stops: ``hours`` into the last day."""
        return _midnight_utc(START) + (self.days - 1) * _DAY + timedelta(hours=self.hours)


@dataclass
class RunResult:
    job: Job
    labels: list[dict[str, Any]]
    alerts: list[dict[str, Any]]  # firing alerts detected after the learning days
    learning_alerts: int  # firing alerts during the learning days (not scored)
    days_scored: float
    lines: int
    seconds: float

    @property
    def evaluation(self) -> Evaluation:
        return evaluate(self.alerts, self.labels, days=self.days_scored)

    def false_alerts(self) -> list[dict[str, Any]]:
        return [a for a in self.alerts if evaluate([a], self.labels, days=1).total.false_alerts]

    def missed(self) -> list[dict[str, Any]]:
        return [label for label in self.labels if not evaluate(self.alerts, [label], days=1).total.found]


# -- generating ----------------------------------------------------------------------------------


def generate(job: Job, out: Path) -> list[dict[str, Any]]:
    """Write ``job``'s stream to ``out``; return its labels."""
    if job.model == "world":
        config = WorldConfig(
            peak=job.rate,
            days=job.days,
            start=START,
            seed=job.seed,
            incidents="all" if job.run == "incidents" else "",
        )
        world: World = write_world(config, out)
        return world.labels()
    from paypulse.simulator import BLOCK_MS, Simulator, load_scenario  # the simulator: only here

    scenario = load_scenario(
        _simulator_scenario(job, out.with_suffix(".toml")),
        bad_line_rate=0.0,
        rate_per_s=job.rate,
        seed=job.seed,
    )
    simulator = Simulator(scenario)
    with out.open("wb") as f:
        for _end_ms, lines in simulator.chunks(step_ms=BLOCK_MS):
            if lines:
                f.write(b"\n".join(lines) + b"\n")
    return simulator.labels()


def _simulator_scenario(job: Job, path: Path) -> Path:
    """A scenario file: ``job.days`` from local midnight, with the day plan's incidents on day two."""
    text = [f"start = {START.isoformat()}T00:00:00+08:00", f'duration = "{job.days}d"']
    if job.run == "incidents":
        for stem, at in SIM_DAY_PLAN:
            incident = tomllib.loads((SUITE / f"{stem}.toml").read_text())["incidents"][0]
            hh, mm = at.split(":")
            incident["start"] = f"{job.days - 1}d{int(hh)}h{int(mm)}m"
            text.append("\n[[incidents]]")
            text += [f"{key} = {json.dumps(value)}" for key, value in incident.items()]
    path.write_text("\n".join(text) + "\n")
    return path


# -- replaying and scoring -----------------------------------------------------------------------


def replay(path: Path, settings: Settings, end: datetime | None = None) -> tuple[list[dict[str, Any]], int]:
    """Alert-log rows (firing and resolved) of ``path`` replayed as ``paypulse replay`` does, up to
    the first batch that reaches ``end`` (the whole file without it)."""
    engine = Engine(settings)
    alerts: list[dict[str, Any]] = []
    lines = 0
    source = FileSource(path)
    end_ms = None if end is None else end.timestamp() * 1000
    for _, batch in batched(source.read(str(path), None), settings.source.batch_size):
        if end_ms is not None and engine.windows.max_ts >= end_ms:
            break
        lines += len(batch)
        alerts += [a.to_json() for a in engine.process(batch).alerts]
    alerts += [a.to_json() for a in engine.finish().alerts]
    return alerts, lines


def run_job(job: Job, workdir: Path) -> RunResult:
    """Generate, replay and score one job; its file is deleted afterwards."""
    started = time.perf_counter()
    path = workdir / f"{job.model}-{job.rate:g}-{job.run}-{job.seed}.jsonl"
    try:
        labels = [label for label in generate(job, path) if _when(label["start"]) < job.end]
        alerts, lines = replay(path, Settings(), job.end if job.hours < 24 else None)
        for label, bound in zip(labels, bounds_s(path, labels), strict=True):
            label["bound_s"] = bound if math.isfinite(bound) else None  # None: the stream shows no change
    finally:
        path.unlink(missing_ok=True)
        path.with_suffix(".toml").unlink(missing_ok=True)
    scored_from = _midnight_utc(START) + job.learn_days * _DAY
    firing = [a for a in alerts if a["status"] == "firing"]
    scored = [a for a in firing if _when(a["detected_at"]) >= scored_from]
    return RunResult(
        job=job,
        labels=labels,
        alerts=scored,
        learning_alerts=len(firing) - len(scored),
        days_scored=job.days - job.learn_days - 1 + job.hours / 24,
        lines=lines,
        seconds=time.perf_counter() - started,
    )


def _run(args: tuple[Job, str]) -> RunResult:
    return run_job(args[0], Path(args[1]))


def run_all(jobs: Sequence[Job], workers: int, workdir: Path) -> Iterator[RunResult]:
    """Run ``jobs`` on ``workers`` processes, the most expensive first; yield them as they finish."""
    order = sorted(jobs, key=lambda j: -j.cost)
    if workers <= 1:
        for job in order:
            yield run_job(job, workdir)
        return
    # spawn, not fork: a forked child of a threaded parent (pytest) can deadlock
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_run, (job, str(workdir))) for job in order]
        for future in futures:
            yield future.result()


def plan_jobs(
    models: Sequence[str],
    rates: Sequence[float],
    clean_days: dict[float, int],
    seed: int,
    learn_days: int = 1,
    hours: float = 24.0,
) -> list[Job]:
    """Per model and rate, a clean run (if it has scored days) and an incident run, each after
    ``learn_days`` of unscored clean traffic.

    >>> [(j.model, j.rate, j.run, j.days) for j in plan_jobs(["world"], [4.0, 300.0], {4.0: 7, 300.0: 0}, 7)]
    [('world', 4.0, 'clean', 8), ('world', 4.0, 'incidents', 2), ('world', 300.0, 'incidents', 2)]
    """
    jobs = []
    for model in models:
        for rate in rates:
            if clean_days.get(rate, 0) > 0:
                days = learn_days + clean_days[rate]
                jobs.append(Job(model, rate, "clean", days, seed, learn_days, hours))
            jobs.append(Job(model, rate, "incidents", learn_days + 1, seed + 1, learn_days, hours))
    return jobs


def summarise(results: Sequence[RunResult]) -> list[dict[str, Any]]:
    """One row per model, rate and kind, and one for all kinds: both runs' scored days together."""
    rows = []
    groups: dict[tuple[str, float], list[RunResult]] = {}
    for result in results:
        groups.setdefault((result.job.model, result.job.rate), []).append(result)
    for (model, rate), runs in sorted(groups.items(), key=lambda g: (MODELS.index(g[0][0]), g[0][1])):
        by_kind: dict[str, KindScore] = {}
        for run in runs:
            for kind, score in run.evaluation.by_kind.items():
                total = by_kind.setdefault(kind, KindScore())
                total.labels += score.labels
                total.found += score.found
                total.alerts += score.alerts
                total.false_alerts += score.false_alerts
                total.delays_s += score.delays_s
        days = sum(run.days_scored for run in runs)
        clean = [run for run in runs if run.job.run == "clean"]
        clean_days = sum(run.days_scored for run in clean)
        labels = [label for run in runs for label in run.labels]
        for row in Evaluation(by_kind, days).rows():
            mine = [x for x in labels if row["kind"] in ("all", x["kind"])]
            rows.append({"model": model, "rate": rate, "days": days, **row, **_bound_columns(mine)})
        rows[-1]["clean_days"] = clean_days
        rows[-1]["clean_false_per_day"] = (
            sum(len(run.false_alerts()) for run in clean) / clean_days if clean_days else None
        )
        rows[-1]["learning_alerts"] = sum(run.learning_alerts for run in runs)
        false = [(a, run.labels) for run in runs for a in run.false_alerts()]
        rows[-1]["false_near_incidents"] = sum(any(_related(a, x) for x in labels) for a, labels in false)
        rows[-1]["false_elsewhere"] = len(false) - rows[-1]["false_near_incidents"]
    return rows


def _bound_columns(labels: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How many labels outlast their information bound (findable) and the median bound."""
    bounds = sorted(x["bound_s"] for x in labels if x.get("bound_s") is not None)
    return {
        "beyond_bound": sum(not _findable(x) for x in labels),
        "median_bound_s": statistics.median(bounds) if bounds else None,
    }


def _findable(label: dict[str, Any]) -> bool:
    """The incident lasts longer than its information bound (benchmarks/_bounds.py)."""
    duration = (_when(label["end"]) - _when(label["start"])).total_seconds()
    bound = label.get("bound_s", 0.0)
    return bound is not None and bound <= duration


# -- printing ------------------------------------------------------------------------------------

_HEADER = (
    "model", "rate/s", "kind", "labels", "beyond bound", "found", "recall", "false/day",
    "median delay", "median bound", "p90 delay",
)  # fmt: skip


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The results as a fixed-width table, one block of rows per model and rate.

    >>> print(format_table([{"model": "world", "rate": 4.0, "kind": "all", "labels": 2, "found": 1,
    ...     "recall": 0.5, "false_per_day": 1.5, "median_delay_s": 30.0, "p90_delay_s": None,
    ...     "beyond_bound": 1, "median_bound_s": 12.0}]))
    model  rate/s  kind  labels  beyond bound  found  recall  false/day  median delay  median bound  p90 delay
    -----  ------  ----  ------  ------------  -----  ------  ---------  ------------  ------------  ---------
    world       4  all        2             1      1    0.50       1.50           30s           12s          -
    """
    cells = [
        [
            r["model"],
            f"{r['rate']:g}",
            r["kind"],
            str(r["labels"]),
            str(r.get("beyond_bound", "-")),
            str(r["found"]),
            f"{r['recall']:.2f}" if r["labels"] else "-",
            f"{r['false_per_day']:.2f}",
            _seconds(r["median_delay_s"]),
            _seconds(r.get("median_bound_s")),
            _seconds(r["p90_delay_s"]),
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(_HEADER)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.ljust(w) if i in (0, 2) else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )

    return "\n".join([line(_HEADER), "  ".join("-" * w for w in widths), *(line(c) for c in cells)])


def describe(results: Sequence[RunResult]) -> list[str]:
    """One line per false alert and per missed incident."""
    out = []
    for run in sorted(results, key=lambda r: (MODELS.index(r.job.model), r.job.rate, r.job.run)):
        name = f"{run.job.model} {run.job.rate:g}/s {run.job.run}"
        for alert in run.false_alerts():
            out.append(
                f"{name}: FALSE {alert['kind']} on {_scope(alert)} at {alert['detected_at'][:19]}Z, "
                f"value {_num(alert.get('value'))} vs baseline {_num(alert.get('baseline'))}"
                + _context(alert, run.labels)
            )
        for label in run.missed():
            same = [a for a in run.alerts if a["kind"] == label["kind"] and _near(a, label)]
            instead = "; same kind fired on " + ", ".join(sorted({_scope(a) for a in same})) if same else ""
            bound = (
                f"; information bound {_seconds(label['bound_s'])}"
                + (
                    ""
                    if _findable(label)
                    else ", longer than the incident: no test can find it at the budget"
                )
                if "bound_s" in label
                else ""
            )
            out.append(
                f"{name}: MISSED {label['kind']} on {_scope(label)} at {label['start']}{instead}{bound}"
            )
    return out


def _context(alert: dict[str, Any], labels: list[dict[str, Any]]) -> str:
    for label in labels:
        if _related(alert, label):
            minutes = (_when(alert["detected_at"]) - _when(label["start"])).total_seconds() / 60
            return f" (during {label['kind']} on {_scope(label)}, {minutes:+.0f} min)"
    return ""


def _related(alert: dict[str, Any], label: dict[str, Any]) -> bool:
    """Near an incident in time and on a scope it touches: its channel, or any for an incident on
    all payments or on a merchant (whose payments go through several channels)."""
    channel = (label.get("scope") or {}).get("channel")
    return _near(alert, label) and channel in (None, (alert.get("scope") or {}).get("channel"))


def _near(alert: dict[str, Any], label: dict[str, Any]) -> bool:
    """Detected between 10 minutes before an incident and 30 minutes after its end."""
    detected = _when(alert["detected_at"])
    return (
        _when(label["start"]) - timedelta(minutes=10)
        <= detected
        <= _when(label["end"]) + timedelta(minutes=30)
    )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}s"


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def _scope(row: dict[str, Any]) -> str:
    scope = row.get("scope") or {}
    parts = [p for p in (scope.get("channel"), scope.get("merchant_id")) if p]
    return "/".join(parts) if parts else "all payments"


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _midnight_utc(day: date) -> datetime:
    return datetime.fromisoformat(f"{day.isoformat()}T00:00:00+08:00")


# -- command line --------------------------------------------------------------------------------


def _days(text: str) -> dict[float, int]:
    """``7`` for every rate, or ``1:7,300:1`` per rate."""
    if ":" not in text:
        return {rate: int(text) for rate in RATES}
    return {float(rate): int(days) for rate, days in (item.split(":") for item in text.split(","))}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="rates 1, 4, 30; one clean day (none at 30/s)")
    parser.add_argument("--rates", help="comma-separated peak payments/s (default 1,4,30,300)")
    parser.add_argument("--models", default=",".join(MODELS), help="world, simulator or both")
    parser.add_argument("--clean-days", type=_days, help="scored clean days: N, or RATE:N,...")
    parser.add_argument("--learn-days", type=int, default=1, help="unscored clean days before each run's own")
    parser.add_argument(
        "--hours", type=float, default=24.0, help="replay only this many hours of each run's last day"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    parser.add_argument("--json-out", type=Path, help="write the rows, false alerts and misses as JSON")
    parser.add_argument("--tmp", type=Path, help="directory for the generated streams (default: a temp dir)")
    return parser


def _jobs(args: argparse.Namespace) -> list[Job]:
    """The runs the arguments ask for; ValueError names a bad one."""
    if args.rates:
        rates = [float(r) for r in args.rates.split(",")]
    else:
        rates = list(RATES[:3] if args.quick else RATES)
    models = [m.strip() for m in args.models.split(",")]
    if not rates or any(r <= 0 for r in rates) or any(m not in MODELS for m in models):
        raise ValueError(f"rates must be > 0 and models in {MODELS}")
    if args.learn_days < 0:
        raise ValueError("--learn-days must be >= 0")
    if not 0 < args.hours <= 24:
        raise ValueError("--hours must be in (0, 24]")
    clean_days = args.clean_days or (QUICK_CLEAN_DAYS if args.quick else FULL_CLEAN_DAYS)
    days = {r: clean_days.get(r, 1) for r in rates}
    return plan_jobs(models, rates, days, args.seed, args.learn_days, args.hours)


def report(results: Sequence[RunResult]) -> str:
    """The table, the clean-traffic figures per model and rate, and every false alert and miss."""
    rows = summarise(results)
    out = [
        format_table(rows),
        "",
        "per model and rate: days scored (of them clean runs), false alerts a day in the clean runs, false"
        " alerts from 10 min before to 30 min after an incident on a scope it touches (another kind or"
        " scope than its label) and elsewhere, alerts on the unscored learning days",
    ]
    for row in (r for r in rows if r["kind"] == "all"):
        clean = "-" if row["clean_false_per_day"] is None else f"{row['clean_false_per_day']:.2f}"
        out.append(
            f"  {row['model']:<9} {row['rate']:>5g}/s  {row['days']:g} d ({row['clean_days']:g} clean):"
            f" clean {clean}/day; near incidents {row['false_near_incidents']}, elsewhere"
            f" {row['false_elsewhere']}; learning {row['learning_alerts']}"
        )
    out += ["", "false alerts and missed incidents:"]
    out += [f"  {line}" for line in describe(results)] or ["  none"]
    return "\n".join(out)


def to_json(results: Sequence[RunResult]) -> dict[str, Any]:
    return {
        "rows": summarise(results),
        "runs": [
            {
                **asdict(r.job),
                "days_scored": r.days_scored,
                "lines": r.lines,
                "seconds": r.seconds,
                "learning_alerts": r.learning_alerts,
                "labels": r.labels,
                "alerts": r.alerts,
                "false_alerts": r.false_alerts(),
                "missed": r.missed(),
            }
            for r in results
        ],
        "findings": describe(results),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        jobs = _jobs(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="paypulse-world-", dir=args.tmp) as workdir:
        for result in run_all(jobs, args.jobs, Path(workdir)):
            results.append(result)
            j = result.job
            print(
                f"  {j.model} {j.rate:g}/s {j.run} ({j.days} d): {result.lines:,} lines"
                f" in {result.seconds:.0f}s, {len(result.alerts)} alert(s) scored,"
                f" {result.learning_alerts} while learning",
                file=sys.stderr,
                flush=True,
            )
    print(report(results))
    lines = sum(r.lines for r in results)
    per_run = statistics.mean(r.seconds for r in results) if results else 0.0
    elapsed = time.perf_counter() - started
    print(f"\n{len(results)} runs, {lines:,} lines, {elapsed:.0f}s on {args.jobs} worker(s)", end="")
    print(f" (mean {per_run:.0f}s a run, generation included)")
    if args.json_out:
        args.json_out.write_text(json.dumps(to_json(results), indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
