"""The statistics service counts and groups known data right, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from lgsp.intake.models import StatusLink
from lgsp.stats import Period, StatsQuery, hub_stats, latency_of, record_rejection
from lgsp.stats.assessor import Result
from lgsp.stats.runtime import store_results
from lgsp.store import Database, InboxState, PackageKind, confirm, store_package
from sim.topology import load_topology

HUB = "lgsp-h56"
H56 = "000.00.00.H56"  # province, government
H56B = "000.00.01.H56"  # province, party
DISTRICT = "000.00.50.H56"  # district, government
COMMUNE = "000.10.50.H56"  # commune, government
STRANGER = "000.00.09.H99"  # unknown to the topology: tier and block "other"
H04 = "000.00.00.H04"

D1_AT = datetime(2022, 1, 31, 20, 0, tzinfo=UTC)  # 1 February 03:00 in Vietnam
D2_AT = datetime(2022, 2, 10, 2, 0, tzinfo=UTC)
D3_AT = datetime(2022, 3, 5, 2, 0, tzinfo=UTC)
D4_AT = datetime(2022, 3, 10, 2, 0, tzinfo=UTC)
D5_AT = datetime(2022, 3, 12, 2, 0, tzinfo=UTC)
NOW = D5_AT + timedelta(seconds=30)


async def _document(
    db: Database,
    document_id: str,
    *,
    sender: str,
    at: datetime,
    to: tuple[str, ...],
    type_name: str | None = "Công văn",
    origin: str = "local",
) -> str:
    async with db.session() as session:
        package, _ = await store_package(
            session,
            hub_id=HUB,
            kind=PackageKind.DOCUMENT,
            sender=sender,
            body=f"<edXML>{document_id}</edXML>".encode(),
            document_id=document_id,
            document_type=type_name,
            now=at,
            origin=origin,
            local_recipients=to,
        )
        await session.commit()
    return package.id


async def _status(
    db: Database, *, sender: str, document: tuple[str, str], code: str, at: datetime
) -> None:
    owner, document_id = document
    async with db.session() as session:
        package, _ = await store_package(
            session,
            hub_id=HUB,
            kind=PackageKind.STATUS,
            sender=sender,
            body=f"<status>{owner}{document_id}{code}{sender}</status>".encode(),
            status_code=code,
            response_for=document_id,
            now=at,
            local_recipients=(owner,),
        )
        await session.exec(
            insert(StatusLink),
            params={
                "package_id": package.id,
                "document_sender": owner,
                "document_id": document_id,
                "status_code": code,
                "status_from": sender,
                "at": at,
            },
        )
        await session.commit()


async def _done(db: Database, package_id: str, recipient: str, at: datetime) -> None:
    async with db.session() as session:
        await confirm(
            session,
            hub_id=HUB,
            package_id=package_id,
            recipient=recipient,
            state=InboxState.DONE,
            now=at,
        )
        await session.commit()


@pytest.fixture
async def known(db: Database) -> Database:
    """Five documents, five statuses, three assessments and two refusals at lgsp-h56."""
    d1 = await _document(db, "D1", sender=H56, at=D1_AT, to=(H56B,), type_name="Quyết định")
    d2 = await _document(db, "D2", sender=DISTRICT, at=D2_AT, to=(COMMUNE, H56B))
    d3 = await _document(db, "D3", sender=STRANGER, at=D3_AT, to=(H56B,), type_name=None)
    await _document(db, "D4", sender=H04, at=D4_AT, to=(H56,), origin="ndxp")
    await _document(db, "D5", sender=H56, at=D5_AT, to=(H56B,))
    await _done(db, d1, H56B, D1_AT + timedelta(minutes=30))
    for code, after in (
        ("01", timedelta(hours=1)),
        ("03", timedelta(hours=2)),
        ("06", timedelta(days=1)),
    ):
        await _status(db, sender=H56B, document=(H56, "D1"), code=code, at=D1_AT + after)
    await _status(
        db, sender=COMMUNE, document=(DISTRICT, "D2"), code="06", at=D2_AT + timedelta(days=2)
    )
    await _status(
        db, sender=H56B, document=(STRANGER, "D3"), code="06", at=D3_AT + timedelta(days=9)
    )
    await store_results(
        db.session_factory,
        [
            Result(d1, "valid", "valid", 1, D1_AT + timedelta(days=5), None),
            Result(d2, "invalid", "valid", 2, None, "signature_invalid"),
            Result(d3, "absent", "absent", 1, D3_AT + timedelta(days=3), None),
        ],
        at=NOW,
    )
    await record_rejection(
        db.session_factory,
        at=D2_AT,
        code="signature_invalid",
        http_status=422,
        channel="system",
        message="x",
        sender=H56,
    )
    await record_rejection(
        db.session_factory,
        at=D3_AT,
        code="xml_malformed",
        http_status=400,
        channel="system",
        message="x",
    )
    return db


async def _stats(db: Database, query: StatsQuery | None = None, now: datetime = NOW):  # type: ignore[no-untyped-def]
    async with db.session(readonly=True) as session:
        return await hub_stats(
            session, hub_id=HUB, role="lgsp", topology=load_topology("small"), now=now, query=query
        )


async def test_counts_and_groups(known: Database) -> None:
    stats = await _stats(known)
    assert (stats.accepted.documents, stats.accepted.statuses) == (5, 5)
    assert (stats.accepted.from_systems, stats.accepted.from_hubs) == (9, 1)
    assert stats.exchange_events.model_dump() == {"total": 9, "documents": 4, "statuses": 5}
    assert stats.sent.total == 4
    assert stats.sent.by_tier == {"district": 1, "other": 1, "province": 2}
    assert stats.sent.by_block == {"government": 3, "other": 1}
    assert stats.sent.by_type == {"Công văn": 2, "Quyết định": 1, "unknown": 1}
    # Received: documents delivered to local recipients, once per recipient, transit included.
    assert stats.received.total == 6
    assert stats.received.by_tier == {"commune": 1, "province": 5}
    assert stats.statuses.by_code == {"01": 1, "03": 1, "06": 3}
    assert stats.statuses.by_code_and_tier["06"] == {"commune": 1, "province": 2}
    assert stats.delivered == 1
    assert stats.rejected.total == 2
    assert stats.rejected.by_reason == {"signature_invalid": 1, "xml_malformed": 1}
    assert stats.documents.by_tier == {"district": 1, "other": 1, "province": 3}


async def test_signing_rates_come_from_assessments(known: Database) -> None:
    signing = (await _stats(known)).signing
    assert (signing.documents, signing.assessed, signing.pending) == (4, 3, 1)
    assert signing.personal.model_dump() == {"valid": 1, "invalid": 1, "absent": 1, "rate": 1 / 3}
    assert signing.agency.model_dump() == {"valid": 2, "invalid": 0, "absent": 1, "rate": 2 / 3}
    assert signing.both_valid == 1
    assert signing.by_tier["district"].personal_rate == 0.0
    assert signing.by_tier["district"].agency_rate == 1.0
    assert signing.by_block["other"].documents == 1


async def test_completion_and_due_dates(known: Database) -> None:
    completion = (await _stats(known)).completion
    # D1: its one recipient answered 06 by the DueDate; D2: one of two answered; D3: late.
    assert completion.documents == 3
    assert completion.completed == 2
    assert completion.with_due_date == 2
    assert completion.completed_on_time == 1
    assert completion.on_time_rate == 0.5


async def test_periods_are_vietnamese_calendar_periods(known: Database) -> None:
    months = (await _stats(known, StatsQuery(period=Period.MONTH))).by_period
    assert months is not None
    assert set(months) == {"2022-02", "2022-03"}  # D1 was sent on 1 February, Vietnam time
    assert months["2022-02"].documents_sent == 2
    assert months["2022-03"].documents_sent == 2
    assert months["2022-02"].assessed == 2
    assert months["2022-02"].personal_valid == 1
    assert months["2022-03"].received == 3
    assert months["2022-02"].rejected == 1
    hours = (await _stats(known, StatsQuery(period=Period.HOUR))).by_period
    assert hours is not None and hours["2022-02-01T03"].documents_sent == 1
    years = (await _stats(known, StatsQuery(period=Period.YEAR))).by_period
    assert years is not None and years["2022"].exchange_events == 9


async def test_filters(known: Database) -> None:
    district = await _stats(known, StatsQuery(tier="district"))
    assert district.sent.total == 1
    assert district.rejected.total == 0  # refusals without a read sender count unfiltered only
    other = await _stats(known, StatsQuery(block="other"))
    assert other.sent.total == 1 and other.signing.personal.absent == 1
    agency = await _stats(known, StatsQuery(agency=H56))
    assert agency.sent.total == 2
    assert agency.received.total == 1  # D4, from another province
    assert agency.by_agency is not None and agency.by_agency[H56].model_dump() == {
        "outgoing": 2,
        "incoming": 1,
    }
    assert agency.rejected.by_reason == {"signature_invalid": 1}
    march = await _stats(known, StatsQuery(start=datetime(2022, 3, 1, tzinfo=UTC)))
    assert march.sent.total == 2
    assert march.signing.assessed == 1
    listed = await _stats(known, StatsQuery(agencies=True))
    assert listed.by_agency is not None and listed.by_agency[H56B].incoming == 4


async def test_throughput_and_latency(known: Database) -> None:
    stats = await _stats(known)
    assert stats.throughput["1m"].packages == 1  # D5, 30 s before "now"
    assert stats.throughput["1m"].entering == 1
    assert stats.throughput["15m"].per_second == 1 / 900
    six = stats.latency["status_06"]
    assert six.count == 3
    assert six.max == timedelta(days=9).total_seconds()
    assert stats.latency["status_01"].p50 == 3600.0
    assert stats.latency["delivered"].count == 1
    assert stats.latency["delivered"].p50 == 1800.0


def test_latency_percentiles_and_histogram() -> None:
    figures = latency_of([float(n) for n in range(1, 101)])
    assert (figures.p50, figures.p90, figures.p99, figures.max) == (50.0, 90.0, 99.0, 100.0)
    assert figures.histogram["10"] == 10 and figures.histogram["+Inf"] == 100
    assert latency_of([]).count == 0
