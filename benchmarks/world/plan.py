"""Which incidents a run gets: ``--incidents`` parsed and placed on the calendar.

A spec is ``KIND[~VARIANT][/SCOPE][@[dN-]HH:MM]``, several separated by commas:

* ``SCOPE`` is a channel, ``all`` (every payment) or ``merchant`` (one of the ten largest,
  drawn by seed), or a merchant id such as ``mch0042``;
* the time is local (Asia/Shanghai) on day ``N`` of the run, counted from 1; without ``dN-`` it is
  the last day, so ``--days 2`` puts incidents after a clean first day;
* ``all`` alone is :data:`DAY_PLAN`: fifteen incidents, every kind at least once, 80 minutes apart
  over the last day, at quiet and busy hours, on big and small channels.

Without a scope or a time, a kind takes the first of its entries in the day plan.

>>> [(s.kind, s.variant, s.scope, s.day, s.minute) for s in parse_incidents("volume_drop/card@d1-03:10")]
[('volume_drop', '', 'card', 1, 190)]
>>> parse_incidents("stuck_payments")[0].scope, parse_incidents("stuck_payments")[0].minute
('alipay', 600)
>>> len(parse_incidents("all")), len(parse_incidents(""))
(15, 0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import numpy as np

from benchmarks.world.channels import CHANNELS
from benchmarks.world.incidents import KINDS, Incident, make_incident
from benchmarks.world.merchants import Merchants
from benchmarks.world.traffic import LOCAL_OFFSET_MS, local_day

__all__ = ["DAY_PLAN", "IncidentSpec", "PlanError", "parse_incidents", "place_incidents"]

#: (kind, variant, scope, local time) of the full day of incidents.
DAY_PLAN: Final = (
    ("success_rate_drop", "", "all", "01:00"),
    ("volume_drop", "", "alipay", "02:40"),
    ("callback_failure_high", "", "wechat", "07:20"),
    ("amount_deviation", "testing", "card", "08:40"),
    ("stuck_payments", "", "alipay", "10:00"),
    ("success_rate_drop", "", "merchant", "11:20"),
    ("volume_drop", "", "wechat", "12:40"),
    ("callback_latency_high", "delay", "unionpay", "14:00"),
    ("volume_spike", "", "card", "15:20"),
    ("complaint_spike", "", "all", "16:40"),
    ("success_rate_drop", "", "wechat", "18:00"),
    ("callback_latency_high", "held", "alipay", "19:20"),
    ("amount_deviation", "pricing", "wechat", "20:40"),
    ("volume_spike", "", "all", "22:00"),
    ("callback_failure_high", "", "card", "23:10"),
)
#: Kinds whose detectors watch single merchants; the others are judged per channel and overall.
MERCHANT_KINDS: Final = ("success_rate_drop", "callback_failure_high", "stuck_payments")
_SPEC = re.compile(
    r"^(?P<kind>[a-z_]+)(?:~(?P<variant>[a-z]+))?(?:/(?P<scope>[A-Za-z0-9_]+))?"
    r"(?:@(?:d(?P<day>\d+)-)?(?P<hh>\d{1,2}):(?P<mm>\d{2}))?$"
)
_DAY_MS: Final = 86_400_000


class PlanError(ValueError):
    """An ``--incidents`` spec that names no known kind, variant, scope or time."""


@dataclass(frozen=True)
class IncidentSpec:
    kind: str
    variant: str
    scope: str
    day: int | None  # 1-based; None: the last day
    minute: int  # local minute of the day


def parse_incidents(text: str) -> list[IncidentSpec]:
    """Parse a comma-separated list of specs (see the module docstring)."""
    specs = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item == "all":
            specs += [_spec(k, v, s, None, t) for k, v, s, t in DAY_PLAN]
            continue
        m = _SPEC.match(item)
        if m is None or m["kind"] not in KINDS:
            raise PlanError(
                f"incident {item!r}: expected KIND[~VARIANT][/SCOPE][@[dN-]HH:MM], KIND in {sorted(KINDS)}"
            )
        default = next(row for row in DAY_PLAN if row[0] == m["kind"])
        variant = m["variant"] or ""
        if variant and variant not in KINDS[m["kind"]].variants:
            raise PlanError(
                f"incident {item!r}: variant of {m['kind']} is one of {KINDS[m['kind']].variants}"
            )
        time = f"{m['hh']}:{m['mm']}" if m["hh"] else default[3]
        day = int(m["day"]) if m["day"] else None
        specs.append(_spec(m["kind"], variant or default[1], m["scope"] or default[2], day, time))
    return specs


def _spec(kind: str, variant: str, scope: str, day: int | None, time: str) -> IncidentSpec:
    hh, mm = (int(x) for x in time.split(":"))
    if not (0 <= hh < 24 and 0 <= mm < 60):
        raise PlanError(f"incident {kind}: time {time} is not HH:MM")
    if scope not in (*CHANNELS, "all", "merchant") and not re.fullmatch(r"mch\d{4}", scope):
        raise PlanError(
            f"incident {kind}: scope {scope!r} is a channel {CHANNELS}, 'all', 'merchant' or mchNNNN"
        )
    if scope.startswith("m") and scope not in CHANNELS and kind not in MERCHANT_KINDS:
        raise PlanError(f"incident {kind}: no merchant scope (only {', '.join(MERCHANT_KINDS)})")
    return IncidentSpec(kind, variant, scope, day, hh * 60 + mm)


def place_incidents(
    specs: list[IncidentSpec],
    start_ms: int,
    days: int,
    merchants: Merchants,
    peak: float,
    rng: np.random.Generator,
) -> list[Incident]:
    """Concrete incidents for a run starting at ``start_ms`` (local midnight) and lasting ``days``."""
    first_day = int(local_day(start_ms))
    largest = merchants.largest(10)
    incidents = []
    for spec in specs:
        day = spec.day or days
        if not 1 <= day <= days:
            raise PlanError(f"incident {spec.kind}: day {day} is outside the run's {days} day(s)")
        begin = (first_day + day - 1) * _DAY_MS - LOCAL_OFFSET_MS + spec.minute * 60_000
        channel = CHANNELS.index(spec.scope) if spec.scope in CHANNELS else None
        merchant = None
        if spec.scope == "merchant":
            pick = int(largest[rng.integers(len(largest))])
            merchant = (pick, merchants.ids[pick])
        elif spec.scope.startswith("mch"):
            if spec.scope not in merchants.ids:
                raise PlanError(f"incident {spec.kind}: no merchant {spec.scope} among {len(merchants.ids)}")
            merchant = (merchants.ids.index(spec.scope), spec.scope)
        incidents.append(make_incident(spec.kind, spec.variant, channel, merchant, begin, rng, peak))
    return incidents
