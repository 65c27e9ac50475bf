from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest

from lgsp.outbox import (
    RetryPolicy,
    claim_due,
    enqueue,
    list_outbox,
    mark_failed,
    mark_sent,
    mark_sent_many,
    outbox_counts,
    requeue_dead,
)
from lgsp.store import HopEvent, OutboxState, hops_of

HUB = "lgsp-h56"
LEASE = timedelta(seconds=30)


async def claim(db, *, owner, now, limit):
    return await claim_due(db.session_factory, owner=owner, now=now, limit=limit, lease=LEASE)


async def make_rows(store_document, n, destination="ndxp"):
    packages = [await store_document(forwards={destination: ["000.00.00.G22"]}) for _ in range(n)]
    return [package.id for package in packages]


async def only_row(db):
    async with db.session(readonly=True) as session:
        [item] = await list_outbox(session)
    return item


async def test_claim_leases_due_rows_to_one_owner(db, clock, store_document):
    await make_rows(store_document, 3)
    now = clock.now()

    first = await claim(db, owner="a", now=now, limit=2)
    second = await claim(db, owner="b", now=now, limit=10)
    third = await claim(db, owner="c", now=now, limit=10)

    assert len(first) == 2 and len(second) == 1 and third == []
    assert {i.lease_owner for i in first} == {"a"} and second[0].lease_owner == "b"
    assert {i.lease_until for i in first + second} == {now + LEASE}
    assert len({i.id for i in first + second}) == 3


async def test_claim_takes_the_oldest_due_first_and_skips_rows_not_due(db, clock, store_document):
    packages = []
    for _ in range(3):
        packages.append(await store_document(forwards={"ndxp": ["x"]}))
        clock.advance(seconds=1)
    async with db.session() as session:
        # A row enqueued for later (as mark_failed leaves it) is not due yet.
        later = await enqueue(
            session,
            package_id=packages[0].id,
            destination="h41",
            recipients=["y"],
            now=clock.advance(hours=1),
        )
        await session.commit()

    claimed = await claim(db, owner="a", now=clock.advance(minutes=-30), limit=10)

    assert [i.package_id for i in claimed] == [p.id for p in packages]
    assert later.id not in {i.id for i in claimed}
    assert await claim(db, owner="a", now=clock.now(), limit=0) == []


async def test_an_expired_lease_is_claimed_again(db, clock, store_document):
    await make_rows(store_document, 1)
    [item] = await claim(db, owner="crashed", now=clock.now(), limit=5)

    assert await claim(db, owner="b", now=clock.advance(seconds=29), limit=5) == []
    [again] = await claim(db, owner="b", now=clock.advance(seconds=2), limit=5)

    assert again.id == item.id and again.lease_owner == "b"
    # The crashed owner's late report does not disturb the new owner's attempt ...
    late = await mark_failed(
        db.session_factory,
        item.id,
        owner="crashed",
        hub_id=HUB,
        error="late",
        now=clock.now(),
        policy=RetryPolicy(),
    )
    assert late is None
    assert (await only_row(db)).lease_owner == "b"
    # ... and whoever delivers first settles the row, once.
    assert await mark_sent(db.session_factory, item.id, hub_id=HUB, now=clock.now())
    assert not await mark_sent(db.session_factory, item.id, hub_id=HUB, now=clock.now())


async def test_concurrent_claims_never_share_a_row(db, clock, store_document):
    await make_rows(store_document, 60)

    async def drain(owner: str) -> list[str]:
        ids: list[str] = []
        while batch := await claim(db, owner=owner, now=clock.now(), limit=4):
            ids += [item.id for item in batch]
        return ids

    claimed = await asyncio.gather(*(drain(f"w{n}") for n in range(4)))

    every = [row for rows in claimed for row in rows]
    assert len(every) == len(set(every)) == 60


async def test_mark_sent_settles_the_row_with_a_forwarded_hop(db, clock, store_document):
    [package_id] = await make_rows(store_document, 1)
    [item] = await claim(db, owner="a", now=clock.now(), limit=1)
    sent_at = clock.advance(seconds=2)

    assert await mark_sent(db.session_factory, item.id, hub_id=HUB, now=sent_at)

    row = await only_row(db)
    assert (row.state, row.sent_at, row.lease_owner, row.lease_until) == (
        OutboxState.SENT,
        sent_at,
        None,
        None,
    )
    async with db.session(readonly=True) as session:
        hops = await hops_of(session, package_id)
        counts = await outbox_counts(session)
    assert [(h.event, h.at, h.detail) for h in hops][1:] == [
        (HopEvent.FORWARDED, sent_at, {"to": "ndxp", "attempt": 1})
    ]
    assert counts == {OutboxState.PENDING: 0, OutboxState.SENT: 1, OutboxState.DEAD: 0}
    assert await claim(db, owner="a", now=clock.advance(hours=1), limit=1) == []
    assert not await mark_sent(db.session_factory, "no-such-row", hub_id=HUB, now=sent_at)


async def test_mark_sent_many_settles_rows_in_one_go(db, clock, store_document):
    package_ids = await make_rows(store_document, 3)
    items = await claim(db, owner="a", now=clock.now(), limit=3)
    first, *rest = (item.id for item in items)
    assert await mark_sent(db.session_factory, first, hub_id=HUB, now=clock.now())

    changed = await mark_sent_many(
        db.session_factory, [first, *rest, "no-such-row"], hub_id=HUB, now=clock.now()
    )

    assert sorted(changed) == sorted(rest)
    async with db.session(readonly=True) as session:
        assert (await outbox_counts(session))[OutboxState.SENT] == 3
        for package_id in package_ids:
            hops = await hops_of(session, package_id)
            assert [h.event for h in hops] == [HopEvent.ACCEPTED, HopEvent.FORWARDED]
    assert await mark_sent_many(db.session_factory, [], hub_id=HUB, now=clock.now()) == []


async def test_failures_back_off_exponentially_with_deterministic_full_jitter(
    db, clock, store_document
):
    await make_rows(store_document, 1)
    policy = RetryPolicy(base=0.5, factor=2, cap=3, max_attempts=8)
    rng, expected_rng = random.Random(20260105), random.Random(20260105)

    delays = []
    for attempt in range(1, 6):
        [item] = await claim(db, owner="a", now=clock.now(), limit=1)
        failed = await mark_failed(
            db.session_factory,
            item.id,
            owner="a",
            hub_id=HUB,
            error=f"HTTP 503 ({attempt})",
            now=clock.now(),
            policy=policy,
            rng=rng,
        )
        assert failed is not None
        assert (failed.state, failed.attempts, failed.last_error) == (
            OutboxState.PENDING,
            attempt,
            f"HTTP 503 ({attempt})",
        )
        assert failed.lease_owner is None
        delay = failed.next_attempt_at - clock.now()
        delays.append(delay)
        # Not due a microsecond before its time; due exactly then.
        assert (
            await claim(
                db, owner="a", now=failed.next_attempt_at - timedelta(microseconds=1), limit=1
            )
            == []
        )
        clock.current = failed.next_attempt_at

    ceilings = [0.5, 1.0, 2.0, 3.0, 3.0]  # base * 2 ** (n - 1), capped at 3 s
    assert delays == [timedelta(seconds=expected_rng.uniform(0, c)) for c in ceilings]
    assert all(
        timedelta(0) <= d <= timedelta(seconds=c) for d, c in zip(delays, ceilings, strict=True)
    )


async def test_a_row_dies_at_the_attempt_limit_and_an_operator_can_requeue_it(
    db, clock, store_document
):
    [package_id] = await make_rows(store_document, 1)
    policy = RetryPolicy(base=0.1, cap=0.1, max_attempts=3)

    for _ in range(3):
        [item] = await claim(db, owner="a", now=clock.advance(seconds=1), limit=1)
        last = await mark_failed(
            db.session_factory,
            item.id,
            owner="a",
            hub_id=HUB,
            error="refused",
            now=clock.now(),
            policy=policy,
            rng=random.Random(1),
        )

    assert last is not None and (last.state, last.attempts) == (OutboxState.DEAD, 3)
    assert await claim(db, owner="a", now=clock.advance(hours=1), limit=1) == []
    async with db.session(readonly=True) as session:
        dead = await list_outbox(session, state=OutboxState.DEAD)
        none_pending = await list_outbox(session, state=OutboxState.PENDING)
        hops = await hops_of(session, package_id)
    assert [d.id for d in dead] == [item.id] and none_pending == []
    assert (hops[-1].event, hops[-1].detail) == (
        HopEvent.DEAD,
        {"to": "ndxp", "attempts": 3, "error": "refused"},
    )

    assert await requeue_dead(db.session_factory, item.id, now=clock.now())
    assert not await requeue_dead(db.session_factory, item.id, now=clock.now())
    [revived] = await claim(db, owner="b", now=clock.now(), limit=1)
    assert (revived.id, revived.attempts, revived.last_error) == (item.id, 0, "refused")


async def test_a_permanent_failure_dies_at_once(db, clock, store_document):
    await make_rows(store_document, 1)
    [item] = await claim(db, owner="a", now=clock.now(), limit=1)

    dead = await mark_failed(
        db.session_factory,
        item.id,
        owner="a",
        hub_id=HUB,
        error="403 not allowed",
        now=clock.now(),
        policy=RetryPolicy(),
        permanent=True,
    )

    assert dead is not None and (dead.state, dead.attempts) == (OutboxState.DEAD, 1)


async def test_enqueue_joins_the_callers_transaction(db, clock, store_document):
    package = await store_document()
    async with db.session() as session:
        await enqueue(
            session, package_id=package.id, destination="h41", recipients=["a"], now=clock.now()
        )
        await session.rollback()
    async with db.session() as session:
        await enqueue(
            session, package_id=package.id, destination="h20", recipients=["b"], now=clock.now()
        )
        await session.commit()

    async with db.session(readonly=True) as session:
        rows = await list_outbox(session)
        to_h20 = await list_outbox(session, destination="h20")
    assert (
        [(r.destination, r.recipients) for r in rows]
        == [("h20", ["b"])]
        == [(r.destination, r.recipients) for r in to_h20]
    )


def test_retry_policy_caps_and_validates():
    policy = RetryPolicy()
    assert [policy.ceiling(n) for n in (1, 2, 3, 8, 10_000)] == [0.5, 1.0, 2.0, 60.0, 60.0]
    assert RetryPolicy(factor=1e6).ceiling(500) == 60.0
    assert policy.backoff(3, random.Random(0)) <= timedelta(seconds=2)
    for bad in ({"base": 0}, {"factor": 0.5}, {"cap": 0.1}, {"max_attempts": 0}):
        with pytest.raises(ValueError):
            RetryPolicy(**bad)
