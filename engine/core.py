"""The monitor's core: lines in, alert changes and dead letters out, all in event time.

One call per batch of lines (``process``) does everything for that batch: parse, drop repeated
event ids, count into windows, join payments with callbacks, close the windows the watermark
passed, and run every scope's detectors on them. Handing the core whole batches is what makes
the dataflow as fast as a plain loop: the engine around it (Bytewax, a test, ``replay``) sees
one item per thousand events.

Pure Python with no engine, web or delivery import; wall time never enters, so the same events
always give the same alerts.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, replace
from typing import Any

from alerting.lifecycle import AlertLifecycle
from detectors.budget import AlarmBudget
from detectors.protocol import Detector, Stepper, Verdict
from detectors.suite import build_detectors, paging_tests
from engine.ahead import AheadGuard
from engine.dedup import EventIdFilter
from engine.merchants import HeavyHitters, MerchantMinutes
from engine.names import ChannelNames
from engine.output import EngineOutput, EngineStats
from engine.stuck import StuckTracker
from engine.view import EngineView, ScopeView, last_minute
from engine.windows import OVERDUE, Windows
from kernel.alerts import Alert, Scope
from kernel.errors import StateError
from kernel.events import Callback, DeadLetter, Event, EventLimits, Payment, parse_batch
from kernel.observation import Observation, add_observations
from kernel.settings import Settings

__all__ = ["Engine", "EngineOutput", "EngineStats"]

_MAX_DEDUP_IDS = 2_000_000
_HISTORY = 30  # closed windows kept per scope: the 5-minute view at 10 s windows
_KEPT = 6  # of them in a snapshot: the minute view, and the window an alert's impact reads
_STREAMS = ("payments", "callbacks", "callback_delays")

# detectors stepped per payment, per callback (failed?), per processed callback (late?)
_Steppers = tuple[tuple[Stepper, ...], ...]


class Engine:
    """Windows, joins, detectors and alert state for one stream of events."""

    def __init__(self, settings: Settings) -> None:
        w = settings.windows
        self.settings = settings
        self.width_ms = int(w.width.total_seconds() * 1000)
        lateness_ms = int(w.lateness.total_seconds() * 1000)
        self.windows = Windows(
            self.width_ms,
            lateness_ms,
            int(w.slow_callback.total_seconds() * 1000),
            latency_limit_ms=int(settings.detectors.callback_p95_limit.total_seconds() * 1000),
        )
        self.stuck = StuckTracker(
            int(w.stuck_timeout.total_seconds() * 1000),
            w.max_pending_orders,
            overdue_ms=int(w.slow_callback.total_seconds() * 1000),
        )
        self.limits = EventLimits(max_amount=settings.events.max_amount)
        self.ahead = AheadGuard(lateness_ms, int(w.max_ahead.total_seconds() * 1000))
        self.ids = EventIdFilter(horizon_ms=2 * lateness_ms + 60_000, max_ids=_MAX_DEDUP_IDS)
        self.heavy = HeavyHitters(capacity=max(10 * w.top_merchants, 1))
        self.names = ChannelNames()
        self.top_merchants = w.top_merchants
        self.merchant_minutes = MerchantMinutes()
        self.detectors: dict[Scope, list[Detector]] = {}
        # the deployment's false-alarm budget, shared by every test; its count of live tests
        # follows the scopes as they come and go
        self.budget = AlarmBudget(settings.detectors.false_pages_per_week, live_tests=0)
        self.lifecycle = AlertLifecycle(
            resolve_hold_ms=int(settings.alerting.resolve_hold.total_seconds() * 1000)
        )
        self.stats = EngineStats()
        self.history: dict[Scope, deque[Observation]] = {}
        self.scores: dict[tuple[str, Scope], float] = {}
        self.totals: dict[str, Observation] = {}  # per channel, since start: the Prometheus counters
        # (channel, merchant with a scope or None) -> the per-event detectors its events feed: the
        # channel's, all payments' and the merchant's; rebuilt lazily whenever scopes come or go
        self._steppers: dict[tuple[str, str | None], _Steppers] = {}
        self._scoped_merchants: set[str] = set()
        self._flips: list[tuple[int, Verdict, Observation]] = []  # per-event flips not yet announced

    # -- the hot path ---------------------------------------------------------------------------

    def process(self, lines: list[bytes]) -> EngineOutput:
        """Take one batch of raw lines."""
        events, raws, dead = parse_batch(lines, self.limits)
        events, raws, refused = self.ahead.admit(events, raws)
        out = EngineOutput(first_alert_seq=self.stats.alert_changes)
        self._count_events(events, raws, dead, out)
        dead += refused
        for letter in dead:
            self.stats.rejected[letter.reason] = self.stats.rejected.get(letter.reason, 0) + 1
        self._flush(out)
        out.dead_letters = dead
        out.event_time_ms = self.windows.max_ts
        return out

    def _flush(self, out: EngineOutput) -> None:
        """Announce what the per-event tests decided, then close and judge the windows stream time
        has passed."""
        self._collect_sequential(out)
        out.extend(self._close(self.windows.advance))

    def _count_events(
        self, events: list[Event], raws: list[bytes], dead: list[DeadLetter], out: EngineOutput
    ) -> None:
        """Dedup, window, join and step every event, in the order given. Windows close as soon as
        stream time passes them, mid-batch included, so every test has learned exactly what it
        would have learned had the lines come one at a time: the alerts do not depend on how the
        lines were cut into batches."""
        accepted = self.stats.accepted
        first = self.ids.first
        add = self.windows.add
        paid = self.stuck.paid
        processed = self.stuck.processed
        heavy_add = self.heavy.add
        names = self.names.admitted.get
        place = self.names.place
        steppers = self._steppers
        scoped = self._scoped_merchants
        slow_ms = self.windows.slow_callback_ms
        windows = self.windows
        close_at, closed_any = windows.close_at, windows.closed_any
        n_pay = n_cb = n_complaint = n_dup = 0
        for event, raw in zip(events, raws, strict=True):
            event.channel = names(event.channel) or place(event.channel)
            event_id = event.event_id
            if event_id is not None and not first(event_id, event.ts, windows.max_ts):
                n_dup += 1
                continue
            if not add(event):
                dead.append(
                    DeadLetter.of(raw, "too_late", "older than the watermark (stream time - lateness)")
                )
                continue
            kind = type(event)
            ts = event.ts
            merchant = event.merchant_id
            key = (event.channel, merchant if merchant in scoped else None)
            step = steppers.get(key) or self._stepper(key)
            if kind is Payment:
                n_pay += 1
                if merchant is not None:
                    heavy_add(merchant)
                failed = event.status != "succeeded"
                for stepper in step[0]:
                    # a resting one ignores a good outcome; a flip is judged at once, in arrival order
                    if (failed or not stepper.resting) and stepper.step(failed, ts):
                        self._flipped(stepper, ts)
                if not failed:
                    paid(event.order_id, ts, event.channel, merchant, event.amount)
            elif kind is Callback:
                n_cb += 1
                failed = event.status != "processed"
                for stepper in step[1]:
                    if (failed or not stepper.resting) and stepper.step(failed, ts):
                        self._flipped(stepper, ts)
                if not failed:
                    late = ts - event.paid_at > slow_ms
                    for stepper in step[2]:
                        if (late or not stepper.resting) and stepper.step(late, ts):
                            self._flipped(stepper, ts)
                if not failed and processed(event.order_id, ts) is not None:
                    self.stats.recovered_stuck += 1
            else:
                n_complaint += 1
            if ts >= close_at or not closed_any:  # until the first close, where it starts may move
                if ts >= windows.close_at:
                    self._flush(out)
                close_at, closed_any = windows.close_at, windows.closed_any
        accepted["payment"] += n_pay
        accepted["callback"] += n_cb
        accepted["complaint"] += n_complaint
        self.stats.duplicates += n_dup

    def finish(self) -> EngineOutput:
        """End of input: close every open window and judge it (replays and tests)."""
        events, raws, refused = self.ahead.drain()
        out = EngineOutput(first_alert_seq=self.stats.alert_changes)
        if events:  # the first events of a stream shorter than the guard's anchor
            self._count_events(events, raws, refused, out)
            self._flush(out)
        out.extend(self._close(self.windows.close_all))
        self._judge(self.merchant_minutes.flush(self.windows.tracked), out)
        flushed = self.lifecycle.flush()
        self._count_changes(flushed)
        out.alerts += flushed
        out.dead_letters = refused
        for letter in out.dead_letters:
            self.stats.rejected[letter.reason] = self.stats.rejected.get(letter.reason, 0) + 1
        out.event_time_ms = self.windows.max_ts
        return out

    # -- window close ---------------------------------------------------------------------------

    def _close(self, close: Any) -> EngineOutput:
        out = EngineOutput()
        if self.windows.max_ts < 0:
            return out
        self.ids.expire(self.windows.max_ts)
        watermark = self.windows.watermark
        for order in self.stuck.overdue(watermark):
            self.windows.add_stuck(
                order.paid_ms + self.stuck.overdue_ms, order.channel, order.merchant_id, OVERDUE
            )
        for order in self.stuck.expire(watermark):
            self.windows.add_stuck(order.paid_ms + self.stuck.timeout_ms, order.channel, order.merchant_id)
        for window in close():
            out.windows.append(window)
            merchants = self.merchant_minutes.add(window, self.windows.tracked)
            for obs in window.observations + merchants:
                self._remember(obs)
            self._count(window.observations)
            self._judge(window.observations + merchants, out)
            if window.end_ms % 60_000 == 0:
                self._retrack()
        return out

    def _count(self, observations: list[Observation]) -> None:
        for obs in observations:
            channel = obs.scope.channel
            if channel is not None:
                total = self.totals.get(channel)
                self.totals[channel] = obs if total is None else add_observations(total, obs)

    def _remember(self, obs: Observation) -> None:
        ring = self.history.get(obs.scope)
        if ring is None:
            ring = self.history[obs.scope] = deque(maxlen=_HISTORY)
        ring.append(obs)

    def _judge(self, observations: list[Observation], out: EngineOutput) -> None:
        """Run each scope's detectors on its observation, then let the lifecycle decide.

        Every score is exported, but the lifecycle acts only on a verdict that fires or that
        concerns an alert it holds (a quiet verdict on a quiet key changes nothing), so only those
        get a whole verdict, with its value, baseline and words. Each scope comes once per call
        and has one detector per kind, so the keys held cannot change between here and there.
        """
        verdicts = []
        held = self.lifecycle.firing
        scores = self.scores
        for obs in observations:
            scope = obs.scope
            detectors = self.detectors.get(scope)
            if detectors is None:
                detectors = self._build(scope)
            for detector in detectors:
                score, firing = detector.assess(obs)
                key = (detector.kind, scope)
                scores[key] = score
                if firing or key in held:
                    verdict = detector.score(obs)
                    detail = self._stuck_detail(scope) if firing and detector.kind == "stuck_payments" else ""
                    verdicts.append((verdict, obs, detail))
                detector.update(obs)
        now_ms = max(self.windows.max_ts, observations[-1].end_ms) if observations else self.windows.max_ts
        self._announce(verdicts, now_ms, out)

    def _announce(self, verdicts: list, now_ms: int, out: EngineOutput) -> None:
        changes = self.lifecycle.observe(verdicts, now_ms, tuple(sorted(self.windows.channels)), self.scores)
        self._count_changes(changes)
        out.alerts += changes

    def _count_changes(self, changes: list[Alert]) -> None:
        for alert in changes:
            key = f"{alert.kind}|{alert.status}"
            self.stats.alerts[key] = self.stats.alerts.get(key, 0) + 1

    def _build(self, scope: Scope) -> list[Detector]:
        """A new scope's detectors, registered with whoever steps them per event."""
        detectors = self.detectors[scope] = build_detectors(
            scope, self.settings.detectors, self.width_ms, self.budget
        )
        self.budget.live_tests += paging_tests(detectors)
        if scope.merchant_id is None:
            self._steppers.clear()  # a channel's or all payments': every event may feed it
        else:  # only this merchant's events feed it, and they had no (channel, merchant) stepper yet
            self._scoped_merchants.add(scope.merchant_id)
        return detectors

    def _stepper(self, key: tuple[str, str | None]) -> _Steppers:
        """The per-event detectors an event of (channel, merchant with a scope) feeds."""
        channel, merchant = key
        scopes = (Scope(channel), Scope(), *((Scope(None, merchant),) if merchant is not None else ()))
        step = _split_streams([d for scope in scopes for d in self.detectors.get(scope, ())])
        self._steppers[key] = step
        return step

    def _forget_steppers(self, merchant: str) -> None:
        """Drop the steppers of a merchant that lost its scope; the other keys stay valid, so a
        minute's churn in the top merchants does not rebuild every (channel, merchant) stepper."""
        for key in [k for k in self._steppers if k[1] == merchant]:
            del self._steppers[key]

    def _flipped(self, stepper: Stepper, ts_ms: int) -> None:
        """A per-event test flipped firing at the event of ``ts_ms``: judge its detector now, while
        its state is the one that event left (later events of the batch may flip it back)."""
        for scope, detectors in self.detectors.items():
            for detector in detectors:
                if stepper in detector.steppers():
                    ring = self.history.get(scope)
                    obs = ring[-1] if ring else Observation(scope, ts_ms, ts_ms)
                    self._flips.append((ts_ms, detector.score(obs), obs))
                    return

    def _collect_sequential(self, out: EngineOutput) -> None:
        """Announce the flips of per-event tests since the last flush, in the order their events
        arrived, each at its event's time: the same order however the lines were cut into batches."""
        for ts_ms, verdict, obs in self._flips:
            self._announce([(verdict, obs, "")], ts_ms, out)
        self._flips.clear()

    def _stuck_detail(self, scope: Scope) -> str:
        waiting = (self.stuck.pending.get(i) or self.stuck.stuck_now.get(i) for i in self.stuck.samples)
        samples = [
            o.order_id
            for o in waiting
            if o is not None
            and scope.channel in (None, o.channel)
            and scope.merchant_id in (None, o.merchant_id)
        ][-5:]
        return f"; e.g. orders {', '.join(samples)}" if samples else ""

    def _retrack(self) -> None:
        """Once a minute: the heaviest merchants get their own scope, and a merchant with a firing
        alert keeps it until the alert resolves (it needs its windows for that); a dropped merchant
        leaves nothing behind: detectors, kept windows and exported scores go."""
        held = [scope for (_kind, scope) in self.lifecycle.firing]
        for channel in self.names.review(self._channel_volumes(), {s.channel for s in held}):
            self._forget_channel(channel)
        firing = {scope.merchant_id for scope in held if scope.merchant_id}
        tracked = frozenset(self.heavy.top(self.top_merchants)) | firing
        self.windows.tracked = tracked
        for scope in [s for s in self.detectors if s.merchant_id is not None]:
            if scope.merchant_id not in tracked:
                self.budget.live_tests -= paging_tests(self.detectors.pop(scope))
                self._scoped_merchants.discard(scope.merchant_id)
                self._forget_steppers(scope.merchant_id)
        self.history = {
            s: ring for s, ring in self.history.items() if s.merchant_id in tracked or not s.merchant_id
        }
        self.scores = {
            k: v for k, v in self.scores.items() if k[1].merchant_id in tracked or not k[1].merchant_id
        }

    def _channel_volumes(self) -> dict[str, float]:
        """Events per minute of each channel over its kept windows (the last five minutes)."""
        per_minute = {}
        for channel in self.windows.channels:
            ring = self.history.get(Scope(channel), ())
            events = sum(o.attempts + o.callbacks for o in ring)
            per_minute[channel] = events * 60_000 / (self.width_ms * len(ring)) if ring else 0.0
        return per_minute

    def _forget_channel(self, channel: str) -> None:
        """A channel that lost its place leaves nothing behind: its detectors, kept windows,
        scores, counters and steppers go; what it still has in open windows is not judged."""
        scope = Scope(channel)
        self.budget.live_tests -= paging_tests(self.detectors.pop(scope, []))
        self.history = {s: ring for s, ring in self.history.items() if s.channel != channel}
        self.scores = {k: v for k, v in self.scores.items() if k[1].channel != channel}
        self.totals.pop(channel, None)
        self.windows.channels.discard(channel)
        for key in [k for k in self._steppers if k[0] == channel]:
            del self._steppers[key]

    # -- recovery -------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything learned, as plain data (JSON-able), so the next release can read it."""
        return {
            "v": 1,
            "windows": self.windows.snapshot(),
            "stuck": self.stuck.snapshot(),
            "ids": self.ids.snapshot(),
            "ahead": self.ahead.snapshot(),
            "heavy": dict(self.heavy.counts),
            "names": self.names.snapshot(),
            "merchant_minutes": self.merchant_minutes.snapshot(),
            "detectors": [
                [scope.channel, scope.merchant_id, [d.snapshot() for d in detectors]]
                for scope, detectors in self.detectors.items()
            ],
            **self.lifecycle.snapshot(),  # its keys sit at the top level of the snapshot
            "stats": asdict(self.stats),
            "totals": {c: asdict(o) | {"scope": None} for c, o in self.totals.items()},
            # what a judgement made before the next window closes reads: each scope's recent
            # windows (an alert's impact, the minute view) and every test's latest score (whether
            # another channel's test is on the way); without them a resumed run's first alerts
            # would differ from an uninterrupted run's
            "recent": [
                [scope.channel, scope.merchant_id, [asdict(o) | {"scope": None} for o in list(ring)[-_KEPT:]]]
                for scope, ring in self.history.items()
            ],
            "scores": [[kind, s.channel, s.merchant_id, score] for (kind, s), score in self.scores.items()],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Load a snapshot onto a fresh engine built with the same settings."""
        if state.get("v") != 1:
            raise StateError(f"engine snapshot version {state.get('v')!r} is not supported (expected 1)")
        self.windows.restore(state["windows"])
        self.stuck.restore(state["stuck"])
        self.ids.restore(state["ids"])
        self.ahead.restore(state["ahead"], self.windows.max_ts, self.limits)
        self.heavy.counts = dict(state["heavy"])
        if "names" in state:  # snapshots before bounded names admitted every channel they saw
            self.names.restore(state["names"])
        else:
            self.names.restore({"admitted": sorted(self.windows.channels)})
        self.merchant_minutes.restore(state["merchant_minutes"])
        for channel, merchant_id, snapshots in state["detectors"]:
            detectors = self._build(Scope(channel, merchant_id))
            for detector, snap in zip(detectors, snapshots, strict=True):
                detector.restore(snap)
        self.lifecycle.restore(state)
        self.stats = EngineStats(**state["stats"])
        self.totals = {c: Observation(**(row | {"scope": Scope(c)})) for c, row in state["totals"].items()}
        for channel, merchant_id, rows in state.get("recent", []):  # older snapshots kept no windows
            scope = Scope(channel, merchant_id)
            for row in rows:
                self._remember(Observation(**(row | {"scope": scope})))
        self.scores = {(kind, Scope(c, m)): score for kind, c, m, score in state.get("scores", [])}

    # -- views ----------------------------------------------------------------------------------

    def view(self) -> EngineView:
        """The state readers need, as a frozen copy (see :mod:`engine.view`)."""
        stuck: dict[str, int] = {}
        for order in self.stuck.stuck_now.values():
            stuck[order.channel] = stuck.get(order.channel, 0) + 1
        scopes = {}
        for scope, ring in self.history.items():
            minute = last_minute(ring)
            if minute is not None:
                scopes[scope] = ScopeView(minute, self.volume_baseline(scope))
        s = self.stats
        return EngineView(
            stats=replace(s, accepted=dict(s.accepted), rejected=dict(s.rejected), alerts=dict(s.alerts)),
            watermark_ms=self.windows.watermark,
            max_ts=self.windows.max_ts,
            scores=dict(self.scores),
            firing=tuple(self.firing()),
            stuck_by_channel=stuck,
            totals=dict(self.totals),
            scopes=scopes,
        )

    def firing(self) -> list[Alert]:
        """Alerts on-call has been told are firing."""
        return [a for key, a in self.lifecycle.firing.items() if key in self.lifecycle.announced]

    def volume_baseline(self, scope: Scope) -> float | None:
        """Expected payments per minute for ``scope`` now (the volume detector's expectation: the
        same time of day and week once known, else its trailing rate)."""
        for detector in self.detectors.get(scope, ()):
            if detector.kind == "volume_drop":
                per_window = detector.expected_per_window(self.windows.max_ts)  # type: ignore[attr-defined]
                return per_window * 60_000 / self.width_ms
        return None


def _split_streams(detectors: list[Detector]) -> _Steppers:
    """The per-event tests of ``detectors``, by the stream they take."""
    steppers = [stepper for detector in detectors for stepper in detector.steppers()]
    return tuple(tuple(s for s in steppers if s.stream == stream) for stream in _STREAMS)
