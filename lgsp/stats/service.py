"""Counting what passed through a hub: computed from the store, plus the rejection log."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from typing import Final

from sqlalchemy import func, insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.outbox import outbox_counts
from lgsp.store import LOCAL_ORIGIN, InboxItem, InboxState, PackageKind, StoredPackage
from sim.topology import Topology

from .models import Rejection
from .schemas import AcceptedCounts, DocumentBreakdown, HubStats, RejectedCounts

log = logging.getLogger(__name__)

_INSERT_REJECTION: Final = insert(Rejection)
_MAX_MESSAGE: Final = 500
_UNKNOWN: Final = "unknown"


async def record_rejection(
    writes: async_sessionmaker[AsyncSession],
    *,
    at: datetime,
    code: str,
    http_status: int,
    channel: str,
    message: str,
    caller: str | None = None,
    sender: str | None = None,
    size: int | None = None,
) -> None:
    """Write one line of the rejection log in its own transaction (never raises)."""
    try:
        async with writes() as session:
            await session.exec(
                _INSERT_REJECTION,
                params={
                    "at": at,
                    "code": code,
                    "http_status": http_status,
                    "channel": channel,
                    "caller": caller,
                    "sender": sender,
                    "size": size,
                    "message": message[:_MAX_MESSAGE],
                },
            )
            await session.commit()
    except Exception:
        # The refusal itself must still reach the caller: a lost log line is the lesser harm.
        log.exception("could not log a rejection (%s)", code)


async def hub_stats(
    session: AsyncSession, *, hub_id: str, role: str, topology: Topology, now: datetime
) -> HubStats:
    """The counters of one hub, read in one (read-only) session."""
    accepted = AcceptedCounts()
    # Origins are few (local, and the hubs next to this one): group by the raw column.
    rows = await session.exec(
        select(StoredPackage.kind, StoredPackage.origin, func.count()).group_by(
            col(StoredPackage.kind), col(StoredPackage.origin)
        )
    )
    for kind, origin, count in rows:
        local = origin == LOCAL_ORIGIN
        if PackageKind(kind) is PackageKind.DOCUMENT:
            accepted.documents += count
        else:
            accepted.statuses += count
        if local:
            accepted.from_systems += count
        else:
            accepted.from_hubs += count
    accepted.total = accepted.documents + accepted.statuses

    documents = DocumentBreakdown()
    by_tier: Counter[str] = Counter()
    by_block: Counter[str] = Counter()
    senders = await session.exec(
        select(StoredPackage.sender, func.count())
        .where(StoredPackage.kind == PackageKind.DOCUMENT)
        .group_by(col(StoredPackage.sender))
    )
    for sender, count in senders:
        agency = topology.get(sender)
        by_tier[agency.tier.value if agency else _UNKNOWN] += count
        by_block[agency.block.value if agency else _UNKNOWN] += count
    documents.by_tier = dict(sorted(by_tier.items()))
    documents.by_block = dict(sorted(by_block.items()))
    types = await session.exec(
        select(StoredPackage.document_type, func.count())
        .where(StoredPackage.kind == PackageKind.DOCUMENT)
        .group_by(col(StoredPackage.document_type))
    )
    documents.by_type = {name or _UNKNOWN: count for name, count in types}
    codes = await session.exec(
        select(StoredPackage.status_code, func.count())
        .where(StoredPackage.kind == PackageKind.STATUS)
        .group_by(col(StoredPackage.status_code))
    )
    statuses_by_code = {code or _UNKNOWN: count for code, count in codes}

    inbox = dict.fromkeys((state.value for state in InboxState), 0)
    for state, count in await session.exec(
        select(InboxItem.state, func.count()).group_by(col(InboxItem.state))
    ):
        inbox[InboxState(state).value] = count

    outbox = {state.value: count for state, count in (await outbox_counts(session)).items()}

    rejected = RejectedCounts()
    for code, count in await session.exec(
        select(Rejection.code, func.count()).group_by(col(Rejection.code))
    ):
        rejected.by_reason[code] = count
        rejected.total += count
    rejected.by_reason = dict(sorted(rejected.by_reason.items()))

    return HubStats(
        hub_id=hub_id,
        role=role,
        at=now,
        accepted=accepted,
        forwarded=outbox.get("sent", 0),
        delivered=inbox[InboxState.DONE.value],
        delivery_failed=inbox[InboxState.FAILED.value],
        rejected=rejected,
        outbox=outbox,
        inbox=inbox,
        documents=documents,
        statuses_by_code=statuses_by_code,
    )
