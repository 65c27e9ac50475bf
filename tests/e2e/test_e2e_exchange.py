"""Documents through real processes: three tiers, provinces, a ministry, statuses, refusals.

One `small` topology per backend (SQLite, PostgreSQL) serves the whole module; each test
uses its own senders and recipients and checks counts per DocumentId, so they do not
interfere.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from e2e_support import (
    COMMUNE_1_1,
    COMMUNE_2_1,
    DISTRICT_1,
    DISTRICT_2,
    G22,
    H04,
    H04_DISTRICT,
    H56,
    eventually,
    fleet_of,
    hub_of,
    received_count,
    send,
    send_and_wait,
    traces,
    wait_with,
)
from e2e_topology import Running

from sim.runtime import DataDir, Exchange
from sim.scenario.track import WANTED


@pytest.fixture
async def exchange(topology: Running) -> AsyncIterator[Exchange]:
    """The orchestrator's client on the running topology."""
    async with Exchange(topology.urls) as client:
        yield client


def _events(trace: object) -> list[str]:
    return [hop.event for hop in trace.hops]  # type: ignore[attr-defined]


async def test_a_directive_down_three_tiers(exchange: Exchange) -> None:
    directive = await send_and_wait(exchange, H56, [DISTRICT_1], "Chỉ thị về chuyển đổi số")
    passed = await send_and_wait(
        exchange,
        DISTRICT_1,
        [COMMUNE_1_1],
        "Triển khai Chỉ thị của tỉnh",
        response_for=(H56, directive.document_id),
    )
    # The commune's DMS verified every signature of what it received.
    items = await exchange.received(fleet_of(COMMUNE_1_1), organ_id=COMMUNE_1_1)
    item = next(i for i in items if i["document_id"] == passed.document_id)
    assert (item["envelope"], item["personal"], item["agency"]) == ("valid", "valid", "valid")
    assert item["from"] == DISTRICT_1
    # Local to the province: only its LGSP saw either document.
    for doc in (directive, passed):
        seen = await traces(exchange, doc.sender, doc.document_id)
        assert set(seen) == {"lgsp-h56"}
        assert _events(seen["lgsp-h56"])[0] == "accepted"
        assert "delivered" in _events(seen["lgsp-h56"])


async def test_between_provinces_through_the_ndxp(exchange: Exchange) -> None:
    doc = await send_and_wait(exchange, H56, [H04], "Về việc phối hợp liên tỉnh")
    seen = await traces(exchange, H56, doc.document_id)
    assert set(seen) == {"lgsp-h56", "ndxp", "lgsp-h04"}
    assert "forwarded" in _events(seen["lgsp-h56"])
    assert _events(seen["ndxp"])[:2] == ["accepted", "forwarded"]
    assert "delivered" in _events(seen["lgsp-h04"])
    # Each hub gives its own doc id, all for the same edXML identity.
    assert len({t.doc_id for t in seen.values()}) == 3
    assert {t.document_id for t in seen.values()} == {doc.document_id}
    assert await received_count(exchange, H04, doc.document_id) == 1


async def test_from_a_ministry_to_two_provinces(exchange: Exchange) -> None:
    doc = await send_and_wait(exchange, G22, [DISTRICT_2, H04_DISTRICT], "Về việc báo cáo")
    seen = await traces(exchange, G22, doc.document_id)
    assert set(seen) == {"ndxp", "lgsp-h56", "lgsp-h04"}
    assert await received_count(exchange, DISTRICT_2, doc.document_id) == 1
    assert await received_count(exchange, H04_DISTRICT, doc.document_id) == 1


async def test_statuses_come_back_to_the_sender_fleet_and_hub(exchange: Exchange) -> None:
    recipients = [COMMUNE_2_1, H04]
    doc = await send_and_wait(exchange, DISTRICT_2, recipients, "Thông báo lịch họp")
    sent = await exchange.sent(fleet_of(DISTRICT_2), doc.document_id)
    assert sent is not None and sent.receipt is not None
    hub_trace = (await traces(exchange, DISTRICT_2, doc.document_id))[hub_of(DISTRICT_2)]
    for recipient in recipients:
        assert set(WANTED) <= sent.codes_from(recipient)
        assert set(WANTED) <= {s.code for s in hub_trace.statuses if s.from_ == recipient}
    assert {organ for organ, _ in hub_trace.recipients} == set(recipients)


async def test_a_duplicate_submission_is_delivered_once(
    exchange: Exchange, topology: Running
) -> None:
    first, doc = await send(exchange, H56, [DISTRICT_2, H04], "Công văn gửi hai lần")
    assert first.accepted and first.receipt is not None
    # The DMS submits the very same bytes again (a retry after a lost answer).
    system = DataDir(topology.data).system(fleet_of(H56))
    token = await exchange.token("lgsp-h56", system_id=system.system_id, secret=system.secret)
    package = await exchange.package("lgsp-h56", token=token, doc_id=str(first.receipt["doc_id"]))
    again = await exchange.submit("lgsp-h56", token=token, package=package)
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is True
    assert again.json()["doc_id"] == first.receipt["doc_id"]
    await wait_with(exchange, [doc])
    await asyncio.sleep(1.0)  # give a second delivery, if there were one, the time to land
    assert await received_count(exchange, DISTRICT_2, doc.document_id) == 1
    assert await received_count(exchange, H04, doc.document_id) == 1
    sent = await exchange.sent(fleet_of(H56), doc.document_id)
    assert sent is not None
    for recipient in doc.recipients:
        codes = [s.code for s in sent.statuses if s.from_ == recipient]
        assert codes.count("06") == 1, codes


@pytest.mark.parametrize(
    ("variant", "options", "code"),
    [
        ("unsigned", {"envelope_signature": False}, "signature_missing"),
        ("tampered", {"tamper": True}, "signature_invalid"),
    ],
)
async def test_refused_documents_leave_nothing_behind(
    exchange: Exchange, variant: str, options: dict[str, bool], code: str
) -> None:
    before = await exchange.hub_stats("lgsp-h56")
    result, doc = await send(
        exchange, DISTRICT_1, [H04, COMMUNE_1_1], f"Văn bản {variant}", **options
    )
    assert not result.accepted
    assert (result.http_status, result.error_code) == (422, code)
    assert result.error_message
    after = await exchange.hub_stats("lgsp-h56")
    assert (
        after["rejected"]["by_reason"].get(code, 0)
        == before["rejected"]["by_reason"].get(code, 0) + 1
    )
    assert after["accepted"]["documents"] == before["accepted"]["documents"]
    assert await traces(exchange, DISTRICT_1, doc.document_id) == {}
    await asyncio.sleep(1.0)  # recipients poll every 0.2 s: nothing may arrive

    async def nothing_arrived() -> None:
        assert await received_count(exchange, H04, doc.document_id) == 0
        assert await received_count(exchange, COMMUNE_1_1, doc.document_id) == 0

    await eventually(nothing_arrived)


async def test_an_unknown_recipient_is_refused_at_the_entry_hub(exchange: Exchange) -> None:
    result, _ = await send(exchange, H56, ["000.00.00.H99"], "Gửi nhầm địa chỉ")
    assert not result.accepted
    assert result.error_code == "unknown_recipient"
