"""The DMS systems a hub serves, as stored: their agencies and their secret, encrypted."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class DmsSystem(SQLModel, table=True):
    """A document-management system (a fleet) allowed to call this hub's native API."""

    __tablename__ = "dms_system"

    system_id: str = Field(primary_key=True)
    hub_id: str = Field(index=True)
    secret_encrypted: str = Field(repr=False)  # Fernet token of the client secret
    agencies: list[str] = Field(default_factory=list, sa_type=sa.JSON)  # OrganIds it hosts
    updated_at: datetime
