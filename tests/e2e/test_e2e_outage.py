"""An NDXP outage: inter-province documents wait in the entry LGSP's outbox, then arrive once.

Its own topology per backend (stopping the NDXP would disturb other tests). Hubs retry with a
short backoff here (e2e_topology.HUB_ENV), so the recovery is quick.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import (
    G22,
    H04,
    H04_DISTRICT,
    H56,
    received_count,
    send,
    wait_with,
)
from e2e_topology import Running, start_topology

from sim.runtime import Exchange

OUTAGE_DOCUMENTS = 3


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def outage_topology(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """A topology of its own: this module stops and starts the NDXP."""
    backend: str = request.param
    data: Path = tmp_path_factory.mktemp(f"outage-{backend}")
    yield from start_topology(backend, data)


async def test_documents_wait_out_an_ndxp_outage_and_arrive_once(
    outage_topology: Running,
) -> None:
    supervisor = outage_topology.supervisor
    supervisor.stop_service("ndxp")
    try:
        async with Exchange(outage_topology.urls) as exchange:
            sent = []
            for n in range(OUTAGE_DOCUMENTS):
                result, doc = await send(
                    exchange, H56, [H04, H04_DISTRICT], f"Công văn trong lúc NDXP ngừng {n + 1}"
                )
                # The entry LGSP stores and acknowledges: the outage is its problem, not the DMS's.
                assert result.accepted and result.http_status == 201, result
                sent.append((result, doc))
            await asyncio.sleep(1.5)  # several delivery attempts fail meanwhile
            pending = await exchange.outbox("lgsp-h56", state="pending")
            waiting = {row["doc_id"] for row in pending if row["destination"] == "ndxp"}
            for result, _ in sent:
                assert result.receipt is not None
                assert result.receipt["doc_id"] in waiting
            assert any(row["attempts"] >= 1 and row["last_error"] for row in pending)
            for _, doc in sent:
                assert await received_count(exchange, H04, doc.document_id) == 0
    finally:
        supervisor.start_service("ndxp")

    async with Exchange(outage_topology.urls) as exchange:
        documents = [doc for _, doc in sent]
        await wait_with(exchange, documents)
        await asyncio.sleep(1.0)  # a duplicate delivery, if any, would land meanwhile
        for doc in documents:
            assert await received_count(exchange, H04, doc.document_id) == 1
            assert await received_count(exchange, H04_DISTRICT, doc.document_id) == 1
        assert await exchange.outbox("lgsp-h56", state="pending") == []
        assert await exchange.outbox("lgsp-h56", state="dead") == []


async def test_a_letter_to_a_ministry_waits_out_the_outage_too(outage_topology: Running) -> None:
    supervisor = outage_topology.supervisor
    supervisor.stop_service("ndxp")
    try:
        async with Exchange(outage_topology.urls) as exchange:
            result, doc = await send(exchange, H56, [G22], "Báo cáo gửi Văn phòng Chính phủ")
            assert result.accepted
            await asyncio.sleep(0.5)
    finally:
        supervisor.start_service("ndxp")
    async with Exchange(outage_topology.urls) as exchange:
        await wait_with(exchange, [doc])
        assert await received_count(exchange, G22, doc.document_id) == 1
