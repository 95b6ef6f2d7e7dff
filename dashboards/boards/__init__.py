"""Grafana dashboards as code: "Payments overview", "Merchants" and "PayPulse health".

Each board module has ``build() -> dict`` returning Grafana's dashboard JSON; nothing here talks
to Grafana (``dashboards.provision`` pushes and exports). :func:`expressions` and
:func:`as_promql` let tests check every query against the metric catalogue and a real Prometheus.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from dashboards.boards import health, merchants, overview

__all__ = ["BUILDERS", "SAMPLE_VARIABLES", "all_boards", "as_promql", "expressions", "iter_panels"]

#: Board uid -> builder, in the order a user meets them.
BUILDERS: Final[Mapping[str, Callable[[], dict[str, Any]]]] = {
    overview.UID: overview.build,
    merchants.UID: merchants.build,
    health.UID: health.build,
}

#: Values that stand in for Grafana's variables when a query is sent to Prometheus itself.
SAMPLE_VARIABLES: Final[Mapping[str, str]] = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__range": "1h",
    "channel": ".*",
    "merchant": ".*",
}


def all_boards() -> list[dict[str, Any]]:
    """Every board's dashboard JSON."""
    return [build() for build in BUILDERS.values()]


def iter_panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a board, including those nested in collapsed rows."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def expressions(board: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a board's panels, as written (with ``$variables``)."""
    return [t["expr"] for p in iter_panels(board) for t in p.get("targets", []) if "expr" in t]


_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def as_promql(expr: str, values: Mapping[str, str] = SAMPLE_VARIABLES) -> str:
    """Substitute Grafana variables so Prometheus itself can run the expression.

    >>> as_promql('rate(x{merchant=~"$merchant"}[$__rate_interval])')
    'rate(x{merchant=~".*"}[1m])'

    An unknown variable is an error rather than a silently broken query:

    >>> as_promql("x[$nope]")
    Traceback (most recent call last):
    ...
    KeyError: "unknown Grafana variable '$nope' in x[$nope]"
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"unknown Grafana variable '${name}' in {expr}")
        return values[name]

    return _VARIABLE.sub(replace, expr)
