"""What the statistics and trace endpoints answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from lgsp.store import PackageKind


class AcceptedCounts(BaseModel):
    """Packages stored at this hub."""

    documents: int = 0
    statuses: int = 0
    total: int = 0
    from_systems: int = 0  # submitted by this hub's own DMS systems
    from_hubs: int = 0  # handed over by another hub


class RejectedCounts(BaseModel):
    """Inputs refused at this hub."""

    total: int = 0
    by_reason: dict[str, int] = Field(default_factory=dict)


class DocumentBreakdown(BaseModel):
    """Accepted documents by the sender's tier and block, and by document type."""

    by_tier: dict[str, int] = Field(default_factory=dict)
    by_block: dict[str, int] = Field(default_factory=dict)
    by_type: dict[str, int] = Field(default_factory=dict)


class HubStats(BaseModel):
    """The counters of ``GET /api/v1/stats``."""

    hub_id: str
    role: str
    at: datetime
    accepted: AcceptedCounts
    forwarded: int  # outbox rows the next hub acknowledged
    delivered: int  # inbox items their recipient confirmed (ack done)
    delivery_failed: int  # inbox items their recipient reported failed
    rejected: RejectedCounts
    outbox: dict[str, int]
    inbox: dict[str, int]
    documents: DocumentBreakdown
    statuses_by_code: dict[str, int]


class HopOut(BaseModel):
    """One event of a package at a hub."""

    hub_id: str
    event: str
    at: datetime
    detail: dict[str, Any] | None = None


class RecipientOut(BaseModel):
    """Where one recipient stands at this hub."""

    organ_id: str
    state: str  # inbox state (local) or outbox state (forwarded)
    via: str | None = None  # the next hub, when forwarded


class StatusOut(BaseModel):
    """A status package that came back for the traced document."""

    code: str
    from_: str = Field(serialization_alias="from")
    at: datetime
    doc_id: str


class Trace(BaseModel):
    """A package's story at this hub."""

    doc_id: str
    kind: PackageKind
    sender: str
    document_id: str | None
    received_at: datetime
    origin: str
    hops: list[HopOut]
    recipients: list[RecipientOut]
    statuses: list[StatusOut]
