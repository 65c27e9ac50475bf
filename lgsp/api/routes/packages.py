"""``/api/v1/packages``: submit a package (entry hub) and fetch a stored one."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Response

from lgsp.api.deps import CallerSystem, ClockDep, HubDep, RawBody
from lgsp.api.rejections import submission
from lgsp.delivery import fetch_package
from lgsp.intake import Receipt, accept_from_system

router = APIRouter(prefix="/api/v1/packages", tags=["packages"])

XML_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "description": "the signed edXML package, raw (any content type)",
        "content": {"application/xml": {"schema": {"type": "string", "format": "binary"}}},
    }
}


# How both submission routes (from a system, from the previous hub) are documented: a raw
# XML body in, a receipt out (201 new, 200 for a duplicate).
SUBMISSION_ROUTE: Final[dict[str, Any]] = {
    "status_code": 201,
    "response_model": Receipt,
    "responses": {200: {"model": Receipt, "description": "a duplicate: the first receipt"}},
    "openapi_extra": XML_BODY,
}


def receipt_response(receipt: Receipt) -> Response:
    """201 with a new receipt, 200 with the first receipt of a duplicate."""
    # Serialised here, not through response_model: this is the hot path of the hub.
    return Response(
        content=receipt.model_dump_json(),
        status_code=200 if receipt.duplicate else 201,
        media_type="application/json",
    )


@router.post("", **SUBMISSION_ROUTE)
@submission("system")
async def submit_package(system: CallerSystem, body: RawBody, hub: HubDep) -> Response:
    """Submit a document or status package from one of the caller's agencies."""
    receipt = await accept_from_system(ctx=hub.intake, system=system, body=body)
    return receipt_response(receipt)


@router.get(
    "/{doc_id}",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}, "description": "the exact bytes"}},
)
async def get_package_bytes(
    doc_id: str, system: CallerSystem, hub: HubDep, clock: ClockDep
) -> Response:
    """The exact stored bytes, for systems hosting the sender or a recipient."""
    package = await fetch_package(
        hub.writes, hub_id=hub.hub_id, system=system, package_id=doc_id, now=clock.now()
    )
    return Response(
        content=package.body,
        media_type="application/xml",
        headers={"X-Lgsp-Doc-Id": package.id, "X-Lgsp-Kind": package.kind.value},
    )
