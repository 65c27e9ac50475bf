"""``GET /api/v1/events``: the hub's events as Server-Sent Events, for live dashboards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from lgsp.api.deps import HubDep
from lgsp.events import BusClosedError

router = APIRouter(prefix="/api/v1", tags=["events"])

_KEEPALIVE: Final = 15.0  # seconds; proxies drop idle streams


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(request: Request, hub: HubDep) -> StreamingResponse:
    """Stream accepted / forwarded / delivered / status / rejected events as they happen."""

    async def stream() -> AsyncIterator[bytes]:
        async with hub.events.subscribe() as subscription:
            yield f": connected to {hub.hub_id}\n\n".encode()
            while True:
                try:
                    event = await subscription.next(wait=_KEEPALIVE)
                except BusClosedError:
                    return
                if event is None:
                    if await request.is_disconnected():
                        return
                    yield b": keep-alive\n\n"
                    continue
                yield f"event: {event.type.value}\ndata: {event.to_json()}\n\n".encode()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
