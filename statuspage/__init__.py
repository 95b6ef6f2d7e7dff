"""The public status page: a banner state machine fed by alerts, incidents posted by ops, and the
FastAPI app that shows both to payers in their language.

The core (:class:`Banner`, :class:`BannerStore`, :class:`Incidents`) imports no web library, so
the dataflow can feed the banner without loading FastAPI; :func:`create_app` is imported on first
use for that reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from statuspage.banner import ALL_CHANNELS, REASONS, Banner, BannerState, Override, Transition
from statuspage.incidents import STATES, Incident, IncidentError, Incidents, IncidentUpdate
from statuspage.store import BannerStore

if TYPE_CHECKING:
    from statuspage.app import create_app

__all__ = [
    "ALL_CHANNELS",
    "REASONS",
    "STATES",
    "Banner",
    "BannerState",
    "BannerStore",
    "Incident",
    "IncidentError",
    "IncidentUpdate",
    "Incidents",
    "Override",
    "Transition",
    "create_app",
]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from statuspage.app import create_app

        return create_app
    raise AttributeError(f"module 'statuspage' has no attribute {name!r}")
