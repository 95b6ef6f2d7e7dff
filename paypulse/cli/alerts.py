"""`paypulse alerts` and `paypulse ack`: what is firing, where it went, and taking it in hand.

Both read the on-call state file (``alerting.state``) that `paypulse run` keeps, and the outbox
for each alert's delivery state, so they work from another terminal while the run goes on. An
acknowledgement stops the alert's repeats and its escalation at the run's next tick (30 s).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated

import typer

from alerting.board import BoardEntry
from alerting.console import SAY, STATES
from alerting.outbox import Outbox
from kernel.clock import SystemClock
from paypulse.cli.common import ConfigOption
from paypulse.cli.operator import ByOption, LangOption, Operator, open_operator, who

__all__ = ["register"]


def _delivery(op: Operator, counts: Counter[str]) -> str:
    return ", ".join(f"{op.m.pgettext('state', STATES[s])} {n}" for s, n in sorted(counts.items())) or "-"


def _scope(entry: BoardEntry) -> str:
    scope = entry.alert.scope
    return " / ".join(p for p in (scope.channel, scope.merchant_id) if p) or "*"


def alerts_command(
    lang: LangOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per alert, per line")] = False,
    config: ConfigOption = None,
) -> None:
    """Firing alerts, with their routes, delivery state, acknowledgement, escalation and silence."""
    op = open_operator(config, lang)
    firing = op.desk.board.firing()
    outbox = Outbox(op.settings.alerting.outbox, SystemClock())
    delivery: dict[str, Counter[str]] = {}
    for row in outbox.rows():
        state = "held" if row.held else row.state
        delivery.setdefault(row.alert.id, Counter())[state] += 1
    outbox.close()
    escalations = op.desk.escalations()
    rows = []
    for entry in firing:
        alert = entry.alert
        ack = op.desk.acks.get(alert.id)
        level = escalations.get(alert.id)
        if as_json:
            typer.echo(json.dumps({
                **alert.to_json(), "routes": list(entry.routes), "delivery": dict(delivery.get(alert.id, {})),
                "acknowledged_by": ack.by if ack else None, "escalation_level": level,
                "silenced_by": entry.silenced_by,
            }, ensure_ascii=False))  # fmt: skip
            continue
        rows.append([
            alert.id[:12],
            op.m.kind_title(alert.kind) or alert.kind,
            _scope(entry),
            op.m.severity(alert.severity) or alert.severity,
            op.when(alert.started_at.timestamp()),
            ", ".join(entry.routes) or "-",
            _delivery(op, delivery.get(alert.id, Counter())),
            ack.by if ack else op.m.gettext(SAY["not_acked"]),
            op.m.gettext(SAY["level"]).format(level=level) if level else "-",
            op.m.gettext(SAY["silenced_by"]).format(id=entry.silenced_by) if entry.silenced_by else "-",
        ])  # fmt: skip
    if as_json:
        return
    if not rows:
        op.say(SAY["no_alerts"])
        return
    columns = [
        "alert",
        "kind",
        "scope",
        "severity",
        "since",
        "routes",
        "delivery",
        "ack",
        "escalation",
        "silence",
    ]
    op.table(columns, rows)


def ack_command(
    alert_id: Annotated[str, typer.Argument(help="the alert's id, or its first characters")],
    by: ByOption = None,
    lang: LangOption = None,
    config: ConfigOption = None,
) -> None:
    """Acknowledge a firing alert: its repeats and escalation stop."""
    op = open_operator(config, lang)
    entry, ack, made = op.desk.ack(alert_id, by=who(by), via="cli")
    if made:
        op.say(SAY["acked"], alert_id=entry.alert.id, by=ack.by)
    else:
        op.say(SAY["acked_before"], alert_id=entry.alert.id, by=ack.by, at=op.when(ack.at))


def register(app: typer.Typer) -> None:
    """Add ``alerts`` and ``ack`` to ``app``."""
    app.command("alerts")(alerts_command)
    app.command("ack")(ack_command)
