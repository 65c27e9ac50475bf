"""What passed through a hub: statistics derived from the store, the rejection log, traces.

- `hub_stats` computes every figure of ``GET /api/v1/stats`` by SQL at query time;
- the signing rates come from `Assessment` rows, written from the results of the hub's
  low-priority assessment process (`lgsp.stats.assessor`, run by `lgsp.stats.runtime`);
- ``GET /metrics`` renders the same figures for Prometheus (`lgsp.stats.metrics`).
"""

from __future__ import annotations

from .figures import OTHER, Period, StatsQuery, hub_stats, latency_of
from .models import Assessment, Rejection
from .schemas import HubStats, Trace
from .service import record_rejection
from .trace import trace_document, trace_package

__all__ = [
    "OTHER",
    "Assessment",
    "HubStats",
    "Period",
    "Rejection",
    "StatsQuery",
    "Trace",
    "hub_stats",
    "latency_of",
    "record_rejection",
    "trace_document",
    "trace_package",
]
