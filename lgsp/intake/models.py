"""Links from status packages to the document they answer, for traces."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class StatusLink(SQLModel, table=True):
    """A status package stored at this hub, keyed by the edXML identity of its document.

    The document is (``ResponseFor/OrganId``, ``ResponseFor/DocumentId``) — its sender and
    DocumentId — which is how every hub names it, whatever doc id each hub gave it.
    """

    __tablename__ = "status_link"
    __table_args__ = (sa.Index("ix_status_link_document", "document_sender", "document_id"),)

    package_id: str = Field(foreign_key="package.id", primary_key=True)  # the status package
    document_sender: str  # ResponseFor/OrganId
    document_id: str  # ResponseFor/DocumentId
    status_code: str
    status_from: str  # From/OrganId of the status package
    at: datetime
