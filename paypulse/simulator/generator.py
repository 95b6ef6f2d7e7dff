"""The simulator: a scenario in, JSON Lines out, in stream order, chunk by chunk.

Event time is cut into fixed one-minute blocks, each drawn from its own seeded generator, so
the output depends only on the scenario and the seed (never on how a caller chunks it), and
memory is bounded by one block plus the callbacks and complaints still in flight.

An event's ``ts`` is when it happened; the stream sees it a little later (``ts`` plus a jitter
below ``max_jitter``). Lines leave in that arrival order, which is why a consumer sees mild
disorder, and why a callback drawn now may wait in the pool for a later block.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Final

import numpy as np
import orjson

from kernel.errors import ConfigError
from paypulse.simulator.badlines import make_bad_line, pick_kinds
from paypulse.simulator.incidents import (
    COMPLAINT_PER_EXTRA_FAILURE,
    COMPLAINT_PER_STUCK,
    Incidents,
    compile_incidents,
    label_of,
)
from paypulse.simulator.scenario import Scenario, merchant_id
from paypulse.simulator.traffic import INCIDENT_ERROR_CODE, Traffic

__all__ = ["BLOCK_MS", "Simulator"]

BLOCK_MS: Final = 60_000
_INCIDENT_COMPLAINT_DELAY_MS: Final = 180_000.0  # median; customers of a broken channel write in fast

_EMPTY: Final = np.zeros(0, dtype=np.int64)


class Simulator:
    """Generates the events of a scenario; the same scenario and seed give byte-identical lines.

    >>> from paypulse.simulator.scenario import Scenario
    >>> sim = Simulator(Scenario(duration="5s", rate_per_s=20), seed=1)
    >>> lines = list(sim.lines())
    >>> len(lines) > 0, lines == list(Simulator(Scenario(duration="5s", rate_per_s=20), seed=1).lines())
    (True, True)
    """

    def __init__(self, scenario: Scenario, seed: int | None = None) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        if self.seed < 0:
            raise ConfigError(f"invalid setting seed = {self.seed}: must be >= 0")
        self._traffic = Traffic(scenario)
        self._incidents = compile_incidents(scenario)
        self._channels = list(self._traffic.channel_names)
        self._merchants = [merchant_id(r) for r in range(1, scenario.merchants.count + 1)]
        categories = scenario.complaints.categories
        self._categories = list(categories)
        weights = np.array([categories[c] for c in self._categories], dtype=np.float64)
        self._category_cdf = np.cumsum(weights) / weights.sum()
        self._codes = np.array([*self._traffic.error_codes, INCIDENT_ERROR_CODE], dtype=object)
        self._complaint_p = scenario.complaints.per_minute_at_peak / 60.0 / scenario.rate_per_s
        self._complaint_log_delay = math.log(scenario.complaints.delay_median.total_seconds() * 1000)
        self._max_jitter_ms = int(scenario.max_jitter.total_seconds() * 1000)

    def labels(self) -> list[dict[str, Any]]:
        """The scripted incidents as evaluation labels, clipped to the simulated time."""
        labels = (label_of(self.scenario, i) for i in range(len(self.scenario.incidents)))
        return [label for label in labels if label is not None]

    def lines(self) -> Iterator[bytes]:
        """Every line of the scenario in stream order, without newlines."""
        for _, lines in self.chunks(step_ms=BLOCK_MS):
            yield from lines

    def chunks(self, step_ms: int = 1000) -> Iterator[tuple[int, list[bytes]]]:
        """``(chunk end in epoch ms, lines arriving in the chunk)`` for consecutive chunks of ``step_ms``.

        Every chunk of the scenario is yielded, empty ones too, so a caller can pace playback on
        them; the last one ends at the scenario's end even if it is shorter.
        """
        if step_ms < 1:
            raise ConfigError(f"invalid setting step_ms = {step_ms}: must be >= 1")
        start, end = self.scenario.start_ms, self.scenario.end_ms
        pool_emit, pool_lines = _EMPTY, []  # drawn, not yet due
        ready_emit, ready_lines = _EMPTY, []  # due, not yet yielded
        chunk_end = start + step_ms
        for block, t0 in enumerate(range(start, end, BLOCK_MS)):
            t1 = min(t0 + BLOCK_MS, end)
            emit, lines = self._block(block, t0, t1)
            pool_emit = np.concatenate([pool_emit, emit])
            pool_lines += lines
            order = np.argsort(pool_emit, kind="stable")
            due = int(np.searchsorted(pool_emit[order], t1))  # later blocks only draw ts >= t1
            ready_emit = np.concatenate([ready_emit, pool_emit[order[:due]]])
            ready_lines += [pool_lines[i] for i in order[:due].tolist()]
            pool_emit = pool_emit[order[due:]]
            pool_lines = [pool_lines[i] for i in order[due:].tolist()]
            while chunk_end <= t1 or (t1 == end and chunk_end - step_ms < end):
                cut = int(np.searchsorted(ready_emit, chunk_end))
                yield min(chunk_end, end), ready_lines[:cut]
                ready_emit, ready_lines = ready_emit[cut:], ready_lines[cut:]
                chunk_end += step_ms

    # -- one block of event time -------------------------------------------------------------

    def _block(self, block: int, t0: int, t1: int) -> tuple[np.ndarray, list[bytes]]:
        """Draw every event whose ``ts`` falls in ``[t0, t1)``; return arrival times and lines."""
        rng = np.random.default_rng([self.seed, block])
        traffic, scenario = self._traffic, self.scenario
        seconds = np.arange(t0 - t0 % 1000, t1, 1000, dtype=np.int64)
        rates = traffic.rate_per_second(seconds)
        inc = Incidents(self._incidents, traffic, t0, t1)

        ts = traffic.arrivals(rng, seconds, rates)
        ch, mer = traffic.channels(rng, ts.size), traffic.merchants(rng, ts.size)
        if inc:
            xts, xch, xmer = inc.spike_arrivals(rng, seconds, rates)
            if xts.size:
                ts, ch, mer = (
                    np.concatenate([ts, xts]),
                    np.concatenate([ch, xch]),
                    np.concatenate([mer, xmer]),
                )
                order = np.argsort(ts, kind="stable")
                ts, ch, mer = ts[order], ch[order], mer[order]
            keep = inc.keep_after_drop(rng, ts, ch, mer)
            ts, ch, mer = ts[keep], ch[keep], mer[keep]
        inside = (ts >= t0) & (ts < t1)
        ts, ch, mer = ts[inside], ch[inside], mer[inside]
        n = ts.size

        # Outcome: an incident's extra failures carry the provider-side error code.
        base_rate = traffic.success_rate[ch]
        drop = inc.total("success_rate_drop", ts, ch, mer) if inc else 0.0
        u = rng.random(n)
        ok = u < base_rate - drop
        extra_failure = ~ok & (u < base_rate)
        code_idx = np.where(extra_failure, len(self._codes) - 1, traffic.normal_error_codes(rng, n))
        factor = inc.factor("amount_deviation", ts, ch, mer) if inc else np.ones(n)
        amounts = traffic.amounts(rng, ch, factor)
        as_text = rng.random(n) < scenario.decimal_string_rate

        # Callbacks for succeeded payments: some lost (stuck), some failed and retried later.
        paid = np.flatnonzero(ok)
        pts, pch, pmer = ts[paid], ch[paid], mer[paid]
        cb = scenario.callbacks
        if inc:
            lost_p = inc.probability("stuck_payments", cb.lost_rate, pts, pch, pmer)
            fail_p = inc.probability("callback_failure_high", cb.failure_rate, pts, pch, pmer)
            slower = inc.factor("callback_latency_high", pts, pch, pmer)
        else:
            lost_p, fail_p, slower = cb.lost_rate, cb.failure_rate, np.ones(paid.size)
        lost = rng.random(paid.size) < lost_p
        cb_failed = rng.random(paid.size) < fail_p
        arrive = pts + traffic.callback_latency_ms(rng, slower)
        sent = np.flatnonzero(~lost)
        retried = np.flatnonzero(~lost & cb_failed)
        retry_at = arrive[retried] + traffic.retry_delay_ms(rng, retried.size)

        # Complaints: a few per hour about ordinary payments, more where an incident hurts.
        about = [np.flatnonzero(rng.random(n) < self._complaint_p)]
        if inc:
            about.append(np.flatnonzero(extra_failure & (rng.random(n) < COMPLAINT_PER_EXTRA_FAILURE)))
            stuck = lost & (lost_p > cb.lost_rate) & (rng.random(paid.size) < COMPLAINT_PER_STUCK)
            about.append(paid[stuck])
        delays = [
            np.exp(self._complaint_log_delay + 0.8 * rng.standard_normal(about[0].size)),
            *(
                np.exp(math.log(_INCIDENT_COMPLAINT_DELAY_MS) + 0.6 * rng.standard_normal(a.size))
                for a in about[1:]
            ),
        ]
        c_pay = np.concatenate(about)
        c_ts = ts[c_pay] + np.concatenate(delays).astype(np.int64)
        c_cat = [self._categories[i] for i in self._pick_categories(rng, about[0].size)]
        c_cat += ["paid_not_updated"] * (c_pay.size - about[0].size)
        s_ts, s_ch, s_mer, s_cat = inc.spike_complaints(rng, seconds) if inc else (_EMPTY, _EMPTY, _EMPTY, [])
        s_keep = (s_ts >= t0) & (s_ts < t1)

        lines, all_ts = self._serialise(
            block,
            payments=(ts, ch, mer, amounts, as_text, ok, code_idx),
            callbacks=(paid[sent], arrive[sent], ~cb_failed[sent]),
            retries=(paid[retried], retry_at),
            complaints=(c_pay, c_ts, c_cat),
            spikes=(
                s_ts[s_keep],
                s_ch[s_keep],
                s_mer[s_keep],
                [c for c, k in zip(s_cat, s_keep, strict=True) if k],
            ),
        )
        emit = all_ts + traffic.jitter_ms(rng, all_ts.size)
        return self._add_noise(rng, block, emit, all_ts, lines)

    def _pick_categories(self, rng: np.random.Generator, n: int) -> list[int]:
        return (
            np.searchsorted(self._category_cdf, rng.random(n), side="right")
            .clip(0, len(self._categories) - 1)
            .tolist()
        )

    def _serialise(
        self,
        block: int,
        payments: tuple[np.ndarray, ...],
        callbacks: tuple[np.ndarray, np.ndarray, np.ndarray],
        retries: tuple[np.ndarray, np.ndarray],
        complaints: tuple[np.ndarray, np.ndarray, list[str]],
        spikes: tuple[np.ndarray, np.ndarray, np.ndarray, list[str]],
    ) -> tuple[list[bytes], np.ndarray]:
        """Turn the drawn arrays into JSON lines (orjson), with an ``event_id`` unique per event."""
        ts, ch, mer, amounts, as_text, ok, code_idx = payments
        cb_pay, cb_ts, cb_ok = callbacks
        rt_pay, rt_ts = retries
        cp_pay, cp_ts, cp_cat = complaints
        sp_ts, sp_ch, sp_mer, sp_cat = spikes
        all_ts = np.concatenate([ts, cb_ts, rt_ts, cp_ts, sp_ts])
        stamps = [s + "Z" for s in np.datetime_as_string(all_ts.astype("datetime64[ms]"), unit="ms").tolist()]
        channels, merchants, dumps = self._channels, self._merchants, orjson.dumps
        ch_l, mer_l = ch.tolist(), mer.tolist()
        orders = [f"o{block}-{i}" for i in range(ts.size)]
        ids = iter(range(all_ts.size))
        prefix = f"e{block}-"
        codes = self._codes[code_idx].tolist()
        stamp = iter(stamps)
        lines: list[bytes] = []
        add = lines.append

        for i, (c, m, a, text, good, code) in enumerate(
            zip(ch_l, mer_l, amounts.tolist(), as_text.tolist(), ok.tolist(), codes, strict=True)
        ):
            event = {
                "type": "payment",
                "event_id": f"{prefix}{next(ids)}",
                "ts": next(stamp),
                "channel": channels[c],
                "merchant_id": merchants[m],
                "order_id": orders[i],
                "amount": f"{a:.2f}" if text else a,
                "currency": "CNY",
                "status": "succeeded" if good else "failed",
            }
            if not good:
                event["error_code"] = code
            add(dumps(event))

        paid_stamps = stamps  # a callback's paid_at is its payment's ts
        for p, good in zip(
            [*cb_pay.tolist(), *rt_pay.tolist()], [*cb_ok.tolist(), *([True] * rt_pay.size)], strict=True
        ):
            add(
                dumps(
                    {
                        "type": "callback",
                        "event_id": f"{prefix}{next(ids)}",
                        "ts": next(stamp),
                        "channel": channels[ch_l[p]],
                        "merchant_id": merchants[mer_l[p]],
                        "order_id": orders[p],
                        "paid_at": paid_stamps[p],
                        "status": "processed" if good else "failed",
                    }
                )
            )
        for p, category in zip(cp_pay.tolist(), cp_cat, strict=True):
            add(
                dumps(
                    {
                        "type": "complaint",
                        "event_id": f"{prefix}{next(ids)}",
                        "ts": next(stamp),
                        "channel": channels[ch_l[p]],
                        "merchant_id": merchants[mer_l[p]],
                        "order_id": orders[p],
                        "category": category,
                    }
                )
            )
        for c, m, category in zip(sp_ch.tolist(), sp_mer.tolist(), sp_cat, strict=True):
            add(
                dumps(
                    {
                        "type": "complaint",
                        "event_id": f"{prefix}{next(ids)}",
                        "ts": next(stamp),
                        "channel": channels[c],
                        "merchant_id": merchants[m],
                        "category": category,
                    }
                )
            )
        return lines, all_ts

    def _add_noise(
        self, rng: np.random.Generator, block: int, emit: np.ndarray, ts: np.ndarray, lines: list[bytes]
    ) -> tuple[np.ndarray, list[bytes]]:
        """Add exact duplicate lines and, if asked, malformed ones; both arrive near real events."""
        n = len(lines)
        dup = np.flatnonzero(rng.random(n) < self.scenario.duplicate_rate)
        dup_emit = np.minimum(emit[dup] + rng.integers(0, 1000, dup.size), ts[dup] + self._max_jitter_ms)
        extra_emit = [dup_emit]
        extra_lines = [lines[i] for i in dup.tolist()]
        bad = rng.binomial(n, self.scenario.bad_line_rate) if self.scenario.bad_line_rate and n else 0
        if bad:
            near = rng.integers(0, n, bad)
            picks = rng.integers(0, 1 << 16, bad).tolist()
            for j, (kind, i, pick) in enumerate(zip(pick_kinds(rng, bad), near.tolist(), picks, strict=True)):
                base = {
                    "type": "payment",
                    "event_id": f"bad{block}-{j}",
                    "ts": int(ts[i]),
                    "channel": self._channels[pick % len(self._channels)],
                    "order_id": f"bad{block}-{j}",
                    "amount": round(1 + pick % 5000 / 10, 2),
                    "status": "succeeded",
                }
                extra_lines.append(make_bad_line(kind, base, pick))
            extra_emit.append(emit[near])
        return np.concatenate([emit, *extra_emit]), lines + extra_lines
