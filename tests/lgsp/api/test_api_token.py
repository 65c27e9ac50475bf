"""POST /api/v1/token and bearer authentication."""

from __future__ import annotations

import base64

from hubkit import H56, H56B, HubHandle, MovableClock, Packages


async def test_health_needs_no_token(lgsp_h56: HubHandle) -> None:
    response = await lgsp_h56.client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"hub_id": "lgsp-h56", "role": "lgsp", "status": "ok"}


async def test_token_from_form(lgsp_h56: HubHandle) -> None:
    response = await lgsp_h56.client.post(
        "/api/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "fleet-h56",
            "client_secret": "secret-h56",
        },
    )
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 3600
    assert token["access_token"].startswith("v1.")


async def test_token_from_json_and_basic(lgsp_h56: HubHandle) -> None:
    as_json = await lgsp_h56.client.post(
        "/api/v1/token", json={"client_id": "fleet-h56", "client_secret": "secret-h56"}
    )
    assert as_json.status_code == 200
    basic = base64.b64encode(b"fleet-h56:secret-h56").decode()
    as_basic = await lgsp_h56.client.post(
        "/api/v1/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert as_basic.status_code == 200


async def test_wrong_secret_and_unknown_client_are_the_same_401(lgsp_h56: HubHandle) -> None:
    for client_id, secret in (("fleet-h56", "wrong"), ("nobody", "secret-h56")):
        response = await lgsp_h56.client.post(
            "/api/v1/token", data={"client_id": client_id, "client_secret": secret}
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_client"


async def test_a_system_of_another_hub_gets_no_token_here(lgsp_h56: HubHandle) -> None:
    response = await lgsp_h56.client.post(
        "/api/v1/token", data={"client_id": "fleet-h04", "client_secret": "secret-h04"}
    )
    assert response.status_code == 401


async def test_token_request_errors(lgsp_h56: HubHandle) -> None:
    missing = await lgsp_h56.client.post("/api/v1/token", data={"client_id": "fleet-h56"})
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "invalid_request"
    grant = await lgsp_h56.client.post(
        "/api/v1/token",
        data={"grant_type": "password", "client_id": "fleet-h56", "client_secret": "x"},
    )
    assert grant.status_code == 400
    assert grant.json()["error"]["code"] == "unsupported_grant_type"
    bad_json = await lgsp_h56.client.post(
        "/api/v1/token", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400


async def test_calls_without_or_with_a_bad_token_are_refused(lgsp_h56: HubHandle) -> None:
    missing = await lgsp_h56.client.get("/api/v1/inbox")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    forged = await lgsp_h56.client.get(
        "/api/v1/inbox", headers={"Authorization": "Bearer v1.eyJzdWIiOiJ4In0.AAAA"}
    )
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "invalid_token"


async def test_tokens_expire_on_the_hub_clock(lgsp_h56: HubHandle, hub_clock: MovableClock) -> None:
    headers = await lgsp_h56.auth("fleet-h56")
    assert (await lgsp_h56.client.get("/api/v1/inbox", headers=headers)).status_code == 200
    hub_clock.advance(seconds=3601)
    expired = await lgsp_h56.client.get("/api/v1/inbox", headers=headers)
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "token_expired"


async def test_a_token_of_one_hub_is_refused_by_another(
    lgsp_h56: HubHandle, packages: Packages
) -> None:
    # lgsp-h56's token key signs tokens bound to lgsp-h56: change the hub id claim and the
    # MAC breaks; reuse the MAC with another hub's service and the key differs.
    token = await lgsp_h56.token("fleet-h56")
    other = lgsp_h56.hub.tokens.__class__(
        key=b"another hub's key", hub_id="lgsp-h04", ttl=60, clock=lgsp_h56.hub.clock
    )
    response = await lgsp_h56.client.post(
        "/api/v1/packages",
        content=packages.document(H56, (H56B,)),
        headers={"Authorization": f"Bearer {other.issue('fleet-h56').access_token}"},
    )
    assert response.status_code == 401
    assert token != other.issue("fleet-h56").access_token
