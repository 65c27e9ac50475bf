"""Every refusal of POST /api/v1/packages: its code and status, nothing stored, one log line."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
from hubkit import (
    H04,
    H56,
    H56B,
    H56C,
    REVOKED,
    UNKNOWN,
    DatabaseFor,
    HubData,
    HubHandle,
    Packages,
    hub_settings,
    running_hub,
    sha1_signed,
)

import edoc
import keys


async def refused(
    hub: HubHandle, body: bytes, status: int, code: str, *, system_id: str = "fleet-h56"
) -> dict[str, str]:
    """Submit ``body``, expect the refusal, and check nothing was stored and it was logged."""
    before = await hub.count_packages()
    logged = await hub.rejection_codes()
    response = await hub.submit(body, system_id)
    assert response.status_code == status, response.text
    error: dict[str, str] = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert "Traceback" not in response.text
    assert await hub.count_packages() == before
    assert await hub.rejection_codes() == [*logged, code]
    return error


async def test_malformed_xml(lgsp_h56: HubHandle) -> None:
    await refused(lgsp_h56, b"<edXML><unclosed>", 400, "xml_malformed")


async def test_not_xml_at_all(lgsp_h56: HubHandle) -> None:
    await refused(lgsp_h56, b"\x00\x01 this is not xml", 400, "xml_malformed")


async def test_not_an_edxml_package(lgsp_h56: HubHandle) -> None:
    await refused(lgsp_h56, b"<html><body/></html>", 400, "not_edxml")


async def test_xxe_is_refused_before_parsing(lgsp_h56: HubHandle, packages: Packages) -> None:
    body = packages.document(H56, (H56B,))
    hostile = body.replace(
        b"<edXML:edXML",
        b'<!DOCTYPE edXML [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<edXML:edXML',
        1,
    ).replace(b"</edXML:Subject>", b"&xxe;</edXML:Subject>", 1)
    error = await refused(lgsp_h56, hostile, 400, "xml_dtd_forbidden")
    assert "root:" not in error["message"]


async def test_empty_body(lgsp_h56: HubHandle) -> None:
    await refused(lgsp_h56, b"", 400, "empty_body")


async def test_unsigned_package(lgsp_h56: HubHandle, packages: Packages) -> None:
    await refused(lgsp_h56, packages.document_bytes(H56, (H56B,)), 422, "signature_missing")


async def test_tampered_package(lgsp_h56: HubHandle, packages: Packages) -> None:
    body = packages.document(H56, (H56B,))
    tampered = body.replace("thử nghiệm".encode(), "thử nghiệm!".encode(), 1)
    assert tampered != body
    await refused(lgsp_h56, tampered, 422, "signature_invalid")


async def test_revoked_signer(lgsp_h56: HubHandle, packages: Packages, hub_data: HubData) -> None:
    body = packages.document(REVOKED, (H56B,), signer=hub_data.revoked)
    await refused(lgsp_h56, body, 422, "certificate_revoked")


async def test_signer_of_a_foreign_ca(
    lgsp_h56: HubHandle, packages: Packages, hub_data: HubData
) -> None:
    foreign = hub_data.foreign.agency(H56, name="UBND giả mạo", at=hub_data.at)
    await refused(
        lgsp_h56, packages.document(H56, (H56B,), signer=foreign), 422, "untrusted_issuer"
    )


async def test_signed_by_another_agency(
    lgsp_h56: HubHandle, packages: Packages, hub_data: HubData
) -> None:
    body = packages.document(H56, (H56B,), signer=hub_data.agency(H56C))
    await refused(lgsp_h56, body, 422, "organ_mismatch")


async def test_signed_with_a_personal_certificate(
    lgsp_h56: HubHandle, packages: Packages, hub_data: HubData
) -> None:
    person = hub_data.keystore.person(
        "Nguyễn Văn An", organ_id=H56, position="Chủ tịch", at=hub_data.at
    )
    body = packages.document(H56, (H56B,), signer=person)
    await refused(lgsp_h56, body, 422, "wrong_certificate_kind")


async def test_sender_not_hosted_by_the_caller(lgsp_h56: HubHandle, packages: Packages) -> None:
    # Properly signed by H04, but fleet-h56 does not speak for H04.
    await refused(lgsp_h56, packages.document(H04, (H56B,)), 403, "organ_not_hosted")
    # dms-h56c speaks only for H56C.
    await refused(
        lgsp_h56,
        packages.document(H56, (H56B,)),
        403,
        "organ_not_hosted",
        system_id="dms-h56c",
    )


async def test_unknown_recipient(lgsp_h56: HubHandle, packages: Packages) -> None:
    error = await refused(
        lgsp_h56, packages.document(H56, (H56B, UNKNOWN)), 422, "unknown_recipient"
    )
    assert UNKNOWN in error["message"]


async def test_no_recipient(lgsp_h56: HubHandle, packages: Packages) -> None:
    await refused(lgsp_h56, packages.document(H56, ()), 422, "no_recipient")


async def test_missing_document_id(lgsp_h56: HubHandle, hub_data: HubData) -> None:
    header = edoc.DocumentHeader(
        from_=edoc.Organization(H56),
        to=[edoc.Organization(H56B)],
        subject="Không có số",
        promulgation=edoc.PromulgationInfo(date=dt.date(2026, 11, 20)),
    )
    body = keys.sign_envelope(edoc.build_document(header), hub_data.agency(H56))
    await refused(lgsp_h56, body, 422, "missing_document_id")


async def test_sender_without_organ_id(lgsp_h56: HubHandle, packages: Packages) -> None:
    body = packages.document_bytes(H56, (H56B,)).replace(
        f"<edXML:OrganId>{H56}</edXML:OrganId>".encode(), b"", 1
    )
    await refused(lgsp_h56, body, 400, "missing_sender")


async def test_no_token_is_logged_too(lgsp_h56: HubHandle, packages: Packages) -> None:
    response = await lgsp_h56.client.post(
        "/api/v1/packages", content=packages.document(H56, (H56B,))
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert await lgsp_h56.count_packages() == 0
    assert await lgsp_h56.rejection_codes() == ["unauthorized"]


async def test_legacy_sha1_is_accepted_but_not_in_strict_mode(
    hub_data: HubData, packages: Packages, database_for: DatabaseFor
) -> None:
    body = sha1_signed(packages.document_bytes(H56, (H56B,)), hub_data.agency(H56))
    lenient = hub_settings(hub_data, "lgsp-h56", database_for("lgsp-h56"))
    async with running_hub(lenient) as hub:
        assert (await hub.submit(body)).status_code == 201
    strict = hub_settings(hub_data, "lgsp-h56", database_for("lgsp-h56"), strict=True)
    async with running_hub(strict) as hub:
        await refused(hub, body, 422, "legacy_algorithm_refused")


@pytest.fixture
async def small_limit_hub(hub_data: HubData, database_for: DatabaseFor) -> AsyncIterator[HubHandle]:
    settings = hub_settings(hub_data, "lgsp-h56", database_for("lgsp-h56"), max_body_bytes=4096)
    async with running_hub(settings) as hub:
        yield hub


async def test_body_too_large_by_content_length(
    small_limit_hub: HubHandle, packages: Packages
) -> None:
    body = packages.document(H56, (H56B,), attachment=b"%PDF" + bytes(range(256)) * 40)
    assert len(body) > 4096
    error = await refused(small_limit_hub, body, 413, "body_too_large")
    assert "4096" in error["message"]


async def test_body_too_large_when_chunked(small_limit_hub: HubHandle, packages: Packages) -> None:
    body = packages.document(H56, (H56B,), attachment=b"%PDF" + bytes(range(256)) * 40)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = await small_limit_hub.client.post(
        "/api/v1/packages", content=chunks(), headers=await small_limit_hub.auth("fleet-h56")
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert await small_limit_hub.count_packages() == 0
    assert await small_limit_hub.rejection_codes() == ["body_too_large"]


async def test_rejections_are_counted_by_reason(lgsp_h56: HubHandle, packages: Packages) -> None:
    await lgsp_h56.submit(b"<broken")
    await lgsp_h56.submit(b"<broken")
    await lgsp_h56.submit(packages.document_bytes(H56, (H56B,)))
    stats = (await lgsp_h56.client.get("/api/v1/stats")).json()
    assert stats["rejected"] == {
        "total": 3,
        "by_reason": {"signature_missing": 1, "xml_malformed": 2},
    }


async def test_rejections_are_published(lgsp_h56: HubHandle) -> None:
    async with lgsp_h56.hub.events.subscribe() as events:
        response = await lgsp_h56.submit(b"<broken")
        assert response.status_code == 400
        event = await events.next(wait=1)
    assert event is not None
    assert event.type == "rejected"
    assert event.data["code"] == "xml_malformed"
    assert event.data["caller"] == "fleet-h56"
    assert event.data["size"] == len(b"<broken")


def test_httpx_is_what_we_think() -> None:
    # The chunked tests rely on httpx sending no Content-Length for an async generator.
    request = httpx.Request("POST", "http://x", content=iter([b"a"]))
    assert "content-length" not in request.headers
