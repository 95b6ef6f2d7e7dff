"""`paypulse outbox list|requeue|drop`: the notifications waiting, parked or sent.

Targets show as masked URLs (``dingtalk://s...t@a...3/``), never with their tokens. ``requeue``
sends parked rows again from scratch; ``drop`` gives up on parked or pending ones. Both are
recorded in the audit log with who did it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from alerting.console import SAY, STATES
from alerting.outbox import Outbox
from alerting.routing import target_key
from kernel.clock import SystemClock
from paypulse.cli.common import ConfigOption
from paypulse.cli.operator import ByOption, LangOption, Operator, open_operator, who

__all__ = ["register"]

outbox_app = typer.Typer(
    name="outbox", help="List, requeue or drop notifications in the outbox.", no_args_is_help=True
)
RowIds = Annotated[list[int], typer.Argument(help="row numbers, as `paypulse outbox list` shows them")]


def _open(config: object, lang: str | None) -> tuple[Operator, Outbox]:
    op = open_operator(config, lang)  # type: ignore[arg-type]
    return op, Outbox(op.settings.alerting.outbox, SystemClock())


@outbox_app.command("list")
def list_command(
    state: Annotated[
        str | None, typer.Option(help="pending, parked or delivered; default: not delivered")
    ] = None,
    lang: LangOption = None,
    config: ConfigOption = None,
) -> None:
    """Notifications in the outbox, oldest first."""
    from alerting.delivery.apprise_notifier import mask_url  # Apprise loads only to name targets
    from alerting.delivery.dispatcher import delivery_urls

    op, outbox = _open(config, lang)
    names = {target_key(t.url): mask_url(t.url) for t in delivery_urls(op.settings.alerting)}
    rows = [r for r in outbox.rows() if (r.state == state if state else r.state != "delivered")]
    outbox.close()
    if not rows:
        op.say(SAY["no_rows"])
        return
    table = []
    for r in rows:
        shown_state = op.m.pgettext("state", STATES["held" if r.held else r.state])
        target = names.get(r.target, r.target)
        alert = f"{r.alert.id[:12]} {r.alert.status}"
        error = r.last_error or ""
        table.append([str(r.id), r.route, target, r.reason, alert, shown_state, str(r.attempts), error])
    op.table(["row", "route", "target", "reason", "alert", "state", "attempts", "error"], table)


@outbox_app.command("requeue")
def requeue_command(
    ids: RowIds, by: ByOption = None, lang: LangOption = None, config: ConfigOption = None
) -> None:
    """Send parked notifications again from scratch."""
    op, outbox = _open(config, lang)
    count = outbox.requeue(ids)
    outbox.close()
    op.desk.audit.record(op.desk.clock.now(), who(by), "outbox.requeue", ids=list(ids), requeued=count)
    op.say(SAY["requeued"], count=count, asked=len(ids))


@outbox_app.command("drop")
def drop_command(
    ids: RowIds, by: ByOption = None, lang: LangOption = None, config: ConfigOption = None
) -> None:
    """Give up on parked or pending notifications for good."""
    op, outbox = _open(config, lang)
    count = outbox.drop(ids)
    outbox.close()
    op.desk.audit.record(op.desk.clock.now(), who(by), "outbox.drop", ids=list(ids), dropped=count)
    op.say(SAY["dropped"], count=count, asked=len(ids))


def register(app: typer.Typer) -> None:
    """Add the ``outbox`` command group to ``app``."""
    app.add_typer(outbox_app)
