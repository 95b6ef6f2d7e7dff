"""The runs behind ``detection_delay.py``: delays measured through the engine, false alarms on the detectors.

A :class:`Task` is one seed at one rate: a warm-up of clean traffic through a fresh
:class:`~engine.core.Engine`, then each drop fed to a restored copy of it until the channel's
alert fires (:func:`run_seed`). An :class:`AlarmTask` drives the channel's success-rate detectors
directly with many simulated days of clean traffic (:func:`count_false_alarms`), where the engine
would be far too slow. :func:`run_all` plans both kinds from a :class:`Config` and runs them on a
process pool. The streams come from :mod:`benchmarks._streams`; the figures are summed up and
printed by :mod:`benchmarks._delay_report`.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from benchmarks._streams import merge_lines, poisson_payments, stream_lines, time_batches
from detectors.suite import build_detectors
from engine.core import Engine, EngineOutput
from kernel.alerts import Scope
from kernel.observation import Observation
from kernel.settings import Settings

__all__ = [
    "CHANNEL",
    "DAY_S",
    "KIND",
    "START_MS",
    "AlarmResult",
    "AlarmTask",
    "Config",
    "DropRun",
    "SeedResult",
    "Task",
    "channel_detector",
    "count_false_alarms",
    "run_all",
    "run_seed",
]

CHANNEL = "alipay"
KIND = "success_rate_drop"
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, on a window boundary
DAY_S = 86_400


# -- one seed: warm-up once, then each drop from a copy -----------------------------------------


@dataclass(frozen=True)
class Task:
    rate: float
    seed: int
    drops: tuple[float, ...]
    base: float
    warmup_ms: int
    drop_ms: int
    batch_lines: int
    batch_ms: int
    settings: Settings


@dataclass
class DropRun:
    rate: float
    drop: float
    seed: int
    delay_s: float  # detected_at - change; inf when not detected within the drop
    decision_s: float  # evidence complete - change (window end, or the crossing outcome)
    wait_s: float  # detected_at - evidence complete: the watermark (lateness) wait
    started_s: float  # the alert's change-point estimate - change
    masked: bool  # the channel was already alerting at the change (a false alarm still firing)


@dataclass
class SeedResult:
    rate: float
    seed: int
    runs: list[DropRun]
    lines: int  # lines fed to Engine.process (warm-up + drops)
    process_s: float  # time inside Engine.process / finish
    clean_alerts: dict[str, int]  # firing alerts of any kind during the warm-up, by kind
    clean_hours: float


def _is_channel_alert(alert: Any, status: str = "firing") -> bool:
    return alert.kind == KIND and alert.status == status and alert.scope == Scope(CHANNEL)


def _feed(engine: Engine, batches: Any, clock: list[float]) -> tuple[list[EngineOutput], int]:
    outputs, lines = [], 0
    for batch in batches:
        t = time.perf_counter()
        outputs.append(engine.process(batch))
        clock[0] += time.perf_counter() - t
        lines += len(batch)
    return outputs, lines


def _evidence_ms(alert_ms: int, out: EngineOutput) -> int:
    """When the evidence behind an alert in ``out`` was complete, in event time.

    A window-judged alert carries the batch's largest event time as ``detected_at`` and comes
    with the window whose close decided it; its evidence ended at that window's end. A per-event
    alert carries the time of the outcome that crossed the threshold, which is the evidence.
    """
    if out.windows and alert_ms == out.event_time_ms:
        return max(w.end_ms for w in out.windows)
    return alert_ms


def run_seed(task: Task) -> SeedResult:
    """Warm-up of normal traffic, then every drop on a restored copy of the warmed-up engine."""
    change_ms = START_MS + task.warmup_ms
    rng = np.random.default_rng([task.seed, int(task.rate * 1000)])
    warm = stream_lines(poisson_payments(rng, START_MS, change_ms, task.rate, task.base), CHANNEL)
    before, tail = warm.split(change_ms)  # tail: callbacks of the last second's payments
    clock = [0.0]
    engine = Engine(task.settings)
    outputs, lines = _feed(engine, time_batches(before, task.batch_lines, task.batch_ms), clock)
    clean: dict[str, int] = {}
    firing_at_change = False
    for out in outputs:
        for alert in out.alerts:
            if alert.status == "firing":
                clean[alert.kind] = clean.get(alert.kind, 0) + 1
            if alert.kind == KIND and alert.scope == Scope(CHANNEL):
                firing_at_change = alert.status == "firing"
    saved = orjson.dumps(engine.snapshot())  # plain data: each drop restores its own copy
    runs = []
    for i, drop in enumerate(task.drops):
        drop_rng = np.random.default_rng([task.seed, int(task.rate * 1000), i + 1])
        degraded = poisson_payments(
            drop_rng, change_ms, change_ms + task.drop_ms, task.rate, task.base - drop, first_order=10**9
        )
        stream = merge_lines(tail, stream_lines(degraded, CHANNEL, prefix="d"))
        engine = Engine(task.settings)
        engine.restore(orjson.loads(saved))
        found: tuple[int, int, int] | None = None  # (detected, evidence, started) ms
        for batch in time_batches(stream, task.batch_lines, task.batch_ms):
            t = time.perf_counter()
            out = engine.process(batch)
            clock[0] += time.perf_counter() - t
            lines += len(batch)
            found = _first_detection(out)
            if found:
                break
        if not found:
            t = time.perf_counter()
            found = _first_detection(engine.finish())
            clock[0] += time.perf_counter() - t
        if found:
            detected, evidence, started = ((ms - change_ms) / 1000 for ms in found)
        else:
            detected = evidence = started = math.inf
        runs.append(
            DropRun(
                task.rate, drop, task.seed, detected, evidence, detected - evidence, started, firing_at_change
            )
        )
    hours = task.warmup_ms / 3_600_000
    return SeedResult(task.rate, task.seed, runs, lines, clock[0], clean, hours)


def _first_detection(out: EngineOutput) -> tuple[int, int, int] | None:
    for alert in out.alerts:
        if _is_channel_alert(alert):
            detected = int(alert.detected_at.timestamp() * 1000)
            return detected, _evidence_ms(detected, out), int(alert.started_at.timestamp() * 1000)
    return None


# -- false alarms: the detectors alone, many simulated days -------------------------------------


@dataclass(frozen=True)
class AlarmTask:
    rate: float
    days: float
    seed: int
    base: float
    settings: Settings


@dataclass
class AlarmResult:
    rate: float
    detector: str
    days: float
    alarms: int
    observations: int  # outcomes stepped
    seconds: float  # time in the detector's methods


def channel_detector(settings: Settings) -> Any:
    """The success-rate detector the engine builds for a channel."""
    width_ms = int(settings.windows.width.total_seconds() * 1000)
    for detector in build_detectors(Scope(CHANNEL), settings.detectors, width_ms):
        if detector.kind == KIND:
            return detector
    raise SystemExit(f"the detector suite builds no {KIND} detector for a channel")


def count_false_alarms(task: AlarmTask) -> AlarmResult:
    """Clean traffic at ``task.rate`` for ``task.days``, one day of windows at a time: a Poisson
    number of payments per window, each outcome stepped one by one (failures at random places)
    before the closed window teaches the detector, as the engine does."""
    settings = task.settings
    width_ms = int(settings.windows.width.total_seconds() * 1000)
    detector = channel_detector(settings)
    rng = np.random.default_rng([task.seed, int(task.rate * 1000), 7])
    per_day = DAY_S * 1000 // width_ms
    n_windows = max(int(task.days * per_day), 1)
    scope = Scope(CHANNEL)
    alarms = observed = 0
    spent = 0.0
    was_firing = False
    for first in range(0, n_windows, per_day):
        count = min(per_day, n_windows - first)
        attempts = rng.poisson(task.rate * width_ms / 1000, size=count)
        outcomes = rng.random(int(attempts.sum())) < (1.0 - task.base)
        bounds = np.concatenate([[0], np.cumsum(attempts)]).tolist()
        bad = [int(outcomes[lo:hi].sum()) for lo, hi in itertools.pairwise(bounds)]
        starts = START_MS + (first + np.arange(count, dtype=np.int64)) * width_ms
        obs = [
            Observation(scope, s, s + width_ms, attempts=a, successes=a - b)
            for s, a, b in zip(starts.tolist(), attempts.tolist(), bad, strict=True)
        ]
        offsets = (rng.random(len(outcomes)) * width_ms).astype(np.int64)
        flags, offs = outcomes.tolist(), offsets.tolist()
        step = detector.step
        t = time.perf_counter()
        for k, o in enumerate(obs):
            start = o.start_ms
            for j in range(bounds[k], bounds[k + 1]):
                step(flags[j], start + offs[j])
                if detector.firing != was_firing:
                    was_firing = detector.firing
                    alarms += was_firing
            detector.score(o)
            detector.update(o)
        spent += time.perf_counter() - t
        observed += len(outcomes)
    return AlarmResult(task.rate, type(detector).__name__, n_windows / per_day, alarms, observed, spent)


# -- orchestration: the plan and the pool that runs it ---------------------------------------------


def _run(job: Task | AlarmTask) -> SeedResult | AlarmResult:
    return run_seed(job) if isinstance(job, Task) else count_false_alarms(job)


@dataclass
class Config:
    rates: tuple[float, ...] = (5.0, 50.0, 500.0)
    drops: tuple[float, ...] = (0.02, 0.05, 0.10, 0.20)
    seeds: int = 15
    base: float = 0.95
    warmup_min: float = 30.0
    drop_min: float = 10.0
    fa_days: float = 300.0  # simulated clean days per rate, at most
    fa_outcomes: float = 4e7  # outcome budget per rate, which caps the days at high rates
    batch_lines: int = 200
    batch_ms: int = 1000
    workers: int = 2
    settings: Settings = field(default_factory=Settings)


def run_all(cfg: Config) -> tuple[list[SeedResult], list[AlarmResult], float]:
    jobs: list[Task | AlarmTask] = []
    for rate in sorted(cfg.rates, reverse=True):  # the costly ones first, so the pool ends together
        for seed in range(cfg.seeds):
            jobs.append(
                Task(
                    rate,
                    seed,
                    cfg.drops,
                    cfg.base,
                    int(cfg.warmup_min * 60_000),
                    int(cfg.drop_min * 60_000),
                    cfg.batch_lines,
                    cfg.batch_ms,
                    cfg.settings,
                )
            )
        days = min(cfg.fa_days, cfg.fa_outcomes / (rate * DAY_S))
        jobs.append(AlarmTask(rate, days, 2, cfg.base, cfg.settings))
    t = time.perf_counter()
    if cfg.workers > 1:
        with multiprocessing.get_context("fork").Pool(cfg.workers) as pool:
            results = pool.map(_run, jobs, chunksize=1)
    else:
        results = [_run(job) for job in jobs]
    elapsed = time.perf_counter() - t
    seeds = [r for r in results if isinstance(r, SeedResult)]
    alarms = [r for r in results if isinstance(r, AlarmResult)]
    return seeds, alarms, elapsed
