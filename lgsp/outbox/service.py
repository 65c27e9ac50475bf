"""The transactional outbox: enqueue in the caller's transaction, then claim, send, retry.

Functions that take a session never commit (they join the caller's transaction); those that
take a session factory are units of work: each opens a session, commits and returns plain,
loaded objects.

Claiming leases rows: a claimed row carries ``lease_owner`` and ``lease_until`` and no other
owner claims it until the lease expires, so a worker that dies mid-delivery loses nothing;
another worker retries the row once its lease runs out (at-least-once: receivers
de-duplicate). On PostgreSQL replicas claim with ``FOR UPDATE SKIP LOCKED`` and never wait
for each other; on SQLite the claim runs under the single write lock (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import func, or_, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.store import HopEvent, OutboxItem, OutboxState, record_hop, record_hops

_MAX_ERROR_CHARS: Final = 2000
# Jitter only spreads retries out; it needs no cryptographic randomness.
_DEFAULT_RNG: Final = random.Random()  # noqa: S311


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, and the attempt count that dead-letters a row.

    After the n-th failed attempt the next one waits a uniform random time in
    ``[0, min(cap, base * factor ** (n - 1))]`` seconds; the ``max_attempts``-th failure
    makes the row dead.
    """

    base: float = 0.5
    factor: float = 2.0
    cap: float = 60.0
    max_attempts: int = 8

    def __post_init__(self) -> None:
        if not (self.base > 0 and self.factor >= 1 and self.cap >= self.base):
            raise ValueError("retry policy needs base > 0, factor >= 1 and cap >= base")
        if self.max_attempts < 1:
            raise ValueError("retry policy needs max_attempts >= 1")

    def ceiling(self, attempts: int) -> float:
        """Return the longest delay, in seconds, after ``attempts`` failed attempts."""
        try:
            exponential = self.base * self.factor ** max(attempts - 1, 0)
        except OverflowError:  # long past the cap anyway
            return self.cap
        return min(self.cap, exponential)

    def backoff(self, attempts: int, rng: random.Random) -> timedelta:
        """Return the delay before the next attempt after ``attempts`` failed attempts."""
        return timedelta(seconds=rng.uniform(0.0, self.ceiling(attempts)))


async def enqueue(
    session: AsyncSession,
    *,
    package_id: str,
    destination: str,
    recipients: Sequence[str],
    now: datetime,
) -> OutboxItem:
    """Add a row forwarding ``package_id`` to hub ``destination``, due now; not committed."""
    item = OutboxItem(
        package_id=package_id,
        destination=destination,
        recipients=list(recipients),
        next_attempt_at=now,
        created_at=now,
    )
    session.add(item)
    await session.flush()
    return item


async def claim_due(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    owner: str,
    now: datetime,
    limit: int,
    lease: timedelta,
) -> list[OutboxItem]:
    """Lease up to ``limit`` due rows to ``owner`` until ``now + lease``, oldest due first."""
    async with session_factory() as session:
        items = await _claim(session, owner=owner, now=now, limit=limit, lease=lease)
        await session.commit()
    return items


async def _claim(
    session: AsyncSession, *, owner: str, now: datetime, limit: int, lease: timedelta
) -> list[OutboxItem]:
    # claim_due's work inside the caller's transaction (the worker also loads packages in it).
    if limit <= 0:
        return []
    due = (
        select(OutboxItem.id)
        .where(
            OutboxItem.state == OutboxState.PENDING,
            OutboxItem.next_attempt_at <= now,
            or_(col(OutboxItem.lease_until).is_(None), col(OutboxItem.lease_until) < now),
        )
        .order_by(col(OutboxItem.next_attempt_at))
        .limit(limit)
        # PostgreSQL: rows another replica is claiming right now are skipped, not waited
        # for. SQLite compiles no FOR UPDATE; its write lock already serialises claims.
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(OutboxItem)
        .where(col(OutboxItem.id).in_(due))
        .values(lease_owner=owner, lease_until=now + lease)
        .returning(OutboxItem)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    items = list((await session.exec(statement)).scalars())
    # RETURNING has no order of its own.
    items.sort(key=lambda item: (item.next_attempt_at, item.id))
    return items


async def mark_sent(
    session_factory: async_sessionmaker[AsyncSession],
    item_id: str,
    *,
    hub_id: str,
    now: datetime,
) -> bool:
    """Record that the next hub acknowledged the row, with a "forwarded" hop.

    Any worker's success counts, even after its lease ran out: the package did arrive.
    Returns False when the row was already sent (or does not exist).
    """
    return bool(await mark_sent_many(session_factory, [item_id], hub_id=hub_id, now=now))


async def mark_sent_many(
    session_factory: async_sessionmaker[AsyncSession],
    item_ids: Sequence[str],
    *,
    hub_id: str,
    now: datetime,
) -> list[str]:
    """Mark several rows sent in one transaction, as :func:`mark_sent`; return those changed."""
    if not item_ids:
        return []
    async with session_factory() as session:
        statement = (
            update(OutboxItem)
            .where(
                col(OutboxItem.id).in_(item_ids),
                col(OutboxItem.state).in_((OutboxState.PENDING, OutboxState.DEAD)),
            )
            .values(state=OutboxState.SENT, sent_at=now, lease_owner=None, lease_until=None)
            .returning(
                col(OutboxItem.id),
                col(OutboxItem.package_id),
                col(OutboxItem.destination),
                col(OutboxItem.attempts),
            )
            .execution_options(synchronize_session=False)
        )
        rows = (await session.exec(statement)).all()
        await record_hops(
            session,
            hub_id=hub_id,
            event=HopEvent.FORWARDED,
            now=now,
            hops=[
                (package_id, {"to": destination, "attempt": attempts + 1})
                for _, package_id, destination, attempts in rows
            ],
        )
        await session.commit()
    return [item_id for item_id, *_ in rows]


async def mark_failed(
    session_factory: async_sessionmaker[AsyncSession],
    item_id: str,
    *,
    owner: str,
    hub_id: str,
    error: str,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random | None = None,
    permanent: bool = False,
) -> OutboxItem | None:
    """Count a failed attempt by ``owner``: reschedule with backoff, or dead-letter the row.

    The row becomes dead (with a "dead" hop) on the ``policy.max_attempts``-th failure or
    at once when ``permanent``. Returns the updated row, or None when ``owner`` no longer
    holds it (its lease expired and another worker took it, or it was already settled).
    """
    async with session_factory() as session:
        item = await session.get(OutboxItem, item_id, with_for_update=True)
        if item is None or item.state != OutboxState.PENDING or item.lease_owner != owner:
            return None
        item.attempts += 1
        item.last_error = error[:_MAX_ERROR_CHARS]
        item.lease_owner = None
        item.lease_until = None
        if permanent or item.attempts >= policy.max_attempts:
            item.state = OutboxState.DEAD
            await record_hop(
                session,
                package_id=item.package_id,
                hub_id=hub_id,
                event=HopEvent.DEAD,
                now=now,
                detail={
                    "to": item.destination,
                    "attempts": item.attempts,
                    "error": item.last_error,
                },
            )
        else:
            item.next_attempt_at = now + policy.backoff(item.attempts, rng or _DEFAULT_RNG)
        await session.commit()
    return item


async def requeue_dead(
    session_factory: async_sessionmaker[AsyncSession], item_id: str, *, now: datetime
) -> bool:
    """Give a dead row a fresh set of attempts, due now; False if it is not dead."""
    async with session_factory() as session:
        statement = (
            update(OutboxItem)
            .where(col(OutboxItem.id) == item_id, col(OutboxItem.state) == OutboxState.DEAD)
            .values(
                state=OutboxState.PENDING,
                attempts=0,
                next_attempt_at=now,
                lease_owner=None,
                lease_until=None,
            )
            .execution_options(synchronize_session=False)
        )
        result = await session.exec(statement)
        await session.commit()
    return result.rowcount == 1


async def outbox_counts(session: AsyncSession) -> dict[OutboxState, int]:
    """Return how many rows are in each state (every state present, zeros included)."""
    rows = await session.exec(
        select(OutboxItem.state, func.count()).group_by(col(OutboxItem.state))
    )
    counts = dict.fromkeys(OutboxState, 0)
    counts.update({OutboxState(state): count for state, count in rows})
    return counts


async def list_outbox(
    session: AsyncSession,
    *,
    state: OutboxState | None = None,
    destination: str | None = None,
    limit: int = 100,
) -> list[OutboxItem]:
    """Return up to ``limit`` rows, oldest first, optionally of one state or destination."""
    statement = select(OutboxItem).order_by(col(OutboxItem.created_at), col(OutboxItem.id))
    if state is not None:
        statement = statement.where(OutboxItem.state == state)
    if destination is not None:
        statement = statement.where(OutboxItem.destination == destination)
    return list(await session.exec(statement.limit(limit)))
