"""Engine and session factory for one hub's store: a SQLite file (embedded) or PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool, StaticPool
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

# Importing the models registers the store's tables on SQLModel.metadata.
from . import models as _models  # noqa: F401

# Execution option read by the SQLite "begin" hook: which BEGIN to emit.
_BEGIN_OPTION: Final = "lgsp_sqlite_begin"
# Schema names we accept: plain lowercase identifiers, so search_path needs no quoting.
_SCHEMA_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Key of the advisory lock that serialises schema creation between replicas starting together.
_DDL_LOCK_KEY: Final = 0x16_5D_0001

SQLITE_PRAGMAS: Final = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
)


def normalize_url(url: str | URL) -> URL:
    """Return ``url`` with its async driver: ``sqlite`` → aiosqlite, ``postgresql`` → asyncpg."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(
        f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}: "
        "use sqlite:///path/hub.db or postgresql://user@host/db"
    )


class Database:
    """One hub's store: an async engine and its session factories.

    Sessions from :meth:`session` (and :attr:`session_factory`) are for writing: on SQLite
    they start with ``BEGIN IMMEDIATE``, taking the single write lock up front so that a
    transaction that reads and then writes never fails with "database is locked" halfway
    (a deferred transaction cannot wait for the lock once it has read). ``readonly=True``
    sessions use a plain deferred ``BEGIN``: WAL readers never block and are never blocked.
    On PostgreSQL both are ordinary READ COMMITTED transactions.
    """

    def __init__(self, engine: AsyncEngine, *, schema: str | None = None) -> None:
        self.engine = engine
        self.schema = schema
        self.session_factory: async_sessionmaker[AsyncSession] = async_sessionmaker(
            engine, class_=AsyncSession, expire_on_commit=False
        )
        self._readonly_factory: async_sessionmaker[AsyncSession] = async_sessionmaker(
            engine.execution_options(**{_BEGIN_OPTION: "BEGIN"}),
            class_=AsyncSession,
            expire_on_commit=False,
        )

    @classmethod
    def connect(
        cls,
        url: str | URL,
        *,
        schema: str | None = None,
        pool_size: int = 10,
        echo: bool = False,
    ) -> Database:
        """Create the engine for ``url`` (SQLite file or PostgreSQL); nothing is opened yet.

        ``schema`` (PostgreSQL only) puts every table in that schema, created by
        :meth:`create_schema` if missing, so several hubs or test runs can share a database.
        ``pool_size`` connections stay open; up to twice as many more are opened (and
        closed again) under bursts, so size it to the concurrent requests a replica serves.
        """
        normalized = normalize_url(url)
        if normalized.get_backend_name() == "sqlite":
            if schema is not None:
                raise ValueError("schema= is for PostgreSQL; use one SQLite file per hub")
            return cls(_sqlite_engine(normalized, pool_size=pool_size, echo=echo))
        if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"schema name {schema!r} must match {_SCHEMA_NAME.pattern}")
        connect_args: dict[str, Any] = {"server_settings": {"application_name": "lgsp"}}
        if schema is not None:
            # Only our schema on the path: tables of the same name elsewhere stay invisible.
            connect_args["server_settings"]["search_path"] = schema
        engine = create_async_engine(
            normalized,
            echo=echo,
            pool_size=pool_size,
            max_overflow=2 * pool_size,
            # No pre-ping: it costs a round trip per transaction (~10% of a store). After a
            # server restart the first statement fails and SQLAlchemy drops the whole pool.
            connect_args=connect_args,
        )
        return cls(engine, schema=schema)

    @property
    def dialect(self) -> str:
        """Return ``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        """Return the database URL with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def session(self, *, readonly: bool = False) -> AsyncSession:
        """Open a session; use it as ``async with db.session() as s:`` and commit explicitly."""
        return (self._readonly_factory if readonly else self.session_factory)()

    async def create_schema(self) -> None:
        """Create the schema (PostgreSQL) and every SQLModel table imported so far, if missing."""
        if self.dialect != "postgresql":
            async with self.engine.begin() as conn:
                await conn.run_sync(SQLModel.metadata.create_all)
            return
        if self.schema is not None:
            await self._create_pg_schema()
        async with self.engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _DDL_LOCK_KEY})
            await conn.run_sync(SQLModel.metadata.create_all)

    async def drop_schema(self) -> None:
        """Drop everything :meth:`create_schema` made (the whole schema on PostgreSQL)."""
        async with self.engine.begin() as conn:
            if self.dialect == "postgresql" and self.schema is not None:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            else:
                await conn.run_sync(SQLModel.metadata.drop_all)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    async def _create_pg_schema(self) -> None:
        # A separate connection without our search_path: the engine's own first connection
        # records current_schema() once, which must not happen before the schema exists.
        bootstrap = create_async_engine(self.engine.url, poolclass=NullPool)
        try:
            async with bootstrap.begin() as conn:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _DDL_LOCK_KEY})
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
        finally:
            await bootstrap.dispose()


def _sqlite_engine(url: URL, *, pool_size: int, echo: bool) -> AsyncEngine:
    in_memory = url.database in (None, "", ":memory:")
    if in_memory:
        # One shared connection, or every session would see its own empty database.
        engine = create_async_engine(url, echo=echo, poolclass=StaticPool)
    else:
        Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, echo=echo, pool_size=pool_size, max_overflow=2 * pool_size
        )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Take BEGIN away from the driver (it skips it before SELECTs and breaks SAVEPOINT);
        # _on_begin emits it. Pragmas then run outside any transaction, as WAL requires.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get(_BEGIN_OPTION, "BEGIN IMMEDIATE"))

    return engine
