"""What the operator commands share: the desk over the on-call state file, who acts, the
reader's language, and the rich table they print.

``--by`` names who acts (the audit log's "who"), by default the login name in ``$USER``;
``--lang`` picks zh-CN or English, by default ``alerting.language``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alerting.console import COLUMNS, words
from alerting.desk import Desk
from alerting.i18n import Messages
from alerting.state_db import StateDB
from kernel.clock import SystemClock
from kernel.settings import Settings
from paypulse.cli.common import check_writable, settings_with

__all__ = ["ByOption", "LangOption", "Operator", "open_operator", "who"]

ByOption = Annotated[str | None, typer.Option("--by", help="who does it, for the audit log; default: $USER")]
LangOption = Annotated[str | None, typer.Option("--lang", help="zh-CN or en; default: alerting.language")]


def who(by: str | None) -> str:
    """The name the audit log records: ``--by``, else the login name."""
    return (by or os.environ.get("USER") or os.environ.get("USERNAME") or "unknown").strip()


@dataclass
class Operator:
    settings: Settings
    desk: Desk
    db: StateDB
    m: Messages

    def say(self, msgid: str, **values: object) -> None:
        typer.echo(self.m.gettext(msgid).format(**values))

    def when(self, epoch: float) -> str:
        return self.m.when(datetime.fromtimestamp(epoch, UTC))

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """A table with the catalogue's headings for ``columns`` (keys of :data:`COLUMNS`)."""
        table = Table(*(self.m.gettext(COLUMNS[c]) for c in columns), show_lines=False)
        for row in rows:
            table.add_row(*row)
        Console(width=max(120, Console().width)).print(table)


def open_operator(config: Path | None, lang: str | None) -> Operator:
    """Settings, the on-call state file (created if need be) and the reader's words."""
    settings = settings_with(config)
    check_writable(settings, "alerting.state")
    db = StateDB(settings.alerting.state)
    desk = Desk(settings.alerting, db, SystemClock())
    return Operator(settings, desk, db, words(lang or settings.alerting.language))
