"""`paypulse silence add|list|expire`: hold notifications for matching alerts for a while.

A silence matches alerts by ``kind``, ``channel``, ``merchant`` and ``severity``
(``paypulse silence add merchant=m42 --duration 2h --comment "migrating"``). Silenced alerts are
still logged and shown by `paypulse alerts`; nothing is sent for them, nor for their resolution.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from alerting.console import SAY, STATES
from kernel.durations import parse_duration
from kernel.errors import UsageError
from paypulse.cli.common import ConfigOption
from paypulse.cli.operator import ByOption, LangOption, open_operator, who

__all__ = ["register"]

silence_app = typer.Typer(
    name="silence",
    help="Silence alerts by kind, channel, merchant or severity for a while.",
    no_args_is_help=True,
)


def _moment(text: str | None, option: str) -> float | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r}: write an ISO date-time, e.g. 2026-03-02T18:00+08:00") from None
    if moment.tzinfo is None:
        raise UsageError(f"{option} {text!r}: give the zone, e.g. 2026-03-02T18:00+08:00")
    return moment.timestamp()


@silence_app.command("add")
def add_command(
    matchers: Annotated[
        list[str], typer.Argument(help="name=value; names: kind, channel, merchant, severity")
    ],
    comment: Annotated[str, typer.Option("--comment", "-m", help="why, for whoever is paged next")],
    duration: Annotated[str | None, typer.Option(help="how long, e.g. 2h or 30m")] = None,
    until: Annotated[
        str | None, typer.Option(help="until (ISO date-time with zone), instead of --duration")
    ] = None,
    starts: Annotated[str | None, typer.Option(help="from (ISO date-time with zone); default: now")] = None,
    by: ByOption = None,
    lang: LangOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a silence."""
    try:
        length = None if duration is None else parse_duration(duration)
    except ValueError as err:
        raise UsageError(f"--duration: {err}") from None
    op = open_operator(config, lang)
    silence = op.desk.silence(
        matchers,
        by=who(by),
        comment=comment,
        duration=length,
        ends_at=_moment(until, "--until"),
        starts_at=_moment(starts, "--starts"),
    )
    op.say(SAY["silence_added"], id=silence.id, matchers=silence.describe(), end=op.when(silence.ends_at))


@silence_app.command("list")
def list_command(
    show_all: Annotated[bool, typer.Option("--all", help="expired silences too")] = False,
    lang: LangOption = None,
    config: ConfigOption = None,
) -> None:
    """Active and pending silences (``--all``: expired ones too)."""
    op = open_operator(config, lang)
    now = op.desk.clock.now()
    silences = op.desk.silences.all() if show_all else op.desk.silences.current()
    if not silences:
        op.say(SAY["no_silences"])
        return
    rows = [
        [s.id, s.describe(), op.when(s.starts_at), op.when(s.ends_at), s.created_by, s.comment,
         op.m.pgettext("state", STATES[s.state(now)])]
        for s in silences
    ]  # fmt: skip
    op.table(["silence", "matchers", "starts", "ends", "by", "comment", "state"], rows)


@silence_app.command("expire")
def expire_command(
    silence_id: Annotated[str, typer.Argument(help="the silence's id, or its first characters")],
    by: ByOption = None,
    lang: LangOption = None,
    config: ConfigOption = None,
) -> None:
    """End a silence now."""
    op = open_operator(config, lang)
    silence = op.desk.expire(silence_id, by=who(by))
    op.say(SAY["silence_expired"], id=silence.id, matchers=silence.describe())


def register(app: typer.Typer) -> None:
    """Add the ``silence`` command group to ``app``."""
    app.add_typer(silence_app)
