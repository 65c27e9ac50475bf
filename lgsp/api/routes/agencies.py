"""``GET /api/v1/agencies``: the directory of this hub's agencies."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from lgsp.api.deps import HubDep

router = APIRouter(prefix="/api/v1", tags=["directory"])


class AgencyOut(BaseModel):
    """An agency attached to this hub."""

    organ_id: str
    name: str
    tier: str
    block: str
    parent: str | None


@router.get("/agencies", response_model=list[AgencyOut])
async def list_agencies(hub: HubDep) -> Response:
    """Every agency attached to this hub, in topology order."""
    # Serialised once at start: a province has up to ~1,700 agencies and they never change.
    return Response(content=hub.agencies_json, media_type="application/json")
