"""Inbox, fetch and ack: what a DMS pulls from its hub and how it confirms it."""

from __future__ import annotations

from hubkit import H56, H56B, H56C, HubHandle, Packages


async def submit_local(
    hub: HubHandle, packages: Packages, to: tuple[str, ...]
) -> tuple[str, bytes]:
    body = packages.document(H56, to)
    response = await hub.submit(body)
    assert response.status_code == 201, response.text
    return response.json()["doc_id"], body


async def test_list_fetch_ack(lgsp_h56: HubHandle, packages: Packages) -> None:
    doc_id, body = await submit_local(lgsp_h56, packages, (H56B,))
    headers = await lgsp_h56.auth("fleet-h56")

    listing = await lgsp_h56.client.get("/api/v1/inbox", params={"organ_id": H56B}, headers=headers)
    assert listing.status_code == 200
    [item] = listing.json()["items"]
    assert item["doc_id"] == doc_id
    assert item["kind"] == "document"
    assert item["sender"] == H56
    assert item["recipient"] == H56B
    assert item["subject"] == "Về việc thử nghiệm liên thông văn bản"
    assert item["state"] == "pending"
    assert item["status_code"] is None and item["response_for"] is None

    fetched = await lgsp_h56.client.get(f"/api/v1/packages/{doc_id}", headers=headers)
    assert fetched.status_code == 200
    assert fetched.content == body
    assert fetched.headers["content-type"].startswith("application/xml")
    listing = await lgsp_h56.client.get("/api/v1/inbox", headers=headers)
    assert [i["state"] for i in listing.json()["items"]] == ["fetched"]

    ack = await lgsp_h56.client.post(
        f"/api/v1/inbox/{doc_id}/ack", json={"organ_id": H56B, "state": "done"}, headers=headers
    )
    assert ack.status_code == 200
    assert ack.json()["state"] == "done"
    assert ack.json()["confirmed_at"]
    listing = await lgsp_h56.client.get("/api/v1/inbox", headers=headers)
    assert listing.json()["items"] == []
    # Acks are idempotent: the first one stands.
    again = await lgsp_h56.client.post(
        f"/api/v1/inbox/{doc_id}/ack", json={"organ_id": H56B, "state": "failed"}, headers=headers
    )
    assert again.status_code == 200
    assert again.json()["state"] == "done"

    stats = (await lgsp_h56.client.get("/api/v1/stats")).json()
    assert stats["delivered"] == 1
    assert stats["inbox"]["done"] == 1


async def test_failed_ack(lgsp_h56: HubHandle, packages: Packages) -> None:
    doc_id, _ = await submit_local(lgsp_h56, packages, (H56B,))
    headers = await lgsp_h56.auth("fleet-h56")
    ack = await lgsp_h56.client.post(
        f"/api/v1/inbox/{doc_id}/ack",
        json={"organ_id": H56B, "state": "failed", "reason": "chữ ký không hợp lệ"},
        headers=headers,
    )
    assert ack.json()["state"] == "failed"
    stats = (await lgsp_h56.client.get("/api/v1/stats")).json()
    assert stats["delivery_failed"] == 1


async def test_inbox_filters(lgsp_h56: HubHandle, packages: Packages) -> None:
    doc_id, _ = await submit_local(lgsp_h56, packages, (H56B, H56C))
    status = packages.status(H56B, response_to=H56, document_id="x-1")
    assert (await lgsp_h56.submit(status)).status_code == 201
    headers = await lgsp_h56.auth("fleet-h56")
    everything = (await lgsp_h56.client.get("/api/v1/inbox", headers=headers)).json()["items"]
    assert sorted(i["recipient"] for i in everything) == [H56, H56B, H56C]
    statuses = (
        await lgsp_h56.client.get("/api/v1/inbox", params={"kind": "status"}, headers=headers)
    ).json()["items"]
    assert [(i["recipient"], i["status_code"], i["response_for"]) for i in statuses] == [
        (H56, "01", "x-1")
    ]
    one = (
        await lgsp_h56.client.get(
            "/api/v1/inbox", params={"organ_id": H56C, "limit": 1}, headers=headers
        )
    ).json()["items"]
    assert [i["doc_id"] for i in one] == [doc_id]


async def test_a_system_sees_only_its_agencies(lgsp_h56: HubHandle, packages: Packages) -> None:
    doc_id, body = await submit_local(lgsp_h56, packages, (H56B, H56C))
    narrow = await lgsp_h56.auth("dms-h56c")
    items = (await lgsp_h56.client.get("/api/v1/inbox", headers=narrow)).json()["items"]
    assert [i["recipient"] for i in items] == [H56C]
    other = await lgsp_h56.client.get("/api/v1/inbox", params={"organ_id": H56B}, headers=narrow)
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "organ_not_hosted"
    fetched = await lgsp_h56.client.get(f"/api/v1/packages/{doc_id}", headers=narrow)
    assert fetched.content == body
    ack = await lgsp_h56.client.post(
        f"/api/v1/inbox/{doc_id}/ack", json={"organ_id": H56B}, headers=narrow
    )
    assert ack.status_code == 403


async def test_fetch_is_refused_to_strangers(lgsp_h56: HubHandle, packages: Packages) -> None:
    doc_id, _ = await submit_local(lgsp_h56, packages, (H56B,))
    narrow = await lgsp_h56.auth("dms-h56c")
    response = await lgsp_h56.client.get(f"/api/v1/packages/{doc_id}", headers=narrow)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_allowed"


async def test_the_sender_may_fetch_what_it_sent(lgsp_h56: HubHandle, packages: Packages) -> None:
    doc_id, body = await submit_local(lgsp_h56, packages, (H56B,))
    response = await lgsp_h56.client.get(
        f"/api/v1/packages/{doc_id}", headers=await lgsp_h56.auth("fleet-h56")
    )
    assert response.content == body


async def test_unknown_package_and_item(lgsp_h56: HubHandle, packages: Packages) -> None:
    headers = await lgsp_h56.auth("fleet-h56")
    missing = await lgsp_h56.client.get("/api/v1/packages/nope", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "package_not_found"
    no_item = await lgsp_h56.client.post(
        "/api/v1/inbox/nope/ack", json={"organ_id": H56B}, headers=headers
    )
    assert no_item.status_code == 404
    assert no_item.json()["error"]["code"] == "inbox_item_not_found"


async def test_ack_validation(lgsp_h56: HubHandle) -> None:
    headers = await lgsp_h56.auth("fleet-h56")
    bad = await lgsp_h56.client.post(
        "/api/v1/inbox/x/ack", json={"organ_id": H56B, "state": "maybe"}, headers=headers
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_request"
    assert "state" in bad.json()["error"]["message"]
