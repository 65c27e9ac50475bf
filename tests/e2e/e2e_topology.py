"""The `small` topology as real processes for the end-to-end tests (started by conftest).

Kept out of conftest.py so test modules can import `Running` and `start_topology` without
depending on which conftest a pytest run puts first on ``sys.path``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from sim.runtime import Supervisor

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
TOPOLOGY = "small"
# Fast outbox retries: an outage test must not wait out a 60 s backoff.
HUB_ENV = {
    "LGSP_OUTBOX_RETRY_BASE": "0.2",
    "LGSP_OUTBOX_RETRY_CAP": "1.0",
    "LGSP_OUTBOX_MAX_ATTEMPTS": "1000",
    "LGSP_POLL_INTERVAL": "0.2",
}
FLEET_ENV = {"FLEET_PROFILE": "demo"}


@dataclass(frozen=True)
class Running:
    """A running topology: its supervisor, backend and data directory."""

    supervisor: Supervisor
    backend: str
    data: Path

    @property
    def urls(self) -> Mapping[str, str]:
        """Service name → URL."""
        return self.supervisor.urls


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _pg(statement: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(TEST_DATABASE_URL), timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _require_postgres() -> None:
    try:
        asyncio.run(_pg("SELECT 1"))
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL at {TEST_DATABASE_URL} is needed by the end-to-end tests and is not "
            f"usable ({type(exc).__name__}: {exc}). Start it, or point TEST_DATABASE_URL at one.",
            pytrace=False,
        )


def start_topology(
    backend: str, data: Path, *, hub_env: Mapping[str, str] | None = None
) -> Iterator[Running]:
    """Start `small` on a backend, yield it, then stop it and drop its schemas."""
    database_url = None
    prefix = "hub_"
    if backend == "postgres":
        _require_postgres()
        database_url = TEST_DATABASE_URL
        prefix = f"e2e_{secrets.token_hex(4)}_"
    supervisor = Supervisor(
        data,
        topology=TOPOLOGY,
        database_url=database_url,
        schema_prefix=prefix,
        hub_env={**HUB_ENV, **(hub_env or {})},
        fleet_env=FLEET_ENV,
        health_timeout=60,
    )
    try:
        supervisor.start()
        yield Running(supervisor=supervisor, backend=backend, data=data)
    finally:
        supervisor.stop()
        if database_url is not None and supervisor.topology is not None:
            for hub in supervisor.topology.hubs():
                schema = supervisor.schema_of(hub.hub_id)
                asyncio.run(_pg(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
