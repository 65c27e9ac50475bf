"""The native hub client against the fake hub: tokens, receipts, typed errors."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest
from agencies_fakehub import FakeHub
from agencies_support import FLEET_ID, HUB_URL, client_of

from agencies import HubError, NativeHubClient, Receipt
from agencies.fleet import ServiceDirectory


async def test_the_token_is_fetched_once_and_renewed_after_a_401(hub: FakeHub) -> None:
    client = client_of(hub)
    try:
        assert await client.inbox() == []
        assert await client.inbox(organ_id="000.00.00.H56", kind="document") == []
        assert hub.calls["token"] == 1

        hub.revoke_tokens()  # as a restarted hub would
        assert await client.inbox() == []

        assert hub.calls["token"] == 2
        assert hub.calls["inbox"] == 3  # the refused call (401) was retried with the new token
    finally:
        await client.close()


async def test_hub_refusals_become_typed_errors(hub: FakeHub) -> None:
    client = client_of(hub)
    try:
        with pytest.raises(HubError) as caught:
            await client.submit(b"<not-edxml/>")
        with pytest.raises(HubError) as missing:
            await client.fetch("no-such-doc")
    finally:
        await client.close()

    assert caught.value.http_status == 400 and caught.value.code != "hub_error"
    assert caught.value.message
    assert (missing.value.code, missing.value.http_status) == ("unknown_package", 404)
    assert not missing.value.transient


async def test_wrong_credentials_are_refused(hub: FakeHub) -> None:
    client = NativeHubClient(
        system_id=FLEET_ID,
        secret="wrong",
        base_url=HUB_URL,
        transport=httpx.ASGITransport(app=hub.app),
    )
    try:
        with pytest.raises(HubError) as caught:
            await client.inbox()
    finally:
        await client.close()

    assert (caught.value.code, caught.value.http_status) == ("invalid_client", 401)


async def test_an_unknown_or_absent_hub_is_unavailable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    absent = NativeHubClient(system_id="f", secret="s", base_url=f"http://127.0.0.1:{port}")
    unknown = NativeHubClient(system_id="f", secret="s", base_url=lambda: None)
    try:
        for client in (absent, unknown):
            with pytest.raises(HubError) as caught:
                await client.inbox()
            assert (caught.value.code, caught.value.http_status) == ("hub_unavailable", 503)
            assert caught.value.transient
    finally:
        await absent.close()
        await unknown.close()


def test_services_json_is_reread_until_the_hub_appears(tmp_path: Path) -> None:
    path = tmp_path / "services.json"
    directory = ServiceDirectory(path)
    assert directory.url("lgsp-h56") is None

    path.write_text(json.dumps({"ndxp": "http://127.0.0.1:9000"}))
    assert directory.url("lgsp-h56") is None

    path.write_text(json.dumps({"ndxp": "http://127.0.0.1:9000", "lgsp-h56": "http://h:1"}))
    assert directory.url("lgsp-h56") == "http://h:1"

    path.write_text("{half a fi")  # caught mid-write: the last good answer stands
    assert directory.url("lgsp-h56") == "http://h:1"


def test_receipts_keep_the_hub_shape_and_unknown_fields() -> None:
    data = {
        "doc_id": "d1",
        "kind": "document",
        "document_id": "X",
        "sender": "A",
        "recipients": ["B"],
        "duplicate": True,
        "received_at": "2025-01-01T00:00:00+00:00",
        "hub_id": "lgsp-h56",
    }
    assert Receipt.from_json(data).as_dict() == data
