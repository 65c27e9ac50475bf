"""The fleet's control API, with its lifespan (clerk running) against the fake hub."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from agencies_fakehub import FakeHub
from agencies_support import FAST, FLEET_ID, HUB_ID, SO_NOI_VU, UBND, client_of, eventually

from agencies import FleetError, FleetSettings, create_app
from agencies.__main__ import main
from keys import KeyStore


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    path = tmp_path / "fast.json"
    path.write_text(FAST.model_dump_json())
    return path


@pytest.fixture
async def api(
    hub: FakeHub, data_dir: Path, keystore: KeyStore, profile_file: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The control API of fleet-h56, lifespan started, wired to the fake hub."""
    settings = FleetSettings(fleet_id=FLEET_ID, data=data_dir, profile=str(profile_file))
    app = create_app(settings, hub=client_of(hub), keystore=keystore)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://fleet"
        ) as client,
    ):
        yield client


async def test_health(api: httpx.AsyncClient, data_dir: Path) -> None:
    response = await api.get("/health")

    systems = json.loads((data_dir / "systems.json").read_text())
    assert response.status_code == 200
    assert response.json() == {
        "fleet_id": FLEET_ID,
        "hub_id": HUB_ID,
        "agencies": len(systems[0]["agencies"]),
        "status": "ok",
    }


async def test_send_returns_the_receipt_and_statuses_come_back(
    api: httpx.AsyncClient, hub: FakeHub
) -> None:
    response = await api.post(
        "/fleet/send",
        json={"from": UBND, "to": [SO_NOI_VU], "subject": "Về việc tổng kết năm", "due_days": 3},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["http_status"] == 201 and "error" not in body
    assert body["receipt"]["doc_id"] == hub.submitted[0].doc_id
    assert body["receipt"]["document_id"] == body["document_id"]
    document_id = body["document_id"]

    async def codes() -> list[str]:
        sent = (await api.get(f"/fleet/sent/{document_id}")).json()
        return [s["code"] for s in sent["statuses"]]

    deadline = time.monotonic() + 10
    while await codes() != ["01", "03", "04", "05", "06"]:
        assert time.monotonic() < deadline, await codes()
        await asyncio.sleep(0.05)

    # A composite DocumentId has slashes: it may come quoted (as sim's client sends it) or not.
    sent = (await api.get(f"/fleet/sent/{quote(document_id, safe='')}")).json()
    assert sent["document_id"] == document_id
    assert sent["from"] == UBND and sent["to"] == [SO_NOI_VU]
    assert sent["receipt"]["doc_id"] == body["receipt"]["doc_id"]
    assert all(s["from"] == SO_NOI_VU for s in sent["statuses"])
    received = (await api.get("/fleet/received", params={"organ_id": SO_NOI_VU})).json()
    item = received["items"][0]
    assert item["document_id"] == document_id and item["from"] == UBND
    assert (item["envelope"], item["personal"], item["agency"]) == ("valid", "valid", "valid")
    stats = (await api.get("/fleet/stats")).json()
    assert stats["sent"] == 1 and stats["received"] == 1
    assert stats["statuses_received"] == 5 and stats["verification_failures"] == 0


async def test_the_hubs_refusal_is_returned_not_raised(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/fleet/send", json={"from": UBND, "to": [SO_NOI_VU], "subject": "X", "tamper": True}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["error"]["code"] == "signature_invalid" and body["http_status"] == 422
    assert "receipt" not in body
    sent = (await api.get(f"/fleet/sent/{body['document_id']}")).json()
    assert sent["receipt"] is None and sent["error"]["code"] == "signature_invalid"


async def test_an_agency_the_fleet_does_not_host_is_404(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/fleet/send", json={"from": "000.00.00.G22", "to": [UBND], "subject": "X"}
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_agency"
    assert "000.00.00.G22" in response.json()["error"]["message"]
    missing = await api.get("/fleet/received", params={"organ_id": "000.00.00.G22"})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from": UBND, "to": [SO_NOI_VU]}, "subject"),
        ({"from": UBND, "to": [], "subject": "X"}, "to"),
        ({"to": [SO_NOI_VU], "subject": "X"}, "from"),
        ({"from": UBND, "to": [SO_NOI_VU], "subject": "X", "due_days": -1}, "due_days"),
        ({"from": UBND, "to": [SO_NOI_VU], "subject": "X", "tampr": True}, "tampr"),
    ],
)
async def test_invalid_requests_get_a_coded_error(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await api.post("/fleet/send", json=body)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and field in error["message"]


async def test_a_subject_xml_cannot_carry_is_a_400(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/fleet/send", json={"from": UBND, "to": [SO_NOI_VU], "subject": "bad \x01 text"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_text"


async def test_unknown_documents_and_routes_are_coded_404s(api: httpx.AsyncClient) -> None:
    unknown = await api.get("/fleet/sent/000.00.00.H56,2025/01/01,1/UBND-VP")
    route = await api.get("/nowhere")

    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_document"
    assert route.status_code == 404 and route.json()["error"]["code"] == "not_found"


async def test_the_agencies_listing_names_who_signs(api: httpx.AsyncClient) -> None:
    items = (await api.get("/fleet/agencies")).json()["items"]

    ubnd = next(item for item in items if item["organ_id"] == UBND)
    assert ubnd["position"] == "Chủ tịch" and ubnd["name"] == "Ủy ban nhân dân tỉnh Thanh Hóa"


def test_a_wrong_data_directory_fails_at_creation(tmp_path: Path, data_dir: Path) -> None:
    with pytest.raises(FleetError) as missing:
        create_app(FleetSettings(fleet_id=FLEET_ID, data=tmp_path))
    with pytest.raises(FleetError) as unknown:
        create_app(FleetSettings(fleet_id="fleet-h99", data=data_dir))

    assert missing.value.code == "systems_missing"
    assert unknown.value.code == "unknown_fleet"


def test_a_data_directory_without_a_ca_fails_at_creation(tmp_path: Path, data_dir: Path) -> None:
    for name in ("sim.json", "systems.json"):
        (tmp_path / name).write_bytes((data_dir / name).read_bytes())

    with pytest.raises(FleetError) as caught:
        create_app(FleetSettings(fleet_id=FLEET_ID, data=tmp_path))

    assert caught.value.code == "keystore_missing"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_ID", "fleet-h04")
    monkeypatch.setenv("FLEET_DATA", "/srv/data")
    monkeypatch.setenv("FLEET_WORKERS", "3")

    settings = FleetSettings()

    assert (settings.fleet_id, settings.data, settings.workers) == (
        "fleet-h04",
        Path("/srv/data"),
        3,
    )
    assert FleetSettings(fleet_id="fleet-h56").fleet_id == "fleet-h56"


def test_the_command_line_reports_errors_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["serve", "--fleet-id", FLEET_ID, "--data", str(tmp_path)])

    assert code == 2
    assert capsys.readouterr().err.startswith("error: systems_missing:")


# -- the real process on real sockets --------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def hub_server(hub: FakeHub) -> Iterator[str]:
    """The fake hub on a real uvicorn socket, in a thread."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(hub.app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


async def test_python_m_agencies_serve_finds_the_hub_when_it_appears(
    tmp_path: Path, data_dir: Path, hub: FakeHub, hub_server: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for name in ("sim.json", "systems.json"):
        (data / name).write_bytes((data_dir / name).read_bytes())
    (data / "keys").symlink_to(data_dir / "keys")
    port = _free_port()
    command = ["-m", "agencies", "serve", "--fleet-id", FLEET_ID, "--data", str(data)]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *command,
        "--port",
        str(port),
        # The fake hub speaks the native API only.
        env={**os.environ, "FLEET_PROFILE": "demo", "FLEET_PROTOCOL": "native"},
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as fleet:
            await eventually(lambda: _answers(f"http://127.0.0.1:{port}/health"), within=20)
            # services.json does not list the hub yet: the hub's absence is a coded answer.
            early = await fleet.post(
                "/fleet/send", json={"from": UBND, "to": [SO_NOI_VU], "subject": "Sớm"}
            )
            assert early.json()["error"]["code"] == "hub_unavailable"

            (data / "services.json").write_text(json.dumps({HUB_ID: hub_server}))
            sent = await fleet.post(
                "/fleet/send", json={"from": UBND, "to": [SO_NOI_VU], "subject": "Đúng hạn"}
            )
            assert sent.json()["http_status"] == 201
            document_id = sent.json()["document_id"]

            async def statuses() -> int:
                return len((await fleet.get(f"/fleet/sent/{document_id}")).json()["statuses"])

            deadline = time.monotonic() + 20
            while await statuses() < 5:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
    finally:
        process.terminate()
        _, errors = await asyncio.wait_for(process.communicate(), timeout=10)
    # uvicorn re-raises SIGTERM once shut down; what matters is a clean, traceback-free stop.
    log = errors.decode()
    assert "Application shutdown complete" in log
    assert "Traceback" not in log


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
