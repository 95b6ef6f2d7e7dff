"""Does PayPulse catch the incidents an ops team must catch, and only those? The labelled scenario suite.

Each scenario in ``scenarios/suite/`` is normal simulated traffic with at most one scripted
incident (every kind, at a busy and a quiet hour, on the largest and the smallest channel, and on
a small merchant), plus a multi-day run with no incident at all. For each one this script runs
the simulator's lines through :class:`~engine.core.Engine` in the batches ``paypulse replay``
hands it (``settings.source.batch_size`` lines, stream order), so the alerts are the replay's,
without Bytewax or a temporary file. The alert log is scored against the scenario's labels with
:func:`paypulse.evaluation.evaluate`, and the script prints:

* one row per scenario: labels, found, alerts, precision, recall, detection delay, false alerts per day;
* one row per alert kind over the whole suite, then the totals;
* what went wrong, alert by alert: a missed incident (and what fired instead), a false alert
  (its kind, scope and when, relative to the incident).

A missed or false alert here is a finding about the detectors; the scenarios are sized as real
incidents and must not be shrunk or grown to make the table look better.

Run: ``.venv/bin/python benchmarks/detection.py [--quick] [--only NAME ...] [--jobs 2] [--config FILE]``.
The full suite takes a few minutes on 2 cores; ``--quick`` runs a representative subset.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `paypulse` importable from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.core import Engine
from engine.sources import batched
from kernel.errors import ConfigError
from kernel.settings import Settings, load_settings
from paypulse.evaluation import Evaluation, KindScore, evaluate
from paypulse.simulator import Simulator, load_scenario

__all__ = ["QUICK", "SUITE", "ScenarioRun", "main", "run_scenario", "select", "suite_total"]

SUITE = Path(__file__).resolve().parent.parent / "scenarios" / "suite"

#: The ``--quick`` subset: a drop on a big, a small and a merchant scope, busy and quiet hours,
#: the other customer-facing kinds, and one day of the clean run.
QUICK: dict[str, dict[str, Any]] = {
    "success-rate-drop-alipay-busy": {},
    "success-rate-drop-card-quiet": {},
    "success-rate-drop-merchant": {},
    "stuck-payments-alipay-quiet": {},
    "stuck-payments-merchant": {},
    "callback-failure-high-card-busy": {},
    "volume-drop-alipay-quiet": {},
    "complaint-spike-card-quiet": {},
    "clean-3-days": {"duration": "1d"},
}


@dataclass
class ScenarioRun:
    """One scenario replayed and scored: what was scripted, what fired, and how long it took."""

    name: str
    labels: list[dict[str, Any]]
    alerts: list[dict[str, Any]]  # alert-log rows, firing and resolved, in order
    days: float
    lines: int
    seconds: float
    evaluation: Evaluation = field(init=False)

    def __post_init__(self) -> None:
        self.evaluation = evaluate(self.alerts, self.labels, days=self.days)

    @property
    def firing(self) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a["status"] == "firing"]

    def false_alerts(self) -> list[dict[str, Any]]:
        """Firing alerts that match no label (scored one at a time by the same :func:`evaluate`)."""
        return [a for a in self.firing if evaluate([a], self.labels, days=self.days).total.false_alerts]

    def missed(self) -> list[dict[str, Any]]:
        """Labels that no alert found."""
        return [
            label for label in self.labels if not evaluate(self.firing, [label], days=self.days).total.found
        ]

    def findings(self) -> list[str]:
        """One readable line per missed incident and per false alert."""
        origin = _when(self.labels[0]["start"]) if self.labels else None
        lines = []
        for label in self.missed():
            same_kind = [a for a in self.firing if a["kind"] == label["kind"]]
            instead = ", ".join(f"{_scope(a)} at {_relative(a, origin)}" for a in same_kind)
            lines.append(
                f"{self.name}: MISSED {label['kind']} on {_scope(label)}"
                + (f"; same kind fired on {instead}" if instead else "; no alert of that kind")
            )
        for alert in self.false_alerts():
            lines.append(
                f"{self.name}: FALSE {alert['kind']} on {_scope(alert)} at {_relative(alert, origin)}"
                f" ({alert['summary'][:140]})"
            )
        return lines


def run_scenario(path: Path, settings: Settings | None = None, **overrides: Any) -> ScenarioRun:
    """Simulate ``path`` (with ``overrides`` such as ``duration="1d"``) straight into an engine.

    The lines go to :meth:`Engine.process` in stream order and in batches of
    ``settings.source.batch_size``, exactly as the replay dataflow hands them, then
    :meth:`Engine.finish` closes the last windows; so the alert log is the one
    ``paypulse replay`` would write for the same file.
    """
    settings = settings or Settings()
    scenario = load_scenario(path, **overrides)
    simulator = Simulator(scenario)
    started = time.perf_counter()
    engine = Engine(settings)
    alerts: list[dict[str, Any]] = []
    lines = 0
    for _, batch in batched(enumerate(simulator.lines()), settings.source.batch_size):
        lines += len(batch)
        alerts += [a.to_json() for a in engine.process(batch).alerts]
    alerts += [a.to_json() for a in engine.finish().alerts]
    # alerts of the learning period (a scenario's learn_for) are the detectors meeting habits
    # for the first time, not findings: they are neither scored nor counted as days
    scored_from = (scenario.start + scenario.learn_for).astimezone(UTC)
    return ScenarioRun(
        name=path.stem,
        labels=simulator.labels(),
        alerts=[a for a in alerts if datetime.fromisoformat(a["detected_at"]) >= scored_from],
        days=(scenario.duration - scenario.learn_for).total_seconds() / 86_400,
        lines=lines,
        seconds=time.perf_counter() - started,
    )


def select(only: Sequence[str] = (), quick: bool = False) -> list[tuple[Path, dict[str, Any]]]:
    """The scenario files to run, with their overrides; ``only`` names files with or without ``.toml``."""
    available = {p.stem: p for p in sorted(SUITE.glob("*.toml"))}
    if only:
        unknown = [n for n in only if n.removesuffix(".toml") not in available]
        if unknown:
            raise ConfigError(f"no scenario {unknown} in {SUITE}; choose from {sorted(available)}")
        names = [n.removesuffix(".toml") for n in only]
    elif quick:
        names = list(QUICK)
    else:
        names = list(available)
    return [(available[n], QUICK.get(n, {}) if quick else {}) for n in names]


def suite_total(runs: Sequence[ScenarioRun]) -> Evaluation:
    """All scenarios' scores merged per kind, over their summed event time."""
    by_kind: dict[str, KindScore] = {}
    for run in runs:
        for kind, score in run.evaluation.by_kind.items():
            total = by_kind.setdefault(kind, KindScore())
            total.labels += score.labels
            total.found += score.found
            total.alerts += score.alerts
            total.false_alerts += score.false_alerts
            total.delays_s += score.delays_s
    return Evaluation(by_kind, sum(run.days for run in runs))


# -- printing ------------------------------------------------------------------------------------

_COLUMNS = ("labels", "found", "alerts", "precision", "recall", "median delay", "p90 delay", "false/day")


def _cells(row: dict[str, Any]) -> list[str]:
    return [
        str(row["labels"]),
        str(row["found"]),
        str(row["alerts"]),
        f"{row['precision']:.2f}",
        f"{row['recall']:.2f}",
        _seconds(row["median_delay_s"]),
        _seconds(row["p90_delay_s"]),
        f"{row['false_per_day']:.2f}",
    ]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}s"


def format_table(title: str, first: str, rows: list[tuple[str, list[str]]]) -> str:
    """A plain fixed-width table, readable in a terminal and in a pasted report.

    >>> row = ["1", "1", "2", "0.50", "1.00", "9s", "9s", "12.00"]
    >>> print(format_table("t", "kind", [("volume_drop", row)]))
    t
    kind         labels  found  alerts  precision  recall  median delay  p90 delay  false/day
    -----------  ------  -----  ------  ---------  ------  ------------  ---------  ---------
    volume_drop       1      1       2       0.50    1.00            9s         9s      12.00
    """
    header = [first, *_COLUMNS]
    widths = [max(len(header[i]), *(len(r[1][i - 1]) if i else len(r[0]) for r in rows)) for i in range(9)]
    out = [
        title,
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths, strict=True))
        ),
    ]
    out.append("  ".join("-" * w for w in widths))
    for name, cells in rows:
        out.append(
            "  ".join([name.ljust(widths[0]), *(c.rjust(w) for c, w in zip(cells, widths[1:], strict=True))])
        )
    return "\n".join(out)


def report(runs: Sequence[ScenarioRun]) -> str:
    """The per-scenario table, the per-kind table with totals, and the findings."""
    per_scenario = [(run.name, _cells(run.evaluation.rows()[-1])) for run in runs]
    total = suite_total(runs)
    per_kind = [(row["kind"], _cells(row)) for row in total.rows()]
    findings = [line for run in runs for line in run.findings()]
    parts = [
        format_table("per scenario", "scenario", per_scenario),
        format_table(f"per kind, over {total.days:.2f} days of event time", "kind", per_kind),
        "findings (missed incidents and false alerts):",
        *(f"  {line}" for line in findings or ["none"]),
    ]
    return "\n\n".join(parts[:2]) + "\n\n" + "\n".join(parts[2:])


# -- running -------------------------------------------------------------------------------------


def _run_one(job: tuple[Path, dict[str, Any], Path | None]) -> ScenarioRun:
    path, overrides, config = job
    return run_scenario(path, load_settings(config), **overrides)


def run_all(
    jobs: list[tuple[Path, dict[str, Any]]], workers: int, config: Path | None = None
) -> Iterator[ScenarioRun]:
    """Run the scenarios on ``workers`` processes, longest first; yield results in suite order."""
    work = [(path, overrides, config) for path, overrides in jobs]
    if workers <= 1:
        yield from map(_run_one, work)
        return
    # spawn, not fork: a forked child of a threaded parent (pytest, a notebook) can deadlock
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {i: pool.submit(_run_one, work[i]) for i in sorted(range(len(work)), key=_cost(work))}
        for i in range(len(work)):
            yield futures[i].result()


def _cost(work: list[tuple[Path, dict[str, Any], Path | None]]) -> Any:
    """Sort key: the biggest scenario (event time x peak rate) first, so the workers finish together."""

    def key(i: int) -> float:
        path, overrides, _config = work[i]
        scenario = load_scenario(path, **overrides)
        return -scenario.duration.total_seconds() * scenario.rate_per_s

    return key


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="scenario file stem")
    parser.add_argument("--quick", action="store_true", help="a representative subset (about a minute)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    parser.add_argument("--config", type=Path, help="PayPulse settings TOML (default: built-in defaults)")
    args = parser.parse_args(argv)
    try:
        jobs = select(args.only, args.quick)
        load_settings(args.config)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    runs = []
    for run in run_all(jobs, args.jobs, args.config):
        runs.append(run)
        row = run.evaluation.rows()[-1]
        print(
            f"  {run.name}: {run.lines:,} lines in {run.seconds:.1f}s, "
            f"found {row['found']}/{row['labels']}, {row['alerts']} alerts",
            file=sys.stderr,
            flush=True,
        )
    elapsed = time.perf_counter() - started
    print(report(runs))
    lines = sum(run.lines for run in runs)
    per_run = statistics.mean(run.seconds for run in runs) if runs else 0.0
    print(
        f"\n{len(runs)} scenarios, {lines:,} lines, {elapsed:.0f}s wall time on {args.jobs} worker(s) "
        f"(mean {per_run:.1f}s per scenario, simulation included)"
    )
    return 0


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _scope(row: dict[str, Any]) -> str:
    scope = row.get("scope") or {}
    channel, merchant = scope.get("channel"), scope.get("merchant_id")
    if channel is None and merchant is None:
        return "all payments"
    return "/".join(part for part in (channel, merchant) if part)


def _relative(alert: dict[str, Any], origin: datetime | None) -> str:
    """When an alert fired, as an offset from the incident's start (or UTC time on a clean run)."""
    detected = _when(alert["detected_at"])
    if origin is None:
        return f"{detected:%Y-%m-%d %H:%M} UTC"
    delta = (detected - origin) / timedelta(seconds=1)
    return f"{'+' if delta >= 0 else '-'}{abs(delta) / 60:.1f} min from incident start"


if __name__ == "__main__":
    raise SystemExit(main())
