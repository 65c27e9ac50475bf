from __future__ import annotations

import asyncio
import collections
import random
import time
from datetime import timedelta

from lgsp.outbox import (
    OutboxWorker,
    PermanentDeliveryError,
    RetryPolicy,
    claim_due,
    enqueue,
    list_outbox,
    outbox_counts,
)
from lgsp.store import Database, HopEvent, OutboxState, hops_of
from simtime import WallClock

HUB = "lgsp-h56"
FAST = RetryPolicy(base=0.01, factor=2, cap=0.05, max_attempts=4)


async def wait_until_settled(db, expected_total):
    """Wait until no row is pending; return the counts per state."""
    counts = {}
    try:
        async with asyncio.timeout(20):
            while True:
                async with db.session(readonly=True) as session:
                    counts = await outbox_counts(session)
                if counts[OutboxState.PENDING] == 0 and sum(counts.values()) == expected_total:
                    return counts
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"outbox not drained: {counts}") from None


def worker(db, deliver, owner="w1", **options):
    options = {
        "policy": FAST,
        "rng": random.Random(3),
        "poll_interval": 0.05,
        "batch": 10,
        "concurrency": 4,
    } | options
    return OutboxWorker(
        db.session_factory, owner=owner, hub_id=HUB, deliver=deliver, clock=WallClock(), **options
    )


async def test_two_replicas_drain_200_rows_delivering_each_once(db, db_target, store_document):
    for _ in range(200):
        await store_document(forwards={"ndxp": ["000.00.00.G22"]})
    deliveries: collections.Counter[str] = collections.Counter()
    by_worker: collections.Counter[str] = collections.Counter()

    def deliver_as(name):
        async def deliver(item, package):
            assert package.id == item.package_id and package.body.startswith(b"<edXML>")
            await asyncio.sleep(0.002)  # the network
            deliveries[item.id] += 1
            by_worker[name] += 1

        return deliver

    url, schema = db_target
    other_replica = Database.connect(url, schema=schema)  # its own engine and pool
    workers = [
        worker(db, deliver_as("w1"), "w1", batch=5),
        worker(other_replica, deliver_as("w2"), "w2", batch=5),
    ]
    try:
        for w in workers:
            w.start()
        counts = await wait_until_settled(db, 200)
        for w in workers:
            await w.stop()
    finally:
        await other_replica.dispose()

    assert counts[OutboxState.SENT] == 200
    assert len(deliveries) == 200 and set(deliveries.values()) == {1}
    assert by_worker["w1"] > 0 and by_worker["w2"] > 0
    async with db.session(readonly=True) as session:
        [row] = await list_outbox(session, limit=1)
        hops = await hops_of(session, row.package_id)
    assert [h.event for h in hops] == [HopEvent.ACCEPTED, HopEvent.FORWARDED]


async def test_a_failing_delivery_is_retried_until_it_is_sent(db, store_document):
    package = await store_document(forwards={"ndxp": ["000.00.00.G22"]})
    attempts = 0

    async def deliver(item, package):
        nonlocal attempts
        attempts += 1
        if attempts <= 3:
            raise ConnectionError(f"ndxp unreachable ({attempts})")

    w = worker(db, deliver)
    w.start()
    await wait_until_settled(db, 1)
    await w.stop()

    async with db.session(readonly=True) as session:
        [row] = await list_outbox(session)
        hops = await hops_of(session, package.id)
    assert attempts == 4
    assert (row.state, row.attempts, row.last_error) == (
        OutboxState.SENT,
        3,
        "ndxp unreachable (3)",
    )
    assert [(h.event, h.detail) for h in hops][1:] == [
        (HopEvent.FORWARDED, {"to": "ndxp", "attempt": 4})
    ]


async def test_a_delivery_that_never_succeeds_ends_dead(db, store_document):
    package = await store_document(forwards={"ndxp": ["000.00.00.G22"]})

    async def deliver(item, package):
        raise RuntimeError()

    w = worker(db, deliver)
    w.start()
    counts = await wait_until_settled(db, 1)
    await w.stop()

    async with db.session(readonly=True) as session:
        [row] = await list_outbox(session)
        hops = await hops_of(session, package.id)
    assert counts[OutboxState.DEAD] == 1
    assert (row.attempts, row.last_error) == (FAST.max_attempts, "RuntimeError")
    assert hops[-1].event == HopEvent.DEAD


async def test_a_permanent_refusal_is_not_retried(db, store_document):
    await store_document(forwards={"ndxp": ["000.00.00.G22"]})
    calls = 0

    async def deliver(item, package):
        nonlocal calls
        calls += 1
        raise PermanentDeliveryError("400: recipient unknown")

    w = worker(db, deliver)
    w.start()
    counts = await wait_until_settled(db, 1)
    await w.stop()

    assert counts[OutboxState.DEAD] == 1 and calls == 1


async def test_rows_of_a_crashed_replica_are_delivered_after_their_lease(db, store_document):
    for _ in range(3):
        await store_document(forwards={"ndxp": ["000.00.00.G22"]})
    clock = WallClock()
    # The crashed replica claimed everything and will never report back.
    crashed = await claim_due(
        db.session_factory,
        owner="crashed",
        now=clock.now(),
        limit=10,
        lease=timedelta(milliseconds=300),
    )
    delivered: list[str] = []

    async def deliver(item, package):
        delivered.append(item.id)

    w = worker(db, deliver, lease=timedelta(seconds=30))
    started = time.monotonic()
    w.start()
    await wait_until_settled(db, 3)
    await w.stop()

    assert sorted(delivered) == sorted(item.id for item in crashed)
    assert time.monotonic() - started >= 0.25  # not before the lease ran out


async def test_notify_wakes_an_idle_worker_at_once(db, clock, store_document):
    package = await store_document()
    delivered = asyncio.Event()

    async def deliver(item, package):
        delivered.set()

    w = worker(db, deliver, poll_interval=30)
    w.start()
    await asyncio.sleep(0.1)  # the worker found nothing and went to sleep for 30 s
    async with db.session() as session:
        await enqueue(
            session,
            package_id=package.id,
            destination="ndxp",
            recipients=["x"],
            now=WallClock().now(),
        )
        await session.commit()
    w.notify()

    await asyncio.wait_for(delivered.wait(), timeout=2)
    await w.stop()


async def test_stop_lets_deliveries_in_flight_finish_and_settle(db, store_document):
    await store_document(forwards={"ndxp": ["000.00.00.G22"]})
    started = asyncio.Event()

    async def deliver(item, package):
        started.set()
        await asyncio.sleep(0.2)

    stop = asyncio.Event()
    w = worker(db, deliver)
    running = asyncio.create_task(w.run(stop))
    await started.wait()
    stop.set()
    await asyncio.wait_for(running, timeout=5)

    async with db.session(readonly=True) as session:
        [row] = await list_outbox(session)
    assert row.state == OutboxState.SENT
