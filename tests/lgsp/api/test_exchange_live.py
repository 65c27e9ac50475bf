"""The exchange over real sockets: lgsp-h56 → ndxp → lgsp-h04 and back, on SQLite and
PostgreSQL, with the hub-to-hub protocol checked from the outside."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from hubkit import (
    G22,
    H04,
    H04B,
    H56,
    H56B,
    HubData,
    LiveHubs,
    Packages,
    eventually,
    utc_now,
)

from lgsp.auth import HubSigner


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def inbox(
    hubs: LiveHubs, http: httpx.AsyncClient, hub_id: str, system_id: str, organ_id: str
) -> list[dict[str, Any]]:
    response = await hubs.call(
        http, "GET", hub_id, "/api/v1/inbox", system_id=system_id, params={"organ_id": organ_id}
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def count_packages(hubs: LiveHubs, http: httpx.AsyncClient, hub_id: str) -> int:
    stats = (await hubs.call(http, "GET", hub_id, "/api/v1/stats")).json()
    total: int = stats["accepted"]["total"]
    return total


async def test_document_and_status_travel_through_the_ndxp(
    live_hubs: LiveHubs, packages: Packages, client: httpx.AsyncClient
) -> None:
    body = packages.document(H56, (H04, H56B))
    submitted = await live_hubs.call(
        client, "POST", "lgsp-h56", "/api/v1/packages", system_id="fleet-h56", content=body
    )
    assert submitted.status_code == 201, submitted.text
    receipt = submitted.json()
    document_id = receipt["document_id"]

    [item] = await eventually(lambda: inbox(live_hubs, client, "lgsp-h04", "fleet-h04", H04))
    assert item["sender"] == H56 and item["document_id"] == document_id
    fetched = await live_hubs.call(
        client, "GET", "lgsp-h04", f"/api/v1/packages/{item['doc_id']}", system_id="fleet-h04"
    )
    assert fetched.content == body  # byte for byte what the sender signed
    ack = await live_hubs.call(
        client,
        "POST",
        "lgsp-h04",
        f"/api/v1/inbox/{item['doc_id']}/ack",
        system_id="fleet-h04",
        json={"organ_id": H04, "state": "done"},
    )
    assert ack.status_code == 200

    # Each hub tells its part of the story under its own doc id.
    at_ndxp = (
        await live_hubs.call(
            client,
            "GET",
            "ndxp",
            "/api/v1/trace",
            params={"sender": H56, "document_id": document_id},
        )
    ).json()
    assert at_ndxp["origin"] == "lgsp-h56"
    assert at_ndxp["recipients"] == [{"organ_id": H04, "state": "sent", "via": "lgsp-h04"}]
    assert [h["event"] for h in at_ndxp["hops"]] == ["accepted", "forwarded"]
    at_h04 = (
        await live_hubs.call(client, "GET", "lgsp-h04", f"/api/v1/packages/{item['doc_id']}/trace")
    ).json()
    assert at_h04["origin"] == "ndxp"
    assert [h["event"] for h in at_h04["hops"]] == ["accepted", "delivered", "confirmed"]

    # The recipient answers; the status goes back the same way to the sender.
    status = packages.status(H04, response_to=H56, document_id=document_id)
    answered = await live_hubs.call(
        client, "POST", "lgsp-h04", "/api/v1/packages", system_id="fleet-h04", content=status
    )
    assert answered.status_code == 201, answered.text
    assert answered.json()["recipients"] == [H56]
    statuses = await eventually(lambda: _statuses(live_hubs, client, document_id))
    assert [(s["code"], s["from"]) for s in statuses] == [("01", H04)]
    [waiting] = [
        i
        for i in await inbox(live_hubs, client, "lgsp-h56", "fleet-h56", H56)
        if i["kind"] == "status"
    ]
    assert waiting["status_code"] == "01" and waiting["response_for"] == document_id
    back = await live_hubs.call(
        client, "GET", "lgsp-h56", f"/api/v1/packages/{waiting['doc_id']}", system_id="fleet-h56"
    )
    assert back.content == status

    sender_side = (
        await live_hubs.call(
            client,
            "GET",
            "lgsp-h56",
            "/api/v1/trace",
            params={"sender": H56, "document_id": document_id},
        )
    ).json()
    assert [h["event"] for h in sender_side["hops"]] == ["accepted", "forwarded"]
    assert {"organ_id": H04, "state": "sent", "via": "ndxp"} in sender_side["recipients"]
    stats = (await live_hubs.call(client, "GET", "ndxp", "/api/v1/stats")).json()
    assert stats["accepted"] == {
        "documents": 1,
        "statuses": 1,
        "total": 2,
        "from_systems": 0,
        "from_hubs": 2,
    }
    assert stats["forwarded"] == 2


async def _statuses(hubs: LiveHubs, http: httpx.AsyncClient, document_id: str) -> list[Any]:
    trace = await hubs.call(
        http, "GET", "lgsp-h56", "/api/v1/trace", params={"sender": H56, "document_id": document_id}
    )
    result: list[Any] = trace.json()["statuses"]
    return result


async def test_a_ministry_document_reaches_two_provinces(
    live_hubs: LiveHubs, packages: Packages, client: httpx.AsyncClient
) -> None:
    body = packages.document(G22, (H56, H04B))
    submitted = await live_hubs.call(
        client, "POST", "ndxp", "/api/v1/packages", system_id="fleet-ndxp", content=body
    )
    assert submitted.status_code == 201, submitted.text
    for hub_id, system_id, organ_id in (
        ("lgsp-h56", "fleet-h56", H56),
        ("lgsp-h04", "fleet-h04", H04B),
    ):
        [item] = await eventually(
            lambda h=hub_id, s=system_id, o=organ_id: inbox(live_hubs, client, h, s, o)
        )
        fetched = await live_hubs.call(
            client, "GET", hub_id, f"/api/v1/packages/{item['doc_id']}", system_id=system_id
        )
        assert fetched.content == body


def hop_headers(
    data: HubData, body: bytes, recipients: list[str], *, as_hub: str = "ndxp", **changes: Any
) -> dict[str, str]:
    """Headers of a hub-to-hub request, signed with ``as_hub``'s identity unless changed."""
    identity = changes.pop("identity", None) or data.hub_identity(as_hub)
    signer = HubSigner(hub_id=changes.pop("claimed", as_hub), identity=identity)
    headers = signer.headers(
        body=changes.pop("signed_body", body),
        recipients=recipients,
        now=changes.pop("now", utc_now()),
    )
    headers.update(changes)
    return headers


async def post_hop(
    hubs: LiveHubs, http: httpx.AsyncClient, hub_id: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return await http.post(hubs.url(hub_id) + "/api/v1/hub/packages", content=body, headers=headers)


async def test_duplicate_forwarding_is_harmless(
    live_hubs: LiveHubs, packages: Packages, client: httpx.AsyncClient, hub_data: HubData
) -> None:
    body = packages.document(H56, (H04,))
    headers = hop_headers(hub_data, body, [H04])
    first = await post_hop(live_hubs, client, "lgsp-h04", body, headers)
    assert first.status_code == 201, first.text
    again = await post_hop(live_hubs, client, "lgsp-h04", body, hop_headers(hub_data, body, [H04]))
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    assert len(await inbox(live_hubs, client, "lgsp-h04", "fleet-h04", H04)) == 1


async def test_hops_that_do_not_authenticate_are_refused(
    live_hubs: LiveHubs, packages: Packages, client: httpx.AsyncClient, hub_data: HubData
) -> None:
    body = packages.document(H56, (H04,))
    agency = hub_data.agency(H56)
    cases = {
        "an agency certificate": hop_headers(
            hub_data, body, [H04], identity=agency, claimed="ndxp"
        ),
        "a digest of other bytes": hop_headers(hub_data, body, [H04], signed_body=body + b" "),
        "a hub claiming another's name": hop_headers(hub_data, body, [H04], claimed="lgsp-h56"),
        "an old timestamp": hop_headers(
            hub_data, body, [H04], now=utc_now() - timedelta(minutes=6)
        ),
        "altered recipients": {
            **hop_headers(hub_data, body, [H04]),
            "X-Lgsp-Recipients": json.dumps([H04, H04B]),
        },
        "no signature": {
            k: v for k, v in hop_headers(hub_data, body, [H04]).items() if k != "X-Lgsp-Signature"
        },
        "an unknown hub": hop_headers(hub_data, body, [H04], claimed="lgsp-zz", as_hub="lgsp-h56"),
    }
    messages = {}
    for name, headers in cases.items():
        response = await post_hop(live_hubs, client, "lgsp-h04", body, headers)
        assert response.status_code == 401, (name, response.text)
        assert response.json()["error"]["code"] == "hub_auth_failed", name
        messages[name] = response.json()["error"]["message"]
    assert "wrong_certificate_kind" in messages["an agency certificate"]
    assert "digest" in messages["a digest of other bytes"].lower()
    assert "lgsp-h56" in messages["a hub claiming another's name"]
    assert "s away" in messages["an old timestamp"]
    assert "X-Lgsp-Signature" in messages["no signature"]
    assert await count_packages(live_hubs, client, "lgsp-h04") == 0
    stats = (await live_hubs.call(client, "GET", "lgsp-h04", "/api/v1/stats")).json()
    assert stats["rejected"]["by_reason"] == {"hub_auth_failed": len(cases)}


async def test_loops_and_strangers_are_refused(
    live_hubs: LiveHubs, packages: Packages, client: httpx.AsyncClient, hub_data: HubData
) -> None:
    body = packages.document(H56, (H56B, H04))
    # lgsp-h04 would have to send H56B back to the NDXP, which sent it.
    loop = await post_hop(live_hubs, client, "lgsp-h04", body, hop_headers(hub_data, body, [H56B]))
    assert loop.status_code == 422
    assert loop.json()["error"]["code"] == "routing_loop"
    stranger = await post_hop(
        live_hubs, client, "lgsp-h04", body, hop_headers(hub_data, body, [H04B])
    )
    assert stranger.status_code == 422
    assert stranger.json()["error"]["code"] == "recipient_not_in_package"
    assert await count_packages(live_hubs, client, "lgsp-h04") == 0


async def test_a_refusal_by_the_next_hub_sends_the_row_to_dead(
    live_hubs: LiveHubs, packages: Packages, client: httpx.AsyncClient, hub_data: HubData
) -> None:
    # Point lgsp-h04's address at lgsp-h56: it refuses (routing_loop, 422), for good.
    hub_data.write_services(
        {
            "ndxp": live_hubs.url("ndxp"),
            "lgsp-h56": live_hubs.url("lgsp-h56"),
            "lgsp-h04": live_hubs.url("lgsp-h56"),
        }
    )
    live_hubs.hub("ndxp").directory.reload_peers()
    body = packages.document(H56, (H04,))
    submitted = await live_hubs.call(
        client, "POST", "lgsp-h56", "/api/v1/packages", system_id="fleet-h56", content=body
    )
    assert submitted.status_code == 201

    async def dead() -> list[Any]:
        rows = await live_hubs.call(
            client, "GET", "ndxp", "/api/v1/outbox", params={"state": "dead"}
        )
        items: list[Any] = rows.json()["items"]
        return items

    [row] = await eventually(dead)
    assert row["attempts"] == 1
    assert "routing_loop" in row["last_error"]
    trace = (
        await live_hubs.call(client, "GET", "ndxp", f"/api/v1/packages/{row['doc_id']}/trace")
    ).json()
    assert [h["event"] for h in trace["hops"]] == ["accepted", "dead"]


async def test_a_peer_missing_from_services_is_found_once_listed(
    live_hubs: LiveHubs, packages: Packages, client: httpx.AsyncClient, hub_data: HubData
) -> None:
    urls = {hub_id: live_hubs.url(hub_id) for hub_id in ("ndxp", "lgsp-h56", "lgsp-h04")}
    hub_data.write_services({k: v for k, v in urls.items() if k != "lgsp-h04"})
    live_hubs.hub("ndxp").directory.reload_peers()
    body = packages.document(H56, (H04,))
    submitted = await live_hubs.call(
        client, "POST", "lgsp-h56", "/api/v1/packages", system_id="fleet-h56", content=body
    )
    assert submitted.status_code == 201

    async def failing() -> list[Any]:
        rows = await live_hubs.call(client, "GET", "ndxp", "/api/v1/outbox")
        items: list[Any] = [r for r in rows.json()["items"] if r["attempts"] >= 1]
        return items

    [row] = await eventually(failing)
    assert "lgsp-h04" in row["last_error"]
    hub_data.write_services(urls)
    items = await eventually(lambda: inbox(live_hubs, client, "lgsp-h04", "fleet-h04", H04))
    assert len(items) == 1


async def test_events_stream_over_sse(
    live_hubs: LiveHubs, packages: Packages, client: httpx.AsyncClient
) -> None:
    async with client.stream("GET", live_hubs.url("lgsp-h04") + "/api/v1/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        assert (await anext(lines)).startswith(": connected to lgsp-h04")
        body = packages.document(H56, (H04,))
        submitted = await live_hubs.call(
            client, "POST", "lgsp-h56", "/api/v1/packages", system_id="fleet-h56", content=body
        )
        assert submitted.status_code == 201

        async def next_event() -> tuple[str, dict[str, Any]]:
            name = ""
            async for line in lines:
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    return name, json.loads(line.removeprefix("data: "))
            raise AssertionError("the stream ended")

        name, data = await asyncio.wait_for(next_event(), timeout=10)
    assert name == "accepted"
    assert data["hub_id"] == "lgsp-h04"
    assert data["origin"] == "ndxp"
    assert data["local"] == [H04]
    assert data["document_id"] == submitted.json()["document_id"]
