"""What a reconciliation run is told: time zone, cut-off, holding SLA, fee rates, repairs, routing.

One pydantic model, the ``[reconciliation]`` table of ``paypulse.toml``, declared once here in the
kernel beside the difference classes it names (:mod:`kernel.differences`); the settings model
includes it as a section, the reconciliation package reads it, and tests build ``Policy(...)``
directly. Money is ``Decimal`` in the currency's major unit (``"0.05"``), never a float.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kernel.differences import CLASSES
from kernel.durations import Duration

__all__ = ["PROVIDERS", "GenericColumns", "Policy", "Realtime", "Repairs"]

#: Statement layouts we read: two published ones and a mapped CSV for any other acquirer.
PROVIDERS: Final = ("wechat", "alipay", "generic")


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GenericColumns(_Table):
    """Which column of a generic statement CSV holds what; values that mean a payment or a refund."""

    order_id: str = Field("order_id", description="our order id (the merchant order number)")
    provider_txn_id: str = Field("provider_txn_id", description="the provider's transaction id")
    kind: str = Field("type", description="says whether a row is a payment or a refund")
    amount: str = Field("amount", description="amount of the payment or refund")
    currency: str | None = Field("currency", description="ISO 4217 code; unset: every row is CNY")
    fee: str | None = Field("fee", description="fee charged on the row; unset: no fee column")
    time: str = Field(
        "time", description="when the provider booked the row, in time_zone unless it has an offset"
    )
    payment_values: list[str] = Field(
        ["payment", "SUCCESS"], min_length=1, description="kind values of a payment"
    )
    refund_values: list[str] = Field(["refund", "REFUND"], description="kind values of a refund")
    amount_unit: Literal["major", "minor"] = Field("major", description="'major' (12.34) or 'minor' (1234)")
    delimiter: str = Field(",", min_length=1, max_length=1, description="field separator")


class Repairs(_Table):
    """Auto-repair rules. Every one is off until turned on; each acts once per order, class and day."""

    fulfil_provider_paid: bool = Field(
        False, description="provider paid and we did not: write an order-update (fulfil) event"
    )
    refund_duplicates: bool = Field(
        False, description="two provider successes for one order: propose a refund"
    )
    write_off_below: Decimal = Field(
        Decimal("0"), ge=0, le=1000, description="write off amount differences smaller than this; 0 = never"
    )


class Realtime(_Table):
    """Live reconciliation on the event stream (``paypulse run``, ``replay``): off until turned on.

    Times are event time. Memory is bounded: at most ``max_orders`` paid orders are remembered,
    each for ``horizon``; differences go to the tickets of ``tickets`` and raise a
    ``reconciliation_difference`` alert on their channel.
    """

    enabled: bool = Field(False, description="check payments and callbacks against each other as they come")
    tickets: Path = Field(
        Path("var/reconciliation.sqlite3"), description="the state file live differences are ticketed in"
    )
    callback_grace: Duration = Field(
        timedelta(minutes=2),
        ge=timedelta(0),
        le=timedelta(hours=1),
        description="a processed callback waits this long for its payment, then the order counts as unpaid",
    )
    horizon: Duration = Field(
        timedelta(hours=24),
        ge=timedelta(minutes=1),
        le=timedelta(days=7),
        description="how long a paid order is remembered, to see a second payment of it",
    )
    max_orders: int = Field(
        500_000, ge=1000, description="paid orders remembered at most; the oldest go first"
    )
    query_attempts: int = Field(
        5,
        ge=1,
        le=20,
        description="times the provider is asked about a suspicious order, then it is left to review",
    )
    query_backoff: Duration = Field(
        timedelta(seconds=30),
        ge=timedelta(seconds=1),
        description="wait before asking the provider again; doubles after each failed attempt",
    )
    query: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description="the provider-query hook, 'package.module:factory'; unset: every case is left to review",
    )
    quiet: Duration = Field(
        timedelta(minutes=15),
        ge=timedelta(minutes=1),
        description="a channel's alert stays firing until no difference came for this long",
    )


class Policy(_Table):
    """Everything a reconciliation run is told, with defaults a finance team can start from."""

    time_zone: str = Field("Asia/Shanghai", description="the providers' bill-day time zone")
    cutoff: Duration = Field(
        timedelta(minutes=15),
        ge=timedelta(0),
        le=timedelta(hours=6),
        description="orders paid this close to the end of the bill day are held for the next day's bill",
    )
    hold_days: int = Field(1, ge=1, le=30, description="days a held order waits before it counts as missing")
    fee_rates: dict[str, Decimal] = Field(
        {}, description="expected fee rate per provider (wechat = 0.006); unset: fees are not checked"
    )
    fee_tolerance: Decimal = Field(Decimal("0.01"), ge=0, description="fee difference tolerated per row")
    assignees: dict[str, str] = Field(
        {}, description="who gets a class's tickets (finance, ops, cs, or a name); unset: the class's default"
    )
    ticket_sla_days: dict[Literal["high", "medium", "low"], int] = Field(
        {"high": 1, "medium": 3, "low": 7}, description="days to resolve a ticket, by risk"
    )
    repairs: Repairs = Repairs()
    generic: GenericColumns = GenericColumns()
    realtime: Realtime = Realtime()

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not a time zone; write an IANA name such as 'Asia/Shanghai'") from None
        return name

    @field_validator("assignees")
    @classmethod
    def _known_classes(cls, assignees: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(assignees) - set(CLASSES))
        if unknown:
            raise ValueError(f"unknown difference class {unknown[0]!r}; expected one of {', '.join(CLASSES)}")
        return assignees

    def assignee(self, klass: str) -> str:
        """Who gets tickets of ``klass``: the configured name, else the class's default owner."""
        return self.assignees.get(klass, CLASSES[klass].owner)

    @field_validator("fee_rates")
    @classmethod
    def _rates(cls, rates: dict[str, Decimal]) -> dict[str, Decimal]:
        for provider, rate in rates.items():
            if provider not in PROVIDERS:
                raise ValueError(f"unknown provider {provider!r}; expected one of {', '.join(PROVIDERS)}")
            if not 0 <= rate < 1:
                raise ValueError(f"{provider}: a fee rate is a fraction such as 0.006, got {rate}")
        return rates
