"""`paypulse incident`: ops tell payers about a disruption on the status page, from a terminal.

Each command writes to the banner store in ``statuspage.db``, the file `paypulse run` and
`paypulse statuspage` serve the page from, so an update shows on the page at its next poll. Titles
and messages are given in Chinese (``--title``, ``--message``, required) and optionally in English
(``--title-en``, ``--message-en``); the English page shows the Chinese text when there is none.
A mistake (an unknown incident, an update to a resolved one) is one ``paypulse:`` line and exit code 2.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from kernel.clock import SystemClock
from paypulse.cli.common import ConfigOption, check_writable, settings_with
from statuspage import STATES, BannerStore, Incident, Incidents
from statuspage.i18n import load_catalogues
from statuspage.incidents import OPEN_STATES
from statuspage.wording import RESOLVED_MESSAGE

__all__ = ["register"]

incident_app = typer.Typer(
    name="incident",
    help="Post incidents and their updates to the status page (zh-CN required, English optional).",
    no_args_is_help=True,
)

IncidentId = Annotated[
    int, typer.Argument(min=1, help="the incident's number, as `paypulse incident list` shows")
]
Message = Annotated[
    str, typer.Option("--message", "-m", help="the update in Chinese (zh-CN), shown to payers")
]
MessageEn = Annotated[str | None, typer.Option("--message-en", help="the update in English")]
By = Annotated[str, typer.Option("--by", help="who posts it; kept in the store, not shown on the page")]


def _open_incidents(config: Any) -> tuple[Incidents, BannerStore]:
    loaded = settings_with(config)
    check_writable(loaded, "statuspage.db")
    store = BannerStore(loaded.statuspage.db)
    return Incidents(store, SystemClock()), store


def _texts(zh: str | None, en: str | None) -> dict[str, str | None]:
    return {"zh-CN": zh, "en": en}


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _say(incident: Incident, what: str) -> None:
    latest = incident.updates[0]
    typer.echo(
        f"incident {incident.id} {what}: {incident.state} at {_when(latest.at)}: {incident.title['zh-CN']}"
    )


@incident_app.command("open")
def open_command(
    title: Annotated[str, typer.Option("--title", "-t", help="a short title in Chinese (zh-CN)")],
    message: Message,
    title_en: Annotated[str | None, typer.Option("--title-en", help="the title in English")] = None,
    message_en: MessageEn = None,
    state: Annotated[str, typer.Option(help=f"the first state: {', '.join(OPEN_STATES)}")] = "investigating",
    channel: Annotated[
        list[str] | None, typer.Option("--channel", help="an affected channel id (alipay); repeat for more")
    ] = None,
    by: By = "ops",
    config: ConfigOption = None,
) -> None:
    """Open an incident with its first update."""
    incidents, store = _open_incidents(config)
    with store:
        incident = incidents.open(
            _texts(title, title_en), _texts(message, message_en), state=state, channels=channel or (), by=by
        )
    _say(incident, "opened")


@incident_app.command("update")
def update_command(
    incident_id: IncidentId,
    state: Annotated[str, typer.Option(help=f"the state it is in now: {', '.join(STATES)}")],
    message: Message,
    message_en: MessageEn = None,
    by: By = "ops",
    config: ConfigOption = None,
) -> None:
    """Add an update to an open incident; `--state resolved` closes it."""
    incidents, store = _open_incidents(config)
    with store:
        incident = incidents.update(incident_id, state, _texts(message, message_en), by=by)
    _say(incident, "updated")


@incident_app.command("resolve")
def resolve_command(
    incident_id: IncidentId,
    message: Annotated[
        str | None,
        typer.Option("--message", "-m", help="the last update in Chinese; default: 此事件已解决。"),
    ] = None,
    message_en: MessageEn = None,
    by: By = "ops",
    config: ConfigOption = None,
) -> None:
    """Close an incident with a last update; nothing can be added after."""
    if message is None:  # the catalogue's words, in both languages unless the English is given
        catalogues = load_catalogues()
        message = catalogues["zh-CN"].gettext(RESOLVED_MESSAGE)
        message_en = message_en or catalogues["en"].gettext(RESOLVED_MESSAGE)
    incidents, store = _open_incidents(config)
    with store:
        incident = incidents.resolve(incident_id, _texts(message, message_en), by=by)
    _say(incident, "resolved")


@incident_app.command("list")
def list_command(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="show at most this many")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per incident, per line")] = False,
    config: ConfigOption = None,
) -> None:
    """Show the latest incidents, open ones first, each with its updates (newest first)."""
    incidents, store = _open_incidents(config)
    with store:
        latest = incidents.latest(limit)
    if not latest:
        typer.echo("no incidents")
    for incident in latest:
        if as_json:
            typer.echo(json.dumps(_as_json(incident), ensure_ascii=False))
            continue
        channels = f" [{', '.join(incident.channels)}]" if incident.channels else ""
        typer.echo(f"#{incident.id} {incident.state}{channels}: {incident.title['zh-CN']}")
        for update in incident.updates:
            words = " / ".join(update.message[lang] for lang in ("zh-CN", "en") if lang in update.message)
            typer.echo(f"  {_when(update.at)}  {update.state:<13} {update.by}: {words}")


def _as_json(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": dict(incident.title),
        "channels": list(incident.channels),
        "state": incident.state,
        "created_at": _iso(incident.created_at),
        "updated_at": _iso(incident.updated_at),
        "resolved_at": None if incident.resolved_at is None else _iso(incident.resolved_at),
        "updates": [
            {"id": u.id, "state": u.state, "message": dict(u.message), "at": _iso(u.at), "by": u.by}
            for u in incident.updates
        ],
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def register(app: typer.Typer) -> None:
    """Add the ``incident`` command group to ``app``."""
    app.add_typer(incident_app)
