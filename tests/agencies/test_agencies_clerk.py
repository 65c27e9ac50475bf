"""The clerk against the fake hub: fetch, verify, ack, answer with signed statuses."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from agencies_fakehub import FakeHub, Stored
from agencies_support import FAST, SO_NOI_VU, TINH_UY, UBND, eventually

import edoc
import keys
from agencies import Clerk, Fleet, NativeHubClient, Profile
from agencies import clerk as clerk_module
from agencies.profile import StatusStep
from edoc import StatusCode
from keys import TrustStore
from simtime import WallClock

MakeFleet = Callable[..., Awaitable[Fleet]]


async def _run_until(clerk: Clerk, check: Callable[[], bool]) -> None:
    """Poll (as the background loop would) until ``check()`` holds."""
    for _ in range(500):
        await clerk.poll_once()
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the clerk did not get there")


def _statuses_for(hub: FakeHub, document_id: str) -> list[Stored]:
    return [s for s in hub.statuses() if s.response_for == document_id]


async def test_a_document_is_verified_acked_and_answered_01_to_06(
    hub: FakeHub, make_fleet: MakeFleet, trust: TrustStore
) -> None:
    fleet = await make_fleet(hub)
    clerk = Clerk(fleet)
    outcome = await fleet.send(sender=UBND, to=[SO_NOI_VU], subject="Về việc kiểm tra", due_days=5)
    assert outcome.receipt is not None and outcome.http_status == 201

    try:
        await _run_until(clerk, lambda: len(_statuses_for(hub, outcome.document_id)) == 5)
        # The statuses come back to the sender's inbox: the clerk records them.
        sent = fleet.state.sent(outcome.document_id)
        assert sent is not None
        await _run_until(clerk, lambda: len(sent.statuses) == 5 and clerk.busy == 0)
    finally:
        await clerk.stop()

    assert (outcome.receipt.doc_id, SO_NOI_VU, "done", None) in hub.acks
    statuses = _statuses_for(hub, outcome.document_id)
    assert [s.status_code for s in statuses] == ["01", "03", "04", "05", "06"]
    now = WallClock().now()
    for stored in statuses:
        verified = keys.verify_envelope(stored.data, trust, at=now)
        package = edoc.parse(stored.data)
        assert verified.organ_id == SO_NOI_VU
        assert isinstance(package, edoc.StatusPackage)
        assert package.header.from_.organ_id == SO_NOI_VU
        assert package.header.response_for.organ_id == UBND  # addressed to the sender
        assert stored.recipients == [UBND]
    received = fleet.state.received(organ_id=SO_NOI_VU)[0]
    assert (received.envelope, received.personal, received.agency) == ("valid", "valid", "valid")
    assert [s.code for s in received.statuses_sent] == ["01", "03", "04", "05", "06"]
    assert [s.code for s in sent.statuses] == ["01", "03", "04", "05", "06"]
    assert all(s.from_ == SO_NOI_VU and s.envelope == "valid" for s in sent.statuses)
    stats = fleet.state.stats()
    assert stats["statuses_sent"] == 5 and stats["statuses_received"] == 5
    assert stats["verification_failures"] == 0 and stats["acks_failed"] == 0


async def test_one_inbox_call_per_poll_for_all_agencies(
    hub: FakeHub, make_fleet: MakeFleet
) -> None:
    fleet = await make_fleet(hub)
    clerk = Clerk(fleet)
    outcome = await fleet.send(sender=UBND, to=[SO_NOI_VU, TINH_UY], subject="Về việc họp")
    try:
        await _run_until(clerk, lambda: len(_statuses_for(hub, outcome.document_id)) == 10)
    finally:
        await clerk.stop()

    assert hub.calls["inbox"] == clerk.polls
    assert {r.to for r in fleet.state.received()} == {SO_NOI_VU, TINH_UY}


async def test_a_tampered_envelope_is_rejected_with_02(
    hub: FakeHub, make_fleet: MakeFleet, trust: TrustStore
) -> None:
    lenient = dataclasses.replace(hub, trust=None)  # a hub that lets it through
    fleet = await make_fleet(lenient)
    clerk = Clerk(fleet)
    outcome = await fleet.send(sender=UBND, to=[SO_NOI_VU], subject="Về việc X", tamper=True)
    assert outcome.receipt is not None
    try:
        await _run_until(clerk, lambda: bool(_statuses_for(lenient, outcome.document_id)))
        await _run_until(clerk, lambda: clerk.busy == 0)
    finally:
        await clerk.stop()

    statuses = _statuses_for(lenient, outcome.document_id)
    assert [s.status_code for s in statuses] == ["02"]
    assert keys.verify_envelope(statuses[0].data, trust, at=WallClock().now()).organ_id == SO_NOI_VU
    rejection = edoc.parse(statuses[0].data)
    assert isinstance(rejection, edoc.StatusPackage)
    assert "signature_invalid" in (rejection.header.description or "")
    received = fleet.state.received()[0]
    assert received.envelope == "signature_invalid"
    assert fleet.state.stats()["verification_failures"] == 1
    assert fleet.state.stats()["rejected"] == 1
    assert (outcome.receipt.doc_id, SO_NOI_VU, "done", None) in lenient.acks


async def test_a_rejection_rate_answers_01_then_02(hub: FakeHub, make_fleet: MakeFleet) -> None:
    fleet = await make_fleet(
        hub, FAST.model_copy(update={"rejection_rate": 1.0, "rejection_delay": 0.01})
    )
    clerk = Clerk(fleet)
    outcome = await fleet.send(sender=UBND, to=[SO_NOI_VU], subject="Về việc Y")
    try:
        await _run_until(clerk, lambda: len(_statuses_for(hub, outcome.document_id)) == 2)
    finally:
        await clerk.stop()

    assert [s.status_code for s in _statuses_for(hub, outcome.document_id)] == ["01", "02"]


async def test_an_unreadable_package_is_acked_failed(hub: FakeHub, make_fleet: MakeFleet) -> None:
    fleet = await make_fleet(hub)
    clerk = Clerk(fleet)
    doc_id = hub.deliver(b"<edXML>not a package", recipient=SO_NOI_VU)
    try:
        await _run_until(clerk, lambda: bool(hub.acks))
    finally:
        await clerk.stop()

    assert hub.acks[0][:3] == (doc_id, SO_NOI_VU, "failed")
    assert hub.acks[0][3]  # with the reason
    assert hub.statuses() == []
    assert fleet.state.stats()["unreadable"] == 1


async def test_a_silent_profile_only_acks(hub: FakeHub, make_fleet: MakeFleet) -> None:
    fleet = await make_fleet(hub, Profile(steps=(), poll_interval=0.01))
    clerk = Clerk(fleet)
    outcome = await fleet.send(sender=UBND, to=[SO_NOI_VU], subject="Về việc Z")
    try:
        await _run_until(clerk, lambda: bool(hub.acks) and clerk.busy == 0)
    finally:
        await clerk.stop()

    assert outcome.receipt is not None and hub.statuses() == []


async def test_the_background_loop_survives_an_absent_hub(
    make_fleet: MakeFleet, hub: FakeHub
) -> None:
    fleet = await make_fleet(hub)
    await fleet.hub.close()
    fleet.hub = NativeHubClient(system_id="x", secret="y", base_url=lambda: None)
    clerk = Clerk(fleet)
    clerk.start()
    try:
        await eventually(lambda: fleet.state.counts["poll_errors"] >= 2)
    finally:
        await clerk.stop()


async def test_items_are_handled_once_even_when_polled_twice(
    hub: FakeHub, make_fleet: MakeFleet
) -> None:
    fleet = await make_fleet(hub, Profile(steps=(StatusStep(code=StatusCode.ARRIVED),)))
    clerk = Clerk(fleet)
    outcome = await fleet.send(sender=UBND, to=[SO_NOI_VU], subject="Về việc W")
    try:
        for _ in range(2):  # the document, then its status: each polled twice while in flight
            await clerk.poll_once()
            await clerk.poll_once()
            await _run_until(clerk, lambda: clerk.busy == 0)
    finally:
        await clerk.stop()

    assert hub.calls["fetch"] == 2
    assert fleet.state.stats()["received"] == 1
    assert fleet.state.stats()["statuses_received"] == 1
    sent = fleet.state.sent(outcome.document_id)
    assert sent is not None and [s.code for s in sent.statuses] == ["01"]


async def test_an_item_whose_package_the_hub_cannot_give_is_acked_failed(
    hub: FakeHub, make_fleet: MakeFleet
) -> None:
    fleet = await make_fleet(hub)
    clerk = Clerk(fleet)
    doc_id = hub.deliver(b"", recipient=SO_NOI_VU)
    del hub.packages[doc_id]  # listed in the inbox, but fetching it is a 404
    try:
        await _run_until(clerk, lambda: bool(hub.acks))
    finally:
        await clerk.stop()

    assert hub.acks[0][:3] == (doc_id, SO_NOI_VU, "failed")
    assert "unknown_package" in (hub.acks[0][3] or "")


async def test_statuses_are_timed_from_the_receipt_even_when_reading_is_slow(
    hub: FakeHub, make_fleet: MakeFleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A plan's offsets are seconds after the receipt, the moment its DueDate fraction is
    # measured from. Reading the package (envelope and PAdES checks in the worker threads)
    # takes real time: on a year compressed into 100 s, 0.1 s of it is 8 simulated hours,
    # which used to be added after the drawn processing time and made 06 late.
    reading = 0.6
    inspect = clerk_module.inspect_package

    def slow_inspect(*args: Any, **kwargs: Any) -> clerk_module.Inspection:
        time.sleep(reading)
        return inspect(*args, **kwargs)

    monkeypatch.setattr(clerk_module, "inspect_package", slow_inspect)
    profile = Profile(
        poll_interval=0.02,
        steps=(
            StatusStep(code=StatusCode.ARRIVED),
            StatusStep(code=StatusCode.COMPLETED, after=1.0),
        ),
    )
    fleet = await make_fleet(hub, profile)
    clerk = Clerk(fleet)
    outcome = await fleet.send(sender=UBND, to=[SO_NOI_VU], subject="Về việc đúng hạn")
    try:
        await _run_until(clerk, lambda: len(_statuses_for(hub, outcome.document_id)) == 2)
    finally:
        await clerk.stop()

    received = fleet.state.received(organ_id=SO_NOI_VU)[0]
    sent = {s.code: s.at for s in received.statuses_sent}
    assert (sent["01"] - received.received_at).total_seconds() >= reading  # after the reading
    # 06 comes 1.0 s after the receipt, the reading included: not 1.0 s after the reading.
    assert (sent["06"] - received.received_at).total_seconds() == pytest.approx(1.0, abs=0.3)
    lag = fleet.state.completion_lag()  # the hub stored it about when it was planned
    assert lag["count"] == 1 and lag["max_seconds"] is not None and lag["max_seconds"] < 0.3
