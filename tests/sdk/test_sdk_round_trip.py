"""The SDK front end to end: topology ``small`` as real processes, an outside DMS over sockets.

The simulated fleets speak the SDK protocol themselves (the default). An outside DMS is
declared at run time with ``lgsp-sim systems add`` and speaks for a new agency of Thanh Hóa
(000.00.07.H56, unknown to the topology); it also registers a second one through
``registerAgency``. Documents from simulated agencies of other hubs reach both (routed by
their level-1 code through the NDXP), and the statuses the outside DMS sends back reach the
senders: in their hub's ``getSentEdocList`` and in their fleet's ``/fleet/sent``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from vxp_client import VxpClient

import edoc
import keys
from sim.runtime import DataDir, Supervisor
from simtime import WallClock

OUTSIDE = "000.00.07.H56"  # declared with `lgsp-sim systems add`
REGISTERED = "000.00.08.H56"  # registered through registerAgency
H04 = "000.00.00.H04"  # Bắc Kạn's People's Committee (fleet-h04, lgsp-h04)
G22 = "000.00.00.G22"  # the Government Office (fleet-ndxp, on the NDXP)
SYSTEM, SECRET = "dms-outside", "outside-secret-1"
LGSP_SIM = str(Path(sys.executable).with_name("lgsp-sim"))  # the console script
HUB_ENV = {
    "LGSP_OUTBOX_RETRY_BASE": "0.2",
    "LGSP_OUTBOX_RETRY_CAP": "1.0",
    "LGSP_POLL_INTERVAL": "0.2",
}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    """Topology small as processes (SQLite), with the outside DMS added while it runs."""
    data = tmp_path_factory.mktemp("sdk-round-trip")
    supervisor = Supervisor(
        data,
        topology="small",
        hub_env=HUB_ENV,
        fleet_env={"FLEET_PROFILE": "demo"},
        health_timeout=60,
    )
    with supervisor:
        command = [LGSP_SIM, "systems", "add", "--data", str(data)]
        command += ["--hub", "H56", "--systemid", SYSTEM, "--secret", SECRET]
        added = subprocess.run(
            [*command, "--agency", OUTSIDE], capture_output=True, text=True, timeout=60
        )
        assert added.returncode == 0, added.stderr + added.stdout
        assert SECRET not in added.stdout + added.stderr
        listed = subprocess.run(
            [LGSP_SIM, "systems", "list", "--data", str(data)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert SYSTEM in listed.stdout and SECRET not in listed.stdout
        yield supervisor


async def eventually(check: Callable[[], Awaitable[Any]], *, within: float = 45.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.2)


def signed_status(
    data: Path, sender: str, *, answer_to: str, document_id: str, code: edoc.StatusCode
) -> bytes:
    """A status package signed by the outside agency's own certificate from the key store."""
    now = WallClock().now()
    identity = keys.KeyStore(data / "keys").agency(sender, name=f"Đơn vị {sender}", at=now)
    header = edoc.StatusHeader(
        from_=edoc.Organization(sender, organ_name=f"Đơn vị {sender}"),
        response_for=edoc.ResponseFor(organ_id=answer_to, document_id=document_id),
        status_code=code,
        description=code.meaning_vi,
        timestamp=now,
    )
    return keys.sign_envelope(edoc.build_status(header), identity)


async def pull_and_answer(
    dms: VxpClient, data: Path, *, recipient: str, sender: str, document_id: str
) -> None:
    """What a real DMS does: poll, fetch, check, confirm, answer 01, 03 and 06."""

    async def listed() -> str | None:
        answer = await dms.received("edoc")
        assert answer["status"] == "OK", answer
        for item in answer["data"]:
            if item["from"] == sender and recipient in item["to"]:
                return str(item["docId"])
        return None

    doc_id = await eventually(listed)
    package = edoc.parse(await dms.fetch(doc_id))
    assert isinstance(package, edoc.DocumentPackage)
    assert package.header.document_id == document_id
    now = WallClock().now()
    keys.verify_envelope(package.raw, keys.KeyStore(data / "keys").trust_store(at=now), at=now)
    assert (await dms.update_status(doc_id, "done"))["status"] == "OK"
    assert doc_id not in [i["docId"] for i in (await dms.received("edoc"))["data"]]
    for code in (edoc.StatusCode.ARRIVED, edoc.StatusCode.ACCEPTED, edoc.StatusCode.COMPLETED):
        status = signed_status(
            data, recipient, answer_to=sender, document_id=document_id, code=code
        )
        sent = await dms.send_edoc(status, recipient, messagetype="status", to=[sender])
        assert sent["status"] == "OK", sent


async def fleet_statuses(http: httpx.AsyncClient, fleet_url: str, document_id: str) -> list[str]:
    response = await http.get(f"{fleet_url}/fleet/sent/{document_id}")
    assert response.status_code == 200, response.text
    return [s["code"] for s in response.json()["statuses"]]


async def test_an_outside_dms_added_with_the_cli(running: Supervisor) -> None:
    data = running.data.root
    urls = running.urls
    async with httpx.AsyncClient(timeout=30) as http:
        dms = VxpClient(http, system_id=SYSTEM, secret=SECRET, base_url=urls["lgsp-h56"])
        sent = await http.post(
            f"{urls['fleet-h04']}/fleet/send",
            json={"from": H04, "to": [OUTSIDE], "subject": "Gửi đơn vị ngoài mô phỏng"},
        )
        result = sent.json()
        assert result["http_status"] == 201, result
        document_id = result["document_id"]
        await pull_and_answer(dms, data, recipient=OUTSIDE, sender=H04, document_id=document_id)

        # The sender's side, through the SDK with the simulated fleet's own credentials.
        fleet_secret = DataDir(data).system("fleet-h04").secret
        sender = VxpClient(
            http, system_id="fleet-h04", secret=fleet_secret, base_url=urls["lgsp-h04"]
        )
        doc_id = result["receipt"]["doc_id"]

        async def arrived_06() -> dict[str, Any] | None:
            answer = await sender.sent(doc_id)
            assert answer["status"] == "OK", answer
            rows = [r for r in answer["data"] if r["toCode"] == OUTSIDE]
            return rows[0] if rows and rows[0]["receiveStatus"] == "06" else None

        row = await eventually(arrived_06)
        assert row["fromCode"] == H04 and row["sendStatus"] == "sent"
        assert row["receivedTime"] and row["title"] == "Gửi đơn vị ngoài mô phỏng"

        async def fleet_saw_them() -> bool:
            codes = await fleet_statuses(http, urls["fleet-h04"], document_id)
            return {"01", "03", "06"} <= set(codes)

        await eventually(fleet_saw_them)


async def test_an_agency_registered_through_the_sdk(running: Supervisor) -> None:
    data = running.data.root
    urls = running.urls
    async with httpx.AsyncClient(timeout=30) as http:
        dms = VxpClient(http, system_id=SYSTEM, secret=SECRET, base_url=urls["lgsp-h56"])
        registered = await dms.register(
            {
                "id": "",
                "pcode": "000.00.00.H56",
                "code": REGISTERED,
                "name": "Trung tâm Phục vụ hành chính công tỉnh Thanh Hóa",
                "mail": "vanthu@ttphvhcc.thanhhoa.gov.vn",
                "mobile": "",
                "fax": "",
            }
        )
        assert registered["status"] == "OK", registered
        sent = await http.post(
            f"{urls['fleet-ndxp']}/fleet/send",
            json={"from": G22, "to": [REGISTERED], "subject": "Văn bản của Văn phòng Chính phủ"},
        )
        result = sent.json()
        assert result["http_status"] == 201, result
        document_id = result["document_id"]
        await pull_and_answer(dms, data, recipient=REGISTERED, sender=G22, document_id=document_id)

        async def fleet_saw_them() -> bool:
            codes = await fleet_statuses(http, urls["fleet-ndxp"], document_id)
            return {"01", "03", "06"} <= set(codes)

        await eventually(fleet_saw_them)
        units = (await dms.synchronize())["data"]
        unit = next(u for u in units if u["code"] == REGISTERED)
        assert unit["centerCode"] == "lgsp-h56" and unit["deleted"] is False


async def test_the_fleets_speak_the_sdk_protocol(running: Supervisor) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        for hub_id in ("lgsp-h56", "lgsp-h04", "ndxp"):
            status = (await http.get(f"{running.urls[hub_id]}/api/v1/sdk")).json()
            assert status["calls"].get("getReceivedEdocList", 0) > 0, status
        status = (await http.get(f"{running.urls['lgsp-h04']}/api/v1/sdk")).json()
        assert status["calls"].get("sendEdoc", 0) > 0
        assert status["failures"] == {}, status
