"""The fleets' SDK client (agencies/hubclient/sdk.py) against a real hub, in-process."""

from __future__ import annotations

import httpx
import pytest
from hubkit import (
    H04,
    H56,
    H56B,
    H56C,
    DatabaseFor,
    HubData,
    HubHandle,
    MovableClock,
    Packages,
    hub_settings,
    running_hub,
)

import edoc
from agencies.hubclient import HubError, SdkHubClient
from agencies.hubclient.sdk import java_hex
from lgsp.sdk import protocol


def sdk_client(
    hub: HubHandle,
    system_id: str = "fleet-h56",
    secret: str = "secret-h56",  # noqa: S107
) -> SdkHubClient:
    return SdkHubClient(
        system_id=system_id,
        secret=secret,
        base_url=hub.base_url,
        transport=httpx.ASGITransport(app=hub.app),
    )


def test_both_sides_agree_on_hash_file() -> None:
    for body in (b"", b"edXML", bytes(range(256))):
        assert java_hex(body) == protocol.hash_file(body)


async def test_submit_inbox_fetch_ack(lgsp_h56: HubHandle, packages: Packages) -> None:
    fleet = sdk_client(lgsp_h56)
    try:
        body = packages.document(H56, (H56B, H56C))
        receipt = await fleet.submit(body)
        assert receipt.doc_id and receipt.kind == "document" and receipt.sender == H56
        assert receipt.recipients == (H56B, H56C)
        assert (await fleet.submit(body)).doc_id == receipt.doc_id  # a retry
        items = await fleet.inbox()
        assert sorted(i.recipient for i in items) == [H56B, H56C]
        assert {i.doc_id for i in items} == {receipt.doc_id}
        assert [i.recipient for i in await fleet.inbox(organ_id=H56B)] == [H56B]
        assert await fleet.inbox(kind="status") == []
        assert await fleet.fetch(receipt.doc_id) == body
        await fleet.inbox()
        await fleet.ack(receipt.doc_id, H56B, "done")
        # Still listed: updateStatus goes once every recipient of the fleet is handled.
        assert len(await fleet.inbox()) == 2
        await fleet.ack(receipt.doc_id, H56B, "done")  # handled before: confirmed again
        await fleet.ack(receipt.doc_id, H56C, "done")
        assert await fleet.inbox() == []

        document_id = edoc.parse(body).header.document_id  # type: ignore[union-attr]
        status = packages.status(H56B, response_to=H56, document_id=document_id)
        status_receipt = await fleet.submit(status)
        assert status_receipt.kind == "status"
        [item] = await fleet.inbox(kind="status")
        assert (item.kind, item.recipient, item.sender) == ("status", H56, H56B)
    finally:
        await fleet.close()


async def test_refusals_are_hub_errors_with_native_codes(
    lgsp_h56: HubHandle, packages: Packages
) -> None:
    fleet = sdk_client(lgsp_h56)
    try:
        tampered = packages.document(H56, (H56B,)).replace(b"UBND-VP", b"UBND-VX")
        with pytest.raises(HubError) as caught:
            await fleet.submit(tampered)
        assert (caught.value.code, caught.value.http_status) == ("signature_invalid", 422)
        with pytest.raises(HubError) as caught:
            await fleet.submit(packages.document(H04, (H56,)))
        assert (caught.value.code, caught.value.http_status) == ("organ_not_hosted", 403)
        with pytest.raises(HubError) as caught:
            await fleet.fetch("no-such-doc")
        assert (caught.value.code, caught.value.http_status) == ("unknown_doc", 404)
        wrong = sdk_client(lgsp_h56, secret="wrong")
        with pytest.raises(HubError) as caught:
            await wrong.inbox()
        assert (caught.value.code, caught.value.http_status) == ("bad_signature", 401)
        await wrong.close()
    finally:
        await fleet.close()
    down = SdkHubClient(system_id="x", secret="y", base_url="http://127.0.0.1:9")
    with pytest.raises(HubError) as caught:
        await down.inbox()
    assert caught.value.code == "hub_unavailable" and caught.value.transient
    await down.close()


async def test_fresh_timestamps_pass_a_strict_hub(
    hub_data: HubData, database_for: DatabaseFor, hub_clock: MovableClock, packages: Packages
) -> None:
    settings = hub_settings(hub_data, "lgsp-h56", database_for("lgsp-h56"), sdk_strict=True)
    async with running_hub(settings, clock=hub_clock) as hub:
        fleet = sdk_client(hub)
        try:
            for _ in range(3):
                await fleet.inbox()  # a new timestamp each time: never a replay
            await fleet.submit(packages.document(H56, (H56B,)))
            status = (await hub.client.get("/api/v1/sdk")).json()
            assert status["failures"] == {}
        finally:
            await fleet.close()
