"""Group commit: packages accepted at the same moment share one transaction.

Every accepted package must be durable before its receipt goes out, and a commit is the
most expensive statement of the store (SQLite writes the WAL pages of every index touched;
PostgreSQL makes a round trip and a WAL flush). Under load, requests arrive while a commit
is in progress: they queue here and the next transaction stores all of them, then commits
once. A lone request is written at once, in a transaction of its own, as before.

A job that fails makes its whole transaction roll back; the jobs of that batch are then run
again one transaction each, so each caller gets its own outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, Generic, TypeVar

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[AsyncSession], Awaitable[T]]
"""Writes in the given session and returns its result; must not commit."""

_DEFAULT_BATCH: Final = 64


class _Pending(Generic[T]):
    __slots__ = ("future", "job")

    def __init__(self, job: Job[T], future: asyncio.Future[T]) -> None:
        self.job = job
        self.future = future


class GroupCommit:
    """Runs write jobs in shared transactions; see the module docstring."""

    def __init__(
        self, writes: async_sessionmaker[AsyncSession], *, max_batch: int = _DEFAULT_BATCH
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._writes = writes
        self._max_batch = max_batch
        self._queue: list[_Pending[Any]] = []
        self._writer: asyncio.Task[None] | None = None

    async def run(self, job: Job[T]) -> T:
        """Run ``job`` in the next transaction and return its result once committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(job, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="intake-group-commit")
        # A caller that goes away does not cancel the write: others share its transaction,
        # and a package stored without its receipt is answered as a duplicate next time.
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        batch: list[_Pending[Any]] = []
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._write(batch)
        except BaseException as exc:
            # Cancelled (the hub is stopping) or a bug: nobody may wait forever.
            failure = exc if isinstance(exc, Exception) else RuntimeError("intake stopped")
            for pending in [*batch, *self._queue]:
                if not pending.future.done():
                    pending.future.set_exception(failure)
            self._queue.clear()
            raise

    async def _write(self, batch: list[_Pending[Any]]) -> None:
        try:
            results = await self._together(batch)
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0].future.done():
                    batch[0].future.set_exception(exc)
                return
            log.warning(
                "a grouped write of %d packages failed; writing them one by one", len(batch)
            )
            for pending in batch:
                await self._alone(pending)
            return
        for pending, result in zip(batch, results, strict=True):
            if not pending.future.done():
                pending.future.set_result(result)

    async def _together(self, batch: list[_Pending[Any]]) -> list[Any]:
        async with self._writes() as session:
            results = [await pending.job(session) for pending in batch]
            await session.commit()
        return results

    async def _alone(self, pending: _Pending[Any]) -> None:
        try:
            async with self._writes() as session:
                result = await pending.job(session)
                await session.commit()
        except Exception as exc:
            if not pending.future.done():
                pending.future.set_exception(exc)
            return
        if not pending.future.done():
            pending.future.set_result(result)
