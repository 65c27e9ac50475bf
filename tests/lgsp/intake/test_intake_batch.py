"""Group commit: concurrent writes share transactions, and a failing one fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hubkit import MovableClock
from sqlalchemy import func, text
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.app import write_sessions
from lgsp.intake import GroupCommit
from lgsp.store import Database, PackageKind, StoredPackage, store_package


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database.connect(f"sqlite:///{tmp_path / 'hub.db'}")
    await database.create_schema()
    yield database
    await database.dispose()


def storing(document_id: str, clock: MovableClock, seen: list[int]):  # type: ignore[no-untyped-def]
    async def job(session: AsyncSession) -> str:
        seen.append(id(session))
        package, _ = await store_package(
            session,
            hub_id="lgsp-h56",
            kind=PackageKind.DOCUMENT,
            sender="000.00.00.H56",
            body=document_id.encode(),
            now=clock.now(),
            document_id=document_id,
        )
        return package.id

    return job


async def count(db: Database) -> int:
    async with db.session(readonly=True) as session:
        return (await session.exec(select(func.count()).select_from(StoredPackage))).one()


async def test_concurrent_jobs_share_transactions(db: Database, hub_clock: MovableClock) -> None:
    commits = GroupCommit(write_sessions(db))
    sessions: list[int] = []
    ids = await asyncio.gather(
        *(commits.run(storing(f"d{n}", hub_clock, sessions)) for n in range(10))
    )
    assert len(set(ids)) == 10
    assert await count(db) == 10
    # The first job starts the writer alone; the nine queued behind it share the next one.
    assert len(set(sessions)) < 10


async def test_a_failing_job_fails_alone(db: Database, hub_clock: MovableClock) -> None:
    commits = GroupCommit(write_sessions(db))
    sessions: list[int] = []

    async def broken(session: AsyncSession) -> str:
        await session.exec(text("INSERT INTO no_such_table VALUES (1)"))  # type: ignore[call-overload]
        return "never"

    jobs = [storing(f"d{n}", hub_clock, sessions) for n in range(4)]
    results = await asyncio.gather(
        commits.run(jobs[0]),
        commits.run(jobs[1]),
        commits.run(broken),
        commits.run(jobs[2]),
        commits.run(jobs[3]),
        return_exceptions=True,
    )
    assert isinstance(results[2], Exception)
    assert all(isinstance(r, str) for i, r in enumerate(results) if i != 2)
    assert await count(db) == 4


def test_batches_need_a_size(db: Database) -> None:
    with pytest.raises(ValueError, match="max_batch"):
        GroupCommit(write_sessions(db), max_batch=0)
