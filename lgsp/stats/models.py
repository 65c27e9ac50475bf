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
