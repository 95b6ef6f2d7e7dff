"""The operator commands as on-call types them (the `paypulse` command in-process, as
:mod:`tests.fixtures.cli` runs it) on real SQLite files:
a silence added, listed in both languages and expired; mistakes answered with one line and exit
code 2; every change in the audit table with who did it."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.fixtures.cli import Cli


def test_a_silence_is_added_listed_and_expired_and_each_change_is_audited(
    tmp_path: Path, paypulse: Cli
) -> None:
    added = paypulse(
        "silence", "add", "merchant=m42", "--duration", "2h", "-m", "迁移中", "--by", "li", cwd=tmp_path
    )
    assert added.returncode == 0, added.stderr
    silence_id = re.search(r"([0-9a-f]{12})", added.stdout)
    assert silence_id is not None and "已添加静默" in added.stdout, added.stdout
    listed_en = paypulse("silence", "list", "--lang", "en", cwd=tmp_path)
    assert (
        "merchant=m42" in listed_en.stdout and "active" in listed_en.stdout and "迁移中" in listed_en.stdout
    )
    assert "生效中" in paypulse("silence", "list", cwd=tmp_path).stdout  # zh-CN by default

    expired = paypulse("silence", "expire", silence_id[1], "--by", "zhang", "--lang", "en", cwd=tmp_path)
    assert expired.returncode == 0, expired.stderr
    assert "merchant=m42" not in paypulse("silence", "list", "--lang", "en", cwd=tmp_path).stdout
    assert "expired" in paypulse("silence", "list", "--all", "--lang", "en", cwd=tmp_path).stdout

    with sqlite3.connect(tmp_path / "var" / "oncall.sqlite3") as db:
        audit = db.execute("SELECT action, by FROM audit ORDER BY id").fetchall()
    assert audit == [("silence.add", "li"), ("silence.expire", "zhang")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ack", "deadbeef", "--by", "zhang"], "no firing alert has id 'deadbeef'"),
        (["silence", "add", "shop=x", "--duration", "1h", "-m", "x"], "'shop' is not one of kind, channel"),
        (["silence", "expire", "000000000000"], "000000000000"),
    ],
)
def test_a_mistake_is_one_line_and_exit_code_2(
    tmp_path: Path, args: list[str], message: str, paypulse: Cli
) -> None:
    done = paypulse(*args, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("paypulse: ") and message in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_nothing_firing_and_an_empty_outbox_are_said_plainly(tmp_path: Path, paypulse: Cli) -> None:
    assert paypulse("alerts", "--lang", "en", cwd=tmp_path).stdout.strip() == "No alerts are firing."
    outbox = paypulse("outbox", "list", "--lang", "en", cwd=tmp_path)
    assert outbox.returncode == 0 and outbox.stdout.strip() == "No notifications in the outbox match."
