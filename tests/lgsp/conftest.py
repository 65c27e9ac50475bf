"""Store fixtures: every ``db`` test runs on a SQLite file and on the local PostgreSQL.

PostgreSQL comes from ``TEST_DATABASE_URL`` (default: the local trust-auth server). One
schema per test session holds the tables, emptied before each test and dropped at the
end. An unreachable server fails the PostgreSQL tests; it never skips them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from lgsp.store import Database, PackageKind, StoredPackage, new_id, store_package

TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)

HUB_ID = "lgsp-h56"
T = TypeVar("T")


def _run_apart(work: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on its own loop in its own thread, clear of pytest-asyncio's loops."""

    async def bounded() -> T:
        return await asyncio.wait_for(work(), timeout=30)

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, bounded()).result()


@pytest.fixture(scope="session")
def pg_url() -> str:
    """Return the PostgreSQL URL the tests use (``TEST_DATABASE_URL``)."""
    return TEST_DATABASE_URL


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """Create a fresh PostgreSQL schema for this test session; drop it at the end."""
    schema = f"lgsp_test_{os.getpid()}_{secrets.token_hex(4)}"

    async def create() -> None:
        database = Database.connect(TEST_DATABASE_URL, schema=schema)
        try:
            await database.create_schema()
        finally:
            await database.dispose()

    async def drop() -> None:
        database = Database.connect(TEST_DATABASE_URL, schema=schema)
        try:
            await database.drop_schema()
        finally:
            await database.dispose()

    try:
        _run_apart(create)
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL at {TEST_DATABASE_URL} is needed by the store tests and is not "
            f"usable ({type(exc).__name__}: {exc}). Start it, or point TEST_DATABASE_URL at "
            "one.",
            pytrace=False,
        )
    yield schema
    _run_apart(drop)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_target(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> tuple[str, str | None]:
    """Return ``(url, schema)`` of an empty store: a SQLite file, or the session's schema."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{os.path.join(tmp_path, 'hub.db')}", None
    return TEST_DATABASE_URL, request.getfixturevalue("pg_schema")


@pytest.fixture
async def db(db_target: tuple[str, str | None]) -> AsyncIterator[Database]:
    """Return a connected store with empty tables; a second replica may connect to db_target."""
    url, schema = db_target
    database = Database.connect(url, schema=schema)
    await database.create_schema()
    if schema is not None:
        tables = ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
        async with database.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield database
    await database.dispose()


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 5, 1, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


@pytest.fixture
def clock() -> FakeClock:
    """Return a clock standing at 2026-01-05 01:00 UTC."""
    return FakeClock()


class StoreDocument(Protocol):
    async def __call__(
        self,
        document_id: str | None = None,
        *,
        sender: str = ...,
        local: Sequence[str] = ...,
        forwards: Mapping[str, Sequence[str]] | None = ...,
    ) -> StoredPackage: ...


@pytest.fixture
def store_document(db: Database, clock: FakeClock) -> StoreDocument:
    """Return a function storing (and committing) a small document package at hub lgsp-h56."""

    async def store(
        document_id: str | None = None,
        *,
        sender: str = "000.00.01.H56",
        local: Sequence[str] = (),
        forwards: Mapping[str, Sequence[str]] | None = None,
    ) -> StoredPackage:
        document_id = document_id or new_id()
        async with db.session() as session:
            package, _ = await store_package(
                session,
                hub_id=HUB_ID,
                kind=PackageKind.DOCUMENT,
                sender=sender,
                body=f"<edXML>{document_id}</edXML>".encode(),
                document_id=document_id,
                subject=f"Công văn {document_id}",
                now=clock.now(),
                local_recipients=local,
                forwards=forwards,
            )
            await session.commit()
        return package

    return store
