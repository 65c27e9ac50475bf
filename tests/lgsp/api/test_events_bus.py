"""The event bus behind GET /api/v1/events: fan-out, slow listeners, closing."""

from __future__ import annotations

import asyncio

import pytest
from hubkit import MovableClock

from lgsp.events import BusClosedError, EventBus, EventType


async def test_every_subscriber_gets_every_event(hub_clock: MovableClock) -> None:
    bus = EventBus(hub_id="lgsp-h56", clock=hub_clock)
    assert bus.publish(EventType.ACCEPTED, doc_id="nobody listens").hub_id == "lgsp-h56"
    async with bus.subscribe() as first, bus.subscribe() as second:
        assert bus.subscribers == 2
        bus.publish(EventType.ACCEPTED, doc_id="a")
        for subscription in (first, second):
            event = await subscription.next(wait=1)
            assert event is not None
            assert (event.type, event.data, event.at) == (
                EventType.ACCEPTED,
                {"doc_id": "a"},
                hub_clock.now(),
            )
            assert '"doc_id": "a"' in event.to_json()
        assert await first.next(wait=0.01) is None  # nothing more: a timeout, not an error
    assert bus.subscribers == 0


async def test_a_slow_subscriber_loses_the_oldest_and_is_told(hub_clock: MovableClock) -> None:
    bus = EventBus(hub_id="h", clock=hub_clock, queue_size=3)
    async with bus.subscribe() as events:
        for n in range(5):
            bus.publish(EventType.FORWARDED, n=n)
        dropped = await events.next(wait=1)
        assert dropped is not None and dropped.type is EventType.DROPPED
        assert dropped.data == {"count": 2}
        kept = [await events.next(wait=1) for _ in range(3)]
        assert [e.data["n"] for e in kept if e is not None] == [2, 3, 4]


async def test_closing_ends_every_stream(hub_clock: MovableClock) -> None:
    bus = EventBus(hub_id="h", clock=hub_clock)
    async with bus.subscribe() as events:
        received: list[int] = []

        async def listen() -> None:
            async for event in events:
                received.append(event.data["n"])

        task = asyncio.create_task(listen())
        bus.publish(EventType.STATUS, n=1)
        await asyncio.sleep(0)
        bus.close()
        await asyncio.wait_for(task, timeout=1)
        assert received == [1]
        with pytest.raises(BusClosedError):
            await events.next(wait=1)
    async with bus.subscribe() as late:
        with pytest.raises(BusClosedError):
            await late.next()
