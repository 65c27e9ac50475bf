"""``GET /api/v1/stats``: the hub's counters."""

from __future__ import annotations

from fastapi import APIRouter

from lgsp.api.deps import ClockDep, HubDep, SessionDep
from lgsp.stats import HubStats, hub_stats

router = APIRouter(prefix="/api/v1", tags=["stats"])


@router.get("/stats", response_model=HubStats)
async def stats(session: SessionDep, hub: HubDep, clock: ClockDep) -> HubStats:
    """Accepted, forwarded, delivered, rejected by reason, outbox and inbox by state."""
    return await hub_stats(
        session,
        hub_id=hub.hub_id,
        role=hub.role,
        topology=hub.directory.topology,
        now=clock.now(),
    )
