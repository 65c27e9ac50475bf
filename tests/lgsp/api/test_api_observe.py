"""Trace, statistics, agencies, outbox, events and the error envelope."""

from __future__ import annotations

from datetime import timedelta

import httpx
from hubkit import G22, H04, H56, H56B, HubHandle, MovableClock, Packages
from sqlalchemy import update

from lgsp.events import EventType
from lgsp.store import OutboxItem, OutboxState


async def test_trace_by_doc_id_and_by_identity(lgsp_h56: HubHandle, packages: Packages) -> None:
    body = packages.document(H56, (H56B, H04))
    receipt = (await lgsp_h56.submit(body)).json()
    by_id = await lgsp_h56.client.get(f"/api/v1/packages/{receipt['doc_id']}/trace")
    assert by_id.status_code == 200
    trace = by_id.json()
    assert trace["doc_id"] == receipt["doc_id"]
    assert trace["kind"] == "document"
    assert trace["sender"] == H56
    assert trace["origin"] == "local"
    assert [(h["hub_id"], h["event"]) for h in trace["hops"]] == [("lgsp-h56", "accepted")]
    assert trace["recipients"] == [
        {"organ_id": H56B, "state": "pending", "via": None},
        {"organ_id": H04, "state": "pending", "via": "ndxp"},
    ]
    by_identity = await lgsp_h56.client.get(
        "/api/v1/trace", params={"sender": H56, "document_id": receipt["document_id"]}
    )
    assert by_identity.json() == trace
    missing = await lgsp_h56.client.get(
        "/api/v1/trace", params={"sender": H56, "document_id": "nope"}
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "package_not_found"


async def test_trace_lists_statuses_that_came_back(
    lgsp_h56: HubHandle, packages: Packages, hub_clock: MovableClock
) -> None:
    receipt = (await lgsp_h56.submit(packages.document(H56, (H56B,)))).json()
    document_id = receipt["document_id"]
    headers = await lgsp_h56.auth("fleet-h56")
    await lgsp_h56.client.get(f"/api/v1/packages/{receipt['doc_id']}", headers=headers)
    await lgsp_h56.client.post(
        f"/api/v1/inbox/{receipt['doc_id']}/ack", json={"organ_id": H56B}, headers=headers
    )
    codes = ["01", "03", "06"]
    status_ids = []
    for code in codes:
        hub_clock.advance(seconds=1)
        status = packages.status(H56B, response_to=H56, document_id=document_id, code=code)  # type: ignore[arg-type]
        status_ids.append((await lgsp_h56.submit(status)).json()["doc_id"])
    # A status about another document of the same DocumentId but another sender: not ours.
    other = packages.status(H56B, response_to=G22, document_id=document_id)
    assert (await lgsp_h56.submit(other)).status_code == 201
    trace = (await lgsp_h56.client.get(f"/api/v1/packages/{receipt['doc_id']}/trace")).json()
    assert [(s["code"], s["from"], s["doc_id"]) for s in trace["statuses"]] == [
        (code, H56B, doc_id) for code, doc_id in zip(codes, status_ids, strict=True)
    ]
    assert [h["event"] for h in trace["hops"]] == ["accepted", "delivered", "confirmed"]
    assert trace["recipients"] == [{"organ_id": H56B, "state": "done", "via": None}]


async def test_stats(lgsp_h56: HubHandle, packages: Packages) -> None:
    await lgsp_h56.submit(packages.document(H56, (H56B,)))
    await lgsp_h56.submit(packages.document(H56B, (H56, H04)))
    await lgsp_h56.submit(packages.status(H56B, response_to=H56, document_id="d"))
    await lgsp_h56.submit(b"<nope")
    stats = (await lgsp_h56.client.get("/api/v1/stats")).json()
    assert stats["hub_id"] == "lgsp-h56"
    assert stats["role"] == "lgsp"
    assert stats["accepted"] == {
        "documents": 2,
        "statuses": 1,
        "total": 3,
        "from_systems": 3,
        "from_hubs": 0,
    }
    assert stats["rejected"] == {"total": 1, "by_reason": {"xml_malformed": 1}}
    assert stats["outbox"]["pending"] + stats["outbox"]["sent"] + stats["outbox"]["dead"] == 1
    assert stats["inbox"]["pending"] == 3
    assert stats["documents"]["by_tier"] == {"province": 2}
    assert stats["documents"]["by_block"] == {"government": 1, "party": 1}
    assert stats["documents"]["by_type"] == {"Công văn": 2}
    assert stats["statuses_by_code"] == {"01": 1}


async def test_agencies(lgsp_h56: HubHandle) -> None:
    response = await lgsp_h56.client.get("/api/v1/agencies")
    agencies = response.json()
    assert len(agencies) == 19
    assert agencies[0] == {
        "organ_id": H56,
        "name": "Ủy ban nhân dân tỉnh Thanh Hóa",
        "tier": "province",
        "block": "government",
        "parent": None,
    }
    assert all(a["organ_id"].endswith(".H56") for a in agencies)


async def test_outbox_listing_and_retry(
    lgsp_h56: HubHandle, packages: Packages, hub_clock: MovableClock
) -> None:
    await lgsp_h56.submit(packages.document(H56, (H04,)))
    rows = (await lgsp_h56.client.get("/api/v1/outbox")).json()["items"]
    assert len(rows) == 1
    row = rows[0]
    assert row["destination"] == "ndxp"
    assert row["recipients"] == [H04]
    not_dead = await lgsp_h56.client.post(f"/api/v1/outbox/{row['id']}/retry")
    assert not_dead.status_code == 409
    assert not_dead.json()["error"]["code"] == "outbox_row_not_dead"
    # Make it dead as the worker would after its last attempt, then requeue it.
    await lgsp_h56.hub.worker.stop()
    async with lgsp_h56.hub.writes() as session:
        await session.exec(
            update(OutboxItem).values(state=OutboxState.DEAD, attempts=8, last_error="boom")  # type: ignore[call-overload]
        )
        await session.commit()
    dead = (await lgsp_h56.client.get("/api/v1/outbox", params={"state": "dead"})).json()
    assert [r["id"] for r in dead["items"]] == [row["id"]]
    retried = await lgsp_h56.client.post(f"/api/v1/outbox/{row['id']}/retry")
    assert retried.status_code == 200
    assert retried.json()["state"] == "pending"
    assert retried.json()["attempts"] == 0
    missing = await lgsp_h56.client.post("/api/v1/outbox/nope/retry")
    assert missing.status_code == 404
    bad_state = await lgsp_h56.client.get("/api/v1/outbox", params={"state": "lost"})
    assert bad_state.status_code == 422


async def test_events_are_published_with_the_hub_clock(
    lgsp_h56: HubHandle, packages: Packages, hub_clock: MovableClock
) -> None:
    hub_clock.advance(days=1)
    async with lgsp_h56.hub.events.subscribe() as events:
        receipt = (await lgsp_h56.submit(packages.document(H56, (H56B, H04)))).json()
        accepted = await events.next(wait=1)
        status = packages.status(H56B, response_to=H56, document_id=receipt["document_id"])
        await lgsp_h56.submit(status)
        types = [(await events.next(wait=1)) for _ in range(2)]
    assert accepted is not None
    assert accepted.type is EventType.ACCEPTED
    assert accepted.at == hub_clock.now()
    assert accepted.data["doc_id"] == receipt["doc_id"]
    assert accepted.data["local"] == [H56B]
    assert accepted.data["forwards"] == {"ndxp": [H04]}
    assert [e.type for e in types if e is not None] == [EventType.ACCEPTED, EventType.STATUS]
    assert types[1] is not None and types[1].data["code"] == "01"
    assert hub_clock.now() - accepted.at < timedelta(seconds=1)


async def test_unknown_endpoint_and_method(lgsp_h56: HubHandle) -> None:
    missing = await lgsp_h56.client.get("/api/v1/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = await lgsp_h56.client.delete("/api/v1/packages")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


async def test_openapi_is_served(lgsp_h56: HubHandle) -> None:
    spec = (await lgsp_h56.client.get("/openapi.json")).json()
    assert "/api/v1/hub/packages" in spec["paths"]
    assert "application/xml" in spec["paths"]["/api/v1/packages"]["post"]["requestBody"]["content"]


async def test_a_bug_answers_500_without_a_trace(lgsp_h56: HubHandle) -> None:
    async def broken() -> None:
        raise RuntimeError("secret internals")

    lgsp_h56.app.add_api_route("/boom", broken)
    transport = httpx.ASGITransport(app=lgsp_h56.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "secret" not in response.text
