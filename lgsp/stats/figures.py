"""Statistics derived by SQL at query time: nothing is counted on the request path.

Every figure is a GROUP BY over the hub's own tables (packages, inbox, outbox, status links,
the rejection log and the assessment results), grouped by agency in SQL and mapped to tier
and block here, from the topology: an agency the topology does not know counts as "other".

Attribution: a package counts for its sender (``From``), an inbox item for its recipient; the
``tier``, ``block`` and ``agency`` filters apply to that agency, ``from`` and ``to`` to the
time the hub stored the row. Periods are calendar periods of the hub clock in Vietnam time.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, case, func, literal_column
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from lgsp.intake.models import StatusLink
from lgsp.store import LOCAL_ORIGIN, InboxItem, InboxState, OutboxItem, PackageKind, StoredPackage
from sim.topology import Topology
from simtime import utc

from .models import Assessment, Rejection
from .schemas import (
    AcceptedCounts,
    AgencyCounts,
    Breakdown,
    Completion,
    DocumentBreakdown,
    ExchangeEvents,
    Filters,
    HubStats,
    Latency,
    PeriodCounts,
    RejectedCounts,
    Signing,
    SigningGroup,
    StatusesSent,
    Window,
)

OTHER: Final = "other"
UNKNOWN_TYPE: Final = "unknown"
WINDOWS: Final = {"1m": 60.0, "5m": 300.0, "15m": 900.0}
LATENCY_SAMPLE: Final = 10_000  # the most recent items a percentile is computed over
# Upper bounds (seconds) of the latency histograms: from a fast local exchange to a month.
LATENCY_BOUNDS: Final = (
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    4 * 3600.0,
    86_400.0,
    3 * 86_400.0,
    7 * 86_400.0,
    14 * 86_400.0,
    30 * 86_400.0,
)
_VALID: Final = "valid"
_INVALID: Final = "invalid"
_ABSENT: Final = "absent"


class Period(StrEnum):
    """A calendar period to group by."""

    HOUR = "hour"
    DAY = "day"
    MONTH = "month"
    YEAR = "year"


# strftime / to_char patterns giving "2022", "2022-03", "2022-03-14", "2022-03-14T09".
_SQLITE_FORMATS: Final = {
    Period.HOUR: "%Y-%m-%dT%H",
    Period.DAY: "%Y-%m-%d",
    Period.MONTH: "%Y-%m",
    Period.YEAR: "%Y",
}
_PG_FORMATS: Final = {
    Period.HOUR: 'YYYY-MM-DD"T"HH24',
    Period.DAY: "YYYY-MM-DD",
    Period.MONTH: "YYYY-MM",
    Period.YEAR: "YYYY",
}


@dataclass(frozen=True, slots=True)
class StatsQuery:
    """What to compute: the filters of ``GET /api/v1/stats`` and whether to list agencies."""

    period: Period | None = None
    start: datetime | None = None
    end: datetime | None = None
    tier: str | None = None
    block: str | None = None
    agency: str | None = None
    agencies: bool = False

    def filters(self) -> Filters:
        """The filters as the answer echoes them."""
        return Filters(
            period=self.period.value if self.period else None,
            from_=self.start,
            to=self.end,
            tier=self.tier,
            block=self.block,
            agency=self.agency,
        )


class _Agencies:
    """Tier and block of an OrganId, and whether it passes the query's agency filters."""

    def __init__(self, topology: Topology, query: StatsQuery) -> None:
        self._topology = topology
        self._query = query
        self._cache: dict[str, tuple[str, str, bool]] = {}

    def of(self, organ_id: str | None) -> tuple[str, str, bool]:
        """``(tier, block, matches)`` of an agency."""
        key = organ_id or ""
        found = self._cache.get(key)
        if found is None:
            agency = self._topology.get(key) if key else None
            tier = agency.tier.value if agency is not None else OTHER
            block = agency.block.value if agency is not None else OTHER
            query = self._query
            matches = (
                (query.tier is None or query.tier == tier)
                and (query.block is None or query.block == block)
                and (query.agency is None or query.agency == key)
            )
            found = (tier, block, matches)
            self._cache[key] = found
        return found


def select(*columns: Any) -> Any:
    """``SELECT columns`` built at run time (the typed overloads stop at four columns)."""
    return Select(*columns)


def _bucket(column: Any, period: Period, dialect: str) -> ColumnElement[str]:
    """The calendar period (Vietnam time) of a stored UTC datetime, as text."""
    if dialect == "postgresql":
        local = func.timezone("UTC", column) + literal_column("interval '7 hours'")
        return func.to_char(local, _PG_FORMATS[period])
    return func.strftime(_SQLITE_FORMATS[period], column, "+7 hours")


def _in_range(column: Any, query: StatsQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.start is not None:
        conditions.append(column >= utc(query.start))
    if query.end is not None:
        conditions.append(column < utc(query.end))
    return conditions


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _as_datetime(value: Any) -> datetime | None:
    """A datetime from a column SQL returned untyped (SQLite gives text for aggregates)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return utc(value)
    try:
        return utc(datetime.fromisoformat(str(value)))
    except ValueError:
        return None


def latency_of(samples: Sequence[float]) -> Latency:
    """Percentiles (nearest rank) and a cumulative histogram of latencies in seconds."""
    if not samples:
        return Latency()
    ordered = sorted(samples)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    histogram: dict[str, int] = {}
    for bound in LATENCY_BOUNDS:
        histogram[f"{bound:g}"] = bisect.bisect_right(ordered, bound)
    histogram["+Inf"] = len(ordered)
    return Latency(
        count=len(ordered),
        p50=rank(0.50),
        p90=rank(0.90),
        p99=rank(0.99),
        max=ordered[-1],
        histogram=histogram,
    )


def _sorted(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted((key, value) for key, value in counter.items() if value))


async def hub_stats(
    session: AsyncSession,
    *,
    hub_id: str,
    role: str,
    topology: Topology,
    now: datetime,
    query: StatsQuery | None = None,
    enabled: bool = True,
    clock_rate: float = 1.0,
) -> HubStats:
    """Every statistic of one hub, read in one (read-only) session."""
    query = query or StatsQuery()
    dialect = session.get_bind().dialect.name
    agencies = _Agencies(topology, query)
    periods: defaultdict[str, PeriodCounts] = defaultdict(PeriodCounts)
    per_agency: defaultdict[str, AgencyCounts] = defaultdict(AgencyCounts)

    accepted = AcceptedCounts()
    documents = DocumentBreakdown()
    by_tier: Counter[str] = Counter()
    by_block: Counter[str] = Counter()
    by_type: Counter[str] = Counter()
    statuses_by_code: Counter[str] = Counter()
    events = ExchangeEvents()
    sent = Breakdown()
    sent_tier: Counter[str] = Counter()
    sent_block: Counter[str] = Counter()
    sent_type: Counter[str] = Counter()
    status_codes: Counter[str] = Counter()
    status_tiers: defaultdict[str, Counter[str]] = defaultdict(Counter)

    # -- packages: accepted, sent (entering here), exchange events -----------------------------
    package_columns: list[Any] = [
        col(StoredPackage.kind),
        col(StoredPackage.origin),
        col(StoredPackage.sender),
        col(StoredPackage.document_type),
        col(StoredPackage.status_code),
    ]
    if query.period is not None:
        package_columns.append(_bucket(col(StoredPackage.received_at), query.period, dialect))
    statement = select(*package_columns, func.count()).group_by(*package_columns)
    for condition in _in_range(col(StoredPackage.received_at), query):
        statement = statement.where(condition)
    if query.agency is not None:
        statement = statement.where(col(StoredPackage.sender) == query.agency)
    for row in await session.exec(statement):
        kind, origin, sender, document_type, status_code = row[:5]
        count = int(row[-1])
        tier, block, matches = agencies.of(sender)
        if not matches:
            continue
        is_document = PackageKind(kind) is PackageKind.DOCUMENT
        local = origin == LOCAL_ORIGIN
        if is_document:
            accepted.documents += count
            by_tier[tier] += count
            by_block[block] += count
            by_type[document_type or UNKNOWN_TYPE] += count
        else:
            accepted.statuses += count
            statuses_by_code[status_code or UNKNOWN_TYPE] += count
        if local:
            accepted.from_systems += count
            events.total += count
            if is_document:
                events.documents += count
                sent.total += count
                sent_tier[tier] += count
                sent_block[block] += count
                sent_type[document_type or UNKNOWN_TYPE] += count
                if query.agencies or query.agency:
                    per_agency[sender].outgoing += count
            else:
                events.statuses += count
                code = status_code or UNKNOWN_TYPE
                status_codes[code] += count
                status_tiers[code][tier] += count
        else:
            accepted.from_hubs += count
        if query.period is not None:
            bucket = periods[str(row[5])]
            bucket.accepted += count
            if local:
                bucket.exchange_events += count
                if is_document:
                    bucket.documents_sent += count
                else:
                    bucket.statuses_sent += count
    accepted.total = accepted.documents + accepted.statuses
    documents.by_tier = _sorted(by_tier)
    documents.by_block = _sorted(by_block)
    documents.by_type = _sorted(by_type)
    sent.by_tier, sent.by_block, sent.by_type = (
        _sorted(sent_tier),
        _sorted(sent_block),
        _sorted(sent_type),
    )

    # -- inbox: received (documents delivered to local recipients), inbox states -------------
    inbox = dict.fromkeys((state.value for state in InboxState), 0)
    received = Breakdown()
    received_tier: Counter[str] = Counter()
    received_block: Counter[str] = Counter()
    received_type: Counter[str] = Counter()
    inbox_columns: list[Any] = [
        col(InboxItem.recipient),
        col(InboxItem.state),
        col(StoredPackage.kind),
        col(StoredPackage.document_type),
    ]
    if query.period is not None:
        inbox_columns.append(_bucket(col(InboxItem.created_at), query.period, dialect))
    inbox_statement = (
        select(*inbox_columns, func.count())
        .join(StoredPackage, col(StoredPackage.id) == col(InboxItem.package_id))
        .group_by(*inbox_columns)
    )
    for condition in _in_range(col(InboxItem.created_at), query):
        inbox_statement = inbox_statement.where(condition)
    if query.agency is not None:
        inbox_statement = inbox_statement.where(col(InboxItem.recipient) == query.agency)
    for row in await session.exec(inbox_statement):
        recipient, state, kind, document_type = row[:4]
        count = int(row[-1])
        tier, block, matches = agencies.of(recipient)
        if not matches:
            continue
        inbox[InboxState(state).value] += count
        if PackageKind(kind) is not PackageKind.DOCUMENT:
            continue
        received.total += count
        received_tier[tier] += count
        received_block[block] += count
        received_type[document_type or UNKNOWN_TYPE] += count
        if query.agencies or query.agency:
            per_agency[recipient].incoming += count
        if query.period is not None:
            periods[str(row[4])].received += count
    received.by_tier, received.by_block, received.by_type = (
        _sorted(received_tier),
        _sorted(received_block),
        _sorted(received_type),
    )

    # -- outbox ------------------------------------------------------------------------------
    outbox: dict[str, int] = {"pending": 0, "sent": 0, "dead": 0}
    outbox_statement = (
        select(col(OutboxItem.state), col(StoredPackage.sender), func.count())
        .join(StoredPackage, col(StoredPackage.id) == col(OutboxItem.package_id))
        .group_by(col(OutboxItem.state), col(StoredPackage.sender))
    )
    for condition in _in_range(col(OutboxItem.created_at), query):
        outbox_statement = outbox_statement.where(condition)
    if query.agency is not None:
        outbox_statement = outbox_statement.where(col(StoredPackage.sender) == query.agency)
    for state, sender, count in await session.exec(outbox_statement):
        if agencies.of(sender)[2]:
            key = str(getattr(state, "value", state))
            outbox[key] = outbox.get(key, 0) + int(count)

    # -- rejections --------------------------------------------------------------------------
    rejected = RejectedCounts()
    reasons: Counter[str] = Counter()
    rejection_columns: list[Any] = [col(Rejection.code), col(Rejection.sender)]
    if query.period is not None:
        rejection_columns.append(_bucket(col(Rejection.at), query.period, dialect))
    rejection_statement = select(*rejection_columns, func.count()).group_by(*rejection_columns)
    for condition in _in_range(col(Rejection.at), query):
        rejection_statement = rejection_statement.where(condition)
    filtered = query.tier is not None or query.block is not None or query.agency is not None
    for row in await session.exec(rejection_statement):
        code, sender = row[0], row[1]
        count = int(row[-1])
        # A refusal before the sender was read has no agency: it counts only unfiltered.
        if filtered and (sender is None or not agencies.of(sender)[2]):
            continue
        reasons[code] += count
        rejected.total += count
        if query.period is not None:
            periods[str(row[2])].rejected += count
    rejected.by_reason = _sorted(reasons)

    signing = await _signing(session, query, agencies, periods, dialect)
    signing.documents = sent.total
    signing.pending = max(0, sent.total - signing.assessed)

    return HubStats(
        hub_id=hub_id,
        role=role,
        at=now,
        enabled=enabled,
        clock_rate=clock_rate,
        filters=query.filters(),
        accepted=accepted,
        forwarded=outbox.get("sent", 0),
        delivered=inbox[InboxState.DONE.value],
        delivery_failed=inbox[InboxState.FAILED.value],
        rejected=rejected,
        outbox=outbox,
        inbox=inbox,
        documents=documents,
        statuses_by_code=_sorted(statuses_by_code),
        exchange_events=events,
        sent=sent,
        received=received,
        statuses=StatusesSent(
            by_code=_sorted(status_codes),
            by_code_and_tier={code: _sorted(tiers) for code, tiers in sorted(status_tiers.items())},
        ),
        signing=signing,
        completion=await _completion(session, query, agencies),
        throughput=await _throughput(session, query, agencies, now),
        latency=await _latencies(session, query, agencies),
        by_agency=dict(sorted(per_agency.items())) if (query.agencies or query.agency) else None,
        by_period=dict(sorted(periods.items())) if query.period is not None else None,
    )


def _local_documents(statement: Any, query: StatsQuery) -> Any:
    statement = statement.where(
        col(StoredPackage.kind) == PackageKind.DOCUMENT, col(StoredPackage.origin) == LOCAL_ORIGIN
    )
    for condition in _in_range(col(StoredPackage.received_at), query):
        statement = statement.where(condition)
    if query.agency is not None:
        statement = statement.where(col(StoredPackage.sender) == query.agency)
    return statement


async def _signing(
    session: AsyncSession,
    query: StatsQuery,
    agencies: _Agencies,
    periods: defaultdict[str, PeriodCounts],
    dialect: str,
) -> Signing:
    signing = Signing()
    columns: list[Any] = [
        col(StoredPackage.sender),
        col(Assessment.personal),
        col(Assessment.agency),
    ]
    if query.period is not None:
        columns.append(_bucket(col(StoredPackage.received_at), query.period, dialect))
    statement = _local_documents(
        select(*columns, func.count())
        .join(Assessment, col(Assessment.package_id) == col(StoredPackage.id))
        .group_by(*columns),
        query,
    )
    tiers: defaultdict[str, SigningGroup] = defaultdict(SigningGroup)
    blocks: defaultdict[str, SigningGroup] = defaultdict(SigningGroup)
    for row in await session.exec(statement):
        sender, personal, agency = row[:3]
        count = int(row[-1])
        tier, block, matches = agencies.of(sender)
        if not matches:
            continue
        signing.assessed += count
        for counts, state in ((signing.personal, personal), (signing.agency, agency)):
            if state == _VALID:
                counts.valid += count
            elif state == _INVALID:
                counts.invalid += count
            else:
                counts.absent += count
        if personal == _VALID and agency == _VALID:
            signing.both_valid += count
        for group in (tiers[tier], blocks[block]):
            group.documents += count
            group.personal_valid += count if personal == _VALID else 0
            group.agency_valid += count if agency == _VALID else 0
        if query.period is not None:
            bucket = periods[str(row[3])]
            bucket.assessed += count
            bucket.personal_valid += count if personal == _VALID else 0
            bucket.agency_valid += count if agency == _VALID else 0
    signing.personal.rate = _rate(signing.personal.valid, signing.assessed)
    signing.agency.rate = _rate(signing.agency.valid, signing.assessed)
    signing.both_rate = _rate(signing.both_valid, signing.assessed)
    for group in (*tiers.values(), *blocks.values()):
        group.personal_rate = _rate(group.personal_valid, group.documents)
        group.agency_rate = _rate(group.agency_valid, group.documents)
    signing.by_tier = dict(sorted(tiers.items()))
    signing.by_block = dict(sorted(blocks.items()))
    return signing


async def _completion(session: AsyncSession, query: StatsQuery, agencies: _Agencies) -> Completion:
    # Per document: how many distinct recipients answered 06, and when the last one did.
    done = (
        select(
            col(StatusLink.document_sender).label("sender"),
            col(StatusLink.document_id).label("document_id"),
            func.count(func.distinct(col(StatusLink.status_from))).label("answered"),
            func.max(col(StatusLink.at)).label("last"),
        )
        .where(col(StatusLink.status_code) == "06")
        .group_by(col(StatusLink.document_sender), col(StatusLink.document_id))
        .subquery()
    )
    complete = and_(col(Assessment.recipients) > 0, done.c.answered >= col(Assessment.recipients))
    statement = _local_documents(
        select(
            col(StoredPackage.sender),
            func.count(),
            func.sum(case((complete, 1), else_=0)),
            func.sum(case((col(Assessment.due_at).is_not(None), 1), else_=0)),
            func.sum(
                case(
                    (
                        and_(
                            complete,
                            col(Assessment.due_at).is_not(None),
                            done.c.last <= col(Assessment.due_at),
                        ),
                        1,
                    ),
                    else_=0,
                )
            ),
        )
        .join(Assessment, col(Assessment.package_id) == col(StoredPackage.id))
        .outerjoin(
            done,
            and_(
                done.c.sender == col(StoredPackage.sender),
                done.c.document_id == col(StoredPackage.document_id),
            ),
        )
        .group_by(col(StoredPackage.sender)),
        query,
    )
    completion = Completion()
    for sender, total, completed, with_due, on_time in await session.exec(statement):
        if not agencies.of(sender)[2]:
            continue
        completion.documents += int(total or 0)
        completion.completed += int(completed or 0)
        completion.with_due_date += int(with_due or 0)
        completion.completed_on_time += int(on_time or 0)
    completion.completed_rate = _rate(completion.completed, completion.documents)
    completion.on_time_rate = _rate(completion.completed_on_time, completion.with_due_date)
    return completion


async def _throughput(
    session: AsyncSession, query: StatsQuery, agencies: _Agencies, now: datetime
) -> dict[str, Window]:
    longest = max(WINDOWS.values())
    since = {name: now - timedelta(seconds=seconds) for name, seconds in WINDOWS.items()}
    received = col(StoredPackage.received_at)
    columns: list[Any] = [
        col(StoredPackage.sender),
        col(StoredPackage.kind),
        col(StoredPackage.origin),
    ]
    sums = [func.sum(case((received >= since[name], 1), else_=0)) for name in WINDOWS]
    statement = (
        select(*columns, *sums)
        .where(received >= now - timedelta(seconds=longest), received <= now)
        .group_by(*columns)
    )
    if query.agency is not None:
        statement = statement.where(col(StoredPackage.sender) == query.agency)
    windows = {name: Window(seconds=seconds) for name, seconds in WINDOWS.items()}
    for row in await session.exec(statement):
        sender, kind, origin = row[:3]
        if not agencies.of(sender)[2]:
            continue
        for name, count in zip(WINDOWS, row[3:], strict=True):
            window = windows[name]
            window.packages += int(count or 0)
            if PackageKind(kind) is PackageKind.DOCUMENT:
                window.documents += int(count or 0)
            if origin == LOCAL_ORIGIN:
                window.entering += int(count or 0)
    for window in windows.values():
        window.per_second = window.packages / window.seconds
    return windows


async def _latencies(
    session: AsyncSession, query: StatsQuery, agencies: _Agencies
) -> dict[str, Latency]:
    latencies: dict[str, Latency] = {}
    # Accepted → delivered: at the hub holding the recipient's inbox, from its acceptance here
    # to the recipient's confirmation (end to end within a province, the last leg otherwise).
    delivered = (
        select(
            col(StoredPackage.sender), col(StoredPackage.received_at), col(InboxItem.confirmed_at)
        )
        .join(StoredPackage, col(StoredPackage.id) == col(InboxItem.package_id))
        .where(
            col(InboxItem.state) == InboxState.DONE,
            col(StoredPackage.kind) == PackageKind.DOCUMENT,
            col(InboxItem.confirmed_at).is_not(None),
        )
        .order_by(col(InboxItem.confirmed_at).desc())
        .limit(LATENCY_SAMPLE)
    )
    for condition in _in_range(col(StoredPackage.received_at), query):
        delivered = delivered.where(condition)
    if query.agency is not None:
        delivered = delivered.where(col(StoredPackage.sender) == query.agency)
    latencies["delivered"] = latency_of(_durations(await session.exec(delivered), agencies))
    # Accepted → status: at the sender's entry hub, where every status comes back (matched by
    # ResponseFor): from acceptance to the first status of the code from each recipient.
    for code in ("01", "03", "06"):
        statement = _local_documents(
            select(
                col(StoredPackage.sender),
                col(StoredPackage.received_at),
                func.min(col(StatusLink.at)),
            )
            .join(
                StatusLink,
                and_(
                    col(StatusLink.document_sender) == col(StoredPackage.sender),
                    col(StatusLink.document_id) == col(StoredPackage.document_id),
                ),
            )
            .where(col(StatusLink.status_code) == code)
            .group_by(
                col(StoredPackage.id),
                col(StoredPackage.sender),
                col(StoredPackage.received_at),
                col(StatusLink.status_from),
            )
            .order_by(col(StoredPackage.received_at).desc())
            .limit(LATENCY_SAMPLE),
            query,
        )
        latencies[f"status_{code}"] = latency_of(
            _durations(await session.exec(statement), agencies)
        )
    return latencies


def _durations(rows: Iterable[Any], agencies: _Agencies) -> list[float]:
    durations = []
    for sender, start, end in rows:
        if not agencies.of(sender)[2]:
            continue
        began, ended = _as_datetime(start), _as_datetime(end)
        if began is not None and ended is not None:
            durations.append(max(0.0, (ended - began).total_seconds()))
    return durations
