"""A simulated bill day: our orders, the provider's bill in every layout, and the true differences.

Two days are written so the holding pool can be checked end to end: day 1 has every difference
class injected plus cut-off orders (paid in the last minutes of the day, or just after midnight by
our clock) that the provider bills on day 2; day 2 is clean. ``labels.jsonl`` says, per order,
which class reconciliation must report on which day, and which orders must be held on day 1 and
matched on day 2. Fees follow a rate of 0.006 except where ``fee_mismatch`` is injected.
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from kernel.differences import CLASSES
from reconciliation.fields import format_minor

__all__ = ["FEE_RATE", "BillRow", "SimulatedDay", "simulate", "write_simulation"]

FEE_RATE: Final = Decimal("0.006")
_ZONE: Final = ZoneInfo("Asia/Shanghai")
_CHANNELS: Final = ("wechat_jsapi", "wechat_native", "alipay_app", "alipay_wap")


@dataclass(frozen=True, slots=True)
class BillRow:
    """One row of a provider's bill, layout-free."""

    order_id: str
    txn: str
    kind: str  # payment | refund
    amount: int  # minor units, positive
    currency: str
    fee: Decimal
    at: datetime


@dataclass
class SimulatedDay:
    """One day's orders (as exported) and bill rows."""

    day: date
    orders: list[dict[str, str]] = field(default_factory=list)
    bill: list[BillRow] = field(default_factory=list)


def _fee(amount: int) -> Decimal:
    return (Decimal(amount) * FEE_RATE / 100).quantize(Decimal("0.00001"))


def simulate(day: date, n: int, seed: int) -> tuple[SimulatedDay, SimulatedDay, list[dict[str, str]]]:
    """Days ``day`` and ``day + 1`` with about ``n`` orders on the first, and the labels."""
    rng = random.Random(seed)
    first, second = SimulatedDay(day), SimulatedDay(day + timedelta(days=1))
    labels: list[dict[str, str]] = []
    start = datetime.combine(day, time(), _ZONE)
    per_class = max(2, n // 200)
    plan = [klass for klass in CLASSES for _ in range(per_class)] + ["held"] * per_class
    plan += ["late_on_bill"] * per_class  # paid in the cut-off but on the same day's bill: no difference
    plan += ["refunded"] * per_class + ["unpaid"] * (n // 10)
    plan += ["clean"] * max(0, n - len(plan))
    for i, case in enumerate(plan):
        order_id = f"{'X' if case == 'provider_only' else 'S'}{day:%Y%m%d}{i:07d}"
        amount = rng.randint(100, 50_000)
        paid = start + timedelta(seconds=rng.randint(1800, 86_400 - 1800))
        if case in ("held", "late_on_bill"):
            paid = start + timedelta(days=1, seconds=rng.choice([-600, -120, 30]) + rng.randint(0, 20))
        order = {
            "order_id": order_id,
            "merchant_id": f"M{rng.randint(1, 40):03d}",
            "channel": rng.choice(_CHANNELS),
            "amount": format_minor(amount, "CNY"),
            "currency": "CNY",
            "status": "paid",
            "created_at": (paid - timedelta(seconds=rng.randint(3, 120))).isoformat(),
            "paid_at": paid.isoformat(),
            "provider_txn_id": f"T{order_id}",
        }
        payment = BillRow(order_id, f"T{order_id}", "payment", amount, "CNY", _fee(amount), paid)
        bill, billed = first.bill, True
        if case in CLASSES:
            labels.append({"order_id": order_id, "class": case, "day": day.isoformat()})
        if case in ("provider_paid_ours_unpaid", "unpaid"):
            order.update(
                status=rng.choice(["created", "closed"])
                if case == "provider_paid_ours_unpaid"
                else rng.choice(["created", "failed", "closed"]),
                paid_at="",
                provider_txn_id="",
            )
            billed = case != "unpaid"
        elif case == "ours_paid_provider_missing":
            billed = False
        elif case == "provider_only":
            first.bill.append(payment)
            continue
        elif case in ("amount_over", "amount_under"):
            delta = rng.randint(1, 500) if case == "amount_over" else -rng.randint(1, min(500, amount - 1))
            payment = replace(payment, amount=amount + delta, fee=_fee(amount + delta))
        elif case == "duplicate_payment":
            bill.append(
                BillRow(
                    order_id,
                    f"D{order_id}",
                    "payment",
                    amount,
                    "CNY",
                    _fee(amount),
                    paid + timedelta(seconds=40),
                )
            )
        elif case == "fee_mismatch":
            payment = replace(payment, fee=payment.fee + Decimal("0.05"))
        elif case == "currency_mismatch":
            order["currency"] = "HKD"
        elif case in ("refund_mismatch", "refunded"):
            refund = rng.randint(50, amount)
            order.update(status="refunded", refund_amount=format_minor(refund, "CNY"))
            billed = refund - rng.randint(1, 49) if case == "refund_mismatch" else refund
            bill.append(
                BillRow(
                    order_id, payment.txn, "refund", billed, "CNY", _fee(billed), paid + timedelta(hours=1)
                )
            )
        elif case == "held":
            bill = second.bill
            labels.append(
                {
                    "order_id": order_id,
                    "class": "held",
                    "day": day.isoformat(),
                    "matched_on": second.day.isoformat(),
                }
            )
        first.orders.append(order)
        if billed:
            bill.append(payment)
    for j in range(max(5, n // 20)):  # day 2's own clean orders
        order_id = f"S{second.day:%Y%m%d}{j:07d}"
        amount = rng.randint(100, 50_000)
        paid = start + timedelta(days=1, seconds=rng.randint(1800, 80_000))
        second.orders.append(
            {
                "order_id": order_id,
                "merchant_id": "M001",
                "channel": _CHANNELS[0],
                "amount": format_minor(amount, "CNY"),
                "currency": "CNY",
                "status": "paid",
                "created_at": paid.isoformat(),
                "paid_at": paid.isoformat(),
            }
        )
        second.bill.append(BillRow(order_id, f"T{order_id}", "payment", amount, "CNY", _fee(amount), paid))
    return first, second, labels


def _wechat(rows: list[BillRow]) -> bytes:
    header = (
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
        "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
        "手续费,费率,订单金额,申请退款金额,费率备注"
    )
    lines = [header]
    for r in rows:
        refund = r.kind == "refund"
        amount = format_minor(r.amount, "CNY")
        cells = [
            f"{r.at:%Y-%m-%d %H:%M:%S}",
            "wx2421b1c4370ec43b",
            "1900000109",
            "0",
            "",
            r.txn,
            r.order_id,
            "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            "JSAPI",
            "REFUND" if refund else "SUCCESS",
            "OTHERS",
            r.currency,
            "0.00" if refund else amount,
            "0.00",
            f"5{r.txn}" if refund else "0",
            f"R{r.order_id}" if refund else "0",
            amount if refund else "0.00",
            "0.00",
            "ORIGINAL" if refund else "",
            "SUCCESS" if refund else "",
            "商品",
            "",
            f"{-r.fee if refund else r.fee}",
            "0.60%",
            "0.00" if refund else amount,
            amount if refund else "0.00",
            "",
        ]
        lines.append(",".join("`" + c for c in cells))
    paid = sum(r.amount for r in rows if r.kind == "payment")
    lines += [
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
        f"`{len(rows)},`{format_minor(paid, 'CNY')},`0.00,`0.00,`0.00000,`{format_minor(paid, 'CNY')},`0.00",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def _alipay(rows: list[BillRow], day: date) -> bytes:
    header = (
        "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,"
        "商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,"
        "商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
    )
    end = day + timedelta(days=1)
    lines = [
        "#支付宝业务明细查询",
        "#账号：[20881234567890120156]",
        f"#起始日期：[{day:%Y年%m月%d日} 00:00:00]   终止日期：[{end:%Y年%m月%d日} 00:00:00]",
        "#-----------------------------------------业务明细列表----------------------------------------",
        header,
    ]
    for r in rows:
        sign = "-" if r.kind == "refund" else ""
        amount = sign + format_minor(r.amount, "CNY")
        fee = ("" if r.kind == "refund" else "-") + str(r.fee.quantize(Decimal("0.01")))
        lines.append(
            ",".join(
                [
                    f"{r.txn}\t",
                    f"{r.order_id}\t",
                    "退款\t" if r.kind == "refund" else "交易\t",
                    "商品",
                    f"{r.at:%Y-%m-%d %H:%M:%S}",
                    f"{r.at:%Y-%m-%d %H:%M:%S}",
                    "\t",
                    "\t",
                    "\t",
                    "\t",
                    "*明(138****0000)\t",
                    amount,
                    amount,
                    "0.00",
                    "0.00",
                    "0.00",
                    "0.00",
                    "0.00",
                    "",
                    "0.00\t",
                    "0.00",
                    f"R{r.order_id}\t" if r.kind == "refund" else "\t",
                    fee,
                    "0.00",
                    "",
                ]
            )
        )
    trades = sum(r.kind == "payment" for r in rows)
    lines += [
        "#-----------------------------------------业务明细列表结束------------------------------------",
        f"#交易合计：{trades}笔，商家实收共0.00元，商家优惠共0.00元",
        f"#退款合计：{len(rows) - trades}笔，商家实收退款共0.00元，商家优惠退款共0.00元",
        f"#导出时间：[{end:%Y年%m月%d日} 09:00:00]",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


def _generic(rows: list[BillRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["order_id", "provider_txn_id", "type", "amount", "currency", "fee", "time"])
    for r in rows:
        writer.writerow(
            [
                r.order_id,
                r.txn,
                r.kind,
                format_minor(r.amount, r.currency),
                r.currency,
                r.fee.quantize(Decimal("0.01")),
                r.at.isoformat(),
            ]
        )
    return out.getvalue().encode()


def write_simulation(out: Path, day: date, n: int, seed: int) -> list[Path]:
    """Write both days' orders and bills (wechat, alipay in GBK, generic) and the labels into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    first, second, labels = simulate(day, n, seed)
    written = []
    for sim in (first, second):
        path = out / f"orders-{sim.day}.jsonl"
        path.write_text("".join(json.dumps(o) + "\n" for o in sim.orders))
        written.append(path)
        rows = sorted(sim.bill, key=lambda r: r.at)
        for name, data in (
            ("wechat", _wechat(rows)),
            ("alipay", _alipay(rows, sim.day)),
            ("generic", _generic(rows)),
        ):
            path = out / f"{name}-{sim.day}.csv"
            path.write_bytes(data)
            written.append(path)
    path = out / "labels.jsonl"
    path.write_text("".join(json.dumps(label) + "\n" for label in labels))
    written.append(path)
    return written
