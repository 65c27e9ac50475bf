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


class Filters(BaseModel):
    """The filters a statistics answer was computed with (None: not filtered)."""

    period: str | None = None
    from_: datetime | None = Field(default=None, serialization_alias="from")
    to: datetime | None = None
    tier: str | None = None
    block: str | None = None
    agency: str | None = None


class Breakdown(BaseModel):
    """A count and its split by the attributed agency's tier and block (and document type)."""

    total: int = 0
    by_tier: dict[str, int] = Field(default_factory=dict)
    by_block: dict[str, int] = Field(default_factory=dict)
    by_type: dict[str, int] = Field(default_factory=dict)


class ExchangeEvents(BaseModel):
    """ "Lượt trao đổi": packages that entered the exchange at this hub (from its systems).

    Each package enters at exactly one hub, so summing hubs counts every event once.
    """

    total: int = 0
    documents: int = 0
    statuses: int = 0


class StatusesSent(BaseModel):
    """Status packages this hub's agencies sent, by code and by the answering agency's tier."""

    by_code: dict[str, int] = Field(default_factory=dict)
    by_code_and_tier: dict[str, dict[str, int]] = Field(default_factory=dict)


class SignatureCounts(BaseModel):
    """One role's PAdES verdicts over the assessed documents; the rate counts VALID only."""

    valid: int = 0
    invalid: int = 0
    absent: int = 0
    rate: float | None = None  # valid / assessed; None when nothing is assessed


class SigningGroup(BaseModel):
    """Signing verdicts of one group of documents (a tier, a block, a period)."""

    documents: int = 0
    personal_valid: int = 0
    agency_valid: int = 0
    personal_rate: float | None = None
    agency_rate: float | None = None


class Signing(BaseModel):
    """Signing rates of the documents this hub's systems sent, from verification results."""

    documents: int = 0  # documents sent (entered here)
    assessed: int = 0
    pending: int = 0  # not assessed yet (the assessment runs behind the exchange)
    personal: SignatureCounts = Field(default_factory=SignatureCounts)
    agency: SignatureCounts = Field(default_factory=SignatureCounts)
    both_valid: int = 0
    both_rate: float | None = None
    by_tier: dict[str, SigningGroup] = Field(default_factory=dict)
    by_block: dict[str, SigningGroup] = Field(default_factory=dict)


class Completion(BaseModel):
    """Of the assessed documents sent here: how many every recipient finished (06), in time."""

    documents: int = 0
    completed: int = 0
    with_due_date: int = 0
    completed_on_time: int = 0  # the last 06 came back by the end of the DueDate
    completed_rate: float | None = None
    on_time_rate: float | None = None  # over the documents with a DueDate


class Window(BaseModel):
    """Packages accepted in a sliding window of the hub clock."""

    seconds: float
    packages: int = 0  # everything accepted here, transit included
    documents: int = 0
    entering: int = 0  # packages from this hub's own systems (counted once topology-wide)
    per_second: float = 0.0  # packages per second of the hub clock


class Latency(BaseModel):
    """A latency distribution in seconds of the hub clock (simulated time under a fast clock)."""

    count: int = 0
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    max: float | None = None
    histogram: dict[str, int] = Field(default_factory=dict)  # upper bound (s) or "+Inf" -> n


class AgencyCounts(BaseModel):
    """One agency's documents: sent (outgoing) and received (incoming) at this hub."""

    outgoing: int = 0
    incoming: int = 0


class PeriodCounts(BaseModel):
    """What happened in one period (hour, day, month or year of the hub clock, Vietnam time)."""

    documents_sent: int = 0
    statuses_sent: int = 0
    exchange_events: int = 0
    accepted: int = 0
    received: int = 0
    rejected: int = 0
    assessed: int = 0
    personal_valid: int = 0
    agency_valid: int = 0


class HubStats(BaseModel):
    """The counters of ``GET /api/v1/stats``."""

    hub_id: str
    role: str
    at: datetime
    enabled: bool = True  # False: LGSP_STATS=false, no signature assessment
    clock_rate: float = 1.0
    filters: Filters = Field(default_factory=Filters)
    accepted: AcceptedCounts
    forwarded: int  # outbox rows the next hub acknowledged
    delivered: int  # inbox items their recipient confirmed (ack done)
    delivery_failed: int  # inbox items their recipient reported failed
    rejected: RejectedCounts
    outbox: dict[str, int]
    inbox: dict[str, int]
    documents: DocumentBreakdown
    statuses_by_code: dict[str, int]
    exchange_events: ExchangeEvents = Field(default_factory=ExchangeEvents)
    sent: Breakdown = Field(default_factory=Breakdown)  # documents entering here
    received: Breakdown = Field(default_factory=Breakdown)  # deliveries to local recipients
    statuses: StatusesSent = Field(default_factory=StatusesSent)
    signing: Signing = Field(default_factory=Signing)
    completion: Completion = Field(default_factory=Completion)
    throughput: dict[str, Window] = Field(default_factory=dict)
    latency: dict[str, Latency] = Field(default_factory=dict)
    by_agency: dict[str, AgencyCounts] | None = None
    by_period: dict[str, PeriodCounts] | None = None


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
