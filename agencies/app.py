"""The fleet's control API (docs/exchange.md, "The control API of a fleet") and its lifespan.

`create_app` reads the fleet's configuration and profile at once (a wrong data directory
fails here, not in the first request); the lifespan then opens the fleet (trust store, hub
client, worker threads), starts the clerk's poll loop, and stops both cleanly at shutdown.
Every error answer is ``{"error": {"code", "message"}}``, never a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

import edoc
import keys
from simtime import Clock, clock_for_data_dir

from .clerk import Clerk
from .fleet import Fleet, FleetError, native_client, read_config, sdk_client
from .hubclient import HubClient
from .load import router as load_router
from .profile import load_profile
from .settings import FleetSettings

log = logging.getLogger(__name__)


# -- request and response bodies -------------------------------------------------------------


class ResponseForIn(BaseModel):
    """The document a new document answers."""

    model_config = ConfigDict(extra="forbid")

    organ_id: str = Field(min_length=1)
    document_id: str = Field(min_length=1)
    code: str | None = None


class SendRequest(BaseModel):
    """``POST /fleet/send``: what to draft, for whom, and which signatures to apply."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from", min_length=1)
    to: list[str] = Field(min_length=1, max_length=500)
    subject: str = Field(min_length=1, max_length=2000)
    content: str | None = Field(default=None, max_length=100_000)
    type_name: str | None = Field(default=None, max_length=100)
    due_days: int | None = Field(default=None, ge=0, le=3650)
    personal_signature: bool = True
    agency_signature: bool = True
    envelope_signature: bool = True
    tamper: bool = False
    response_for: ResponseForIn | None = None


class ErrorBody(BaseModel):
    """``{"code", "message"}`` of an error."""

    code: str
    message: str


class SendResponse(BaseModel):
    """The DocumentId, and the hub's receipt or its refusal with the hub's HTTP status."""

    document_id: str
    receipt: dict[str, Any] | None = None
    error: ErrorBody | None = None
    http_status: int


# -- dependencies ----------------------------------------------------------------------------


def _fleet(request: Request) -> Fleet:
    fleet: Fleet = request.app.state.fleet
    return fleet


def _clerk(request: Request) -> Clerk:
    clerk: Clerk = request.app.state.clerk
    return clerk


FleetDep = Annotated[Fleet, Depends(_fleet)]
ClerkDep = Annotated[Clerk, Depends(_clerk)]


# -- routes ----------------------------------------------------------------------------------

health = APIRouter(tags=["health"])
router = APIRouter(prefix="/fleet", tags=["fleet"])


@health.get("/health")
async def get_health(fleet: FleetDep) -> dict[str, Any]:
    """The fleet is up: its id, its hub and how many agencies it hosts."""
    return {
        "fleet_id": fleet.fleet_id,
        "hub_id": fleet.hub_id,
        "agencies": len(fleet.agencies),
        "status": "ok",
    }


@router.post("/send", response_model=SendResponse, response_model_exclude_none=True)
async def send(body: SendRequest, fleet: FleetDep) -> dict[str, Any]:
    """Draft, sign and submit a document for one of the fleet's agencies."""
    response_for = None
    if body.response_for is not None:
        response_for = edoc.ResponseFor(
            organ_id=body.response_for.organ_id,
            code=body.response_for.code,
            document_id=body.response_for.document_id,
        )
    outcome = await fleet.send(
        sender=body.from_,
        to=body.to,
        subject=body.subject,
        content=body.content,
        type_name=body.type_name,
        due_days=body.due_days,
        response_for=response_for,
        personal_signature=body.personal_signature,
        agency_signature=body.agency_signature,
        envelope_signature=body.envelope_signature,
        tamper=body.tamper,
    )
    return outcome.as_dict()


@router.get("/sent/{document_id:path}")
async def get_sent(document_id: str, fleet: FleetDep) -> dict[str, Any]:
    """A document the fleet sent: its receipt and the statuses received back for it."""
    sent = fleet.state.sent(document_id)
    if sent is None:
        raise FleetError(
            "unknown_document",
            f"{fleet.fleet_id} has not sent (or no longer remembers) {document_id!r}",
            http_status=404,
        )
    return sent.as_dict()


@router.get("/received")
async def get_received(
    fleet: FleetDep,
    organ_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> dict[str, Any]:
    """Documents the fleet's agencies received (newest first), with what verification found."""
    if organ_id is not None and not fleet.hosts(organ_id):
        raise FleetError(
            "unknown_agency", f"{organ_id} is not an agency of {fleet.fleet_id}", http_status=404
        )
    items = fleet.state.received(organ_id=organ_id, limit=limit)
    return {"items": [item.as_dict() for item in items]}


@router.get("/stats")
async def get_stats(fleet: FleetDep, clerk: ClerkDep) -> dict[str, Any]:
    """Counters: sent, received, statuses sent and received, verification failures…"""
    return {
        "fleet_id": fleet.fleet_id,
        "hub_id": fleet.hub_id,
        "agencies": len(fleet.agencies),
        **fleet.state.stats(),
        "polls": clerk.polls,
        "in_progress": clerk.busy,
    }


@router.get("/agencies")
async def get_agencies(fleet: FleetDep) -> dict[str, Any]:
    """The agencies the fleet hosts, with who signs for each."""
    items = []
    for organ_id in sorted(fleet.agencies):
        card = fleet.card(organ_id)
        items.append(
            {
                "organ_id": organ_id,
                "name": card.name,
                "signer": card.head.full_name,
                "position": card.head.position,
            }
        )
    return {"items": items}


# -- errors ----------------------------------------------------------------------------------


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FleetError)
    async def fleet_error(request: Request, exc: FleetError) -> JSONResponse:
        return _error(exc.http_status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error.get('loc', ()) if p != 'body') or 'body'}: "
            f"{error.get('msg', 'invalid')}"
            for error in exc.errors()
        )
        return _error(422, "invalid_request", problems or "the request is not valid")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        return _error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Coded library errors keep their code; anything else is logged, never shown.
        if isinstance(exc, keys.KeysError | edoc.EdocError):
            return _error(500, exc.code, exc.message)
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(500, "internal_error", "the fleet failed to handle this request; see its log")


# -- the app ---------------------------------------------------------------------------------


def create_app(
    settings: FleetSettings,
    *,
    hub: HubClient | None = None,
    clock: Clock | None = None,
    keystore: keys.KeyStore | None = None,
) -> FastAPI:
    """The fleet's FastAPI app; ``hub``, ``clock`` and ``keystore`` replace the defaults."""
    config = read_config(settings.fleet_id, settings.data)
    profile = load_profile(settings.profile)
    if keystore is None and not keys.KeyStore(config.keys_dir).initialised:
        raise FleetError(
            "keystore_missing",
            f"no CA in {config.keys_dir}: run `lgsp-sim keys init --dir {config.keys_dir}`",
            http_status=500,
        )
    # Twice what can be in flight: the items still being handled come back first.
    inbox_limit = max(100, 2 * settings.max_in_flight)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = hub
        if client is None and settings.protocol == "sdk":
            client = sdk_client(config, hub_url=settings.hub_url, timeout=settings.hub_timeout)
        fleet = Fleet(
            config,
            hub=client
            or native_client(
                config,
                hub_url=settings.hub_url,
                timeout=settings.hub_timeout,
                inbox_limit=inbox_limit,
            ),
            clock=clock or clock_for_data_dir(settings.data),  # sim.json's shared clock
            profile=profile,
            workers=settings.workers,
            history=settings.history,
            keystore=keystore,
        )
        clerk = Clerk(fleet, max_in_flight=settings.max_in_flight, max_sending=settings.max_sending)
        try:
            await fleet.open()
            app.state.fleet = fleet
            app.state.clerk = clerk
            clerk.start()
            log.info(
                "%s: %d agencies of %s, profile %s",
                config.fleet_id,
                len(config.agencies),
                config.hub_id,
                profile.name,
            )
            yield
        finally:
            await clerk.stop()
            await fleet.close()

    app = FastAPI(
        title=f"lgsp-sim fleet {config.fleet_id}",
        summary=f"The simulated DMS of the {len(config.agencies)} agencies of {config.hub_id}",
        lifespan=lifespan,
    )
    app.include_router(health)
    app.include_router(router)
    app.include_router(load_router)  # POST /fleet/load
    _install_error_handlers(app)
    return app
