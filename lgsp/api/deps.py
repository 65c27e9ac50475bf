"""What endpoints declare they need: ``Annotated`` dependencies on the running hub.

Every dependency is ``async def``, even those that never await: FastAPI runs a plain
``def`` dependency in a thread pool, a thread hop per call on the hot path.

``HubDep`` the hub's services, ``ClockDep`` its clock, ``SessionDep`` a read-only session,
``CallerSystem`` the DMS system behind the bearer token, ``PeerHub`` the authenticated
previous hub, ``RawBody`` the request body read under the size limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Final

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp import auth
from lgsp.intake import IntakeError
from simtime import Clock

from .state import Hub

_bearer: Final = HTTPBearer(auto_error=False, description="token from POST /api/v1/token")


async def get_hub(request: Request) -> Hub:
    """The running hub."""
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


async def get_clock(hub: HubDep) -> Clock:
    """The hub's clock (the only source of time)."""
    return hub.clock


ClockDep = Annotated[Clock, Depends(get_clock)]


async def get_session(hub: HubDep) -> AsyncIterator[AsyncSession]:
    """A read-only session for the request (writes go through the services' own sessions)."""
    async with hub.db.session(readonly=True) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_caller_system(
    request: Request,
    hub: HubDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> auth.System:
    """The DMS system whose bearer token came with the request (401 otherwise)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise auth.AuthError(
            "unauthorized",
            "this call needs Authorization: Bearer <token> (POST /api/v1/token gives one)",
        )
    system_id = hub.tokens.verify(credentials.credentials)
    system = hub.systems.get(system_id)
    if system is None:
        raise auth.AuthError(
            "invalid_token", f"system {system_id!r} is no longer registered at {hub.hub_id}"
        )
    request.state.caller = system_id
    return system


CallerSystem = Annotated[auth.System, Depends(get_caller_system)]


async def get_peer_hub(request: Request, hub: HubDep) -> auth.PeerHub:
    """The previous hub, authenticated from its signed headers (the digest is checked later)."""
    peer = hub.verifier.verify_headers(request.headers)
    request.state.caller = peer.hub_id
    return peer


PeerHub = Annotated[auth.PeerHub, Depends(get_peer_hub)]


async def read_body(request: Request, hub: HubDep) -> bytes:
    """The request body, refused past ``max_body_bytes`` without reading the rest."""
    limit = hub.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise IntakeError("bad_request", "Content-Length is not a number", 400)
        if int(declared) > limit:
            raise IntakeError(
                "body_too_large",
                f"the body is {declared} bytes; this hub accepts at most {limit}",
                413,
                size=int(declared),
            )
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            # Chunked uploads declare no length: stop reading as soon as the limit is passed.
            raise IntakeError(
                "body_too_large",
                f"the body is larger than {limit} bytes, the most this hub accepts",
                413,
                size=total,
            )
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body:
        raise IntakeError("empty_body", "the request has no body; send the edXML package", 400)
    request.state.size = len(body)
    return body


RawBody = Annotated[bytes, Depends(read_body)]
