"""The hub's tables: stored packages, inbox items, outbox rows and hops.

``package``  one row per accepted package (document or status), with its exact signed bytes.
``inbox``    one row per (package, local recipient OrganId): what that agency's DMS may pull.
``outbox``   one row per (package, next hub): the transactional outbox for forwarding.
``hop``      what happened to a package at this hub, in order (accepted, forwarded, ...).

Every datetime is aware UTC (sqlmodel's ``UTCDateTime`` rejects naive values); enums are
stored as short strings, not native database enums, so schemas stay plain to migrate.
Relationships are left out on purpose: lazy loads fail under asyncio, and the repository
functions load what a caller needs explicitly.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

LOCAL_ORIGIN: Final = "local"
"""``StoredPackage.origin`` of a package submitted by one of this hub's own agencies."""


def new_id() -> str:
    """Return a fresh random id (uuid4 as 32 hex digits): the hub's DocId for packages."""
    return uuid.uuid4().hex


class PackageKind(StrEnum):
    """What an edXML package carries."""

    DOCUMENT = "document"
    STATUS = "status"


class InboxState(StrEnum):
    """Where a local recipient stands with one package."""

    PENDING = "pending"  # stored, not yet pulled
    FETCHED = "fetched"  # pulled (getEdoc) at least once, not confirmed
    DONE = "done"  # confirmed received (updateStatus done)
    FAILED = "failed"  # the recipient reported failure (updateStatus fail)


class OutboxState(StrEnum):
    """Where a forwarding row stands."""

    PENDING = "pending"  # waiting for its next attempt (or leased by a worker now)
    SENT = "sent"  # the next hub acknowledged it
    DEAD = "dead"  # gave up after the retry limit; an operator may requeue it


class HopEvent(StrEnum):
    """What a hub records about a package."""

    ACCEPTED = "accepted"
    FORWARDED = "forwarded"
    DELIVERED = "delivered"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    DEAD = "dead"
    STATUS = "status"


def _enum_type(enum: type[StrEnum]) -> sa.Enum:
    # Store the values ("pending"), not the member names, in a VARCHAR without a CHECK.
    return sa.Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=16,
        values_callable=lambda members: [member.value for member in members],
    )


class PackageMeta(SQLModel):
    """Everything known about a stored package except its bytes (what listings return)."""

    id: str = Field(default_factory=new_id, primary_key=True)
    kind: PackageKind = Field(sa_type=_enum_type(PackageKind))
    sender: str = Field(index=True)  # From/OrganId
    document_id: str | None = Field(default=None, index=True)  # edXML DocumentId (documents)
    dedupe_key: str = Field(unique=True)  # see repository.dedupe_key()
    sha256: str  # lowercase hex of the body
    size: int
    subject: str | None = None
    document_type: str | None = None  # DocumentType/TypeName, e.g. "Công văn"
    status_code: str | None = None  # StatusCode of a status package, e.g. "03"
    response_for: str | None = Field(default=None, index=True)  # ResponseFor/DocumentId
    origin: str = LOCAL_ORIGIN  # LOCAL_ORIGIN or the id of the hub it came from
    received_at: datetime


class StoredPackage(PackageMeta, table=True):
    """An accepted package: its metadata and the exact signed bytes, never altered."""

    __tablename__ = "package"

    body: bytes = Field(sa_type=sa.LargeBinary, repr=False)  # kept out of logs and reprs


class InboxItem(SQLModel, table=True):
    """A package waiting for (or taken by) one local recipient agency."""

    __tablename__ = "inbox"
    __table_args__ = (
        sa.UniqueConstraint("package_id", "recipient"),
        sa.Index("ix_inbox_recipient_state", "recipient", "state"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    package_id: str = Field(foreign_key="package.id")
    recipient: str  # To/OrganId of a local agency
    state: InboxState = Field(default=InboxState.PENDING, sa_type=_enum_type(InboxState))
    created_at: datetime
    fetched_at: datetime | None = None
    confirmed_at: datetime | None = None


class OutboxItem(SQLModel, table=True):
    """A package to forward to the next hub, with its retry and lease bookkeeping."""

    __tablename__ = "outbox"
    __table_args__ = (
        sa.UniqueConstraint("package_id", "destination"),
        sa.Index("ix_outbox_due", "state", "next_attempt_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True)
    package_id: str = Field(foreign_key="package.id")
    destination: str  # id of the next hub (the NDXP, or an LGSP when this hub is the NDXP)
    recipients: list[str] = Field(default_factory=list, sa_type=sa.JSON)  # their OrganIds
    state: OutboxState = Field(default=OutboxState.PENDING, sa_type=_enum_type(OutboxState))
    attempts: int = 0  # failed attempts so far
    next_attempt_at: datetime
    last_error: str | None = None
    created_at: datetime
    sent_at: datetime | None = None
    lease_owner: str | None = None  # worker holding the row while lease_until is in the future
    lease_until: datetime | None = None


class Hop(SQLModel, table=True):
    """One event in a package's life at a hub; ids increase in recording order."""

    __tablename__ = "hop"

    id: int | None = Field(default=None, primary_key=True)
    package_id: str = Field(foreign_key="package.id", index=True)
    hub_id: str  # the hub that recorded the event
    event: HopEvent = Field(sa_type=_enum_type(HopEvent))
    at: datetime
    detail: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
