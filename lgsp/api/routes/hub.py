"""``POST /api/v1/hub/packages``: a package handed over by the previous hub."""

from __future__ import annotations

from fastapi import APIRouter, Response

from lgsp.api.deps import HubDep, PeerHub, RawBody
from lgsp.api.rejections import submission
from lgsp.intake import accept_from_hub

from .packages import SUBMISSION_ROUTE, receipt_response

router = APIRouter(prefix="/api/v1/hub", tags=["hub-to-hub"])


@router.post("/packages", **SUBMISSION_ROUTE)
@submission("hub")
async def receive_from_hub(peer: PeerHub, body: RawBody, hub: HubDep) -> Response:
    """Store and route a package for the recipients in ``X-Lgsp-Recipients``."""
    receipt = await accept_from_hub(ctx=hub.intake, peer=peer, body=body)
    return receipt_response(receipt)
