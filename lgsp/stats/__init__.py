"""What passed through a hub: counters from the store, the rejection log, package traces."""

from __future__ import annotations

from .models import Rejection
from .schemas import HubStats, Trace
from .service import hub_stats, record_rejection
from .trace import trace_document, trace_package

__all__ = [
    "HubStats",
    "Rejection",
    "Trace",
    "hub_stats",
    "record_rejection",
    "trace_document",
    "trace_package",
]
