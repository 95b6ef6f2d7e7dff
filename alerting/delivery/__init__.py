"""Delivery edge: Apprise notifiers and the dispatcher that drains the outbox through them.

This package imports Apprise; the core (:mod:`alerting.notifications`, :mod:`alerting.outbox`,
:mod:`alerting.routing`, :mod:`alerting.render`) does not.
"""

from alerting.delivery.apprise_notifier import AppriseNotifier, classify, mask_url
from alerting.delivery.dispatcher import OUTCOMES, DeliveryOutcome, Dispatcher, Outcome, build_notifiers

__all__ = [
    "OUTCOMES",
    "AppriseNotifier",
    "DeliveryOutcome",
    "Dispatcher",
    "Outcome",
    "build_notifiers",
    "classify",
    "mask_url",
]
