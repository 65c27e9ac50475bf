from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from lgsp.store import Database, InboxItem, normalize_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///data/hub.db", "sqlite+aiosqlite:///data/hub.db"),
        ("sqlite+aiosqlite:///data/hub.db", "sqlite+aiosqlite:///data/hub.db"),
        ("postgresql://u:pw@db:5432/lgsp", "postgresql+asyncpg://u:pw@db:5432/lgsp"),
        ("postgres://u@db/lgsp", "postgresql+asyncpg://u@db/lgsp"),
        ("postgresql+psycopg2://u@db/lgsp", "postgresql+asyncpg://u@db/lgsp"),
    ],
)
def test_urls_get_their_async_driver(given, expected):
    assert normalize_url(given).render_as_string(hide_password=False) == expected


def test_bad_urls_and_schemas_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unsupported database URL 'mysql://u:\\*\\*\\*@h/d'"):
        Database.connect("mysql://u:secret@h/d")
    with pytest.raises(ValueError, match="schema"):
        Database.connect(f"sqlite:///{tmp_path}/hub.db", schema="hub")
    with pytest.raises(ValueError, match="schema name"):
        Database.connect("postgresql://u@h/d", schema='x"; drop table package; --')


async def test_sqlite_connections_run_in_wal_mode_with_the_pragmas(tmp_path):
    db = Database.connect(f"sqlite:///{tmp_path}/nested/dir/hub.db")
    try:
        await db.create_schema()
        async with db.session(readonly=True) as session:
            values = [
                (await session.exec(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            ]
    finally:
        await db.dispose()
    assert values == ["wal", 1, 5000, 1]  # synchronous 1 = NORMAL
    assert (tmp_path / "nested" / "dir" / "hub.db").exists()


async def test_sqlite_readers_are_not_blocked_by_a_writer(tmp_path):
    db = Database.connect(f"sqlite:///{tmp_path}/hub.db")
    await db.create_schema()
    try:
        async with db.session() as writer:
            # The writer now holds SQLite's write lock (BEGIN IMMEDIATE) until it ends.
            await writer.exec(text("UPDATE inbox SET state = 'done' WHERE 1 = 0"))
            async with db.session(readonly=True) as reader:
                rows = await asyncio.wait_for(reader.exec(text("SELECT count(*) FROM package")), 1)
                assert rows.scalar() == 0
    finally:
        await db.dispose()


async def test_foreign_keys_are_enforced(db, clock):
    async with db.session() as session:
        session.add(InboxItem(package_id="missing", recipient="A", created_at=clock.now()))
        with pytest.raises(IntegrityError):
            await session.flush()


async def test_create_schema_is_idempotent(db, store_document):
    package = await store_document()
    await db.create_schema()
    async with db.session(readonly=True) as session:
        assert (await session.exec(text("SELECT id FROM package"))).scalars().all() == [package.id]


@pytest.mark.postgres
async def test_postgres_tables_live_in_their_own_schema(pg_url, pg_schema):
    db = Database.connect(pg_url, schema=pg_schema)
    try:
        await db.create_schema()
        async with db.session(readonly=True) as session:
            tables = (
                await session.exec(
                    text(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"
                    ),
                    params={"s": pg_schema},
                )
            ).scalars()
            path = (await session.exec(text("SHOW search_path"))).scalar()
    finally:
        await db.dispose()
    assert {"package", "inbox", "outbox", "hop"} <= set(tables)
    assert path == pg_schema
