"""The ``paypulse`` command: one typer module per command group, registered here.

This is the edge where settings are loaded and :class:`~paypulse.errors.PayPulseError` becomes
exit code 2 with one readable line.
"""

from __future__ import annotations

import sys

import typer
from typer._click.exceptions import ClickException

from paypulse.cli import dashboards, demo, replay, run, score_series, simulate
from paypulse.errors import PayPulseError

__all__ = ["app", "main"]

app = typer.Typer(
    name="paypulse",
    help="Streaming monitor for payment health.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for module in (demo, run, replay, simulate, score_series, dashboards):
    module.register(app)


def main() -> None:
    """Entry point: run the app, turning our own errors into one line and exit code 2."""
    try:
        app(standalone_mode=False)
    except ClickException as err:  # a usage error: click's own message and exit code (2)
        err.show()
        sys.exit(err.exit_code)
    except PayPulseError as err:
        typer.secho(f"paypulse: {err}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
