"""Small builders for Grafana dashboard JSON, so boards read as a list of panels.

Grafana's JSON model is verbose and every panel repeats the same datasource, grid and field
settings. These helpers write that part once. A :class:`Board` places panels left to right on
Grafana's 24-column grid, wraps to a new line when a panel does not fit, and numbers them, so
no board carries hand-kept ids or coordinates that drift apart when a panel is added.

Every panel queries the ``$datasource`` variable, so a board imports into any Grafana whose
Prometheus scrapes PayPulse. Boards that show the same signals for different scopes (whole
channels, chosen merchants) share a :class:`Selector` shape and differ only in its matchers and
legend, and the selector draws the panels every payment board shows for its scope;
:func:`zero_based` and :func:`per_second` name the two graph shapes most other panels have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "DATASOURCE",
    "GRID_WIDTH",
    "Board",
    "Selector",
    "Target",
    "datasource_variable",
    "per_second",
    "query_variable",
    "stat",
    "table",
    "timeseries",
    "zero_based",
]

GRID_WIDTH: Final = 24
DATASOURCE: Final = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION: Final = 39


@dataclass(frozen=True, slots=True)
class Target:
    """One PromQL query of a panel and how its series are named in the legend."""

    expr: str
    legend: str = ""
    instant: bool = False

    def to_json(self, ref_id: str) -> dict[str, Any]:
        return {
            "refId": ref_id,
            "datasource": DATASOURCE,
            "expr": self.expr,
            "legendFormat": self.legend or "__auto",
            "range": not self.instant,
            "instant": self.instant,
            **({"format": "table"} if self.instant else {}),
        }


@dataclass(frozen=True, slots=True)
class Selector:
    """The label matchers that pick a board's scope, and the legend that names one series of it.

    >>> channels = Selector('merchant="all"', "{{channel}}")
    >>> channels("paypulse_stuck_payments", ', channel!="all"')
    'paypulse_stuck_payments{merchant="all", channel!="all"}'
    >>> channels.target("paypulse_stuck_payments", "stuck").legend
    '{{channel}} stuck'
    """

    matchers: str
    legend: str = ""

    def __call__(self, metric: str, extra: str = "") -> str:
        """``metric`` restricted to the scope, and to ``extra`` matchers (``', quantile="0.99"'``)."""
        return f"{metric}{{{self.matchers}{extra}}}"

    def target(self, metric: str, suffix: str = "", extra: str = "") -> Target:
        """A query of ``metric`` in the scope, its legend the scope's followed by ``suffix``."""
        return Target(self(metric, extra), f"{self.legend} {suffix}" if suffix else self.legend)

    # The panels every payment board draws for its scope.

    def success_ratio(self, title: str, *more: Target, description: str = "") -> dict[str, Any]:
        """The scope's success ratio per closed window, and ``more`` series to compare it with."""
        return timeseries(
            title,
            self.target("paypulse_success_ratio"),
            *more,
            unit="percentunit",
            max_value=1,
            description=description,
        )

    def callback_ratios(self) -> dict[str, Any]:
        """The share of the scope's callbacks that failed and that came late, one series each."""
        return zero_based(
            "Callback failure and delayed ratio",
            self.target("paypulse_callback_failure_ratio", "failed"),
            self.target("paypulse_callback_delayed_ratio", "delayed"),
            unit="percentunit",
        )

    def complaints_by_category(self) -> dict[str, Any]:
        """The scope's complaints per minute, stacked by category."""
        return zero_based(
            "Complaints per minute by category",
            Target(f"sum by (category) ({self('paypulse_complaints_per_minute')})", "{{category}}"),
            stack=True,
        )


def _targets(targets: tuple[Target, ...]) -> list[dict[str, Any]]:
    if not targets:
        raise ValueError("a panel needs at least one query")
    if len(targets) > 26:
        raise ValueError(f"a panel takes at most 26 queries, got {len(targets)}")
    return [t.to_json(chr(ord("A") + i)) for i, t in enumerate(targets)]


def _panel(kind: str, title: str, description: str, targets: tuple[Target, ...]) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": _targets(targets),
    }


def timeseries(
    title: str,
    *targets: Target,
    unit: str = "short",
    description: str = "",
    min_value: float | None = None,
    max_value: float | None = None,
    stack: bool = False,
) -> dict[str, Any]:
    """A time series graph; ``unit`` is a Grafana unit id (``percentunit``, ``s``, ``reqpm``…)."""
    defaults: dict[str, Any] = {"unit": unit, "custom": {"fillOpacity": 10 if stack else 0}}
    if stack:
        defaults["custom"]["stacking"] = {"mode": "normal", "group": "A"}
    if min_value is not None:
        defaults["min"] = min_value
    if max_value is not None:
        defaults["max"] = max_value
    return {
        **_panel("timeseries", title, description, targets),
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def zero_based(
    title: str,
    *targets: Target,
    unit: str = "short",
    description: str = "",
    max_value: float | None = None,
    stack: bool = False,
) -> dict[str, Any]:
    """A :func:`timeseries` of something never negative (counts, amounts, durations): its axis starts at 0."""
    return timeseries(
        title, *targets, unit=unit, description=description, min_value=0, max_value=max_value, stack=stack
    )


def per_second(title: str, *targets: Target, description: str = "", stack: bool = False) -> dict[str, Any]:
    """A :func:`zero_based` graph of events per second (``rate()`` of counters)."""
    return zero_based(title, *targets, unit="reqps", description=description, stack=stack)


def stat(
    title: str,
    *targets: Target,
    unit: str = "short",
    description: str = "",
    thresholds: tuple[tuple[float, str], ...] = (),
) -> dict[str, Any]:
    """A single big number; ``thresholds`` are ``(from_value, colour)`` steps above green."""
    steps = [{"color": "green", "value": None}] + [{"color": c, "value": v} for v, c in thresholds]
    return {
        **_panel("stat", title, description, targets),
        "fieldConfig": {
            "defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "area",
        },
    }


def table(title: str, *targets: Target, description: str = "", hide: tuple[str, ...] = ()) -> dict[str, Any]:
    """A table of the current series of instant queries; ``hide`` drops columns (``Time``, ``Value``…)."""
    instant = tuple(Target(t.expr, t.legend, instant=True) for t in targets)
    return {
        **_panel("table", title, description, instant),
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {"showHeader": True},
        "transformations": [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": dict.fromkeys(hide, True)}},
        ],
    }


@dataclass
class Board:
    """A dashboard being built: panels are placed on the grid as they are added."""

    uid: str
    title: str
    description: str
    tags: tuple[str, ...] = ("paypulse",)
    variables: list[dict[str, Any]] = field(default_factory=list)
    _panels: list[dict[str, Any]] = field(default_factory=list)
    _x: int = 0
    _y: int = 0
    _line_height: int = 0

    def row(self, title: str) -> Board:
        """Start a titled, full-width section on a new line."""
        self._newline()
        self._panels.append(
            {
                "type": "row",
                "title": title,
                "collapsed": False,
                "panels": [],
                "gridPos": {"x": 0, "y": self._y, "w": GRID_WIDTH, "h": 1},
            }
        )
        self._y += 1
        return self

    def section(self, title: str, *panels: dict[str, Any], w: int = 12, h: int = 8) -> Board:
        """A :meth:`row` titled ``title`` followed by ``panels``, each ``w`` columns wide and ``h`` high."""
        self.row(title)
        for panel in panels:
            self.add(panel, w=w, h=h)
        return self

    def add(self, panel: dict[str, Any], w: int = 12, h: int = 8) -> Board:
        """Place ``panel`` right of the previous one, or on a new line when it does not fit."""
        if not 1 <= w <= GRID_WIDTH or h < 1:
            raise ValueError(f"panel {panel.get('title')!r}: width must be 1..{GRID_WIDTH} and height >= 1")
        if self._x + w > GRID_WIDTH:
            self._newline()
        self._panels.append({**panel, "gridPos": {"x": self._x, "y": self._y, "w": w, "h": h}})
        self._x += w
        self._line_height = max(self._line_height, h)
        return self

    def variable(self, variable: dict[str, Any]) -> Board:
        """Add a template variable (after the built-in ``$datasource``)."""
        self.variables.append(variable)
        return self

    def _newline(self) -> None:
        self._y += self._line_height
        self._x = 0
        self._line_height = 0

    def to_json(self) -> dict[str, Any]:
        """The dashboard model Grafana stores; ids are 1..n in reading order."""
        panels = [{"id": i, **p} for i, p in enumerate(self._panels, start=1)]
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "timezone": "browser",
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "editable": True,
            "graphTooltip": 1,
            "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "templating": {"list": [datasource_variable(), *self.variables]},
            "annotations": {"list": []},
            "panels": panels,
        }


def datasource_variable() -> dict[str, Any]:
    """The ``$datasource`` picker every panel queries through."""
    return {
        "name": "datasource",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
    }


def query_variable(
    name: str, label: str, metric: str, label_name: str, *, multi: bool = True
) -> dict[str, Any]:
    """A variable whose values are ``label_name``'s values on ``metric`` (Grafana's ``label_values``)."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": f"label_values({metric}, {label_name})",
        "query": {"query": f"label_values({metric}, {label_name})", "refId": f"{name}-values"},
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
        "current": {},
        "hide": 0,
        "regex": "",
    }
