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
            {
                "type": self.type.value,
                "hub_id": self.hub_id,
                "at": self.at.isoformat(),
                **self.data,
            },
            ensure_ascii=False,
            default=str,
        )


class BusClosedError(Exception):
    """The hub is stopping: no more events will come."""


class Subscription:
    """One listener's queue; iterate it, or call :meth:`next` with a timeout."""

    def __init__(self, *, hub_id: str, clock: Clock, maxsize: int) -> None:
        self._hub_id = hub_id
        self._clock = clock
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=maxsize)
        self._dropped = 0
        self._closed = False

    def offer(self, event: Event | None) -> None:
        """Queue an event (None: the end), dropping the oldest when full."""
        if self._queue.full():
            # A live view wants what is happening now, not what it missed.
            with contextlib.suppress(asyncio.QueueEmpty):
                if self._queue.get_nowait() is not None:
                    self._dropped += 1
        self._queue.put_nowait(event)

    async def next(self, wait: float | None = None) -> Event | None:
        """The next event, or None after ``wait`` seconds; BusClosedError at the end."""
        if self._closed:
            raise BusClosedError
        if self._dropped:
            lost, self._dropped = self._dropped, 0
            return Event(
                type=EventType.DROPPED,
                hub_id=self._hub_id,
                at=self._clock.now(),
                data={"count": lost},
            )
        try:
            event = await asyncio.wait_for(self._queue.get(), timeout=wait)
        except TimeoutError:
            return None
        if event is None:
            self._closed = True
            raise BusClosedError
        return event

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            try:
                event = await self.next()
            except BusClosedError:
                return
            if event is not None:
                yield event


class EventBus:
    """Fan-out of a hub's events to any number of async subscribers."""

    def __init__(self, *, hub_id: str, clock: Clock, queue_size: int = _DEFAULT_QUEUE) -> None:
        self.hub_id = hub_id
        self._clock = clock
        self._queue_size = queue_size
        self._subscriptions: set[Subscription] = set()
        self._closed = False

    @property
    def subscribers(self) -> int:
        """How many subscribers are listening."""
        return len(self._subscriptions)

    def publish(self, type_: EventType, **data: Any) -> Event:
        """Timestamp an event on the hub's clock and hand it to every subscriber."""
        event = Event(type=type_, hub_id=self.hub_id, at=self._clock.now(), data=data)
        for subscription in self._subscriptions:
            subscription.offer(event)
        return event

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        """Listen until the block exits: ``async with bus.subscribe() as events: ...``."""
        subscription = Subscription(hub_id=self.hub_id, clock=self._clock, maxsize=self._queue_size)
        if self._closed:
            subscription.offer(None)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    def close(self) -> None:
        """End every subscription (the hub is stopping)."""
        self._closed = True
        for subscription in self._subscriptions:
            subscription.offer(None)
