"""What intake answers: the receipt."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from lgsp.store import PackageKind


class Receipt(BaseModel):
    """The hub's receipt for a stored package (the first one's, for a duplicate)."""

    doc_id: str
    kind: PackageKind
    document_id: str | None
    sender: str
    recipients: list[str]
    duplicate: bool = False
    received_at: datetime
