"""A package's story at this hub: its hops, where each recipient stands, statuses back."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.intake import StatusLink
from lgsp.store import (
    InboxItem,
    OutboxItem,
    PackageKind,
    PackageMeta,
    StoredPackage,
    dedupe_key,
    hops_of,
)

from .schemas import HopOut, RecipientOut, StatusOut, Trace

# Listing columns: a trace never needs the package bytes.
_META_COLUMNS = tuple(getattr(StoredPackage, name) for name in PackageMeta.model_fields)


async def trace_package(session: AsyncSession, package_id: str) -> Trace | None:
    """The trace of the package stored here under doc id ``package_id``, if any."""
    return await _trace(session, col(StoredPackage.id) == package_id)


async def trace_document(session: AsyncSession, *, sender: str, document_id: str) -> Trace | None:
    """The trace of the document (``sender``, ``document_id``) if it passed this hub."""
    key = dedupe_key(kind=PackageKind.DOCUMENT, sender=sender, document_id=document_id)
    return await _trace(session, col(StoredPackage.dedupe_key) == key)


async def _trace(session: AsyncSession, condition: ColumnElement[bool]) -> Trace | None:
    row = (await session.exec(select(*_META_COLUMNS).where(condition))).first()
    if row is None:
        return None
    meta = PackageMeta.model_construct(**dict(zip(PackageMeta.model_fields, row, strict=True)))
    hops = [
        HopOut(hub_id=hop.hub_id, event=hop.event.value, at=hop.at, detail=hop.detail)
        for hop in await hops_of(session, meta.id)
    ]
    recipients = [
        RecipientOut(organ_id=recipient, state=str(state))
        for recipient, state in await session.exec(
            select(InboxItem.recipient, InboxItem.state)
            .where(InboxItem.package_id == meta.id)
            .order_by(col(InboxItem.created_at), col(InboxItem.id))
        )
    ]
    for destination, group, state in await session.exec(
        select(OutboxItem.destination, OutboxItem.recipients, OutboxItem.state)
        .where(OutboxItem.package_id == meta.id)
        .order_by(col(OutboxItem.created_at), col(OutboxItem.id))
    ):
        recipients.extend(
            RecipientOut(organ_id=recipient, state=str(state), via=destination)
            for recipient in group
        )
    statuses: list[StatusOut] = []
    if meta.kind is PackageKind.DOCUMENT and meta.document_id:
        statuses = [
            StatusOut(
                code=link.status_code, from_=link.status_from, at=link.at, doc_id=link.package_id
            )
            for link in await session.exec(
                select(StatusLink)
                .where(
                    StatusLink.document_sender == meta.sender,
                    StatusLink.document_id == meta.document_id,
                )
                .order_by(col(StatusLink.at), col(StatusLink.package_id))
            )
        ]
    return Trace(
        doc_id=meta.id,
        kind=meta.kind,
        sender=meta.sender,
        document_id=meta.document_id,
        received_at=meta.received_at,
        origin=meta.origin,
        hops=hops,
        recipients=recipients,
        statuses=statuses,
    )
