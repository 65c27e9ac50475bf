"""The delivery loop: claim due outbox rows, deliver them concurrently, settle each one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.store import OutboxItem, OutboxState, StoredPackage, get_packages
from simtime import Clock

from .errors import PermanentDeliveryError
from .service import RetryPolicy, _claim, mark_failed, mark_sent_many

log = logging.getLogger(__name__)

Deliver = Callable[[OutboxItem, StoredPackage], Awaitable[None]]
"""Sends one row's package to ``item.destination``; returns once acknowledged, else raises."""


class OutboxWorker:
    """One replica's delivery loop over a hub's outbox.

    Claims at most as many rows as it has free delivery slots (``concurrency``), so it
    never holds a lease on a row it has not started. Successes are marked sent by the loop
    itself, all that finished since its last turn in one transaction (a group commit), so
    the worker's own writes never compete with each other for SQLite's lock.

    ``lease`` is measured on ``clock`` and must outlast a delivery (with a scaled clock, in
    simulated time): a row whose lease runs out is claimed again by any worker, which is
    how a crashed replica's rows get delivered, and also how a too-slow delivery gets sent
    twice.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        owner: str,
        hub_id: str,
        deliver: Deliver,
        clock: Clock,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        batch: int = 50,
        poll_interval: float = 1.0,
        concurrency: int = 8,
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        if batch < 1 or concurrency < 1 or poll_interval <= 0 or lease <= timedelta(0):
            raise ValueError("batch and concurrency >= 1, poll_interval and lease > 0")
        self.owner = owner
        self.hub_id = hub_id
        self._session_factory = session_factory
        self._deliver = deliver
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._rng = rng
        self._batch = batch
        self._poll_interval = poll_interval
        self._concurrency = concurrency
        self._lease = lease
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._delivered: list[str] = []  # ids delivered, not yet marked sent
        self._task: asyncio.Task[None] | None = None
        self._next_retry: datetime | None = None

    def notify(self) -> None:
        """Wake the loop now (call after enqueueing) instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        """Run the loop in a background task until :meth:`stop`."""
        if self._task is not None and not self._task.done():
            raise RuntimeError(f"outbox worker {self.owner} is already running")
        self._stopping.clear()
        self._task = asyncio.create_task(self.run(), name=f"outbox-{self.owner}")

    async def stop(self) -> None:
        """Stop claiming, then wait for the deliveries in flight to settle."""
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Claim and deliver until ``stop`` is set or :meth:`stop` is called."""
        relay = asyncio.create_task(self._relay_stop(stop)) if stop is not None else None
        try:
            while not self._stopping.is_set():
                await self._step()
        finally:
            if relay is not None:
                relay.cancel()
            if self._inflight:
                await asyncio.gather(*self._inflight, return_exceptions=True)
            await self._mark_delivered()

    async def _step(self) -> None:
        # Cleared before looking, so a wake-up that comes while we look is not lost.
        self._wake.clear()
        await self._mark_delivered()
        free = self._concurrency - len(self._inflight)
        # While deliveries are in flight, claim once half the slots are free rather than
        # paying a claim transaction for every delivery that finishes.
        enough = min(self._batch, max(1, self._concurrency // 2)) if self._inflight else 1
        limit = min(self._batch, free) if free >= enough else 0
        if limit > 0 and await self._claim_and_start(limit) == limit:
            return  # claim again at once: slots permitting, more rows are due
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=self._idle_timeout())

    def _idle_timeout(self) -> float:
        timeout = self._poll_interval
        if self._next_retry is not None:
            until_retry = (self._next_retry - self._clock.now()).total_seconds()
            if until_retry <= 0:
                self._next_retry = None
            timeout = max(0.0, min(timeout, until_retry))
        return timeout

    async def _claim_and_start(self, limit: int) -> int:
        try:
            async with self._session_factory() as session:
                items = await _claim(
                    session,
                    owner=self.owner,
                    now=self._clock.now(),
                    limit=limit,
                    lease=self._lease,
                )
                packages = await get_packages(session, [item.package_id for item in items])
                await session.commit()
        except Exception:
            # A database outage must not end the loop; the next poll tries again.
            log.exception("outbox %s: claiming due rows failed", self.owner)
            return 0
        for item in items:
            task = asyncio.create_task(self._attempt(item, packages.get(item.package_id)))
            self._inflight.add(task)
            task.add_done_callback(self._attempt_done)
        return len(items)

    def _attempt_done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()  # a slot is free, and perhaps a success waits to be marked

    async def _mark_delivered(self) -> None:
        if not self._delivered:
            return
        delivered, self._delivered = self._delivered, []
        try:
            await mark_sent_many(
                self._session_factory, delivered, hub_id=self.hub_id, now=self._clock.now()
            )
        except Exception:
            log.exception(
                "outbox %s: %d delivered rows were not marked sent; they will be sent again "
                "after their lease",
                self.owner,
                len(delivered),
            )

    async def _attempt(self, item: OutboxItem, package: StoredPackage | None) -> None:
        try:
            if package is None:  # the foreign key makes this impossible short of manual edits
                raise PermanentDeliveryError(f"package {item.package_id} is not stored")
            await self._deliver(item, package)
        except Exception as exc:
            await self._record_failure(item, exc)
        else:
            self._delivered.append(item.id)

    async def _record_failure(self, item: OutboxItem, exc: Exception) -> None:
        try:
            settled = await mark_failed(
                self._session_factory,
                item.id,
                owner=self.owner,
                hub_id=self.hub_id,
                error=str(exc) or type(exc).__name__,
                now=self._clock.now(),
                policy=self._policy,
                rng=self._rng,
                permanent=isinstance(exc, PermanentDeliveryError),
            )
        except Exception:
            log.exception("outbox %s: could not record the failure of row %s", self.owner, item.id)
            return
        if settled is None or settled.state != OutboxState.PENDING:
            return
        if self._next_retry is None or settled.next_attempt_at < self._next_retry:
            self._next_retry = settled.next_attempt_at

    async def _relay_stop(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._stopping.set()
        self._wake.set()
