"""``GET /health``: is the hub up, and which one is it."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from lgsp.api.deps import HubDep

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    """The hub's identity and status."""

    hub_id: str
    role: str
    status: str = "ok"


@router.get("/health", response_model=HealthOut)
async def health(hub: HubDep) -> HealthOut:
    """Liveness: the hub id and role (no authentication)."""
    return HealthOut(hub_id=hub.hub_id, role=hub.role)
