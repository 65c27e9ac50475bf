"""The scripted day against an in-memory exchange: who takes part, what is sent, what is checked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from sim.runtime import Exchange, SendRequest, SendResult, SentDocument, ServiceError, StatusRecord
from sim.scenario.day import EXPECTED_REFUSALS, DayResult, plan_day, run_day
from sim.topology import load_topology


class FakeExchange(Exchange):
    """Accepts signed documents, refuses the unsigned and tampered, answers statuses at once."""

    def __init__(self, *, answer: Sequence[str] = ("01", "03", "04", "05", "06")) -> None:
        super().__init__({})
        self.answer = tuple(answer)
        self.requests: list[tuple[str, SendRequest]] = []
        self.documents: dict[str, SendRequest] = {}

    async def send(self, fleet: str, request: SendRequest) -> SendResult:
        self.requests.append((fleet, request))
        document_id = f"{request.from_},2025/03/01,{len(self.requests)}/X"
        if not request.envelope_signature:
            return SendResult(document_id, 422, None, "signature_missing", "no signature")
        if request.tamper:
            return SendResult(document_id, 422, None, "signature_invalid", "digest mismatch")
        self.documents[document_id] = request
        return SendResult(document_id, 201, {"doc_id": document_id, "duplicate": False})

    async def sent(self, fleet: str, document_id: str) -> SentDocument | None:
        request = self.documents[document_id]
        statuses = tuple(
            StatusRecord(code=code, from_=recipient, at="2025-03-01T01:00:00Z")
            for recipient in request.to
            for code in self.answer
        )
        return SentDocument(document_id, request.from_, tuple(request.to), "", None, statuses)


@dataclass
class Recorder:
    """A reporter that keeps what it is told."""

    lines: list[str] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    progress: dict[str, int] = field(default_factory=dict)

    def stage(self, title: str) -> None:
        self.lines.append(f"# {title}")

    def begin(self, key: str, description: str, total: int) -> None:
        self.totals[key] = total

    def update(self, key: str, completed: int) -> None:
        self.progress[key] = completed

    def note(self, text: str, *, ok: bool = True) -> None:
        self.lines.append(("ok " if ok else "FAIL ") + text)


async def _run(topology: str, exchange: FakeExchange, **options: Any) -> tuple[DayResult, Recorder]:
    loaded = load_topology(topology)
    plan = plan_day(loaded, **options)
    recorder = Recorder()
    result = await run_day(exchange, loaded, plan, reporter=recorder, patience=1.0)
    return result, recorder


def test_the_default_plan_follows_the_brief() -> None:
    plan = plan_day(load_topology("three-tier-2023"), communes_per_district=2)
    assert plan.home_pc.organ_id == "000.00.00.H56"
    assert len(plan.units) == 27 and plan.three_tier
    assert plan.sampled_communes == 54 and plan.communes_available == 559
    assert plan.other_pc is not None and plan.other_pc.organ_id == "000.00.00.H17"
    assert plan.ministry is not None and plan.ministry.organ_id == "000.00.00.G22"
    assert [p.organ_id for p in plan.province_pcs] == [
        "000.00.00.H56",
        "000.00.00.H17",
        "000.00.00.H04",
    ]
    for district, communes in plan.communes.items():
        assert all(c.parent == district for c in communes)


def test_other_topologies_get_a_sensible_day() -> None:
    small = plan_day(load_topology("small"), communes_per_district=5)
    assert small.other_pc is not None and small.other_pc.province == "H04"
    assert small.sampled_communes == small.communes_available == 4
    two_tier = plan_day(load_topology("two-tier-2025"), communes_per_district=2)
    assert not two_tier.three_tier
    assert len(two_tier.units) == 16
    assert all(u.tier.value == "commune" for u in two_tier.units)


async def test_a_day_on_small_sends_what_the_story_says() -> None:
    exchange = FakeExchange()
    result, recorder = await _run("small", exchange)

    assert result.ok, [o for o in result.outcomes if not o.ok]
    assert [len(result.stages[s]) for s in result.stages] == [1, 2, 4, 1, 1]
    directive = result.stages["directive"][0]
    assert directive.recipients == ("000.00.50.H56", "000.00.51.H56")
    for passed in result.stages["pass-on"]:
        request = exchange.documents[passed.document_id]
        assert request.response_for == ("000.00.00.H56", directive.document_id)
        assert passed.fleet == "fleet-h56"
    for report in result.stages["reports"]:
        request = exchange.documents[report.document_id]
        (parent,) = request.to
        assert request.response_for is not None and request.response_for[0] == parent
    assert exchange.documents[result.stages["from a ministry"][0].document_id].to == [
        "000.00.00.H56",
        "000.00.00.H04",
    ]
    assert result.stages["from a ministry"][0].fleet == "fleet-ndxp"
    assert [(r.label, r.ok) for r in result.refusals] == [("unsigned", True), ("tampered", True)]
    assert {r.label: r.expected_code for r in result.refusals} == EXPECTED_REFUSALS
    assert recorder.progress["wait all 01/03/06"] == recorder.totals["wait all 01/03/06"] == 13


async def test_missing_statuses_fail_the_day() -> None:
    result, recorder = await _run("small", FakeExchange(answer=("01", "03")))
    assert not result.ok
    failed = [o.label for o in result.outcomes if not o.ok]
    assert "directive: statuses back" in failed
    assert any(line.startswith("FAIL") and "had not answered" in line for line in recorder.lines)


async def test_a_rejection_fails_the_day() -> None:
    result, _ = await _run("small", FakeExchange(answer=("01", "02")))
    assert not result.ok
    assert any("rejected (02)" in o.detail for o in result.outcomes)


async def test_an_accepted_bad_document_fails_the_day() -> None:
    class Lenient(FakeExchange):
        async def send(self, fleet: str, request: SendRequest) -> SendResult:
            return await super().send(
                fleet, SendRequest(request.from_, request.to, request.subject)
            )

    result, recorder = await _run("small", Lenient())
    assert not result.ok
    assert {o.label for o in result.outcomes if not o.ok} == {
        "unsigned document refused",
        "tampered document refused",
    }
    assert any("ACCEPTED" in line for line in recorder.lines)


async def test_an_unreachable_fleet_is_reported_not_raised() -> None:
    class Down(FakeExchange):
        async def send(self, fleet: str, request: SendRequest) -> SendResult:
            if fleet == "fleet-ndxp":
                raise ServiceError("unreachable", "fleet-ndxp at http://x is not answering")
            return await super().send(fleet, request)

    result, _ = await _run("small", Down())
    assert not result.ok
    failed = [o for o in result.outcomes if not o.ok]
    assert [o.label for o in failed] == ["from a ministry: accepted by the entry hub"]
    assert "unreachable" in failed[0].detail


@pytest.mark.parametrize("preset", ["three-tier-2023", "two-tier-2025"])
async def test_every_preset_runs_a_whole_day(preset: str) -> None:
    result, _ = await _run(preset, FakeExchange(), communes_per_district=1)
    assert result.ok
