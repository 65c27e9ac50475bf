"""``GET /api/v1/stats`` (JSON, with filters) and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from lgsp.api.deps import ClockDep, HubDep, SessionDep
from lgsp.api.errors import ApiError
from lgsp.stats import HubStats, Period, StatsQuery, hub_stats
from lgsp.stats.metrics import CONTENT_TYPE, metrics_of
from lgsp.stats.runtime import runtime_of
from simtime import rate_of

router = APIRouter(tags=["stats"])


def _query(
    period: Period | None,
    start: datetime | None,
    end: datetime | None,
    tier: str | None,
    block: str | None,
    agency: str | None,
    agencies: bool,
) -> StatsQuery:
    for name, moment in (("from", start), ("to", end)):
        if moment is not None and moment.tzinfo is None:
            raise ApiError(
                "bad_time", f"{name}={moment.isoformat()} needs a UTC offset (e.g. +07:00 or Z)"
            )
    if start is not None and end is not None and start >= end:
        raise ApiError("bad_range", "from must be earlier than to")
    return StatsQuery(
        period=period,
        start=start,
        end=end,
        tier=tier or None,
        block=block or None,
        agency=agency or None,
        agencies=agencies,
    )


async def _stats(
    request: Request, session: SessionDep, hub: HubDep, clock: ClockDep, query: StatsQuery
) -> HubStats:
    runtime = runtime_of(request.app.state)
    return await hub_stats(
        session,
        hub_id=hub.hub_id,
        role=hub.role,
        topology=hub.directory.topology,
        now=clock.now(),
        query=query,
        enabled=runtime.enabled if runtime is not None else hub.settings.stats,
        clock_rate=rate_of(clock),
    )


@router.get("/api/v1/stats", response_model=HubStats, response_model_exclude_none=False)
async def stats(
    request: Request,
    session: SessionDep,
    hub: HubDep,
    clock: ClockDep,
    period: Annotated[
        Period | None, Query(description="add by_period: hour, day, month or year (Vietnam time)")
    ] = None,
    start: Annotated[
        datetime | None, Query(alias="from", description="stored at or after (ISO 8601)")
    ] = None,
    end: Annotated[
        datetime | None, Query(alias="to", description="stored before (ISO 8601)")
    ] = None,
    tier: Annotated[
        str | None, Query(description="central, province, district, commune, other")
    ] = None,
    block: Annotated[
        str | None, Query(description="party, government, mass, enterprise, other")
    ] = None,
    agency: Annotated[str | None, Query(description="one OrganId (sender or recipient)")] = None,
    agencies: Annotated[bool, Query(description="add by_agency (incoming, outgoing)")] = False,
) -> HubStats:
    """Accepted, sent, received, rejected, signing rates, completion, throughput, latency."""
    query = _query(period, start, end, tier, block, agency, agencies)
    return await _stats(request, session, hub, clock, query)


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
async def metrics(request: Request, session: SessionDep, hub: HubDep, clock: ClockDep) -> Response:
    """The same statistics in the Prometheus text format."""
    figures = await _stats(request, session, hub, clock, StatsQuery())
    return Response(metrics_of(request.app.state).render(figures), media_type=CONTENT_TYPE)
