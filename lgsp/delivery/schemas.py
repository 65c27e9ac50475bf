"""What the inbox endpoints take and answer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from lgsp.store import PackageKind


class InboxEntryOut(BaseModel):
    """A package waiting for one of the caller's agencies."""

    doc_id: str
    kind: PackageKind
    sender: str
    recipient: str
    document_id: str | None
    subject: str | None
    status_code: str | None
    response_for: str | None  # ResponseFor/DocumentId of a status package
    received_at: datetime
    state: str


class InboxPage(BaseModel):
    """``GET /api/v1/inbox``."""

    items: list[InboxEntryOut]


class AckState(StrEnum):
    """How a recipient closes an inbox item."""

    DONE = "done"
    FAILED = "failed"


class AckIn(BaseModel):
    """``POST /api/v1/inbox/{doc_id}/ack``."""

    organ_id: str = Field(min_length=1, max_length=64)
    state: AckState = AckState.DONE
    reason: str | None = Field(default=None, max_length=2000)


class AckOut(BaseModel):
    """The closed inbox item."""

    doc_id: str
    organ_id: str
    state: str
    confirmed_at: datetime | None
