"""`paypulse tickets`: work the differences reconciliation could not settle by itself.

Tickets live in the reconciliation state file (``--db``, the ``--state`` of `paypulse reconcile`).
Every change records who made it (``--by``, default $USER) and why (``--reason``); ``show`` prints
a ticket with that history. A mistake (an unknown id, a closed ticket) is one line and exit code 2.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kernel.errors import ConfigError
from paypulse.cli.reconcile import default_user
from reconciliation import CLASSES, Ledger
from reconciliation.fields import format_minor
from reconciliation.tickets import (
    STATUSES,
    assign,
    export_csv,
    find,
    get,
    resolve,
    write_off,
    write_off_matching,
)

__all__ = ["register"]

tickets_app = typer.Typer(
    name="tickets", help="List, assign, resolve and write off reconciliation tickets.", no_args_is_help=True
)

Db = Annotated[Path, typer.Option("--db", help="the reconciliation state file (reconcile's --state)")]
Ids = Annotated[list[int], typer.Argument(min=1, help="ticket ids, as `paypulse tickets list` shows")]
By = Annotated[str | None, typer.Option("--by", help="who makes the change; default $USER")]
Reason = Annotated[str, typer.Option("--reason", "-r", help="why, kept in the audit log")]


def _ledger(db: Path) -> Ledger:
    return Ledger(db, create=False)


def _class(klass: str | None) -> str | None:
    if klass is not None and klass not in CLASSES:
        raise ConfigError(f"invalid setting --class = {klass!r}: expected one of {', '.join(CLASSES)}")
    return klass


@tickets_app.command("list")
def list_command(
    db: Db,
    status: Annotated[str, typer.Option(help=f"{', '.join(STATUSES)} or all")] = "open",
    klass: Annotated[str | None, typer.Option("--class", help="only this difference class")] = None,
    assignee: Annotated[str | None, typer.Option(help="only tickets assigned to this name")] = None,
    csv_out: Annotated[
        Path | None, typer.Option("--csv", help="write them as CSV here ('-' for stdout)")
    ] = None,
) -> None:
    """List tickets, oldest first; `--csv` exports them for finance."""
    if status not in (*STATUSES, "all"):
        raise ConfigError(
            f"invalid setting --status = {status!r}: expected one of {', '.join(STATUSES)}, all"
        )
    ledger = _ledger(db)
    try:
        found = find(
            ledger, status=None if status == "all" else status, klass=_class(klass), assignee=assignee
        )
    finally:
        ledger.close()
    if csv_out is not None:
        if str(csv_out) == "-":
            export_csv(found, sys.stdout)
        else:
            with csv_out.open("w", encoding="utf-8-sig", newline="") as out:
                typer.echo(f"wrote {export_csv(found, out)} tickets to {csv_out}", err=True)
        return
    table = Table(title=f"{len(found)} tickets ({status})")
    columns = (
        "id",
        "day",
        "provider",
        "order_id",
        "class",
        "risk",
        "amount",
        "sla_due",
        "assignee",
        "status",
    )
    for name in columns:
        table.add_column(name)
    for ticket in found:
        shown = {**ticket, "amount": format_minor(ticket["amount"], ticket["currency"])}
        table.add_row(*(str(shown[name]) for name in columns))
    Console().print(table)


@tickets_app.command("show")
def show_command(ticket_id: Annotated[int, typer.Argument(min=1, help="the ticket id")], db: Db) -> None:
    """Print one ticket as JSON, with its audit history."""
    ledger = _ledger(db)
    try:
        typer.echo(json.dumps(get(ledger, ticket_id), ensure_ascii=False, indent=2, default=str))
    finally:
        ledger.close()


@tickets_app.command("assign")
def assign_command(
    ids: Ids,
    db: Db,
    to: Annotated[str, typer.Option("--to", help="the new assignee")],
    reason: Reason = "reassigned",
    by: By = None,
) -> None:
    """Give tickets to someone else."""
    ledger = _ledger(db)
    try:
        done = assign(ledger, ids, to, by or default_user(), reason)
    finally:
        ledger.close()
    typer.echo(f"assigned {len(done)} tickets to {to}")


@tickets_app.command("resolve")
def resolve_command(ids: Ids, db: Db, reason: Reason, by: By = None) -> None:
    """Close tickets as resolved; the reason is required."""
    ledger = _ledger(db)
    try:
        done = resolve(ledger, ids, by or default_user(), reason)
    finally:
        ledger.close()
    typer.echo(f"resolved {len(done)} tickets")


@tickets_app.command("write-off")
def write_off_command(
    db: Db,
    reason: Reason,
    ids: Annotated[
        list[int] | None, typer.Argument(help="ticket ids; or use --class and --max-amount")
    ] = None,
    klass: Annotated[str | None, typer.Option("--class", help="write off open tickets of this class")] = None,
    max_amount: Annotated[
        str | None, typer.Option("--max-amount", help="... whose amount is at most this")
    ] = None,
    by: By = None,
) -> None:
    """Write off tickets by id, or every open ticket of a class up to an amount."""
    if bool(ids) == (klass is not None):
        raise ConfigError("give ticket ids, or --class with --max-amount, not both")
    ledger = _ledger(db)
    try:
        if ids:
            done = write_off(ledger, ids, by or default_user(), reason)
        else:
            limit = _amount(max_amount)
            done = write_off_matching(ledger, str(_class(klass)), limit, by or default_user(), reason)
    finally:
        ledger.close()
    typer.echo(f"wrote off {len(done)} tickets" + (f": {', '.join(map(str, done))}" if done else ""))


def _amount(text: str | None) -> Decimal:
    if text is None:
        raise ConfigError("--class needs --max-amount, e.g. --max-amount 1.00")
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0:
        raise ConfigError(f"invalid setting --max-amount = {text!r}: write an amount such as 1.00")
    return value


def register(app: typer.Typer) -> None:
    """Add this command group's commands to ``app``."""
    app.add_typer(tickets_app)
