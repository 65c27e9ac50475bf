"""Agencies registered through the SDK (``registerAgency``): the hub's table of them."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class RegisteredAgency(SQLModel, table=True):
    """An agency a DMS system registered at this hub; it hosts it and the hub routes to it.

    Deleting one (``deleteAgency``) keeps the row with ``deleted`` set, so
    ``getSynchronizeUnit`` can tell other systems it is gone.
    """

    __tablename__ = "sdk_agency"

    hub_id: str = Field(primary_key=True)
    code: str = Field(primary_key=True)  # the OrganId (QĐ 20/2020 code)
    system_id: str = Field(index=True)  # the system that hosts it
    pcode: str = ""  # the parent agency's code, as given
    name: str = ""
    mail: str = ""
    mobile: str = ""
    fax: str = ""
    version: int = 1  # bumped on every update (getSynchronizeUnit)
    deleted: bool = False
    registered_at: datetime
    updated_at: datetime
