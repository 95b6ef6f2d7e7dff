"""Alerts and their delivery: the alert model, routing, rendering, dedup and the durable outbox.

The delivery edge (Apprise notifiers, the dispatcher thread) lives in :mod:`alerting.delivery`
and is not imported here, so importing :mod:`alerting` pulls in no delivery library.
"""

from alerting.notifications import (
    REASONS,
    SEND_REASONS,
    AlertFanout,
    Decision,
    DeliveryResult,
    Notification,
    Notifier,
    Reason,
    decide,
)
from alerting.outbox import NotifiedState, Outbox, OutboxRow, backoff_delay
from alerting.render import render
from alerting.routing import Route, match_routes, routes_from_settings, target_key
from alerting.templates import RenderedMessage
from kernel.alerts import (
    CUSTOMER_FACING_KINDS,
    KINDS,
    Alert,
    Impact,
    Scope,
    Severity,
    Status,
    fingerprint_of,
)

__all__ = [
    "CUSTOMER_FACING_KINDS",
    "KINDS",
    "REASONS",
    "SEND_REASONS",
    "Alert",
    "AlertFanout",
    "Decision",
    "DeliveryResult",
    "Impact",
    "Notification",
    "NotifiedState",
    "Notifier",
    "Outbox",
    "OutboxRow",
    "Reason",
    "RenderedMessage",
    "Route",
    "Scope",
    "Severity",
    "Status",
    "backoff_delay",
    "decide",
    "fingerprint_of",
    "match_routes",
    "render",
    "routes_from_settings",
    "target_key",
]
