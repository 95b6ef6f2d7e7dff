"""The figures of ``detection_delay.py``: the information bound, the per-row summary, the printed report.

:func:`bound_seconds` is the yardstick (no sequential test with one false alarm a day detects the
drop sooner on average); :func:`summarise` turns the runs of :mod:`benchmarks._delay_measure`
into one row per (rate, drop) with medians that treat "not detected in time" as infinite;
:func:`print_report` prints the table, the false alarms and the cost, and :func:`json_payload`
is what ``--json`` writes.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict
from typing import Any

from benchmarks._delay_measure import DAY_S, AlarmResult, Config, SeedResult, channel_detector
from detectors.budget import AlarmBudget
from detectors.suite import build_detectors, paging_tests
from kernel.alerts import Scope

__all__ = [
    "FLAG_RATIO",
    "bound_seconds",
    "json_payload",
    "kl_bernoulli",
    "median_or_inf",
    "print_report",
    "quantile_or_inf",
    "summarise",
]

FLAG_RATIO = 2.0


def kl_bernoulli(q1: float, q0: float) -> float:
    """Kullback-Leibler divergence of Bernoulli(q1) from Bernoulli(q0), in nats per outcome.

    The expected log-likelihood ratio a degraded payment adds to the CUSUM: the speed at which
    the best sequential test gathers evidence.

    >>> round(kl_bernoulli(0.10, 0.05), 5)
    0.02065
    >>> kl_bernoulli(0.05, 0.05)
    0.0
    """
    if not (0.0 < q0 < 1.0 and 0.0 < q1 < 1.0):
        raise ValueError(f"rates must be in (0, 1): q1={q1}, q0={q0}")
    return q1 * math.log(q1 / q0) + (1 - q1) * math.log((1 - q1) / (1 - q0))


def arl_days(cfg: Config) -> float:
    """Days between false alarms the benchmarked channel test may have: its share of the budget
    in an engine with one channel and all payments, the same rate the bound is computed at."""
    tests = 2 * paging_tests(build_detectors(Scope("x"), cfg.settings.detectors, 10_000))
    return AlarmBudget(cfg.settings.detectors.false_pages_per_week, tests).days_between_false_alarms


def bound_seconds(rate_per_s: float, base: float, drop: float, arl_days: float = 1.0) -> float:
    """CUSUM information bound ``ln(ARL) / KL(q1 || q0)``, in seconds of traffic at ``rate_per_s``.

    ARL is ``arl_days`` of payments at that rate: the false-alarm rate the bound allows.

    >>> round(bound_seconds(50, 0.95, 0.05), 2)  # 5-point drop at 50/s: ~740 payments
    14.79
    >>> round(bound_seconds(500, 0.95, 0.20), 3)
    0.156
    """
    q0 = 1.0 - base
    arl = rate_per_s * DAY_S * arl_days
    return math.log(arl) / kl_bernoulli(q0 + drop, q0) / rate_per_s


def quantile_or_inf(values: list[float], q: float) -> float:
    """Nearest-rank quantile where ``inf`` (not detected in time) ranks above every delay.

    >>> quantile_or_inf([1.0, 2.0, 3.0, 4.0, math.inf], 0.9), quantile_or_inf([1.0, 2.0, 3.0, 4.0], 0.5)
    (inf, 2.0)
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def median_or_inf(values: list[float]) -> float:
    """Median where ``inf`` stands for "not detected in time": finite only if most runs detected.

    >>> median_or_inf([3.0, 1.0, math.inf]), median_or_inf([1.0, math.inf, math.inf])
    (3.0, inf)
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    n = len(ordered)
    if n % 2:
        return ordered[n // 2]
    low, high = ordered[n // 2 - 1], ordered[n // 2]
    return math.inf if math.isinf(high) else (low + high) / 2


def _fmt_s(x: float, cap: float) -> str:
    if math.isnan(x):
        return "-"
    return f">{cap:.0f}" if math.isinf(x) else f"{x:.1f}"


def summarise(cfg: Config, seeds: list[SeedResult]) -> list[dict[str, Any]]:
    """One row per (rate, drop): medians over the seeds that were not already alerting."""
    rows = []
    lateness_s = cfg.settings.windows.lateness.total_seconds()
    for rate in cfg.rates:
        for drop in cfg.drops:
            runs = [r for s in seeds if s.rate == rate for r in s.runs if r.drop == drop]
            usable = [r for r in runs if not r.masked]
            detected = [r for r in usable if math.isfinite(r.delay_s)]
            bound = bound_seconds(rate, cfg.base, drop, arl_days(cfg))
            delay = median_or_inf([r.delay_s for r in usable])
            cap = cfg.drop_min * 60
            ratio = delay / bound if math.isfinite(delay) else cap / bound  # a lower bound if censored
            decision = median_or_inf([r.decision_s for r in usable])
            rows.append(
                {
                    "rate_per_s": rate,
                    "drop_points": round(drop * 100, 3),
                    "runs": len(usable),
                    "masked": len(runs) - len(usable),
                    "detected": len(detected),
                    "median_delay_s": delay,
                    "p90_delay_s": quantile_or_inf([r.delay_s for r in usable], 0.9),
                    "median_decision_s": decision,
                    "median_wait_s": _median([r.wait_s for r in detected]),
                    "median_start_error_s": _median([r.started_s for r in detected]),
                    "bound_s": bound,
                    "ratio": ratio,
                    "ratio_censored": not math.isfinite(delay),
                    "decision_ratio": decision / bound if math.isfinite(decision) else math.nan,
                    "flagged": ratio > FLAG_RATIO,
                    "lateness_s": lateness_s,
                }
            )  # fmt: skip
    return rows


def print_report(
    cfg: Config, seeds: list[SeedResult], alarms: list[AlarmResult], rows: list[dict], elapsed: float
) -> None:
    s = cfg.settings
    cap = cfg.drop_min * 60
    print(
        f"Success-rate drop detection on one channel, base success rate {cfg.base:.3f}; "
        f"{cfg.seeds} seeds per row; warm-up {cfg.warmup_min:g} min, drop fed up to {cfg.drop_min:g} min;\n"
        f"windows {s.windows.width.total_seconds():g} s, lateness {s.windows.lateness.total_seconds():g} s; "
        f"detector tuned for a {s.detectors.success_rate_drop * 100:g}-point drop, "
        f"{s.detectors.false_pages_per_week:g} false page a week shared by its live tests; "
        f"channel detector: {type(channel_detector(s)).__name__}.\n"
        "delay = detected_at - change (event time) = decision (evidence complete)\n"
        "        + wait (for the lateness watermark); start = the alert's change-point estimate - change;\n"
        f"bound = ln(payments in {arl_days(cfg):.0f} days: the test's share of the false-page budget)"
        " / KL(q1||q0) / rate;\nratio = median delay / bound (* = ratio > 2).\n"
    )
    head = (
        f"{'rate/s':>6} {'drop':>5} {'found':>7} {'delay s':>8} {'p90 s':>7} {'decide s':>8} {'wait s':>6} "
        f"{'start s':>7} {'bound s':>8} {'ratio':>7} {'decide/bd':>9}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        ratio = f"{'>' if r['ratio_censored'] else ''}{r['ratio']:.1f}"
        mark = " *" if r["flagged"] else ""
        masked = f" ({r['masked']} masked)" if r["masked"] else ""
        print(
            f"{r['rate_per_s']:>6g} {r['drop_points']:>4g}p {r['detected']:>3}/{r['runs']:<3} "
            f"{_fmt_s(r['median_delay_s'], cap):>8} {_fmt_s(r['p90_delay_s'], cap):>7} "
            f"{_fmt_s(r['median_decision_s'], cap):>8} {_fmt_s(r['median_wait_s'], cap):>6} "
            f"{_fmt_s(r['median_start_error_s'], cap):>7} {r['bound_s']:>8.2f} {ratio:>7} "
            f"{r['decision_ratio']:>9.1f}{mark}{masked}"
        )
    flagged = [r for r in rows if r["flagged"]]
    print(f"\nRows with delay/bound > {FLAG_RATIO:g}: {len(flagged)} of {len(rows)}")
    for r in flagged:
        why = (
            f"not detected within {cap:.0f} s in most runs"
            if r["ratio_censored"]
            else f"median {r['median_delay_s']:.1f} s vs bound {r['bound_s']:.2f} s, "
            f"of which {r['median_wait_s']:.1f} s lateness wait"
        )
        print(f"  {r['rate_per_s']:g}/s, {r['drop_points']:g} points: {why}")

    print("\nFalse alarms on clean traffic (success rate constant at base), alerts per day per scope:")
    for a in alarms:
        per_day = a.alarms / a.days
        unit = "windows" if "window" in a.detector else "outcomes"
        print(
            f"  {a.detector:<38} {a.rate:>5g}/s: {a.alarms:>4} alarms in {a.days:>7.1f} simulated days "
            f"= {per_day:.3f}/day  ({a.observations:,} {unit})"
            + (f"; < {3 / a.days:.3f}/day at 95% (none seen)" if not a.alarms else "")
        )
    share = arl_days(cfg)
    print(
        f"  target: 1/{share:g} = {1 / share:.5f}/day (one test's share of the false-page budget); "
        "the bound above allows 1/day."
    )
    print(
        "  method: the channel detector driven directly, no engine: Poisson payments per 10-s window,"
        "\n  Bernoulli outcomes (numpy), one long continuous run per rate; the detector is stepped once"
        "\n  per payment, then taught by the window. An alarm is a change from not firing to firing."
    )
    clean: dict[float, dict[str, int]] = {}
    hours: dict[float, float] = {}
    for sr in seeds:
        for kind, n in sr.clean_alerts.items():
            clean.setdefault(sr.rate, {})[kind] = clean.get(sr.rate, {}).get(kind, 0) + n
        hours[sr.rate] = hours.get(sr.rate, 0.0) + sr.clean_hours
    for rate in cfg.rates:
        got = ", ".join(f"{k} x{n}" for k, n in sorted(clean.get(rate, {}).items())) or "none"
        span = f"{hours.get(rate, 0):.1f} h of event time"
        print(f"  engine, clean warm-ups at {rate:g}/s ({span}): alerts fired: {got}")

    print("\nCost (wall time on this machine; workers share the cores):")
    for rate in cfg.rates:
        mine = [sr for sr in seeds if sr.rate == rate]
        lines = sum(sr.lines for sr in mine)
        secs = sum(sr.process_s for sr in mine)
        if lines:
            print(
                f"  Engine.process at {rate:>4g}/s: {secs / lines * 1e6:6.2f} us/event over {lines:,} events"
            )
    for a in alarms:
        unit = "window observation" if "window" in a.detector else "outcome (step + per-window learning)"
        cost = a.seconds / max(a.observations, 1) * 1e6
        print(f"  {a.detector:<38} {a.rate:>5g}/s: {cost:6.2f} us per {unit}")
    print(f"\nTotal {elapsed:.0f} s with {cfg.workers} worker(s).")


def json_payload(
    cfg: Config, seeds: list[SeedResult], alarms: list[AlarmResult], rows: list[dict]
) -> dict[str, Any]:
    """What ``--json`` writes: the rows, the false-alarm counts, every run and the engine's cost."""
    return {
        "rows": rows,
        "false_alarms": [asdict(a) | {"per_day": a.alarms / a.days} for a in alarms],
        "runs": [asdict(r) for s in seeds for r in s.runs],
        "engine_us_per_event": {
            str(rate): sum(s.process_s for s in seeds if s.rate == rate)
            / max(sum(s.lines for s in seeds if s.rate == rate), 1)
            * 1e6
            for rate in cfg.rates
        },
    }
