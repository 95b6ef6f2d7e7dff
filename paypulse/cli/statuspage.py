"""`paypulse statuspage`: the status page in its own process, beside `paypulse run`.

Inside the monitor the page shares a process (and its interpreter lock) with detection, so a
flood of page requests slows the dataflow down. Served from here, the page reads the same SQLite
banner store the monitor keeps writing (:class:`statuspage.BannerStore` sees the monitor's commits
through SQLite's ``data_version``), and its ops override API writes to that store, where the
monitor picks the override up. Holds and overrides run out on the wall clock, as in `paypulse run`.
"""

from __future__ import annotations

import socket
from typing import Annotated

import typer
from rich.console import Console

from kernel.clock import SystemClock
from kernel.errors import ConfigError
from paypulse.cli.common import ConfigOption, check_writable, settings_with

console = Console(stderr=True)


def statuspage(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="listen here instead of statuspage.host")] = None,
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="listen here instead of statuspage.port; 0 = any free"),
    ] = None,
) -> None:
    """Serve the status page and its API from the banner store in statuspage.db, until Ctrl-C or SIGTERM."""
    loaded = settings_with(config, statuspage={"host": host, "port": port})
    check_writable(loaded, "statuspage.db")
    settings = loaded.statuspage
    sock = _listen(settings.host, settings.port)
    import uvicorn  # the web stack loads with this command, not with every `paypulse` call

    from statuspage import Banner, create_app

    banner = Banner.from_settings(settings, SystemClock())
    try:
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings, banner), log_level="warning", lifespan="off")
        )
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        console.print(f"status page: http://{shown}:{bound_port}/  banner store: {settings.db}")
        if settings.ops_token is None:
            console.print("override API disabled: set statuspage.ops_token to enable it")
        server.run(sockets=[sock])
    finally:
        banner.close()
        sock.close()


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a ConfigError saying why there cannot be one."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as err:
        raise ConfigError(f"statuspage.host = {host!r} cannot be listened on: {err}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as err:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {err.strerror}; if `paypulse run` serves the page there, "
            "give this one another port (--port)"
        ) from None
    return sock


def register(app: typer.Typer) -> None:
    """Add ``statuspage`` to ``app``."""
    app.command()(statuspage)
