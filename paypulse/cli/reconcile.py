"""`paypulse reconcile` and `paypulse reconcile-simulate`: the T+1 check of a day against a bill.

`reconcile` reads the provider's statement (WeChat Pay, Alipay or a mapped generic CSV) and our
order export for one bill day, and writes ``differences.jsonl``, ``differences.csv`` (UTF-8 with a
BOM, for Excel), ``summary.json``, ``rejects.jsonl`` and ``repairs.jsonl`` into ``--out``. Held
orders, tickets and the audit log live in the ``--state`` SQLite file (default: beside ``--out``).
It exits 0 whenever it ran, whatever it found; a missing or unrecognised file is one line and 2.
"""

from __future__ import annotations

import getpass
import os
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from kernel.errors import ConfigError
from kernel.settings import load_settings
from paypulse.cli.common import ConfigOption
from reconciliation import PROVIDERS, Policy, Run, reconcile, write_simulation

__all__ = ["default_user", "register"]

Provider = Annotated[str, typer.Option("--provider", "-p", help=f"statement layout: {', '.join(PROVIDERS)}")]
Day = Annotated[
    str, typer.Option("--date", "-d", help="the bill day, YYYY-MM-DD, in the providers' time zone")
]


def default_user() -> str:
    """Who a change is recorded as when ``--by`` is not given: $USER, else the login name."""
    return os.environ.get("USER") or getpass.getuser()


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"invalid setting --date = {text!r}: write the bill day as YYYY-MM-DD") from None


def _rate(text: str) -> Decimal:
    try:
        rate = Decimal(text)
    except InvalidOperation:
        rate = Decimal(-1)
    if not 0 <= rate < 1:
        raise ConfigError(f"invalid setting --fee-rate = {text!r}: write a fraction such as 0.006 (0.6%)")
    return rate


def _policy(config: Path | None, fee_rate: str | None, provider: str, columns: list[str]) -> Policy:
    """The ``[reconciliation]`` settings with the command line's overrides."""
    policy = load_settings(config).reconciliation
    update: dict[str, Any] = {}
    if fee_rate is not None:
        update["fee_rates"] = {**policy.fee_rates, provider: _rate(fee_rate)}
    mapping = dict(policy.generic.model_dump())
    for column in columns:
        field, sep, header = column.partition("=")
        if not sep or field not in mapping:
            raise ConfigError(
                f"invalid setting --column = {column!r}: write FIELD=HEADER, FIELD one of "
                f"{', '.join(k for k in mapping if isinstance(mapping[k], str | None))}"
            )
        mapping[field] = header
    try:
        return Policy.model_validate({**policy.model_dump(), **update, "generic": mapping})
    except ValidationError as err:
        raise ConfigError.from_validation(err.errors(), "from the command line") from None


def reconcile_command(
    provider: Provider,
    statement: Annotated[Path, typer.Option("--statement", "-s", help="the provider's statement file")],
    orders: Annotated[Path, typer.Option("--orders", "-o", help="our orders of the day: JSONL or CSV")],
    day: Day,
    out: Annotated[Path, typer.Option("--out", help="directory for the day's outputs")],
    state: Annotated[
        Path | None,
        typer.Option("--state", help="SQLite state file; default: reconciliation.sqlite3 beside --out"),
    ] = None,
    fee_rate: Annotated[str | None, typer.Option("--fee-rate", help="expected fee rate, e.g. 0.006")] = None,
    column: Annotated[
        list[str] | None,
        typer.Option("--column", help="generic layout: FIELD=HEADER, e.g. order_id=merchant_ref"),
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="recorded as who ran it; default $USER")] = None,
    config: ConfigOption = None,
) -> None:
    """Reconcile one bill day: our orders against the provider's statement."""
    if provider not in PROVIDERS:
        raise ConfigError(
            f"invalid setting --provider = {provider!r}: expected one of {', '.join(PROVIDERS)}"
        )
    bill_day = _day(day)
    policy = _policy(config, fee_rate, provider, column or [])
    if out.exists() and not out.is_dir():
        raise ConfigError(f"invalid setting --out = '{out}': it is a file; give a directory")
    run = Run(
        provider,
        statement,
        orders,
        bill_day,
        out,
        state or out.resolve().parent / "reconciliation.sqlite3",
        by or default_user(),
    )
    summary = reconcile(run, policy)
    _show(summary, out)


def _show(summary: dict[str, Any], out: Path) -> None:
    """A table of the day for the terminal; the files hold the rest."""
    table = Table(title=f"{summary['provider']} {summary['day']}: differences")
    for name in ("class", "risk", "count", f"amount ({summary['currency']})"):
        table.add_column(name, justify="left" if name in ("class", "risk") else "right")
    for klass, bucket in summary["differences"].items():
        if bucket["count"]:
            table.add_row(klass, bucket["risk"], str(bucket["count"]), bucket["amount"])
    transient = summary["transient"]
    table.add_row("held (transient)", "-", str(transient["count"]), transient["amount"])
    console = Console()
    console.print(table)
    matched, statement = summary["matched"], summary["statement"]
    console.print(
        f"matched {matched['count']} orders ({matched['theirs']}); {summary['final']} differences, "
        f"{summary['tickets']} tickets; {summary['rejected_rows']} rows rejected"
        + ("" if statement["complete"] else "; the statement looks incomplete, see rejects.jsonl")
    )
    console.print(
        f"outputs in {out}/ (differences.jsonl, differences.csv, summary.json, rejects.jsonl, repairs.jsonl)"
    )


def simulate_command(
    day: Day,
    orders: Annotated[int, typer.Option("--orders", "-n", min=20, help="orders in the simulated day")] = 1000,
    out: Annotated[Path, typer.Option("--out", help="directory for the files")] = Path("var/reconcile-sim"),
    seed: Annotated[int, typer.Option("--seed", min=0, help="random seed")] = 7,
) -> None:
    """Write a simulated day (and the next): orders, bills in every layout, and labels."""
    written = write_simulation(out, _day(day), orders, seed)
    for path in written:
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add this command group's commands to ``app``."""
    app.command("reconcile")(reconcile_command)
    app.command("reconcile-simulate")(simulate_command)
