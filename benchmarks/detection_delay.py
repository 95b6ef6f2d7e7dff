"""How close is success-rate detection to the theoretical limit? Delay vs the CUSUM information bound.

For a drop of the success rate from ``base`` (0.95) by 2, 5, 10 and 20 points on one channel at
5, 50 and 500 payments/s, the script measures the detection delay in event time
(``detected_at`` of the channel's ``success_rate_drop`` alert minus the instant of the change)
over several seeds and prints its median next to the information bound of any sequential test:

    bound = ln(ARL) / KL(q1 || q0) payments,  divided by the rate for seconds

where ARL is one day of payments at that rate (at most one false alarm a day per scope),
q0 = 1 - base, q1 = q0 + drop, and KL is in nats per payment (Lorden: no test with that false
alarm rate detects the change sooner on average, so delay / bound is the price of everything
else: the window, the lateness wait, the learned baseline, the detector's tuning). Rows with a
ratio above 2 are marked.

How one run goes: a fresh :class:`~engine.core.Engine` built from ``Settings`` is fed a warm-up
of normal Poisson traffic (payments, and a processed callback a second after each success, so
the stuck-payment and callback detectors stay quiet) through ``Engine.process`` in batches of at
most 200 lines and 1 s of event time, as a live source hands them on. Its state is then saved with
``Engine.snapshot`` and each drop continues from a restored copy, so the four drops of one seed
share one warm-up. The drop is fed until the channel's alert fires or ``--drop-minutes`` pass
(then ``Engine.finish``). Only the public API is used, so the figures follow whatever the
engine does.

The delay is split into the decision (the evidence is complete: the end of the window whose
close fired the alert, or the outcome that crossed the threshold for a per-event test) and the
wait for the event-time watermark (``windows.lateness``) before a window may be judged.

False alarms cannot be measured end to end at 500/s (a day is 43M events), so the engine's
channel detector is driven directly with simulated clean traffic for many days: one outcome
per payment stepped as the engine does, each closed 10-s window teaching it, for up to
``--fa-days`` days and at most ``--fa-outcomes`` outcomes per rate. It reports alerts per day
per scope.

Run: ``.venv/bin/python benchmarks/detection_delay.py [--quick] [--seeds 15] [--workers 2]
[--base 0.95] [--config FILE] [--json out.json]``. The default run takes ~3-4 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._delay_measure import Config, run_all
from benchmarks._delay_report import json_payload, print_report, summarise
from kernel.errors import ConfigError
from kernel.settings import load_settings


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers, got {text!r}")
    return values


def parse_config(argv: list[str] | None) -> tuple[Config, Path | None]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick", action="store_true", help="3 seeds at 50/s only, few false-alarm days (smoke test)"
    )
    p.add_argument("--rates", type=_floats, help="payments/s, comma-separated (default 5,50,500)")
    p.add_argument("--drops", type=_floats, help="success-rate drops in points (default 2,5,10,20)")
    p.add_argument("--seeds", type=int, help="seeded runs per row (default 15)")
    p.add_argument("--base", type=float, default=0.95, help="normal success rate (default 0.95)")
    p.add_argument("--warmup-minutes", type=float, default=30.0)
    p.add_argument("--drop-minutes", type=float, default=10.0, help="how long the drop is fed at most")
    p.add_argument(
        "--fa-days", type=float, help="clean simulated days per rate for false alarms (default 300)"
    )
    p.add_argument("--batch-lines", type=int, default=200)
    p.add_argument("--batch-ms", type=int, default=1000, help="event time one batch may span")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--config", type=Path, help="PayPulse settings TOML (default: built-in settings)")
    p.add_argument("--json", type=Path, help="also write the rows and false-alarm counts here")
    a = p.parse_args(argv)
    try:
        settings = load_settings(a.config)
    except ConfigError as err:
        p.error(str(err))
    cfg = Config(base=a.base, warmup_min=a.warmup_minutes, drop_min=a.drop_minutes, batch_lines=a.batch_lines,
                 batch_ms=a.batch_ms, workers=a.workers, settings=settings)  # fmt: skip
    if a.quick:
        cfg.rates, cfg.seeds, cfg.fa_days, cfg.fa_outcomes = (50.0,), 3, 5.0, 2e6
    cfg.rates = a.rates or cfg.rates
    cfg.drops = tuple(d / 100 for d in a.drops) if a.drops else cfg.drops
    cfg.seeds = a.seeds if a.seeds is not None else cfg.seeds
    cfg.fa_days = a.fa_days if a.fa_days is not None else cfg.fa_days
    if not 0 < cfg.base < 1 or any(cfg.base - d <= 0 for d in cfg.drops):
        p.error(f"--base {cfg.base} must be in (0, 1) and above every drop")
    if cfg.seeds < 1 or cfg.workers < 1 or cfg.batch_lines < 1 or cfg.batch_ms < 1:
        p.error("--seeds, --workers, --batch-lines and --batch-ms must be >= 1")
    if cfg.warmup_min <= 0 or cfg.drop_min <= 0 or cfg.fa_days <= 0:
        p.error("--warmup-minutes, --drop-minutes and --fa-days must be > 0")
    return cfg, a.json


def main(argv: list[str] | None = None) -> int:
    cfg, json_path = parse_config(argv)
    seeds, alarms, elapsed = run_all(cfg)
    rows = summarise(cfg, seeds)
    print_report(cfg, seeds, alarms, rows, elapsed)
    if json_path is not None:
        payload = json_payload(cfg, seeds, alarms, rows)
        json_path.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
