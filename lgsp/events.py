"""The hub's in-process event bus: what happened, when (on the hub's clock), for listeners.

Publishers (intake, delivery, inbox) call :meth:`EventBus.publish`; it never blocks and
never fails the request path: each subscriber has a bounded queue, and a subscriber that
falls behind loses its oldest events (it is told how many in a ``dropped`` event) rather
than slowing the hub down. ``GET /api/v1/events`` streams them as Server-Sent Events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from simtime import Clock

_DEFAULT_QUEUE: Final = 1000


class EventType(StrEnum):
    """What a hub reports."""

    ACCEPTED = "accepted"  # a package was stored (from a DMS or from the previous hub)
    FORWARDED = "forwarded"  # the next hub acknowledged a package
    DELIVERED = "delivered"  # a local recipient confirmed (acked) a package
    STATUS = "status"  # a status package was accepted here
    REJECTED = "rejected"  # an input was refused; nothing was stored
    DEAD = "dead"  # the next hub refused a package for good
    DROPPED = "dropped"  # this subscriber fell behind and lost events


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened at a hub."""

    type: EventType
    hub_id: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """The event as one JSON object (``type``, ``hub_id``, ``at`` and the data)."""
        return json.dumps(
            {"type": self.type.value, "hub_id": self.hub_id, "at": self.at.isoformat(), **self.data},
            ensure_ascii=False,
            default=str,
        )


class _Subscription:
    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0


class EventBus:
    """Fan-out of a hub's events to any number of async subscribers."""

    def __init__(self, *, hub_id: str, clock: Clock, queue_size: int = _DEFAULT_QUEUE) -> None:
        self.hub_id = hub_id
        self._clock = clock
        self._queue_size = queue_size
        self._subscriptions: set[_Subscription] = set()
        self._closed = False

    @property
    def subscribers(self) -> int:
        """How many subscribers are listening."""
        return len(self._subscriptions)

    def publish(self, type_: EventType, **data: Any) -> Event:
        """Timestamp an event on the hub's clock and hand it to every subscriber."""
        event = Event(type=type_, hub_id=self.hub_id, at=self._clock.now(), data=data)
        for subscription in self._subscriptions:
            self._offer(subscription, event)
        return event

    def _offer(self, subscription: _Subscription, event: Event) -> None:
        queue = subscription.queue
        if queue.full():
            # Drop the oldest: a live view wants what is happening now.
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
            subscription.dropped += 1
        queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[AsyncIterator[Event]]:
        """Listen until the block exits: ``async with bus.subscribe() as events: ...``."""
        subscription = _Subscription(self._queue_size)
        if self._closed:
            subscription.queue.put_nowait(None)
        self._subscriptions.add(subscription)
        try:
            yield self._iterate(subscription)
        finally:
            self._subscriptions.discard(subscription)

    async def _iterate(self, subscription: _Subscription) -> AsyncIterator[Event]:
        while True:
            event = await subscription.queue.get()
            if event is None:
                return
            if subscription.dropped:
                lost, subscription.dropped = subscription.dropped, 0
                yield Event(
                    type=EventType.DROPPED,
                    hub_id=self.hub_id,
                    at=self._clock.now(),
                    data={"count": lost},
                )
            yield event

    def close(self) -> None:
        """End every subscription (the hub is stopping)."""
        self._closed = True
        for subscription in self._subscriptions:
            queue = subscription.queue
            while queue.full():
                queue.get_nowait()
            queue.put_nowait(None)
