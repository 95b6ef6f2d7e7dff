"""`paypulse dashboards`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this command group's commands to ``app``."""
