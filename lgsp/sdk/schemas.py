"""The answers of the SDK calls, as pydantic models (the OpenAPI description of the front).

Field names are the protocol's own (``ErrorCode``, ``DocId``, ``created_time``, ``from``...).
Every field is always present and never null: the SDK reads them without null checks.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Answer(BaseModel):
    """What every call answers: ``status`` OK or FAIL, ``ErrorCode`` ("0" on success)."""

    model_config = ConfigDict(populate_by_name=True)

    status: str = Field(description='"OK" or "FAIL"')
    ErrorCode: str = Field(description='"0" on success, else see docs/sdk-errors.md')
    ErrorDesc: str = Field(description='"" on success, else "<reason>: <message>"')


class SendEdocAnswer(Answer):
    """``/sendEdoc``."""

    DocId: str = Field(
        description="the hub's id of the stored package (the first one's on a retry)"
    )


class ReceivedEdoc(BaseModel):
    """A package waiting for the caller's agencies."""

    model_config = ConfigDict(populate_by_name=True)

    docId: str
    serviceType: str
    messageType: str = Field(description="edoc or status")
    created_time: str = Field(description="when the hub stored it, ISO 8601 UTC")
    updated_time: str
    from_: str = Field(alias="from", description="the sender's OrganId")
    to: str = Field(description="JSON array (in a string) of the caller's agencies it waits for")
    status: str = Field(description="initial (not fetched yet) or processing (fetched)")
    status_desc: str


class ReceivedEdocList(Answer):
    """``/getReceivedEdocList``."""

    data: list[ReceivedEdoc]


class EdocAnswer(Answer):
    """``/getEdoc``."""

    data: str = Field(description="base64 of the exact stored edXML")


class SentEdoc(BaseModel):
    """One recipient of a package the caller sent."""

    serviceType: str
    messageType: str
    senderDocId: str
    receiverDocId: str = Field(description="the doc id at the recipient's hub when known, else ''")
    fromCode: str
    toCode: str
    title: str
    notation: str = Field(description="Number/Notation (số/ký hiệu)")
    sentTime: str
    receivedTime: str
    sendStatus: str = Field(description="pending, sent, received, done or fail")
    sendStatusDesc: str
    receiveStatus: str = Field(description="the latest status code from this recipient, e.g. 06")
    receiveStatusDesc: str


class SentEdocList(Answer):
    """``/getSentEdocList``."""

    data: list[SentEdoc]


class CountAnswer(Answer):
    """``/countReceiveEdoc`` and ``/countReceiveStatus``."""

    count: int


class AgencyRow(BaseModel):
    """An agency of ``/getAgenciesList``."""

    id: str
    code: str
    pid: str
    name: str
    mail: str
    oldCode: str


class AgencyList(Answer):
    """``/getAgenciesList``."""

    data: list[AgencyRow]


class AgencyQD20Row(BaseModel):
    """An agency of ``/getAgenciesListQD20``."""

    id: str
    code: str
    name: str
    mail: str
    code102: str


class AgencyQD20List(Answer):
    """``/getAgenciesListQD20``."""

    data: list[AgencyQD20Row]


class UnitRow(BaseModel):
    """A unit of ``/getSynchronizeUnit``."""

    id: str
    code: str
    pid: str
    name: str
    mail: str
    version: int
    centerCode: str = Field(description="the hub the unit is attached to")
    deleted: bool
    modifyDate: str
    isAgency: bool


class UnitList(Answer):
    """``/getSynchronizeUnit``."""

    data: list[UnitRow]


class AgencyIn(BaseModel):
    """The body of ``/registerAgency``."""

    id: str = ""
    pcode: str = ""
    code: str
    name: str
    mail: str = ""
    mobile: str = ""
    fax: str = ""


class FrontStatus(BaseModel):
    """``GET /api/v1/sdk``: the SDK front's configuration and counters (operator call)."""

    hub_id: str
    prefix: str
    strict: bool
    window: float
    calls: dict[str, int]
    failures: dict[str, int] = Field(description="ErrorCode → count")
    warnings: dict[str, int] = Field(description="stale_timestamp, replayed_request (not strict)")
    systems: int
    registered_agencies: int
