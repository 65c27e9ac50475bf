"""The assessment process verifies stored documents and its results feed the signing rates."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from hubkit import (
    H56,
    H56B,
    DatabaseFor,
    HubData,
    HubHandle,
    eventually,
    hub_settings,
    running_hub,
)

import edoc
from agencies.drafting import DocumentSpec, agency_card, draft_document
from lgsp.stats import StatsQuery, hub_stats
from lgsp.stats.assessor import Assessor, Result, due_moment
from lgsp.stats.runtime import runtime_of, store_results
from lgsp.store import Database, PackageKind, store_package
from sim.topology import load_topology


def _draft(
    data: HubData, number: int, *, personal: bool, agency: bool, tamper: bool = False
) -> bytes:
    """A real document of H56 to H56B: PDF, PAdES signatures as asked, envelope signed."""
    card = agency_card(H56, name=data.names[H56], block="government")
    at = datetime.now(UTC)
    person = data.keystore.person(
        card.head.full_name, organ_id=H56, position=card.head.position, at=data.at
    )
    spec = DocumentSpec(
        sender=card,
        recipients=[agency_card(H56B, name=data.names[H56B]).organization],
        subject=f"Văn bản thử nghiệm số {number}",
        due_days=7,
        personal_signature=personal,
        agency_signature=agency,
        # A tampered PDF keeps its signatures but breaks them; the envelope is left off so
        # that the package itself stays readable.
        envelope_signature=not tamper,
        tamper=tamper,
    )
    return draft_document(
        spec, number=number, at=at, person=person, agency=data.agency(H56)
    ).package


async def _store(db: Database, body: bytes) -> str:
    parsed = edoc.parse(body)
    assert isinstance(parsed, edoc.DocumentPackage)
    async with db.session() as session:
        package, _ = await store_package(
            session,
            hub_id="lgsp-h56",
            kind=PackageKind.DOCUMENT,
            sender=H56,
            body=body,
            document_id=parsed.header.document_id,
            now=datetime.now(UTC),
        )
        await session.commit()
    return package.id


async def test_valid_invalid_and_absent_signatures(db: Database, hub_data: HubData) -> None:
    ids = {
        "valid": await _store(db, _draft(hub_data, 1, personal=True, agency=True)),
        "absent": await _store(db, _draft(hub_data, 2, personal=False, agency=False)),
        "invalid": await _store(db, _draft(hub_data, 3, personal=True, agency=True, tamper=True)),
        "agency only": await _store(db, _draft(hub_data, 4, personal=False, agency=True)),
    }
    out = io.StringIO()
    assessor = Assessor(db, hub_data.keystore.trust_store(), out=out, batch=2)
    await assessor.run(once=True)
    results = {r.package_id: r for r in map(Result.from_line, out.getvalue().splitlines())}
    assert len(results) == 4
    verdicts = {name: (results[i].personal, results[i].agency) for name, i in ids.items()}
    assert verdicts == {
        "valid": ("valid", "valid"),
        "absent": ("absent", "absent"),
        "invalid": ("invalid", "invalid"),
        "agency only": ("absent", "valid"),
    }
    valid = results[ids["valid"]]
    assert valid.recipients == 1
    assert valid.due_at is not None and valid.due_at > datetime.now(UTC)

    await store_results(db.session_factory, list(results.values()), at=datetime.now(UTC))
    # Assessed documents are not read again.
    again = io.StringIO()
    await Assessor(db, hub_data.keystore.trust_store(), out=again).run(once=True)
    assert again.getvalue() == ""

    async with db.session(readonly=True) as session:
        stats = await hub_stats(
            session,
            hub_id="lgsp-h56",
            role="lgsp",
            topology=load_topology("small"),
            now=datetime.now(UTC),
            query=StatsQuery(),
        )
    signing = stats.signing
    assert (signing.assessed, signing.pending) == (4, 0)
    assert signing.personal.model_dump() == {"valid": 1, "invalid": 1, "absent": 2, "rate": 0.25}
    assert signing.agency.model_dump() == {"valid": 2, "invalid": 1, "absent": 1, "rate": 0.5}


def test_due_moment_is_the_end_of_the_vietnamese_day() -> None:
    end = due_moment(datetime(2022, 3, 8).date())
    assert end == datetime(2022, 3, 8, 17, 0, tzinfo=UTC)  # 9 March 00:00 in Vietnam
    assert due_moment(None) is None


async def test_the_hub_assesses_in_its_own_process(lgsp_h56: HubHandle, hub_data: HubData) -> None:
    runtime = runtime_of(lgsp_h56.app.state)
    assert runtime is not None and runtime.enabled
    for number, (personal, agency) in enumerate(((True, True), (False, True)), start=10):
        response = await lgsp_h56.submit(_draft(hub_data, number, personal=personal, agency=agency))
        assert response.status_code == 201, response.text

    async def assessed() -> dict[str, object] | None:
        stats = (await lgsp_h56.client.get("/api/v1/stats")).json()
        return stats if stats["signing"]["assessed"] == 2 else None

    stats = await eventually(assessed, within=60)
    assert runtime.pid is not None
    assert stats["enabled"] is True
    assert stats["signing"]["personal"] == {"valid": 1, "invalid": 0, "absent": 1, "rate": 0.5}
    assert stats["signing"]["agency"]["rate"] == 1.0


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
async def test_statistics_can_be_turned_off(hub_data: HubData, database_for: DatabaseFor) -> None:
    settings = hub_settings(hub_data, "lgsp-h56", database_for("lgsp-h56"), stats=False)
    async with running_hub(settings) as hub:
        runtime = runtime_of(hub.app.state)
        assert runtime is not None and not runtime.enabled and runtime.pid is None
        stats = (await hub.client.get("/api/v1/stats")).json()
        assert stats["enabled"] is False
        assert (
            await hub.submit(_draft(hub_data, 20, personal=True, agency=True))
        ).status_code == 201
        stats = (await hub.client.get("/api/v1/stats")).json()
        assert stats["sent"]["total"] == 1 and stats["signing"]["pending"] == 1
