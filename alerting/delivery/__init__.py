"""Delivery edge: Apprise notifiers, the chat robot plugins, pacing, and the dispatcher draining the outbox.

This package imports Apprise; the core (:mod:`alerting.notifications`, :mod:`alerting.outbox`,
:mod:`alerting.routing`, :mod:`alerting.render`, :mod:`alerting.i18n`) does not.
"""

from alerting.delivery.apprise_notifier import AppriseNotifier, classify, mask_url
from alerting.delivery.dispatcher import OUTCOMES, DeliveryOutcome, Dispatcher, Outcome, build_notifiers
from alerting.delivery.pacing import DEFAULT_RATE_LIMIT, DigestNotifier, Pacer, Throttled
from alerting.delivery.robot_protocol import DEFAULT_ENDPOINTS, read_reply
from alerting.delivery.robots import ROBOTS

__all__ = [
    "DEFAULT_ENDPOINTS",
    "DEFAULT_RATE_LIMIT",
    "OUTCOMES",
    "ROBOTS",
    "AppriseNotifier",
    "DeliveryOutcome",
    "DigestNotifier",
    "Dispatcher",
    "Outcome",
    "Pacer",
    "Throttled",
    "build_notifiers",
    "classify",
    "mask_url",
    "read_reply",
]
