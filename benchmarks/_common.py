"""Helpers the benchmarks share: a simulated event file and peak memory.

Every benchmark reads the same kind of input, the simulator's JSON Lines written to a file,
so figures from different scripts describe the same traffic (payments, callbacks, complaints,
4 channels, 2,000 Zipf merchants, string and number amounts, RFC 3339 timestamps, mild
disorder, 0.1% duplicates and, by default here, 0.2% malformed lines).
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, TypeVar

Case = TypeVar("Case", bound=Hashable)

__all__ = ["Rates", "best_of_rounds", "generate_events", "peak_rss_mib"]


def generate_events(
    path: Path,
    scenario: Path,
    events: int,
    bad_line_rate: float = 0.002,
    rate_per_s: float | None = None,
) -> tuple[int, float]:
    """Write the first ``events`` lines of ``scenario``'s stream to ``path``.

    Returns the number of lines and the hours of event time they span.

    The scenario's duration is stretched (up to a year) until it yields enough lines, and the
    stream is cut after ``events`` lines, so the file always holds exactly that many. Cutting a
    stream in arrival order keeps it a valid stream: it is what a consumer that stopped reading
    would have seen. ``rate_per_s`` replaces the scenario's peak rate: a lower rate spreads the
    same number of lines over more event time, hence more windows and detector runs per event.
    """
    from paypulse.simulator import BLOCK_MS, Simulator, load_scenario  # numpy: only where needed

    loaded = load_scenario(scenario, duration="366d", bad_line_rate=bad_line_rate, rate_per_s=rate_per_s)
    simulator = Simulator(loaded)
    written = 0
    last_ms = loaded.start_ms
    with open(path, "wb") as f:
        for end_ms, lines in simulator.chunks(step_ms=BLOCK_MS):
            last_ms = end_ms
            take = lines[: events - written]
            if take:
                f.write(b"\n".join(take) + b"\n")
                written += len(take)
            if written >= events:
                break
    if written < events:
        raise SystemExit(f"{scenario} yields only {written} lines in 366 days; raise its rate_per_s")
    return written, (last_ms - loaded.start_ms) / 3_600_000


def peak_rss_mib() -> float:
    """This process's peak resident set size so far, in MiB.

    On Linux this is ``VmHWM`` from ``/proc/self/status``, not ``ru_maxrss``: a child started by
    ``subprocess`` inherits its parent's ``ru_maxrss`` across ``exec`` (the kernel keeps the
    larger of the old and new address space), so ``ru_maxrss`` would report the parent's peak.
    ``VmHWM`` belongs to the current address space only.
    """
    status = Path("/proc/self/status")
    if status.exists():  # Linux
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class Rates:
    """Events per second by wall and by CPU time, for a measurement of ``lines`` that took
    ``seconds`` (``cpu_seconds`` of this process's CPU: steadier on a busy machine)."""

    lines: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.lines / self.seconds

    @property
    def cpu_rate(self) -> float:
        return self.lines / self.cpu_seconds


def best_of_rounds(
    cases: Sequence[Case], rounds: int, run: Callable[[Case], Any], label: Callable[[Case, Any], str]
) -> tuple[dict[Case, Any], dict[Case, float]]:
    """Measure every case ``rounds`` times, each round starting one case later, so no case always
    runs first on a cold or busy machine; keep each case's best CPU rate and its highest peak RSS.

    ``run(case)`` returns a measurement with ``cpu_rate`` and ``peak_rss_mib``; ``label`` says
    what to print for it after ``round N``.
    """
    best: dict[Case, Any] = {}
    peak: dict[Case, float] = {}
    for round_ in range(rounds):
        shift = round_ % len(cases)
        for case in [*cases[shift:], *cases[:shift]]:
            measurement = run(case)
            print(f"round {round_ + 1} {label(case, measurement)}", flush=True)
            if case not in best or measurement.cpu_rate > best[case].cpu_rate:
                best[case] = measurement
            peak[case] = max(peak.get(case, 0.0), measurement.peak_rss_mib)
    return best, peak
