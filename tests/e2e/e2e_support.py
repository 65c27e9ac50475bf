"""Helpers of the end-to-end tests: send through a fleet, wait for statuses, look around."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sim.runtime import Exchange, SendRequest, SendResult, Trace, fleet_id_for
from sim.scenario.track import WANTED, Tracked, wait_statuses
from sim.topology import load_topology

TOPOLOGY = load_topology("small")
H56 = "000.00.00.H56"  # Thanh Hóa's People's Committee (province tier)
H04 = "000.00.00.H04"  # Bắc Kạn's People's Committee
G22 = "000.00.00.G22"  # the Government Office (a ministry, on the NDXP)
DISTRICT_1 = "000.00.50.H56"
DISTRICT_2 = "000.00.51.H56"
COMMUNE_1_1 = "000.10.50.H56"  # a commune of district 1
COMMUNE_2_1 = "000.10.51.H56"  # a commune of district 2
H04_DISTRICT = "000.00.50.H04"
STATUS_PATIENCE = 60.0


def hub_of(organ_id: str) -> str:
    """The hub an agency is attached to."""
    return TOPOLOGY.hub_of(organ_id)


def fleet_of(organ_id: str) -> str:
    """The fleet hosting an agency."""
    return fleet_id_for(hub_of(organ_id))


async def send(
    exchange: Exchange, sender: str, to: Sequence[str], subject: str, **options: Any
) -> tuple[SendResult, Tracked]:
    """Send one document through the sender's fleet."""
    request = SendRequest(from_=sender, to=list(to), subject=subject, **options)
    result = await exchange.send(fleet_of(sender), request)
    tracked = Tracked(
        label=subject,
        fleet=fleet_of(sender),
        sender=sender,
        document_id=result.document_id,
        recipients=tuple(to),
        subject=subject,
    )
    return result, tracked


async def send_and_wait(
    exchange: Exchange, sender: str, to: Sequence[str], subject: str, **options: Any
) -> Tracked:
    """Send, assert it was accepted, and wait until every recipient answered 01, 03, 06."""
    result, tracked = await send(exchange, sender, to, subject, **options)
    assert result.accepted, f"refused: {result.error_code}: {result.error_message}"
    assert result.http_status == 201
    await wait_with(exchange, [tracked])
    return tracked


async def wait_with(exchange: Exchange, documents: Sequence[Tracked]) -> None:
    """Wait until every recipient of every document answered 01, 03 and 06 (or fail)."""
    done = await wait_statuses(exchange, documents, wanted=WANTED, patience=STATUS_PATIENCE)
    missing = {d.document_id: d.missing() for d in documents if not d.complete()}
    assert done, f"statuses missing after {STATUS_PATIENCE:.0f} s: {missing}"
    for doc in documents:
        for recipient in doc.recipients:
            assert "02" not in doc.codes_from(recipient), f"{recipient} rejected {doc.document_id}"


async def traces(exchange: Exchange, sender: str, document_id: str) -> dict[str, Trace]:
    """Every hub's trace of a document, by hub id (hubs that never saw it are absent)."""
    hubs = [h.hub_id for h in TOPOLOGY.hubs()]
    found = await asyncio.gather(
        *(exchange.trace(h, sender=sender, document_id=document_id) for h in hubs)
    )
    return {h: t for h, t in zip(hubs, found, strict=True) if t is not None}


async def received_count(exchange: Exchange, organ_id: str, document_id: str) -> int:
    """How many times an agency's fleet received a document."""
    items = await exchange.received(fleet_of(organ_id), organ_id=organ_id)
    return sum(1 for item in items if item.get("document_id") == document_id)


async def eventually(check: Callable[[], Awaitable[None]], *, patience: float = 30.0) -> None:
    """Retry an async assertion until it holds or ``patience`` seconds pass."""
    deadline = time.monotonic() + patience
    while True:
        try:
            await check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.2)
