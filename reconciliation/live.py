"""Live reconciliation: payments against the provider's callbacks while the stream runs.

The T+1 run (:mod:`reconciliation.run`) finds differences a day late, from the bill. Some of them
show on the event stream as they happen, and finding them then means a double charge is refunded
before the payer complains:

* a processed callback whose amount or currency is not the payment's (``amount_over``,
  ``amount_under``, ``currency_mismatch``), or that comes for an order with no succeeded payment
  here within ``callback_grace`` (``provider_paid_ours_unpaid``: the statuses disagree);
* a second succeeded payment of one order (``duplicate_payment``);
* a paid order whose callback never came, as the engine's stuck join reports it: the provider
  shows it paid (``provider_paid_ours_unpaid``) or shows no payment (``ours_paid_provider_missing``).

Each suspicion is a :class:`Case`. With a :class:`~reconciliation.provider.ProviderQuery`, the
provider is asked to confirm it, again with exponential back-off in event time while it does not
answer; a confirmed case becomes a :class:`~reconciliation.judge.Difference` of the batch's
classes and risk, a refuted one is dropped, and one never answered is left to review (as is every
case when there is no hook). A case is decided once: its key (day, channel, order, class) is kept
for ``horizon`` after, so the same order seen again is neither asked about nor reported twice; the
ticket store's unique key does the same across runs.

State is bounded (``max_orders`` paid orders, waiting callbacks, open and decided cases, each for
at most ``horizon``) and :meth:`LiveReconciler.snapshot` is plain data.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from kernel.events import CURRENCY_DECIMALS, Callback, Event, Payment
from kernel.reconciliation import Realtime
from reconciliation.judge import Difference
from reconciliation.provider import ProviderOrder, ProviderQuery, QueryFailed

__all__ = ["Case", "LiveReconciler"]

# (time, amount, currency, channel, merchant) of an order's first succeeded payment
_Paid = tuple[int, float, str, str, str | None]
# (due, arrival, amount, currency, channel, merchant) of a processed callback awaiting its payment
_Waiting = tuple[int, int, float | None, str, str, str | None]
_STATUS_CLASSES: Final = ("provider_paid_ours_unpaid", "ours_paid_provider_missing")


@dataclass(slots=True)
class Case:
    """A suspected difference, waiting for the provider to confirm it."""

    klass: str
    order_id: str
    channel: str
    merchant_id: str | None
    day: str  # the bill day of the order's payment, ISO
    due_ms: int  # when to ask the provider (next)
    currency: str
    ours: dict[str, Any] | None
    theirs: dict[str, Any] | None
    delta: int  # theirs - ours, minor units
    origin: str  # "payment", "callback" or "stuck"
    attempts: int = 0

    @property
    def key(self) -> str:
        """The ticket key of the difference this case would be (see :class:`Difference`)."""
        return f"{self.day}|{self.channel}|{self.order_id}|{self.klass}"


def _minor(amount: float, currency: str) -> int:
    """A major-unit float as exact minor units.

    >>> _minor(12.34, "CNY"), _minor(500.0, "JPY")
    (1234, 500)
    """
    return round(amount * 10 ** CURRENCY_DECIMALS.get(currency, 2))


def _judge_answer(case: Case, answer: ProviderOrder) -> tuple[str | None, int]:
    """The class the provider's answer confirms for ``case`` (None: refuted), and its delta."""
    ours = case.ours or {}
    if case.klass == "duplicate_payment":
        return (case.klass if answer.payments >= 2 else None), case.delta
    if case.klass in _STATUS_CLASSES:
        if answer.paid:
            paid = answer.amount if answer.amount is not None else ours.get("amount", 0.0)
            return "provider_paid_ours_unpaid", _minor(paid, answer.currency or case.currency)
        if case.origin == "stuck":  # we took the money as paid; the provider has no payment
            return "ours_paid_provider_missing", -_minor(ours["amount"], case.currency)
        return None, 0  # a callback the provider does not stand by
    if not answer.paid:
        return None, 0
    if answer.currency is not None and answer.currency != case.currency:
        return "currency_mismatch", 0
    if answer.amount is None:
        return case.klass, case.delta
    delta = _minor(answer.amount, case.currency) - _minor(ours["amount"], case.currency)
    if delta == 0:
        return None, 0
    return ("amount_over" if delta > 0 else "amount_under"), delta


class LiveReconciler:
    """Finds differences in payments and callbacks, has them confirmed, decides each once."""

    def __init__(self, settings: Realtime, time_zone: str, query: ProviderQuery | None = None) -> None:
        self.grace_ms = int(settings.callback_grace.total_seconds() * 1000)
        self.horizon_ms = int(settings.horizon.total_seconds() * 1000)
        self.backoff_ms = int(settings.query_backoff.total_seconds() * 1000)
        self.attempts = settings.query_attempts
        self.max_orders = settings.max_orders
        self.zone = ZoneInfo(time_zone)
        self.query = query
        self.paid: dict[str, _Paid] = {}
        self.waiting: dict[str, _Waiting] = {}
        self.cases: dict[str, Case] = {}  # by key, until decided
        self.decided: dict[str, int] = {}  # key -> when, in decision order
        self.counts: Counter[str] = Counter()  # found, confirmed, refuted, review, queries, ...
        self._paid_order: deque[tuple[int, str]] = deque()
        self._waiting_due: list[tuple[int, str]] = []  # heap
        self._case_due: list[tuple[int, str]] = []  # heap

    # -- what the stream shows ----------------------------------------------------------------

    def take(self, events: list[Event]) -> None:
        """Accepted events in arrival order (repeated event ids already dropped)."""
        paid, waiting = self.paid, self.waiting
        for event in events:
            kind = type(event)
            if kind is Payment:
                if event.status != "succeeded":
                    continue
                first = paid.get(event.order_id)
                if first is None:
                    self._remember(event)  # type: ignore[arg-type]
                    if event.order_id in waiting:
                        self._callback_came_first(event.order_id, event.ts)
                else:
                    self._second_payment(first, event)  # type: ignore[arg-type]
            elif kind is Callback and event.status == "processed":
                first = paid.get(event.order_id)
                if first is None:
                    self._wait_for_payment(event)  # type: ignore[arg-type]
                elif event.amount is not None:  # type: ignore[union-attr]
                    self._compare(event.order_id, first, event.amount, event.currency, event.ts)  # type: ignore[union-attr,arg-type]

    def stuck(
        self, order_id: str, paid_ms: int, channel: str, merchant_id: str | None, amount: float
    ) -> None:
        """A paid order whose processed callback did not come within the stuck timeout."""
        first = self.paid.get(order_id)
        currency = first[2] if first is not None else "CNY"
        ours = self._ours((paid_ms, amount, currency, channel, merchant_id))
        delta = _minor(amount, currency)
        self._open("provider_paid_ours_unpaid", order_id, ours, None, delta, "stuck", paid_ms, paid_ms)

    def _remember(self, event: Payment) -> None:
        queue = self._paid_order
        while len(self.paid) >= self.max_orders and queue:
            ts, order_id = queue.popleft()
            entry = self.paid.get(order_id)
            if entry is not None and entry[0] == ts:
                del self.paid[order_id]
                self.counts["evicted"] += 1
        ts = event.ts
        self.paid[event.order_id] = (ts, event.amount, event.currency, event.channel, event.merchant_id)  # type: ignore[assignment]
        queue.append((ts, event.order_id))

    def _second_payment(self, first: _Paid, event: Payment) -> None:
        amount = float(event.amount)
        theirs = {"payments": 2, "amount": amount, "currency": event.currency, "at_ms": event.ts}
        ours = self._ours(first)
        delta = _minor(amount, event.currency)
        self._open("duplicate_payment", event.order_id, ours, theirs, delta, "payment", first[0], event.ts)

    def _wait_for_payment(self, event: Callback) -> None:
        if event.order_id in self.waiting or len(self.waiting) >= self.max_orders:
            self.counts["evicted"] += event.order_id not in self.waiting
            return
        due = event.ts + self.grace_ms
        amount = None if event.amount is None else float(event.amount)
        self.waiting[event.order_id] = (
            due,
            event.ts,
            amount,
            event.currency,
            event.channel,
            event.merchant_id,
        )
        heapq.heappush(self._waiting_due, (due, event.order_id))

    def _callback_came_first(self, order_id: str, at_ms: int) -> None:
        _due, _ts, amount, currency, _channel, _merchant = self.waiting.pop(order_id)
        if amount is not None:
            self._compare(order_id, self.paid[order_id], amount, currency, at_ms)

    def _compare(self, order_id: str, first: _Paid, amount: float, currency: str, at_ms: int) -> None:
        """A processed callback with an amount, against the order's payment."""
        theirs = {"amount": float(amount), "currency": currency}
        ours = self._ours(first)
        if currency != first[2]:
            self._open("currency_mismatch", order_id, ours, theirs, 0, "callback", first[0], at_ms)
            return
        delta = _minor(amount, currency) - _minor(first[1], currency)
        if delta:
            klass = "amount_over" if delta > 0 else "amount_under"
            self._open(klass, order_id, ours, theirs, delta, "callback", first[0], at_ms)

    @staticmethod
    def _ours(first: _Paid) -> dict[str, Any]:
        ts, amount, currency, channel, merchant = first
        return {
            "status": "paid",
            "amount": float(amount),
            "currency": currency,
            "paid_ms": ts,
            "channel": channel,
            "merchant_id": merchant,
        }

    def _open(
        self,
        klass: str,
        order_id: str,
        ours: dict[str, Any] | None,
        theirs: dict[str, Any] | None,
        delta: int,
        origin: str,
        paid_ms: int,
        found_ms: int,
    ) -> None:
        """A new case, unless one of its key is open or was decided: of the bill day of ``paid_ms``,
        to be asked about from ``found_ms``."""
        side = ours or theirs or {}
        day = datetime.fromtimestamp(paid_ms / 1000, self.zone).date().isoformat()
        case = Case(
            klass,
            order_id,
            side["channel"],
            side["merchant_id"],
            day,
            found_ms,
            side["currency"],
            ours,
            theirs,
            delta,
            origin,
        )
        if case.key in self.cases or case.key in self.decided:
            return
        if len(self.cases) >= self.max_orders:
            self.counts["evicted"] += 1
            return
        self.counts["found"] += 1
        self.cases[case.key] = case
        heapq.heappush(self._case_due, (case.due_ms, case.key))

    # -- deciding, in event time ----------------------------------------------------------------

    def tick(self, watermark_ms: int) -> list[Difference]:
        """Judge what is due by ``watermark_ms``: callbacks whose payment never came, then cases
        (asking the provider); forget what is older than the horizon. The differences decided."""
        due = self._waiting_due
        while due and due[0][0] <= watermark_ms:
            at, order_id = heapq.heappop(due)
            entry = self.waiting.get(order_id)
            if entry is None or entry[0] != at:
                continue
            del self.waiting[order_id]
            _due, ts, amount, currency, channel, merchant = entry
            theirs = {
                "status": "paid",
                "amount": amount,
                "currency": currency,
                "callback_ms": ts,
                "channel": channel,
                "merchant_id": merchant,
            }
            delta = 0 if amount is None else _minor(amount, currency)
            self._open("provider_paid_ours_unpaid", order_id, None, theirs, delta, "callback", ts, ts)
        found = []
        queue = self._case_due
        while queue and queue[0][0] <= watermark_ms:
            at, key = heapq.heappop(queue)
            case = self.cases.get(key)
            if case is None or case.due_ms != at:
                continue
            diff = self._decide(case, watermark_ms)
            if diff is not None:
                found.append(diff)
        self._forget(watermark_ms - self.horizon_ms)
        return found

    def _decide(self, case: Case, now_ms: int) -> Difference | None:
        """Ask the provider about ``case``; a Difference once it is decided and confirmed."""
        klass: str | None = case.klass
        delta, review = case.delta, self.query is None
        if self.query is not None:
            self.counts["queries"] += 1
            try:
                answer = self.query.query(case.channel, case.order_id)
            except QueryFailed:
                case.attempts += 1
                if case.attempts < self.attempts:
                    case.due_ms = now_ms + self.backoff_ms * 2 ** (case.attempts - 1)
                    heapq.heappush(self._case_due, (case.due_ms, case.key))
                    return None
                review = True
            else:
                klass, delta = _judge_answer(case, answer)
                case.theirs = {**(case.theirs or {}), "provider": asdict(answer)}
        del self.cases[case.key]
        self.decided[case.key] = now_ms
        if klass is None:
            self.counts["refuted"] += 1
            return None
        self.counts["review" if review else "confirmed"] += 1
        return Difference(
            date.fromisoformat(case.day),
            case.channel,
            case.order_id,
            None,
            klass,
            case.ours,
            case.theirs,
            delta,
            case.currency,
            review=review,
            notes=[f"found live ({case.origin})"],
        )

    def _forget(self, before_ms: int) -> None:
        queue, paid = self._paid_order, self.paid
        while queue and queue[0][0] <= before_ms:
            ts, order_id = queue.popleft()
            entry = paid.get(order_id)
            if entry is not None and entry[0] == ts:
                del paid[order_id]
        decided = self.decided
        while decided:
            key, at = next(iter(decided.items()))
            if at > before_ms and len(decided) <= self.max_orders:
                break
            del decided[key]

    # -- recovery -------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything held, as plain data."""
        return {
            "v": 1,
            "paid": [[order_id, *row] for order_id, row in self.paid.items()],
            "waiting": [[order_id, *row] for order_id, row in self.waiting.items()],
            "cases": [asdict(case) for case in self.cases.values()],
            "decided": list(self.decided.items()),
            "counts": dict(self.counts),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Load a snapshot onto a fresh reconciler."""
        self.paid = {row[0]: tuple(row[1:]) for row in state["paid"]}  # type: ignore[misc]
        self.waiting = {row[0]: tuple(row[1:]) for row in state["waiting"]}  # type: ignore[misc]
        self.cases = {}
        for row in state["cases"]:
            case = Case(**row)
            self.cases[case.key] = case
        self.decided = dict(state["decided"])
        self.counts = Counter(state["counts"])
        self._paid_order = deque((row[0], order_id) for order_id, row in self.paid.items())
        self._waiting_due = [(row[0], order_id) for order_id, row in self.waiting.items()]
        self._case_due = [(case.due_ms, key) for key, case in self.cases.items()]
        heapq.heapify(self._waiting_due)
        heapq.heapify(self._case_due)
