"""The reconcile and tickets commands in-process, through the same ``main`` the script runs:
options, the config file's generic columns, one-line errors with exit code 2, the ticket workflow."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.fixtures.cli import Cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reconciliation"
ORDERS = FIXTURES / "orders-2024-05-01.jsonl"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("PAYPULSE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("USER", "finance-bot")
    monkeypatch.setenv("COLUMNS", "200")


def reconcile(
    paypulse: Cli, tmp_path: Path, provider: str, statement: Path, *extra: object
) -> tuple[int, str, str]:
    return paypulse(
        "reconcile",
        "--provider",
        provider,
        "--statement",
        statement,
        "--orders",
        ORDERS,
        "--date",
        "2024-05-01",
        "--out",
        tmp_path / "out",
        *extra,
    )


def test_generic_columns_from_the_config_file(paypulse: Cli, tmp_path: Path) -> None:
    code, _, err = reconcile(
        paypulse,
        tmp_path,
        "generic",
        FIXTURES / "acquirer-2024-05-01.csv",
        "--config",
        FIXTURES / "acquirer.toml",
        "--fee-rate",
        "0.006",
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (summary["final"], summary["statement"]["payments"], summary["fees"]["expected"]) == (
        6,
        7,
        "1.716",
    )


def test_generic_columns_from_the_command_line(paypulse: Cli, tmp_path: Path) -> None:
    columns = [
        "--column=order_id=merchant_ref",
        "--column=provider_txn_id=txn_ref",
        "--column=amount=amount_minor",
        "--column=currency=ccy",
        "--column=time=booked_at",
    ]
    code, _, err = reconcile(paypulse, tmp_path, "generic", FIXTURES / "acquirer-2024-05-01.csv", *columns)
    assert code == 0, err
    statement = json.loads((tmp_path / "out" / "summary.json").read_text())["statement"]
    assert (statement["refunds"], statement["other"]) == (1, 7)  # PAY is not a default payment value


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--provider", "unionpay"],
            "invalid setting --provider = 'unionpay': expected one of wechat, alipay, generic",
        ),
        (["--date", "2024-13-01"], "invalid setting --date = '2024-13-01': write the bill day as YYYY-MM-DD"),
        (["--fee-rate", "6%"], "invalid setting --fee-rate = '6%': write a fraction such as 0.006 (0.6%)"),
        (
            ["--column", "order"],
            "invalid setting --column = 'order': write FIELD=HEADER, FIELD one of order_id",
        ),
        (["--orders", "nope.jsonl"], "nope.jsonl: no such file; expected an order export"),
    ],
)
def test_a_mistake_is_one_line_and_exit_code_two(
    paypulse: Cli, tmp_path: Path, args: list[str], line: str
) -> None:
    base = {
        "--provider": "wechat",
        "--statement": str(FIXTURES / "wechat-tradebill-2024-05-01.csv"),
        "--orders": str(ORDERS),
        "--date": "2024-05-01",
        "--out": str(tmp_path / "out"),
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    code, _, err = paypulse("reconcile", *[x for kv in base.items() for x in kv])
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("paypulse: ") and line in err


def test_the_ticket_workflow(paypulse: Cli, tmp_path: Path) -> None:
    assert reconcile(paypulse, tmp_path, "wechat", FIXTURES / "wechat-tradebill-2024-05-01.csv")[0] == 0
    db = tmp_path / "reconciliation.sqlite3"
    code, out, _ = paypulse("tickets", "list", "--db", db, "--csv", "-")
    assert (
        code == 0
        and out.splitlines()[0].startswith("id,day,provider,order_id")
        and len(out.splitlines()) == 7
    )
    assert paypulse("tickets", "resolve", "2", "3", "--db", db, "--reason", "checked")[0] == 0
    code, out, _ = paypulse(
        "tickets",
        "write-off",
        "--db",
        db,
        "--class",
        "amount_over",
        "--max-amount",
        "5",
        "--reason",
        "small",
        "--by",
        "erin",
    )
    assert (code, out.strip()) == (0, "wrote off 1 tickets: 1")
    code, out, _ = paypulse("tickets", "show", "2", "--db", db)
    shown = json.loads(out)
    assert shown["status"] == "resolved"
    assert [(h["who"], h["action"], h["why"]) for h in shown["history"]][1:] == [
        ("finance-bot", "resolve", "checked")
    ]
    code, _, err = paypulse("tickets", "resolve", "2", "--db", db, "--reason", "twice")
    assert (code, err.strip()) == (2, "paypulse: ticket 2 is already resolved; nothing changed")
    export = tmp_path / "open.csv"
    assert paypulse("tickets", "list", "--db", db, "--csv", export)[0] == 0
    assert export.read_bytes().startswith(b"\xef\xbb\xbfid,") and len(export.read_text().splitlines()) == 4
    code, _, err = paypulse("tickets", "list", "--db", tmp_path / "nope.sqlite3")
    assert code == 2 and "no reconciliation state file there" in err
