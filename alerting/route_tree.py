"""The routing tree, walked as Alertmanager's ``dispatch/route.go`` walks it.

A node matches an alert when its filter does (:meth:`alerting.routing.Route.matches`). Its children
are tried in order; the first that matches takes the alert, unless it says ``continue = true``,
and then the later siblings are tried too. A node that matches but none of whose children does
takes the alert itself. A node without URLs sends to its parent's; one that has none above it
either (a root that only sorts) sends nowhere, which is ``no_route``.

A node that does not say how it groups and repeats takes its parent's way
(:class:`~alerting.routing.Timing`), as in Alertmanager.

The flat ``alerting.routes`` list is this tree with a root that matches everything and sends
nowhere, and every entry a ``continue = true`` child: each alert goes to every route it matches,
as it always did.

>>> from kernel.alerts import Alert, Impact, Scope
>>> from datetime import datetime, UTC
>>> t = datetime(2024, 5, 1, tzinfo=UTC)
>>> a = Alert("volume_drop", Scope("alipay", "m42"), "firing", "critical", t, t, 1, 2, Impact(1, 2), "x", "y")
>>> vip = RouteNode(Route("vip", ("t1",), merchants=frozenset({"m42"})))
>>> rest = RouteNode(Route("rest", ("t2",)))
>>> [r.name for r in RouteTree(RouteNode(None, (vip, rest))).match(a, 0.0)]
['vip']
>>> vip_and_on = RouteNode(vip.route, continue_=True)
>>> [r.name for r in RouteTree(RouteNode(None, (vip_and_on, rest))).match(a, 0.0)]
['vip', 'rest']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alerting.intervals import intervals_from_settings
from alerting.routing import TOP, Route, Timing, route_from, routes_from_settings
from kernel.alerts import Alert
from kernel.errors import ConfigError
from kernel.settings import AlertingSettings, RouteNodeSettings

__all__ = ["RouteNode", "RouteTree", "tree_from_settings"]


@dataclass(frozen=True, slots=True)
class RouteNode:
    """One node: its route (None for a root that matches everything and sends nowhere) and children."""

    route: Route | None
    children: tuple[RouteNode, ...] = ()
    continue_: bool = False

    def match(self, alert: Alert, now: float) -> list[Route]:
        """The routes that take ``alert`` under this node, or [] when this node does not match."""
        if self.route is not None and not self.route.matches(alert, now):
            return []
        taken: list[Route] = []
        for child in self.children:
            found = child.match(alert, now)
            taken += found
            if found and not child.continue_:
                break
        if taken:
            return taken
        return [self.route] if self.route is not None and self.route.targets else []

    def walk(self) -> list[Route]:
        """Every route under this node, in order (a node's before its children's)."""
        own = [self.route] if self.route is not None and self.route.targets else []
        return own + [route for child in self.children for route in child.walk()]


@dataclass(frozen=True, slots=True)
class RouteTree:
    """What :class:`~alerting.notifications.AlertFanout` asks which routes an alert change goes to."""

    root: RouteNode

    @classmethod
    def flat(cls, routes: Sequence[Route]) -> RouteTree:
        """The flat table: every route that matches takes the alert."""
        return cls(RouteNode(None, tuple(RouteNode(route, continue_=True) for route in routes)))

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(self.root.walk())

    def match(self, alert: Alert, now: float) -> list[Route]:
        """Every route the alert goes to, in tree order, each once; [] means ``no_route``."""
        out: list[Route] = []
        for route in self.root.match(alert, now):
            if route not in out:
                out.append(route)
        return out


def tree_from_settings(settings: AlertingSettings) -> RouteTree:
    """The tree of ``alerting.route``, or the flat ``alerting.routes`` as a tree.

    Refuses, naming the node's place (``alerting.route.routes[1]``) and the fix: a duplicate
    name, an unknown kind, and a node with nothing to send to that no child would take over from.
    """
    if settings.route is None:
        return RouteTree.flat(routes_from_settings(settings))
    intervals = intervals_from_settings(settings.time_intervals)
    seen: set[str] = set()

    def build(node: RouteNodeSettings, place: str, urls: Sequence, root: bool, above: Timing) -> RouteNode:
        urls = node.urls or urls
        timing = above.under(node)
        where = f"alerting.{place}" + (f" (name {node.name!r})" if node.name else "")
        if not urls and not node.routes and not root:
            raise ConfigError(
                f"{where}: no urls here or on a route above it, so it would send nowhere;"
                " give it urls or give them to a route above"
            )
        children = tuple(
            build(child, f"{place}.routes[{i}]", urls, False, timing) for i, child in enumerate(node.routes)
        )
        if root and not node.urls and not node.name and not _filters(node):
            return RouteNode(None, children)
        route = route_from(node, node.name or place, urls, where, seen, intervals, timing)
        return RouteNode(route, children, node.continue_)

    return RouteTree(build(settings.route, "route", [], True, TOP))


def _filters(node: RouteNodeSettings) -> bool:
    """True when the node narrows what it matches (a root normally matches everything)."""
    return bool(node.kinds or node.channels or node.merchants or node.during or node.min_severity != "info")
