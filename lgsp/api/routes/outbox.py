"""``/api/v1/outbox``: forwarding rows, and requeueing dead ones (operator)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from lgsp.api.deps import ClockDep, HubDep, SessionDep
from lgsp.api.errors import ApiError
from lgsp.outbox import list_outbox, requeue_dead
from lgsp.store import OutboxItem, OutboxState

router = APIRouter(prefix="/api/v1/outbox", tags=["outbox"])


class OutboxRowOut(BaseModel):
    """A forwarding row."""

    id: str
    doc_id: str
    destination: str
    recipients: list[str]
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class OutboxPage(BaseModel):
    """``GET /api/v1/outbox``."""

    items: list[OutboxRowOut]


def _row(item: OutboxItem) -> OutboxRowOut:
    return OutboxRowOut(
        id=item.id,
        doc_id=item.package_id,
        destination=item.destination,
        recipients=list(item.recipients),
        state=item.state.value,
        attempts=item.attempts,
        next_attempt_at=item.next_attempt_at,
        last_error=item.last_error,
        created_at=item.created_at,
        sent_at=item.sent_at,
    )


@router.get("", response_model=OutboxPage)
async def outbox_rows(
    session: SessionDep,
    state: OutboxState | None = None,
    destination: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> OutboxPage:
    """Forwarding rows, oldest first, optionally of one state or destination."""
    items = await list_outbox(session, state=state, destination=destination, limit=limit)
    return OutboxPage(items=[_row(item) for item in items])


@router.post("/{row_id}/retry", response_model=OutboxRowOut)
async def retry_row(row_id: str, hub: HubDep, clock: ClockDep) -> OutboxRowOut:
    """Give a dead row a fresh set of attempts, due now."""
    if not await requeue_dead(hub.writes, row_id, now=clock.now()):
        async with hub.db.session(readonly=True) as session:
            item = await session.get(OutboxItem, row_id)
        if item is None:
            raise ApiError("outbox_row_not_found", f"no outbox row {row_id!r}", 404)
        raise ApiError(
            "outbox_row_not_dead",
            f"outbox row {row_id!r} is {item.state.value}; only dead rows are requeued",
            409,
        )
    hub.worker.notify()
    async with hub.db.session(readonly=True) as session:
        item = await session.get(OutboxItem, row_id)
    if item is None:  # requeued a moment ago; only a manual delete gets here
        raise ApiError("outbox_row_not_found", f"no outbox row {row_id!r}", 404)
    return _row(item)
