"""Every call of the VXP protocol table and every refusal, against a real hub (in-process ASGI).

The client (vxp_client.py) knows only the protocol facts; the hub is lgsp-h56 of topology
``small`` on SQLite and on PostgreSQL. Systems: fleet-h56 hosts every agency of lgsp-h56;
dms-h56c hosts H56C only.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from hubkit import (
    G22,
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
from vxp_client import VIETNAM, VxpClient, java_hex, sdk_timestamp

import edoc
import keys

OUTSIDE = "000.00.07.H56"  # not in topology small: registered at run time


def client(hub: HubHandle, system_id: str, secret: str, **options: Any) -> VxpClient:
    return VxpClient(hub.client, system_id=system_id, secret=secret, **options)


@pytest.fixture
def fleet(lgsp_h56: HubHandle) -> VxpClient:
    return client(lgsp_h56, "fleet-h56", "secret-h56", seed=1)


@pytest.fixture
def dms(lgsp_h56: HubHandle) -> VxpClient:
    return client(lgsp_h56, "dms-h56c", "secret-h56c", seed=2)


def ok(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["status"] == "OK", answer
    assert answer["ErrorCode"] == "0"
    assert answer["ErrorDesc"] == ""
    return answer


def fail(answer: dict[str, Any], code: str, reason: str | None = None) -> dict[str, Any]:
    assert answer["status"] == "FAIL", answer
    assert answer["ErrorCode"] == code, answer
    assert answer["ErrorDesc"]
    if reason is not None:
        assert answer["ErrorDesc"].startswith(f"{reason}: "), answer
    return answer


async def front_status(hub: HubHandle) -> dict[str, Any]:
    response = await hub.client.get("/api/v1/sdk")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


# -- the document calls -----------------------------------------------------------------


async def test_send_pull_confirm_and_answer(
    lgsp_h56: HubHandle, packages: Packages, fleet: VxpClient, dms: VxpClient
) -> None:
    body = packages.document(H56, (H56C,))
    sent = ok(await fleet.send_edoc(body, H56, to=[H56C]))
    doc_id = sent["DocId"]
    assert doc_id

    assert ok(await dms.count("Edoc"))["count"] == 1
    assert ok(await dms.count("Status"))["count"] == 0
    [item] = ok(await dms.received("edoc"))["data"]
    assert item == {
        "docId": doc_id,
        "serviceType": "eDoc",
        "messageType": "edoc",
        "created_time": item["created_time"],
        "updated_time": item["updated_time"],
        "from": H56,
        "to": json.dumps([H56C]),
        "status": "initial",
        "status_desc": item["status_desc"],
    }
    assert item["created_time"].endswith("Z") and item["status_desc"]
    assert ok(await dms.received("status"))["data"] == []

    answer = ok(await dms.get_edoc(doc_id))
    assert base64.b64decode(answer["data"]) == body  # the exact signed bytes
    [item] = ok(await dms.received("edoc"))["data"]
    assert item["status"] == "processing"
    ok(await dms.update_status(doc_id, "processing"))
    ok(await dms.update_status(doc_id, "done"))
    assert ok(await dms.received("edoc"))["data"] == []
    assert ok(await dms.count("Edoc"))["count"] == 0
    ok(await dms.update_status(doc_id, "done"))  # idempotent

    document_id = edoc.parse(body).header.document_id  # type: ignore[union-attr]
    for code in (edoc.StatusCode.ARRIVED, edoc.StatusCode.ACCEPTED):
        status = packages.status(H56C, response_to=H56, document_id=document_id, code=code)
        ok(await dms.send_edoc(status, H56C, messagetype="status", to=[H56]))
    assert ok(await fleet.count("Status"))["count"] == 2
    statuses = ok(await fleet.received("status"))["data"]
    assert [s["messageType"] for s in statuses] == ["status", "status"]
    assert all(s["to"] == json.dumps([H56]) for s in statuses)

    [row] = ok(await fleet.sent(doc_id))["data"]
    assert row["toCode"] == H56C and row["fromCode"] == H56
    assert row["senderDocId"] == row["receiverDocId"] == doc_id
    assert row["receiveStatus"] == "03"
    assert row["receiveStatusDesc"] == edoc.StatusCode.ACCEPTED.meaning_vi
    assert row["sendStatus"] == "done"
    assert row["notation"] == "1/UBND-VP"
    assert row["title"] == "Về việc thử nghiệm liên thông văn bản"
    assert all(isinstance(v, str) and v for k, v in row.items() if k != "receiverDocId")


async def test_a_retried_send_gets_the_same_doc_id(
    lgsp_h56: HubHandle, packages: Packages, fleet: VxpClient, dms: VxpClient
) -> None:
    body = packages.document(H56, (H56C,))
    first = ok(await fleet.send_edoc(body, H56))
    second = ok(await fleet.send_edoc(body, H56))
    assert first["DocId"] == second["DocId"]
    assert await lgsp_h56.count_packages() == 1
    assert len(ok(await dms.received())["data"]) == 1


async def test_one_entry_per_package_for_a_system(
    lgsp_h56: HubHandle, packages: Packages, fleet: VxpClient
) -> None:
    """A package for two agencies of one system is listed once; updateStatus closes both."""
    sender = client(lgsp_h56, "dms-h56c", "secret-h56c")
    body = packages.document(H56C, (H56, H56B))
    doc_id = ok(await sender.send_edoc(body, H56C))["DocId"]
    [item] = ok(await fleet.received())["data"]
    assert sorted(json.loads(item["to"])) == [H56, H56B]
    ok(await fleet.update_status(doc_id, "fail"))
    assert ok(await fleet.received())["data"] == []
    stats = (await lgsp_h56.client.get("/api/v1/stats")).json()
    assert stats["delivery_failed"] == 2


# -- refusals ----------------------------------------------------------------------------


async def test_authentication_refusals(lgsp_h56: HubHandle, fleet: VxpClient) -> None:
    params = {"servicetype": "eDoc", "messagetype": "edoc"}
    path = "/getReceivedEdocList"
    fail(await fleet.call("POST", path, params, tamper={"XroadVnpt-hash-header": "0" * 64}), "103")
    stranger = client(lgsp_h56, "nobody", "secret")
    fail(await stranger.call("POST", path, params), "102", "unknown_system")
    wrong = client(lgsp_h56, "fleet-h56", "not-the-secret")
    fail(await wrong.call("POST", path, params), "103", "bad_signature")
    no_signature = fleet.prepare("POST", path, params)
    no_signature.headers[:] = [h for h in no_signature.headers if h[0] != "XroadVnpt-sign-header"]
    response = await fleet.send(no_signature)
    assert response.status_code == 200
    fail(response.json(), "101", "missing_header")
    # A signed pair that differs from the header actually sent.
    fail(
        await fleet.call("POST", path, params, tamper={"XroadVnpt-messagetype": "status"}),
        "104",
        "sign_header_mismatch",
    )
    # A name listed in sign-header-key that the JSON does not sign.
    prepared = fleet.prepare("POST", path, params)
    keys_header = dict(prepared.headers)["XroadVnpt-sign-header-key"]
    fail(
        await fleet.call(
            "POST", path, params, tamper={"XroadVnpt-sign-header-key": keys_header + ";docId"}
        ),
        "104",
    )
    bad_time = client(lgsp_h56, "fleet-h56", "secret-h56", timestamp="2026-11-22 03:34:47")
    fail(await bad_time.call("POST", path, params), "105", "bad_timestamp")


async def test_the_hmac_covers_the_header_exactly_as_sent(
    lgsp_h56: HubHandle, fleet: VxpClient
) -> None:
    """Key order and spacing are the client's: a re-serialised JSON would not verify."""
    params = {"servicetype": "eDoc", "messagetype": "edoc"}
    for seed in range(5):
        shuffled = client(lgsp_h56, "fleet-h56", "secret-h56", seed=seed, timestamp=fleet.timestamp)
        ok(await shuffled.call("POST", "/getReceivedEdocList", params))
    prepared = fleet.prepare("POST", "/getReceivedEdocList", params)
    spaced = json.dumps(json.loads(dict(prepared.headers)["XroadVnpt-sign-header"]), indent=1)
    fail(
        await fleet.call(
            "POST",
            "/getReceivedEdocList",
            params,
            tamper={"XroadVnpt-sign-header": spaced.replace("\n", "")},
        ),
        "103",
    )


async def test_send_refusals_leave_nothing_behind(
    lgsp_h56: HubHandle, packages: Packages, fleet: VxpClient, dms: VxpClient
) -> None:
    body = packages.document(H56, (H56B,))
    no_hash = {"from": H56, "servicetype": "eDoc", "messagetype": "edoc"}
    octet = "application/octet-stream"
    fail(await fleet.call("POST", "/sendEdoc", no_hash, body=body, content_type=octet), "201")
    fail(await fleet.send_edoc(body, H56, messagetype="document"), "202", "bad_parameter")
    fail(await fleet.send_edoc(body, H56, params={"servicetype": "mail"}), "202")
    fail(await fleet.send_edoc(body, H56, params={"to": "000.00.01.H56"}), "202")
    fail(await fleet.send_edoc(body, H56, params={"hash-file": java_hex(b"x")}), "203")
    fail(await dms.send_edoc(body, H56), "302", "organ_not_hosted")
    fail(await fleet.send_edoc(body, H56B), "206", "from_mismatch")
    fail(await fleet.send_edoc(body, H56, messagetype="status"), "207", "messagetype_mismatch")
    fail(await fleet.send_edoc(body, H56, to=[H04]), "208", "to_mismatch")
    fail(await fleet.send_edoc(b"<not xml", H56), "301")
    tampered = body.replace("thử nghiệm".encode(), "thử nghiệp".encode())
    fail(await fleet.send_edoc(tampered, H56), "303", "signature_invalid")
    unsigned = packages.document_bytes(H56, (H56B,))
    fail(await fleet.send_edoc(unsigned, H56), "303", "signature_missing")
    fail(await fleet.send_edoc(packages.document(H56, ("000.00.00.H99",)), H56), "305")
    nobody = packages.status(H56, response_to="", document_id="x")
    fail(await fleet.send_edoc(nobody, H56, messagetype="status"), "304", "no_recipient")
    assert await lgsp_h56.count_packages() == 0
    logged = await lgsp_h56.rejection_codes()
    assert logged[:3] == ["missing_parameter", "bad_parameter", "bad_parameter"]
    assert "signature_invalid" in logged and "organ_not_hosted" in logged
    assert len(logged) == 14
    status = await front_status(lgsp_h56)
    assert status["failures"]["303"] == 2


async def test_hash_file_is_compared_the_java_way(
    lgsp_h56: HubHandle, packages: Packages, fleet: VxpClient
) -> None:
    body = packages.document(H56, (H56B,))
    while min(hashlib.sha256(body).digest()) >= 0x10:  # need a byte with a leading zero
        body = packages.document(H56, (H56B,))
    standard = hashlib.sha256(body).hexdigest()
    assert len(java_hex(body)) < 64 and standard != java_hex(body)
    fail(await fleet.send_edoc(body, H56, params={"hash-file": standard}), "203")
    ok(await fleet.send_edoc(body, H56))


async def test_doc_id_refusals(
    lgsp_h56: HubHandle, packages: Packages, fleet: VxpClient, dms: VxpClient
) -> None:
    doc_id = ok(await fleet.send_edoc(packages.document(H56, (H56B,)), H56))["DocId"]
    fail(await dms.get_edoc("no-such-doc"), "401", "unknown_doc")
    fail(await dms.get_edoc(doc_id), "402")
    fail(await dms.update_status("no-such-doc", "done"), "401")
    fail(await dms.update_status(doc_id, "done"), "402", "not_allowed")
    fail(await fleet.update_status(doc_id, "read"), "202")
    fail(await fleet.call("POST", "/updateStatus", {"status": "done"}), "201")
    fail(await dms.sent("no-such-doc"), "401")
    fail(await dms.sent(doc_id), "402")
    fail(await fleet.call("POST", "/getReceivedEdocList", {"servicetype": "eDoc"}), "201")


async def test_fail_answers_carry_every_field(lgsp_h56: HubHandle) -> None:
    stranger = client(lgsp_h56, "nobody", "secret")
    expected = {
        ("POST", "/sendEdoc"): {"DocId": ""},
        ("POST", "/getReceivedEdocList"): {"data": []},
        ("POST", "/getEdoc"): {"data": ""},
        ("POST", "/updateStatus"): {},
        ("POST", "/getSentEdocList"): {"data": []},
        ("GET", "/countReceiveEdoc"): {"count": 0},
        ("GET", "/countReceiveStatus"): {"count": 0},
        ("POST", "/getAgenciesList"): {"data": []},
        ("POST", "/getAgenciesListQD20"): {"data": []},
        ("POST", "/registerAgency"): {},
        ("POST", "/deleteAgency"): {},
        ("POST", "/getSynchronizeUnit"): {"data": []},
    }
    for (method, path), fields in expected.items():
        answer = await stranger.call(method, path)
        assert answer == {
            "status": "FAIL",
            "ErrorCode": "102",
            "ErrorDesc": answer["ErrorDesc"],
            **fields,
        }, path


# -- freshness and replays -----------------------------------------------------------------


async def test_stale_timestamps_are_warnings_by_default(
    lgsp_h56: HubHandle, packages: Packages
) -> None:
    old = sdk_timestamp(datetime.now(VIETNAM) - timedelta(hours=3))
    stale = client(lgsp_h56, "fleet-h56", "secret-h56", timestamp=old)
    ok(await stale.send_edoc(packages.document(H56, (H56B,)), H56))
    ok(await stale.received())
    status = await front_status(lgsp_h56)
    assert status["warnings"]["stale_timestamp"] == 2
    assert status["strict"] is False


async def test_replays_default_and_strict(
    hub_data: HubData,
    database_for: DatabaseFor,
    hub_clock: MovableClock,
    packages: Packages,
) -> None:
    """The same request bytes twice: accepted with a warning, or refused when strict."""
    body = packages.document(H56, (H56B,))
    for strict in (False, True):
        settings = hub_settings(
            hub_data, "lgsp-h56", database_for(f"lgsp-h56-{str(strict).lower()}"), sdk_strict=strict
        )
        async with running_hub(settings, clock=hub_clock) as hub:
            sdk = client(hub, "fleet-h56", "secret-h56")
            request = sdk.prepare(
                "POST",
                "/sendEdoc",
                sdk.send_params(body, H56),
                body=body,
                content_type="application/octet-stream",
            )
            first = (await sdk.send(request)).json()
            second = (await sdk.send(request)).json()
            ok(first)
            status = await front_status(hub)
            if strict:
                fail(second, "107", "replayed_request")
                assert await hub.rejection_codes() == ["replayed_request"]
                old = sdk_timestamp(datetime.now(VIETNAM) - timedelta(hours=1))
                stale = client(hub, "fleet-h56", "secret-h56", timestamp=old)
                fail(await stale.received(), "106", "stale_timestamp")
                assert status["strict"] is True
            else:
                assert ok(second)["DocId"] == first["DocId"]
                assert status["warnings"]["replayed_request"] == 1
            assert await hub.count_packages() == 1


# -- agencies ----------------------------------------------------------------------------


async def test_directory_calls(lgsp_h56: HubHandle, dms: VxpClient) -> None:
    agencies = ok(await dms.agencies())["data"]
    by_code = {a["code"]: a for a in agencies}
    assert by_code[H56B] == {
        "id": H56B,
        "code": H56B,
        "pid": by_code[H56B]["pid"],
        "name": by_code[H56B]["name"],
        "mail": "",
        "oldCode": "",
    }
    assert G22 in by_code and H04 in by_code
    level1 = {a["code"] for a in ok(await dms.agencies_qd20("1"))["data"]}
    assert {H56, H04, G22} <= level1 and H56B not in level1
    level2 = ok(await dms.agencies_qd20("2"))["data"]
    assert H56B in {a["code"] for a in level2}
    assert set(level2[0]) == {"id", "code", "name", "mail", "code102"}
    fail(await dms.agencies_qd20("9"), "202")
    fail(await dms.call("POST", "/getAgenciesListQD20"), "201")
    units = ok(await dms.synchronize())["data"]
    unit = next(u for u in units if u["code"] == G22)
    assert unit["centerCode"] == "ndxp" and unit["deleted"] is False and unit["isAgency"] is True
    assert set(unit) == {
        "id", "code", "pid", "name", "mail", "version", "centerCode", "deleted", "modifyDate",
        "isAgency",
    }  # fmt: skip


async def test_register_route_and_delete_an_agency(
    lgsp_h56: HubHandle, packages: Packages, hub_data: HubData, fleet: VxpClient, dms: VxpClient
) -> None:
    agency = {
        "id": "",
        "pcode": H56,
        "code": OUTSIDE,
        "name": "Trung tâm Thử nghiệm",
        "mail": "vanthu@thunghiem.gov.vn",
        "mobile": "0912345678",
        "fax": "",
    }
    unknown = packages.document(H56, (OUTSIDE,))
    fail(await fleet.send_edoc(unknown, H56), "305", "unknown_recipient")
    ok(await dms.register(agency))
    assert OUTSIDE in {a["code"] for a in ok(await fleet.agencies())["data"]}
    assert OUTSIDE in {a["code"] for a in ok(await fleet.agencies_qd20("2"))["data"]}

    # Documents reach it, and its DMS answers for it.
    body = packages.document(H56, (OUTSIDE,))
    doc_id = ok(await fleet.send_edoc(body, H56))["DocId"]
    [item] = ok(await dms.received())["data"]
    assert item["docId"] == doc_id and json.loads(item["to"]) == [OUTSIDE]
    assert await dms.fetch(doc_id) == body
    ok(await dms.update_status(doc_id, "done"))
    document_id = edoc.parse(body).header.document_id  # type: ignore[union-attr]
    identity = hub_data.keystore.agency(OUTSIDE, name=agency["name"], at=hub_data.at)
    status = keys.sign_envelope(
        edoc.build_status(
            edoc.StatusHeader(
                from_=edoc.Organization(OUTSIDE, organ_name=agency["name"]),
                response_for=edoc.ResponseFor(organ_id=H56, document_id=document_id),
                status_code=edoc.StatusCode.COMPLETED,
                timestamp=hub_data.at,
            )
        ),
        identity,
    )
    ok(await dms.send_edoc(status, OUTSIDE, messagetype="status"))
    [row] = ok(await fleet.sent(doc_id))["data"]
    assert (row["toCode"], row["receiveStatus"]) == (OUTSIDE, "06")

    # Updating keeps it; another system cannot take it; wrong hubs and bad codes are refused.
    ok(await dms.register({**agency, "name": "Trung tâm Thử nghiệm (mới)"}))
    fail(await fleet.register(agency), "503", "agency_taken")
    fail(await dms.register({**agency, "code": H56B}), "503")
    fail(await dms.register({**agency, "code": "000.00.07.H04"}), "502", "agency_wrong_hub")
    fail(await dms.register({**agency, "code": "000.00.07.H99"}), "502")
    fail(await dms.register({**agency, "code": "7.H56"}), "501", "bad_agency")
    fail(await dms.register({**agency, "name": ""}), "501")
    bad_json = await dms.call("POST", "/registerAgency", body=b"{not json")
    fail(bad_json, "204", "bad_json")

    fail(await fleet.delete(OUTSIDE), "504", "unknown_agency")
    fail(await dms.delete(H56C), "505", "agency_not_registered")
    ok(await dms.delete(OUTSIDE))
    units = {u["code"]: u for u in ok(await dms.synchronize())["data"]}
    assert units[OUTSIDE]["deleted"] is True and units[OUTSIDE]["version"] == 3
    assert OUTSIDE not in {a["code"] for a in ok(await dms.agencies())["data"]}
    fail(await fleet.send_edoc(packages.document(H56, (OUTSIDE,)), H56), "305")


async def test_registrations_survive_a_restart(
    hub_data: HubData, database_for: DatabaseFor, hub_clock: MovableClock, packages: Packages
) -> None:
    settings = hub_settings(hub_data, "lgsp-h56", database_for("lgsp-h56"))
    agency = {"code": OUTSIDE, "name": "Trung tâm Thử nghiệm", "pcode": H56}
    async with running_hub(settings, clock=hub_clock) as hub:
        ok(await client(hub, "dms-h56c", "secret-h56c").register(agency))
    async with running_hub(settings, clock=hub_clock) as hub:
        fleet = client(hub, "fleet-h56", "secret-h56")
        ok(await fleet.send_edoc(packages.document(H56, (OUTSIDE,)), H56))
        dms = client(hub, "dms-h56c", "secret-h56c")
        assert ok(await dms.count())["count"] == 1


# -- the front itself ----------------------------------------------------------------------


async def test_prefix_and_openapi(
    hub_data: HubData, database_for: DatabaseFor, hub_clock: MovableClock
) -> None:
    settings = hub_settings(hub_data, "lgsp-h56", database_for("lgsp-h56"), sdk_prefix="/vxp")
    async with running_hub(settings, clock=hub_clock) as hub:
        sdk = client(hub, "fleet-h56", "secret-h56")
        sdk.base_url = "/vxp"
        ok(await sdk.received())
        assert (await hub.client.post("/getReceivedEdocList")).status_code == 404
        assert (await front_status(hub))["prefix"] == "/vxp"
        schema = hub.app.openapi()
        assert "/vxp/sendEdoc" in schema["paths"]
        assert "SendEdocAnswer" in schema["components"]["schemas"]
        received = schema["components"]["schemas"]["ReceivedEdoc"]
        assert "from" in received["properties"]


async def test_a_system_added_to_systems_json_is_served_at_once(
    tmp_path_factory: pytest.TempPathFactory,
    hub_data: HubData,
    database_for: DatabaseFor,
    hub_clock: MovableClock,
) -> None:
    """The hub re-reads systems.json when an unknown systemid calls (and once a second)."""
    data = tmp_path_factory.mktemp("systems-reload")
    for name in ("sim.json", "systems.json"):
        (data / name).write_bytes((hub_data.path / name).read_bytes())
    (data / "keys").symlink_to(hub_data.path / "keys")
    settings = hub_settings(hub_data, "lgsp-h56", database_for("lgsp-h56"), data_dir=data)
    async with running_hub(settings, clock=hub_clock) as hub:
        newcomer = client(hub, "dms-new", "new-secret")
        fail(await newcomer.received(), "102")
        systems = json.loads((data / "systems.json").read_text())
        systems.append(
            {"system_id": "dms-new", "secret": "new-secret", "hub_id": "lgsp-h56",
             "agencies": [OUTSIDE]}
        )  # fmt: skip
        (data / "systems.json").write_text(json.dumps(systems))
        await _wait_a_moment()
        ok(await newcomer.received())
        assert hub.hub.directory.is_hosted(OUTSIDE)


async def _wait_a_moment() -> None:
    await asyncio.sleep(0.6)  # unknown systemids make the hub look at most twice a second
