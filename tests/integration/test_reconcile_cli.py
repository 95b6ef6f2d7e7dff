"""`paypulse reconcile` run as a finance user runs it, in a process of its own: exit 0 whatever
it found, exit 2 with one line naming the file and what was expected when an input is wrong.

Each start imports the whole CLI (seconds), so the cases here are the exit codes only; the
commands' behaviour is tested in-process in ``tests/unit/test_reconcile_commands.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "reconciliation"


def reconcile(tmp_path: Path, provider: str, statement: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYPULSE_")}
    args = [
        "reconcile",
        "--provider",
        provider,
        "--statement",
        str(statement),
        "--date",
        "2024-05-01",
        "--orders",
        str(FIXTURES / "orders-2024-05-01.jsonl"),
        "--out",
        str(tmp_path / "out"),
    ]
    return subprocess.run(
        [sys.executable, "-m", "paypulse", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
        timeout=300,
    )


def test_reconcile_exits_zero_whatever_it_finds_and_writes_every_output(tmp_path: Path) -> None:
    done = reconcile(tmp_path, "alipay", FIXTURES / "alipay-detail-2024-05-01.csv")
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "differences.csv",
        "differences.jsonl",
        "rejects.jsonl",
        "repairs.jsonl",
        "summary.json",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["final"], summary["tickets"], summary["rejected_rows"]) == (6, 6, 2)
    assert "provider_paid_ours_unpaid" in done.stdout and "6 tickets" in done.stdout
    assert (tmp_path / "reconciliation.sqlite3").is_file()  # beside --out by default


@pytest.mark.parametrize(
    ("statement", "line"),
    [
        ("missing.csv", "{dir}/missing.csv: no such file; expected a WeChat Pay trade bill (交易账单)"),
        (
            "alipay-detail-2024-05-01.csv",
            "{dir}/alipay-detail-2024-05-01.csv: not a WeChat Pay trade bill (交易账单):"
            " expected a header row starting 交易时间 (the file starts '#支付宝业务明细查询')",
        ),
    ],
)
def test_a_missing_or_unrecognised_statement_is_one_line_and_exit_code_two(
    tmp_path: Path, statement: str, line: str
) -> None:
    done = reconcile(tmp_path, "wechat", FIXTURES / statement)
    assert (done.returncode, done.stderr.splitlines()) == (2, ["paypulse: " + line.format(dir=FIXTURES)])
    assert not (tmp_path / "reconciliation.sqlite3").exists()
