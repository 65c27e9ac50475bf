"""The rejection log: one line per refused input (the input itself is never kept)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class Rejection(SQLModel, table=True):
    """A package (or hub request) this hub refused, and why."""

    __tablename__ = "rejection"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    code: str = Field(index=True)  # the error code the caller got
    http_status: int
    channel: str  # "system" (POST /api/v1/packages) or "hub" (POST /api/v1/hub/packages)
    caller: str | None = None  # system id or hub id, when authenticated
    sender: str | None = None  # From/OrganId, when it could be read
    size: int | None = None  # body size in bytes, when known
    message: str = ""


class Assessment(SQLModel, table=True):
    """What verification found in a document this hub accepted from its own systems.

    Written by the hub from the results of its assessment process (`lgsp.stats.assessor`):
    the PAdES states come from `keys.assess_package` on the stored bytes, never from what a
    sender claims. ``due_at`` is the end of the DueDate (Vietnam time) and ``recipients``
    the number of ``To`` agencies, read from the same parse, for the completion figures.
    """

    __tablename__ = "assessment"

    package_id: str = Field(foreign_key="package.id", primary_key=True)
    personal: str  # keys.SignatureState value: valid, invalid, absent
    agency: str
    recipients: int = 0
    due_at: datetime | None = None
    assessed_at: datetime  # wall time of the assessment (it runs behind the exchange)
    problem: str | None = None  # the first problem found, when a signature is not valid
