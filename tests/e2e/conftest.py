"""End-to-end fixtures: the `small` topology as real processes, on SQLite and on PostgreSQL.

Each test module gets one running topology per backend (``topology`` is module-scoped and
parametrised), started by the orchestrator's `Supervisor` in a temporary data directory.
PostgreSQL comes from ``TEST_DATABASE_URL`` (default: the local trust-auth server); each
run uses its own schemas (``e2e_<random>_<hub>``), dropped afterwards. An unreachable
server FAILS the PostgreSQL tests; it never skips them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_topology import Running, start_topology

__all__ = ["Running", "start_topology"]


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def topology(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """The `small` topology running as processes, one per module and backend."""
    backend: str = request.param
    yield from start_topology(backend, tmp_path_factory.mktemp(f"e2e-{backend}"))
