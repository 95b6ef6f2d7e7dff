"""The provider-query hook: how live reconciliation asks a provider what it holds for one order.

Payment providers answer an order query (WeChat Pay's ``/v3/pay/transactions/out-trade-no/{id}``,
Alipay's ``alipay.trade.query``) with the order's state and amount; this protocol is that call
reduced to what a reconciliation needs. A deployment plugs in its own client; the tests plug in
a simulated provider. An answer the provider could not give (a timeout, a 5xx, a rate limit) is
:class:`QueryFailed`, and the caller asks again later; any other answer is final.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kernel.errors import PayPulseError

__all__ = ["ProviderOrder", "ProviderQuery", "QueryFailed"]


@dataclass(frozen=True, slots=True)
class ProviderOrder:
    """What the provider holds for one order."""

    paid: bool  # at least one payment of the order succeeded
    payments: int = 0  # succeeded payments of the order (2 or more: the payer was charged twice)
    amount: float | None = None  # of the first succeeded payment, in the currency's major unit
    currency: str | None = None


class QueryFailed(PayPulseError):
    """The provider did not answer this time (timeout, 5xx, rate limit): ask again later."""


class ProviderQuery(Protocol):
    """Ask the provider of ``channel`` about ``order_id``; raise :class:`QueryFailed` for no answer."""

    def query(self, channel: str, order_id: str) -> ProviderOrder: ...
