from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func
from sqlmodel import select

from lgsp.outbox import list_outbox
from lgsp.store import (
    Database,
    Hop,
    HopEvent,
    InboxItem,
    InboxState,
    OutboxItem,
    OutboxState,
    PackageKind,
    PackageMeta,
    StoredPackage,
    confirm,
    dedupe_key,
    find_by_dedupe_key,
    get_package,
    hops_of,
    inbox_item,
    list_inbox,
    mark_fetched,
    package_meta,
    record_hop,
    sha256_hex,
    store_package,
)

HUB = "lgsp-h56"
SENDER = "000.00.01.H56"
BODY = b'<?xml version="1.0"?><edXML><!-- signed bytes, kept exactly --></edXML>\r\n'


async def count(db: Database, model: type[StoredPackage | InboxItem | OutboxItem | Hop]) -> int:
    async with db.session(readonly=True) as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


async def store(db, clock, **overrides):
    arguments = {
        "hub_id": HUB,
        "kind": PackageKind.DOCUMENT,
        "sender": SENDER,
        "body": BODY,
        "document_id": "000.00.01.H56,2026/01/05,12/UBND-VP",
        "subject": "V/v triển khai chuyển đổi số",
        "document_type": "Công văn",
        "now": clock.now(),
        "local_recipients": ["000.00.02.H56", "000.00.03.H56"],
        "forwards": {"ndxp": ["000.00.00.G22", "000.00.00.H41"]},
    } | overrides
    async with db.session() as session:
        result = await store_package(session, **arguments)
        await session.commit()
    return result


async def test_store_package_writes_package_inbox_outbox_and_hop(db, clock):
    package, created = await store(db, clock)

    assert created
    assert len(package.id) == 32
    assert package.sha256 == sha256_hex(BODY)
    assert package.size == len(BODY)
    assert package.origin == "local"
    async with db.session(readonly=True) as session:
        stored = await get_package(session, package.id)
        assert stored is not None
        assert stored.body == BODY
        assert stored.received_at == clock.now()
        assert stored.received_at.tzinfo is not None
        assert stored.subject == "V/v triển khai chuyển đổi số"
        inbox = (await session.exec(select(InboxItem))).all()
        assert sorted(item.recipient for item in inbox) == ["000.00.02.H56", "000.00.03.H56"]
        assert {item.state for item in inbox} == {InboxState.PENDING}
        [outbox] = await list_outbox(session)
        assert (outbox.destination, outbox.recipients) == (
            "ndxp",
            ["000.00.00.G22", "000.00.00.H41"],
        )
        assert (outbox.state, outbox.attempts, outbox.next_attempt_at) == (
            OutboxState.PENDING,
            0,
            clock.now(),
        )
        [hop] = await hops_of(session, package.id)
        assert (hop.hub_id, hop.event, hop.at, hop.detail) == (
            HUB,
            HopEvent.ACCEPTED,
            clock.now(),
            {"origin": "local"},
        )


async def test_resubmission_returns_the_stored_package_and_writes_nothing(db, clock):
    first, _ = await store(db, clock)
    clock.advance(minutes=5)

    again, created = await store(db, clock, subject="changed", local_recipients=["other"])

    assert not created
    assert again.id == first.id
    assert again.subject == first.subject
    assert again.body == BODY
    assert [await count(db, m) for m in (StoredPackage, InboxItem, OutboxItem, Hop)] == [1, 2, 1, 1]


async def test_same_document_id_from_another_sender_is_another_package(db, clock):
    first, _ = await store(db, clock)
    other, created = await store(db, clock, sender="000.00.09.H56")

    assert created
    assert other.id != first.id


async def test_status_packages_are_deduplicated_by_their_bytes(db, clock):
    status = {
        "kind": PackageKind.STATUS,
        "document_id": None,
        "status_code": "03",
        "forwards": None,
    }
    first, created_first = await store(db, clock, **status, body=b"<status>03</status>")
    same, created_same = await store(db, clock, **status, body=b"<status>03</status>")
    other, created_other = await store(db, clock, **status, body=b"<status>04</status>")

    assert (created_first, created_same, created_other) == (True, False, True)
    assert same.id == first.id != other.id
    assert first.status_code == "03"


async def test_concurrent_identical_submissions_store_one_package(db, clock):
    async def submit() -> tuple[StoredPackage, bool]:
        async with db.session() as session:
            result = await store_package(
                session,
                hub_id=HUB,
                kind=PackageKind.DOCUMENT,
                sender=SENDER,
                body=BODY,
                document_id="race",
                now=clock.now(),
                local_recipients=["000.00.02.H56"],
                forwards={"ndxp": ["000.00.00.G22"]},
            )
            # Hold the transaction open so the others collide with an uncommitted row.
            await asyncio.sleep(0.02)
            await session.commit()
        return result

    results = await asyncio.gather(*(submit() for _ in range(8)))

    assert sorted(created for _, created in results) == [False] * 7 + [True]
    assert len({package.id for package, _ in results}) == 1
    assert [await count(db, m) for m in (StoredPackage, InboxItem, OutboxItem, Hop)] == [1, 1, 1, 1]


async def test_a_rolled_back_store_leaves_nothing(db, clock):
    async with db.session() as session:
        await store_package(
            session,
            hub_id=HUB,
            kind=PackageKind.DOCUMENT,
            sender=SENDER,
            body=BODY,
            document_id="never",
            now=clock.now(),
            local_recipients=["000.00.02.H56"],
            forwards={"ndxp": ["x"]},
        )
        await session.rollback()

    assert [await count(db, m) for m in (StoredPackage, InboxItem, OutboxItem, Hop)] == [0, 0, 0, 0]


async def test_a_document_needs_its_document_id(db, clock):
    with pytest.raises(ValueError, match="DocumentId"):
        await store(db, clock, document_id=None)
    assert await count(db, StoredPackage) == 0


def test_dedupe_key_identifies_documents_by_sender_and_id_and_statuses_by_bytes():
    document = dedupe_key(kind=PackageKind.DOCUMENT, sender="A", document_id="1", sha256="x")
    assert document == dedupe_key(
        kind=PackageKind.DOCUMENT, sender="A", document_id="1", sha256="y"
    )
    assert document != dedupe_key(kind=PackageKind.DOCUMENT, sender="B", document_id="1")
    status = dedupe_key(kind=PackageKind.STATUS, sender="A", sha256=sha256_hex(b"s"))
    assert status != dedupe_key(kind=PackageKind.STATUS, sender="A", sha256=sha256_hex(b"t"))
    assert len(document) == len(status) == 64
    with pytest.raises(ValueError):
        dedupe_key(kind=PackageKind.STATUS, sender="A")


async def test_find_by_dedupe_key(db, clock):
    package, _ = await store(db, clock)
    key = dedupe_key(kind=PackageKind.DOCUMENT, sender=SENDER, document_id=package.document_id)

    async with db.session(readonly=True) as session:
        found = await find_by_dedupe_key(session, key)
        missing = await find_by_dedupe_key(session, "0" * 64)
        unknown = await get_package(session, "f" * 32)
        by_id = await package_meta(session, package_id=package.id)
        by_key = await package_meta(session, key=key)
        no_meta = await package_meta(session, package_id="f" * 32)
        with pytest.raises(ValueError):
            await package_meta(session, package_id=package.id, key=key)

    assert found is not None and found.id == package.id
    assert missing is None and unknown is None and no_meta is None
    assert by_id == by_key
    assert type(by_id) is PackageMeta
    assert (by_id.id, by_id.sha256, by_id.size) == (package.id, package.sha256, package.size)


async def test_list_inbox_filters_orders_and_leaves_the_bytes_out(db, clock, store_document):
    first = await store_document("d1", local=["A", "B"])
    clock.advance(seconds=1)
    second = await store_document("d2", local=["A"])
    clock.advance(seconds=1)
    await store_document("d3", local=["C"])
    clock.advance(seconds=1)
    status, _ = await store(
        db,
        clock,
        kind=PackageKind.STATUS,
        document_id=None,
        status_code="01",
        response_for="d1",
        body=b"<status/>",
        local_recipients=["A"],
        forwards=None,
    )

    async with db.session(readonly=True) as session:
        entries = await list_inbox(session, recipients=["A", "B"])
        limited = await list_inbox(session, recipients=["A", "B"], limit=2)
        documents = await list_inbox(session, recipients=["A"], kind=PackageKind.DOCUMENT)
        statuses = await list_inbox(session, recipients=["A"], kind=PackageKind.STATUS)
        nothing = await list_inbox(session, recipients=[])

    assert [(e.package.id, e.item.recipient) for e in entries][2:] == [
        (second.id, "A"),
        (status.id, "A"),
    ]
    assert {(e.package.id, e.item.recipient) for e in entries[:2]} == {
        (first.id, "A"),
        (first.id, "B"),
    }
    assert len(limited) == 2
    assert [e.package.document_id for e in documents] == ["d1", "d2"]
    assert [(e.package.kind, e.package.status_code, e.package.response_for) for e in statuses] == [
        (PackageKind.STATUS, "01", "d1")
    ]
    assert nothing == []
    entry = entries[0]
    assert type(entry.package) is PackageMeta
    assert not hasattr(entry.package, "body")
    assert entry.package.subject == "Công văn d1"
    assert entry.package.received_at == entry.item.created_at


async def test_fetch_then_confirm_moves_the_item_and_records_hops_once(db, clock, store_document):
    package = await store_document(local=["A", "B"])
    fetched_at = clock.advance(seconds=10)

    async with db.session() as session:
        first = await mark_fetched(
            session, hub_id=HUB, package_id=package.id, recipient="A", now=fetched_at
        )
        again = await mark_fetched(
            session, hub_id=HUB, package_id=package.id, recipient="A", now=clock.advance(seconds=1)
        )
        stranger = await mark_fetched(
            session, hub_id=HUB, package_id=package.id, recipient="Z", now=fetched_at
        )
        await session.commit()

    assert first is not None and (first.state, first.fetched_at) == (InboxState.FETCHED, fetched_at)
    assert again is not None and again.fetched_at == fetched_at
    assert stranger is None

    confirmed_at = clock.advance(seconds=10)
    async with db.session() as session:
        done = await confirm(
            session,
            hub_id=HUB,
            package_id=package.id,
            recipient="A",
            state=InboxState.DONE,
            now=confirmed_at,
        )
        repeated = await confirm(
            session,
            hub_id=HUB,
            package_id=package.id,
            recipient="A",
            state=InboxState.FAILED,
            now=clock.advance(seconds=1),
        )
        failed = await confirm(
            session,
            hub_id=HUB,
            package_id=package.id,
            recipient="B",
            state=InboxState.FAILED,
            now=confirmed_at,
        )
        missing = await confirm(
            session,
            hub_id=HUB,
            package_id=package.id,
            recipient="Z",
            state=InboxState.DONE,
            now=confirmed_at,
        )
        await session.commit()

    assert done is not None and (done.state, done.confirmed_at) == (InboxState.DONE, confirmed_at)
    assert repeated is not None and (repeated.state, repeated.confirmed_at) == (
        InboxState.DONE,
        confirmed_at,
    )
    assert failed is not None and failed.state == InboxState.FAILED and failed.fetched_at is None
    assert missing is None
    async with db.session(readonly=True) as session:
        hops = await hops_of(session, package.id)
        open_items = await list_inbox(session, recipients=["A", "B"])
        closed = await list_inbox(session, recipients=["A", "B"], states=[InboxState.DONE])
        item = await inbox_item(session, package_id=package.id, recipient="B")
    assert [(h.event, h.detail) for h in hops] == [
        (HopEvent.ACCEPTED, {"origin": "local"}),
        (HopEvent.DELIVERED, {"recipient": "A"}),
        (HopEvent.CONFIRMED, {"recipient": "A", "state": "done"}),
        (HopEvent.CONFIRMED, {"recipient": "B", "state": "failed"}),
    ]
    assert open_items == []
    assert [e.item.recipient for e in closed] == ["A"]
    assert item is not None and item.state == InboxState.FAILED


async def test_confirm_only_closes_items(db, clock, store_document):
    package = await store_document(local=["A"])
    async with db.session() as session:
        with pytest.raises(ValueError):
            await confirm(
                session,
                hub_id=HUB,
                package_id=package.id,
                recipient="A",
                state=InboxState.FETCHED,
                now=clock.now(),
            )


async def test_record_hop_keeps_recording_order(db, clock, store_document):
    package = await store_document()
    async with db.session() as session:
        for event in (HopEvent.STATUS, HopEvent.REJECTED):
            await record_hop(
                session,
                package_id=package.id,
                hub_id="ndxp",
                event=event,
                now=clock.now(),
                detail={"code": "x"},
            )
        await session.commit()

    async with db.session(readonly=True) as session:
        hops = await hops_of(session, package.id)
    assert [(h.event, h.hub_id) for h in hops] == [
        (HopEvent.ACCEPTED, HUB),
        (HopEvent.STATUS, "ndxp"),
        (HopEvent.REJECTED, "ndxp"),
    ]
    assert hops[0].id is not None and hops[0].id < hops[1].id < hops[2].id
