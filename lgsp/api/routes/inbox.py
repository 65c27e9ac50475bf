"""``/api/v1/inbox``: what waits for the caller's agencies, and confirming receipt."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from lgsp.api.deps import CallerSystem, ClockDep, HubDep, SessionDep
from lgsp.delivery import AckIn, AckOut, InboxPage, acknowledge, list_waiting
from lgsp.store import PackageKind

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox"])


@router.get("", response_model=InboxPage)
async def list_inbox(
    system: CallerSystem,
    session: SessionDep,
    organ_id: Annotated[str | None, Query(description="one of the caller's agencies")] = None,
    kind: PackageKind | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> InboxPage:
    """Packages waiting (pending or fetched, not confirmed), oldest first."""
    items = await list_waiting(session, system=system, organ_id=organ_id, kind=kind, limit=limit)
    return InboxPage(items=items)


@router.post("/{doc_id}/ack", response_model=AckOut)
async def ack(
    doc_id: str, payload: AckIn, system: CallerSystem, hub: HubDep, clock: ClockDep
) -> AckOut:
    """Confirm (done) or report failure of a package for one recipient; it leaves the inbox."""
    return await acknowledge(
        hub.writes,
        hub_id=hub.hub_id,
        system=system,
        package_id=doc_id,
        organ_id=payload.organ_id,
        state=payload.state,
        reason=payload.reason,
        now=clock.now(),
        events=hub.events,
    )
