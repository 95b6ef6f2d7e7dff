"""The ``paypulse`` command: one typer module per command group, registered here.

This is the edge where settings are loaded and :class:`~kernel.errors.PayPulseError` becomes
exit code 2 with one readable line: every command runs through :func:`main` (the ``paypulse``
script and ``python -m paypulse`` both call it), so none ends a configuration mistake in a traceback.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer
from typer._click.exceptions import ClickException

from kernel.errors import PayPulseError
from paypulse.cli import (
    alerts,
    dashboards,
    demo,
    incident,
    outbox,
    reconcile,
    replay,
    run,
    score_series,
    silence,
    simulate,
    statuspage,
    tickets,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="paypulse",
    help="Streaming monitor for payment health.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version() -> str:
    """The installed distribution's version (the checkout's, for an editable install)."""
    try:
        return version("paypulse")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _print_version(given: bool) -> None:
    if given:
        typer.echo(f"paypulse {_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="print the version and exit"),
    ] = False,
) -> None:
    """Streaming monitor for payment health."""


for module in (
    demo,
    run,
    replay,
    simulate,
    score_series,
    dashboards,
    statuspage,
    incident,
    alerts,
    silence,
    outbox,
    reconcile,
    tickets,
):
    module.register(app)


def main() -> None:
    """Entry point: run the app, turning our own errors into one line and exit code 2.

    An error raised inside the dataflow reaches here wrapped by the engine that ran it
    (bytewax chains it as the cause), so the chain is searched for one of ours.
    """
    try:
        code = app(standalone_mode=False)
    except ClickException as err:  # a usage error: click's own message and exit code (2)
        err.show()
        sys.exit(err.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except Exception as err:
        ours = _ours(err)
        if ours is None:
            raise
        for line in str(ours).splitlines():  # several wrong settings: one line each
            typer.secho(f"paypulse: {line}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)  # `typer.Exit(n)` comes back as n


def _ours(err: BaseException | None) -> PayPulseError | None:
    """The :class:`PayPulseError` in ``err``'s chain of causes, if there is one."""
    while err is not None:
        if isinstance(err, PayPulseError):
            return err
        err = err.__cause__
    return None
