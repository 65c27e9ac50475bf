"""Intake as a service: what accept_from_system and accept_from_hub store and refuse."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hubkit import (
    G22,
    H04,
    H56,
    H56B,
    DatabaseFor,
    HubData,
    HubHandle,
    MovableClock,
    Packages,
    hub_settings,
    running_hub,
)
from sqlmodel import select

from lgsp.auth import HubSigner, PeerHub
from lgsp.intake import IntakeError, StatusLink, accept_from_hub, accept_from_system
from lgsp.store import InboxItem, OutboxItem, StoredPackage


@pytest.fixture
async def ndxp(
    hub_data: HubData, database_for: DatabaseFor, hub_clock: MovableClock
) -> AsyncIterator[HubHandle]:
    settings = hub_settings(hub_data, "ndxp", database_for("ndxp"))
    async with running_hub(settings, clock=hub_clock) as handle:
        await handle.hub.worker.stop()  # keep outbox rows where the test can see them
        yield handle


def peer(hub: HubHandle, data: HubData, body: bytes, recipients: list[str], sender: str) -> PeerHub:
    headers = HubSigner(hub_id=sender, identity=data.hub_identity(sender)).headers(
        body=body, recipients=recipients, now=hub.hub.clock.now()
    )
    return hub.hub.verifier.verify_headers(headers)


async def test_the_ndxp_keeps_ministry_mail_and_forwards_the_rest(
    ndxp: HubHandle, packages: Packages, hub_data: HubData
) -> None:
    body = packages.document(H56, (G22, H04, H56B))
    receipt = await accept_from_hub(
        ctx=ndxp.hub.intake, peer=peer(ndxp, hub_data, body, [G22, H04], "lgsp-h56"), body=body
    )
    assert receipt.recipients == [G22, H04]  # this hop's recipients only
    async with ndxp.hub.db.session(readonly=True) as session:
        package = await session.get(StoredPackage, receipt.doc_id)
        assert package is not None and package.origin == "lgsp-h56"
        assert list(await session.exec(select(InboxItem.recipient))) == [G22]
        rows = list(await session.exec(select(OutboxItem)))
    assert [(r.destination, r.recipients) for r in rows] == [("lgsp-h04", [H04])]


async def test_transit_does_not_verify_the_xml_signature_again(
    ndxp: HubHandle, packages: Packages, hub_data: HubData
) -> None:
    # The entry hub verified it; the recipient verifies end to end. In between, only the
    # previous hub's request signature counts.
    body = packages.document_bytes(H56, (H04,))  # unsigned
    receipt = await accept_from_hub(
        ctx=ndxp.hub.intake, peer=peer(ndxp, hub_data, body, [H04], "lgsp-h56"), body=body
    )
    assert receipt.duplicate is False


async def test_a_hop_is_checked_against_its_digest(
    ndxp: HubHandle, packages: Packages, hub_data: HubData
) -> None:
    body = packages.document(H56, (H04,))
    other = packages.document(H56, (H04,))
    with pytest.raises(Exception, match="does not match the body"):
        await accept_from_hub(
            ctx=ndxp.hub.intake, peer=peer(ndxp, hub_data, other, [H04], "lgsp-h56"), body=body
        )
    assert await ndxp.count_packages() == 0


async def test_statuses_are_linked_to_their_document(
    ndxp: HubHandle, packages: Packages, hub_data: HubData
) -> None:
    status = packages.status(H04, response_to=H56, document_id="doc-7")
    receipt = await accept_from_hub(
        ctx=ndxp.hub.intake, peer=peer(ndxp, hub_data, status, [H56], "lgsp-h04"), body=status
    )
    async with ndxp.hub.db.session(readonly=True) as session:
        [link] = list(await session.exec(select(StatusLink)))
    assert (link.package_id, link.document_sender, link.document_id) == (
        receipt.doc_id,
        H56,
        "doc-7",
    )
    assert (link.status_code, link.status_from) == ("01", H04)


async def test_refusals_carry_what_the_rejection_log_needs(
    ndxp: HubHandle, packages: Packages
) -> None:
    system = ndxp.hub.systems.get("fleet-ndxp")
    assert system is not None
    body = packages.document(H56, (H04,))
    with pytest.raises(IntakeError) as caught:
        await accept_from_system(ctx=ndxp.hub.intake, system=system, body=body)
    assert (caught.value.code, caught.value.http_status) == ("organ_not_hosted", 403)
    assert caught.value.sender == H56
    assert caught.value.size == len(body)
    with pytest.raises(IntakeError) as caught:
        await accept_from_system(ctx=ndxp.hub.intake, system=system, body=b"<x")
    assert (caught.value.code, caught.value.http_status) == ("xml_malformed", 400)
    assert caught.value.sender is None


async def test_a_ministry_sends_through_its_own_hub(ndxp: HubHandle, packages: Packages) -> None:
    system = ndxp.hub.systems.get("fleet-ndxp")
    assert system is not None
    receipt = await accept_from_system(
        ctx=ndxp.hub.intake, system=system, body=packages.document(G22, (H56, H04))
    )
    assert receipt.recipients == [H56, H04]
    async with ndxp.hub.db.session(readonly=True) as session:
        rows = list(await session.exec(select(OutboxItem).order_by(OutboxItem.destination)))  # type: ignore[arg-type]
    assert [(r.destination, r.recipients) for r in rows] == [
        ("lgsp-h04", [H04]),
        ("lgsp-h56", [H56]),
    ]
