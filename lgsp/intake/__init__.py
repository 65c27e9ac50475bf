"""Intake: accepting packages from DMS systems (entry hub) and from other hubs (transit).

    receipt = await accept_from_system(ctx=ctx, system=system, body=body)
    receipt = await accept_from_hub(ctx=ctx, peer=peer, body=body)

Refusals raise :class:`IntakeError` (``code``, ``message``, ``http_status``).
"""

from __future__ import annotations

from .batch import GroupCommit
from .errors import IntakeError
from .models import StatusLink
from .schemas import Receipt
from .service import IntakeContext, accept_from_hub, accept_from_system

__all__ = [
    "GroupCommit",
    "IntakeContext",
    "IntakeError",
    "Receipt",
    "StatusLink",
    "accept_from_hub",
    "accept_from_system",
]
