"""POST /api/v1/packages: receipts, routing into inbox and outbox, duplicates."""

from __future__ import annotations

from hubkit import G22, H04, H56, H56B, H56C, HubHandle, Packages
from sqlmodel import select

from lgsp.store import InboxItem, OutboxItem, StoredPackage


async def test_a_local_document_is_stored_with_an_inbox_item(
    lgsp_h56: HubHandle, packages: Packages
) -> None:
    body = packages.document(H56, (H56B, H56C))
    response = await lgsp_h56.submit(body)
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["kind"] == "document"
    assert receipt["sender"] == H56
    assert receipt["recipients"] == [H56B, H56C]
    assert receipt["duplicate"] is False
    assert receipt["document_id"].startswith(H56)
    async with lgsp_h56.hub.db.session(readonly=True) as session:
        stored = await session.get(StoredPackage, receipt["doc_id"])
        assert stored is not None
        assert stored.body == body  # the exact bytes, never altered
        assert stored.subject == "Về việc thử nghiệm liên thông văn bản"
        assert stored.document_type == "Công văn"
        items = list(await session.exec(select(InboxItem.recipient)))
        assert sorted(items) == [H56B, H56C]
        assert list(await session.exec(select(OutboxItem))) == []


async def test_remote_recipients_get_one_outbox_row_per_next_hub(
    lgsp_h56: HubHandle, packages: Packages
) -> None:
    response = await lgsp_h56.submit(packages.document(H56, (H56B, H04, G22)))
    assert response.status_code == 201, response.text
    assert response.json()["recipients"] == [H56B, H04, G22]
    async with lgsp_h56.hub.db.session(readonly=True) as session:
        rows = list(await session.exec(select(OutboxItem)))
    # An LGSP reaches other provinces and ministries alike through the NDXP.
    assert [(row.destination, row.recipients) for row in rows] == [("ndxp", [H04, G22])]


async def test_a_duplicate_gets_the_first_receipt_and_stores_nothing(
    lgsp_h56: HubHandle, packages: Packages
) -> None:
    body = packages.document(H56, (H56B, H04))
    first = await lgsp_h56.submit(body)
    assert first.status_code == 201
    again = await lgsp_h56.submit(body)
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    assert await lgsp_h56.count_packages() == 1
    async with lgsp_h56.hub.db.session(readonly=True) as session:
        assert len(list(await session.exec(select(InboxItem)))) == 1
        assert len(list(await session.exec(select(OutboxItem)))) == 1


async def test_a_resent_document_id_is_a_duplicate_even_with_other_bytes(
    lgsp_h56: HubHandle, packages: Packages
) -> None:
    document_id = packages.document_id(H56)
    first = await lgsp_h56.submit(packages.document(H56, (H56B,), document_id=document_id))
    again = await lgsp_h56.submit(
        packages.document(H56, (H56B,), document_id=document_id, subject="Sửa đổi")
    )
    assert again.status_code == 200
    assert again.json()["doc_id"] == first.json()["doc_id"]
    assert await lgsp_h56.count_packages() == 1


async def test_a_status_is_routed_to_the_document_sender(
    lgsp_h56: HubHandle, packages: Packages
) -> None:
    document_id = packages.document_id(H56)
    status = packages.status(H56B, response_to=H56, document_id=document_id)
    response = await lgsp_h56.submit(status)
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["kind"] == "status"
    assert receipt["recipients"] == [H56]
    assert receipt["document_id"] is None
    # The same status again (same sender, same bytes) is a duplicate.
    assert (await lgsp_h56.submit(status)).status_code == 200


async def test_any_content_type_is_accepted(lgsp_h56: HubHandle, packages: Packages) -> None:
    response = await lgsp_h56.client.post(
        "/api/v1/packages",
        content=packages.document(H56, (H56B,)),
        headers={**await lgsp_h56.auth("fleet-h56"), "Content-Type": "text/plain"},
    )
    assert response.status_code == 201


async def test_a_chunked_upload_is_accepted(lgsp_h56: HubHandle, packages: Packages) -> None:
    body = packages.document(H56, (H56B,))

    async def chunks():  # type: ignore[no-untyped-def]
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = await lgsp_h56.client.post(
        "/api/v1/packages", content=chunks(), headers=await lgsp_h56.auth("fleet-h56")
    )
    assert response.status_code == 201, response.text
