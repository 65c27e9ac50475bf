"""The SDK front's HTTP face: every call of the VXP protocol table, and an operator view.

Every answer is HTTP 200 with ``status`` OK or FAIL, as the SDK expects (it reads the JSON,
not the HTTP status): refusals carry a stable ``ErrorCode`` (docs/sdk-errors.md) and every
field of the call, empty. Anything unexpected is logged and answered FAIL 900, never a 500.
A refused ``sendEdoc`` (authentication failures included) is a line of the rejection log,
channel ``sdk``, as on the native API.

The calls are mounted under ``LGSP_SDK_PREFIX`` (default: the hub's root, so the SDK's
endpoint is the hub URL itself); ``GET /api/v1/sdk`` is the operator view.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from lgsp.api.deps import read_body
from lgsp.api.state import Hub
from lgsp.events import EventType
from lgsp.intake import IntakeError
from lgsp.stats import record_rejection
from lgsp.store import PackageKind

from . import protocol, service
from .errors import ErrorCode, SdkError, from_intake
from .guard import Caller, Guard
from .hosting import Hosting
from .schemas import (
    AgencyIn,
    AgencyList,
    AgencyQD20List,
    Answer,
    CountAnswer,
    EdocAnswer,
    FrontStatus,
    ReceivedEdocList,
    SendEdocAnswer,
    SentEdocList,
    UnitList,
)

log = logging.getLogger(__name__)

Work = Callable[["SdkFront", Caller, Request], Awaitable[dict[str, Any] | Response]]

_EDXML_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "description": "the signed edXML package, raw",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_AGENCY_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "description": "the agency: {id, pcode, code, name, mail, mobile, fax}",
        "content": {"application/json": {"schema": AgencyIn.model_json_schema()}},
    }
}


class SdkFront:
    """The running SDK front of one hub: hosting, the guard, counters and directory caches."""

    def __init__(self, hub: Hub, *, prefix: str) -> None:
        settings = hub.settings
        self.hub = hub
        self.prefix = prefix
        self.started: datetime = hub.clock.now()
        self.hosting = Hosting(hub)
        self.guard = Guard(
            hosting=self.hosting,
            registry=hub.systems,
            clock=hub.clock,
            strict=settings.sdk_strict,
            window=settings.sdk_window,
            utc_offset_minutes=settings.sdk_utc_offset_minutes,
        )
        self.calls: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self._cache: dict[tuple[str, int, int], bytes] = {}

    async def start(self) -> None:
        """Load the systems and registrations; watch them from now on."""
        await self.hosting.start()

    async def stop(self) -> None:
        """Stop watching."""
        await self.hosting.stop()

    def cached(self, key: str, level: int, build: Callable[[], list[Any]]) -> bytes:
        """A directory answer, serialised once per reload of the hosting."""
        generation = self.hosting.generation
        found = self._cache.get((key, generation, level))
        if found is None:
            self._cache = {k: v for k, v in self._cache.items() if k[1] == generation}
            found = bytes(JSONResponse(protocol.answer({"data": build()})).body)
            self._cache[(key, generation, level)] = found
        return found

    def status(self) -> FrontStatus:
        """The operator view."""
        return FrontStatus(
            hub_id=self.hub.hub_id,
            prefix=self.prefix or "/",
            strict=self.guard.strict,
            window=self.guard.window,
            calls=dict(self.calls),
            failures=dict(self.failures),
            warnings={
                "stale_timestamp": self.guard.warnings["stale_timestamp"],
                "replayed_request": self.guard.warnings["replayed_request"],
            },
            systems=len(self.hub.systems),
            registered_agencies=sum(1 for r in self.hosting.registered.values() if not r.deleted),
        )

    async def serve(
        self,
        request: Request,
        call: str,
        work: Work,
        *,
        empty: Callable[[], dict[str, Any]] = dict,
        submission: bool = False,
    ) -> Response:
        """Authenticate, run ``work``, answer OK; any refusal becomes a FAIL answer."""
        self.calls[call] += 1
        caller: Caller | None = None
        try:
            caller = await self.guard.authenticate(request.scope["headers"])
            result = await work(self, caller, request)
            if isinstance(result, Response):
                return result
            return JSONResponse(protocol.answer(result))
        except SdkError as exc:
            error = exc
        except Exception:
            log.exception("SDK %s failed on %s", call, self.hub.hub_id)
            error = SdkError(
                ErrorCode.INTERNAL,
                "internal_error",
                "the hub could not complete the call (see its log); nothing was stored, try again",
            )
        self.failures[error.error_code.value] += 1
        system_id = caller.system_id if caller is not None else None
        if submission:
            await self._log_rejection(request, error, system_id)
        else:
            log.info("SDK %s refused (%s): %s", call, error.error_code.value, error.desc)
        return JSONResponse(protocol.failure(error, empty()))

    async def _log_rejection(self, request: Request, error: SdkError, caller: str | None) -> None:
        hub = self.hub
        size = error.size or getattr(request.state, "size", None)
        if size is None:
            declared = request.headers.get("content-length", "")
            size = int(declared) if declared.isdigit() else None
        try:
            await record_rejection(
                hub.writes,
                at=hub.clock.now(),
                code=error.reason,
                http_status=error.http_status,
                channel="sdk",
                message=error.message,
                caller=caller,
                sender=error.sender,
                size=size,
            )
        except Exception:  # the answer matters more than the log line
            log.exception("could not log the SDK rejection %s", error.reason)
        hub.events.publish(
            EventType.REJECTED,
            code=error.reason,
            http_status=error.http_status,
            channel="sdk",
            caller=caller,
            sender=error.sender,
            size=size,
            message=error.message,
            error_code=error.error_code.value,
        )


def _front(request: Request) -> SdkFront:
    front: SdkFront = request.app.state.sdk
    return front


async def _body(front: SdkFront, request: Request) -> bytes:
    try:
        return await read_body(request, front.hub)
    except IntakeError as exc:
        raise from_intake(exc) from None


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    hub: Hub = app.state.hub
    front = SdkFront(hub, prefix=getattr(app.state, "sdk_prefix", ""))
    await front.start()
    app.state.sdk = front
    try:
        yield
    finally:
        await front.stop()


calls = APIRouter(tags=["sdk"])
operator = APIRouter(tags=["sdk"], lifespan=_lifespan)


# -- documents ----------------------------------------------------------------------------


async def _send(front: SdkFront, caller: Caller, request: Request) -> dict[str, Any]:
    body = await _body(front, request)
    return await service.send_edoc(hub=front.hub, caller=caller, body=body)


@calls.post("/sendEdoc", response_model=SendEdocAnswer, openapi_extra=_EDXML_BODY)
async def send_edoc(request: Request) -> Response:
    """Submit a document (messagetype edoc) or status package (status): from, servicetype,
    messagetype, hash-file, optional to. A retry gets the same DocId."""
    return await _front(request).serve(
        request, "sendEdoc", _send, empty=lambda: {"DocId": ""}, submission=True
    )


async def _received(front: SdkFront, caller: Caller, request: Request) -> dict[str, Any]:
    return await service.received_list(hub=front.hub, caller=caller)


@calls.post("/getReceivedEdocList", response_model=ReceivedEdocList)
async def get_received_edoc_list(request: Request) -> Response:
    """What waits for the caller's agencies (servicetype, messagetype), oldest first."""
    return await _front(request).serve(
        request, "getReceivedEdocList", _received, empty=lambda: {"data": []}
    )


async def _get(front: SdkFront, caller: Caller, request: Request) -> dict[str, Any]:
    return await service.get_edoc(hub=front.hub, caller=caller)


@calls.post("/getEdoc", response_model=EdocAnswer)
async def get_edoc(request: Request) -> Response:
    """The exact stored edXML of docId, base64."""
    return await _front(request).serve(request, "getEdoc", _get, empty=lambda: {"data": ""})


async def _update(front: SdkFront, caller: Caller, request: Request) -> dict[str, Any]:
    return await service.update_status(hub=front.hub, caller=caller)


@calls.post("/updateStatus", response_model=Answer)
async def update_status(request: Request) -> Response:
    """docId, status processing, done or fail; done and fail take it off the list."""
    return await _front(request).serve(request, "updateStatus", _update)


async def _sent(front: SdkFront, caller: Caller, request: Request) -> dict[str, Any]:
    return await service.sent_list(hub=front.hub, caller=caller)


@calls.post("/getSentEdocList", response_model=SentEdocList)
async def get_sent_edoc_list(request: Request) -> Response:
    """Where a package the caller sent (docId) stands, one row per recipient."""
    return await _front(request).serve(
        request, "getSentEdocList", _sent, empty=lambda: {"data": []}
    )


def _counter(kind: PackageKind) -> Work:
    async def count(front: SdkFront, caller: Caller, request: Request) -> dict[str, Any]:
        return await service.count_received(hub=front.hub, caller=caller, kind=kind)

    return count


@calls.get("/countReceiveEdoc", response_model=CountAnswer)
async def count_receive_edoc(request: Request) -> Response:
    """How many documents wait for the caller's agencies."""
    return await _front(request).serve(
        request, "countReceiveEdoc", _counter(PackageKind.DOCUMENT), empty=lambda: {"count": 0}
    )


@calls.get("/countReceiveStatus", response_model=CountAnswer)
async def count_receive_status(request: Request) -> Response:
    """How many status packages wait for the caller's agencies."""
    return await _front(request).serve(
        request, "countReceiveStatus", _counter(PackageKind.STATUS), empty=lambda: {"count": 0}
    )


# -- agencies -----------------------------------------------------------------------------


async def _agencies(front: SdkFront, caller: Caller, request: Request) -> Response:
    topology = front.hub.directory.topology
    registered = front.hosting.registered
    body = front.cached("agencies", 0, lambda: service.agencies_list(topology, registered))
    return Response(content=body, media_type="application/json")


@calls.post("/getAgenciesList", response_model=AgencyList)
async def get_agencies_list(request: Request) -> Response:
    """The directory: the topology's agencies and those registered at this hub."""
    return await _front(request).serve(
        request,
        "getAgenciesList",
        _agencies,
        empty=lambda: {"data": []},
    )


async def _qd20(front: SdkFront, caller: Caller, request: Request) -> Response:
    level = service.parse_level(caller.request.require("level"))
    topology = front.hub.directory.topology
    registered = front.hosting.registered
    body = front.cached("qd20", level, lambda: service.agencies_qd20(topology, registered, level))
    return Response(content=body, media_type="application/json")


@calls.post("/getAgenciesListQD20", response_model=AgencyQD20List)
async def get_agencies_list_qd20(request: Request) -> Response:
    """The agencies of one level (1 to 4) of the QĐ 20/2020 code."""
    return await _front(request).serve(
        request,
        "getAgenciesListQD20",
        _qd20,
        empty=lambda: {"data": []},
    )


async def _units(front: SdkFront, caller: Caller, request: Request) -> Response:
    topology = front.hub.directory.topology
    registered = front.hosting.registered
    body = front.cached(
        "units",
        0,
        lambda: service.synchronize_units(topology, registered, since=front.started),
    )
    return Response(content=body, media_type="application/json")


@calls.post("/getSynchronizeUnit", response_model=UnitList)
async def get_synchronize_unit(request: Request) -> Response:
    """Every unit, with version, hub (centerCode) and deleted flag, to synchronise a DMS."""
    return await _front(request).serve(
        request,
        "getSynchronizeUnit",
        _units,
        empty=lambda: {"data": []},
    )


async def _register(front: SdkFront, caller: Caller, request: Request) -> dict[str, Any]:
    body = await _body(front, request)
    return await service.register_agency(
        hub=front.hub, hosting=front.hosting, caller=caller, body=body
    )


@calls.post("/registerAgency", response_model=Answer, openapi_extra=_AGENCY_BODY)
async def register_agency(request: Request) -> Response:
    """Register (or update) an agency hosted by the caller; documents reach it from now on."""
    return await _front(request).serve(request, "registerAgency", _register)


async def _delete(front: SdkFront, caller: Caller, request: Request) -> dict[str, Any]:
    return await service.delete_agency(hub=front.hub, hosting=front.hosting, caller=caller)


@calls.post("/deleteAgency", response_model=Answer)
async def delete_agency(request: Request) -> Response:
    """Stop hosting an agency the caller registered (AgencyCode)."""
    return await _front(request).serve(request, "deleteAgency", _delete)


# -- operator -----------------------------------------------------------------------------


@operator.get("/api/v1/sdk", response_model=FrontStatus)
async def sdk_status(request: Request) -> FrontStatus:
    """The SDK front: prefix, strict mode, calls, failures by ErrorCode, warnings counted."""
    return _front(request).status()


def install_sdk(app: FastAPI, *, prefix: str = "") -> None:
    """Mount the SDK calls under ``prefix`` and the operator view on ``app``."""
    app.state.sdk_prefix = prefix
    app.include_router(calls, prefix=prefix)
    app.include_router(operator)
