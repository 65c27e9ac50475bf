"""The fleet's memory: bounded, statuses matched to sent documents, registers that persist."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from agencies import FleetState, Receipt
from agencies.state import (
    OutgoingRegister,
    ReceivedDocument,
    SentDocument,
    StatusReceived,
    StatusSent,
)

AT = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def _sent(document_id: str) -> SentDocument:
    return SentDocument(document_id=document_id, from_="A", to=("B",), subject="S", sent_at=AT)


def _received(doc_id: str, *, envelope: str = "valid", personal: str = "valid") -> ReceivedDocument:
    return ReceivedDocument(
        doc_id=doc_id,
        document_id=f"D-{doc_id}",
        from_="A",
        to="B",
        subject="S",
        received_at=AT,
        envelope=envelope,
        personal=personal,
        agency="absent",
    )


def test_statuses_attach_to_the_sent_document() -> None:
    state = FleetState()
    document = _sent("D1")
    state.add_sent(document)
    state.settle_sent(
        document, receipt=Receipt(doc_id="x", kind="document", document_id="D1", sender="A")
    )

    matched = state.add_status_received("D1", StatusReceived(code="01", from_="B", at=AT))
    unmatched = state.add_status_received("D9", StatusReceived(code="03", from_="B", at=AT))

    assert (matched, unmatched) == (True, False)
    sent = state.sent("D1")
    assert sent is not None and [s.code for s in sent.statuses] == ["01"]
    assert sent.as_dict()["receipt"]["doc_id"] == "x"
    stats = state.stats()
    assert stats["sent"] == 1 and stats["statuses_received"] == 2
    assert stats["statuses_unmatched"] == 1
    assert stats["statuses_received_by_code"] == {"01": 1, "03": 1}


def test_memory_is_bounded_oldest_first() -> None:
    state = FleetState(limit=3)
    for n in range(5):
        state.add_sent(_sent(f"D{n}"))
        state.add_received(_received(f"d{n}"))

    assert state.sent("D0") is None and state.sent("D4") is not None
    assert [r.doc_id for r in state.received()] == ["d4", "d3", "d2"]
    assert state.stats()["received"] == 5  # counters keep counting
    assert state.stats()["remembered"] == {"sent": 3, "received": 3}


def test_received_counts_verification_failures_and_statuses_sent() -> None:
    state = FleetState()
    good, bad = _received("d1"), _received("d2", envelope="signature_invalid")
    state.add_received(good)
    state.add_received(bad)
    state.add_received(_received("d3", personal="invalid"))
    state.add_status_sent(good, StatusSent(code="01", at=AT, doc_id="s1"))
    state.add_status_sent(bad, StatusSent(code="02", at=AT, error={"code": "x", "message": "y"}))

    stats = state.stats()

    assert stats["verification_failures"] == 2
    assert stats["statuses_sent"] == 1 and stats["statuses_send_failed"] == 1
    assert stats["signatures_received"]["envelope"] == {"invalid": 1, "valid": 2}
    assert [item["code"] for item in good.as_dict()["statuses_sent"]] == ["01"]
    assert bad.as_dict()["statuses_sent"][0]["error"]["code"] == "x"
    assert state.received(organ_id="nobody") == []


def test_the_register_persists_and_restarts_each_year(tmp_path: Path) -> None:
    path = tmp_path / "fleets" / "f" / "registry.json"
    register = OutgoingRegister(path)
    assert [register.next_number("A", 2025) for _ in range(3)] == [1, 2, 3]
    assert register.next_number("B", 2025) == 1

    reopened = OutgoingRegister(path)

    assert reopened.next_number("A", 2025) == 4
    assert reopened.next_number("A", 2026) == 1
    assert OutgoingRegister().next_number("A", 2025) == 1  # in memory only


def test_completion_lag_tells_lateness_by_lag_from_lateness_by_plan() -> None:
    state = FleetState()
    due = AT + dt.timedelta(days=3)
    hour = dt.timedelta(hours=1)
    assert state.stats()["completion_lag"]["count"] == 0

    state.add_completion(planned=due - hour, stored=due - hour / 2, due=due)  # on time
    state.add_completion(planned=due - hour, stored=due + hour, due=due)  # late by lag alone
    state.add_completion(planned=due + hour, stored=due + hour, due=due)  # drawn late
    state.add_completion(planned=AT, stored=AT - dt.timedelta(seconds=1))  # no DueDate

    assert state.stats()["completion_lag"] == {
        "count": 4,
        "mean_seconds": (1800 + 7200 + 0 + 0) / 4,  # a stored-before-planned clock skew is 0
        "max_seconds": 7200,
        "with_due_date": 3,
        "planned_late": 1,
        "late_by_lag": 1,
    }
