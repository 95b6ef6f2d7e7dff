"""`paypulse dashboards`: export the Grafana boards and Prometheus rules, or push the boards to Grafana."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from kernel.errors import ConfigError

__all__ = ["register"]

dashboards_app = typer.Typer(
    name="dashboards",
    help="Grafana boards and Prometheus rules for watching PayPulse.",
    no_args_is_help=True,
)


@dashboards_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="directory to write boards/*.json and rules/*.yml to")],
) -> None:
    """Write the dashboard JSON and the Prometheus rule files to a directory."""
    # Imported here so that other commands (`paypulse run`) do not load the Grafana HTTP client.
    from dashboards.provision import export

    for path in export(out):
        typer.echo(str(path))


@dashboards_app.command("push")
def push_command(
    url: Annotated[str, typer.Option("--url", help="Grafana base URL, e.g. http://127.0.0.1:3000")],
    token_env: Annotated[
        str, typer.Option("--token-env", help="name of the environment variable holding a Grafana API token")
    ] = "GRAFANA_TOKEN",
    folder_uid: Annotated[
        str | None, typer.Option("--folder-uid", help="Grafana folder to put boards in")
    ] = None,
) -> None:
    """Create or overwrite the PayPulse boards in a running Grafana."""
    from dashboards.provision import connect, push

    token = os.environ.get(token_env, "")
    if not token:
        raise ConfigError(
            f"--token-env {token_env}: environment variable {token_env} is not set or empty;"
            " export a Grafana service-account token in it"
        )
    for result in push(connect(url, token), folder_uid=folder_uid):
        typer.echo(f"{result.get('uid', '?')} version {result.get('version', '?')} {result.get('url', '')}")


def register(app: typer.Typer) -> None:
    """Add this command group's commands to ``app``."""
    app.add_typer(dashboards_app)
