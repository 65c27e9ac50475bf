"""Delivery to local DMS systems: list what waits, hand out the exact bytes, take acks.

These functions serve the native API and any other front (the SDK-compatible one) alike:
they take the authenticated :class:`~lgsp.auth.System` and enforce what it may see.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.auth import System
from lgsp.events import EventBus, EventType
from lgsp.store import (
    InboxItem,
    InboxState,
    PackageKind,
    StoredPackage,
    confirm,
    get_package,
    inbox_item,
    list_inbox,
    mark_fetched,
)

from .errors import InboxError
from .schemas import AckOut, AckState, InboxEntryOut


def _not_hosted(system: System, organ_id: str) -> InboxError:
    return InboxError(
        "organ_not_hosted",
        f"system {system.system_id!r} does not host agency {organ_id!r}",
        403,
    )


async def list_waiting(
    session: AsyncSession,
    *,
    system: System,
    organ_id: str | None = None,
    kind: PackageKind | None = None,
    limit: int = 100,
) -> list[InboxEntryOut]:
    """What waits (pending or fetched, not confirmed) for the system's agencies, oldest first."""
    if organ_id is not None and not system.hosts(organ_id):
        raise _not_hosted(system, organ_id)
    recipients = [organ_id] if organ_id is not None else sorted(system.agencies)
    entries = await list_inbox(session, recipients=recipients, kind=kind, limit=limit)
    return [
        InboxEntryOut(
            doc_id=entry.package.id,
            kind=entry.package.kind,
            sender=entry.package.sender,
            recipient=entry.item.recipient,
            document_id=entry.package.document_id,
            subject=entry.package.subject,
            status_code=entry.package.status_code,
            response_for=entry.package.response_for,
            received_at=entry.package.received_at,
            state=entry.item.state.value,
        )
        for entry in entries
    ]


async def fetch_package(
    writes: async_sessionmaker[AsyncSession],
    *,
    hub_id: str,
    system: System,
    package_id: str,
    now: datetime,
) -> StoredPackage:
    """The stored package, for a system hosting its sender or a recipient.

    The caller's pending inbox items for it become ``fetched`` (a "delivered" hop).
    """
    async with writes() as session:
        recipients = list(
            await session.exec(
                select(InboxItem.recipient, InboxItem.state).where(
                    InboxItem.package_id == package_id
                )
            )
        )
        mine = [(r, s) for r, s in recipients if system.hosts(r)]
        package = await get_package(session, package_id)
        if package is None:
            raise InboxError("package_not_found", f"no package {package_id!r} at {hub_id}", 404)
        if not mine and not system.hosts(package.sender):
            raise InboxError(
                "not_allowed",
                f"system {system.system_id!r} hosts neither the sender nor a recipient of "
                f"package {package_id!r}",
                403,
            )
        pending = [recipient for recipient, state in mine if state == InboxState.PENDING]
        for recipient in pending:
            await mark_fetched(
                session, hub_id=hub_id, package_id=package_id, recipient=recipient, now=now
            )
        if pending:
            await session.commit()
    return package


async def acknowledge(
    writes: async_sessionmaker[AsyncSession],
    *,
    hub_id: str,
    system: System,
    package_id: str,
    organ_id: str,
    state: AckState,
    reason: str | None,
    now: datetime,
    events: EventBus,
) -> AckOut:
    """Close ``organ_id``'s inbox item for the package as done or failed (idempotent)."""
    if not system.hosts(organ_id):
        raise _not_hosted(system, organ_id)
    async with writes() as session:
        item = await inbox_item(session, package_id=package_id, recipient=organ_id)
        if item is None:
            raise InboxError(
                "inbox_item_not_found",
                f"package {package_id!r} is not in the inbox of {organ_id!r} at {hub_id}",
                404,
            )
        if item.state in (InboxState.DONE, InboxState.FAILED):
            # Already closed: acks are idempotent, the first one stands.
            return _ack_out(package_id, item)
        closed = await confirm(
            session,
            hub_id=hub_id,
            package_id=package_id,
            recipient=organ_id,
            state=InboxState(state.value),
            now=now,
        )
        await session.commit()
    item = closed or item
    events.publish(
        EventType.DELIVERED,
        doc_id=package_id,
        recipient=organ_id,
        state=item.state.value,
        reason=reason,
    )
    return _ack_out(package_id, item)


def _ack_out(package_id: str, item: InboxItem) -> AckOut:
    return AckOut(
        doc_id=package_id,
        organ_id=item.recipient,
        state=item.state.value,
        confirmed_at=item.confirmed_at,
    )
