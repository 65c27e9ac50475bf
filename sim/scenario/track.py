"""Follow sent documents until their statuses come back, and gather the path they took.

A document is *complete* when every recipient has sent back the wanted codes (01, 03, 06 by
default), or a 02 (rejected), which ends its story too. Statuses come from the sender's fleet
(`GET /fleet/sent/{document_id}`); the path comes from every hub's trace of the document.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sim.runtime import Exchange, SentDocument, ServiceError, StatusRecord, Trace

WANTED = ("01", "03", "06")
REJECTED = "02"
POLL_INTERVAL = 0.3


@dataclass
class Tracked:
    """A document sent through a fleet, and what has come back for it so far."""

    label: str
    fleet: str
    sender: str
    document_id: str
    recipients: tuple[str, ...]
    subject: str = ""
    sent: SentDocument | None = field(default=None, repr=False)

    def codes_from(self, organ_id: str) -> set[str]:
        """The status codes one recipient has sent back so far."""
        return self.sent.codes_from(organ_id) if self.sent is not None else set()

    def done_for(self, organ_id: str, wanted: Collection[str] = WANTED) -> bool:
        """Whether this recipient has answered everything wanted (or rejected the document)."""
        codes = self.codes_from(organ_id)
        return REJECTED in codes or set(wanted) <= codes

    def done_count(self, wanted: Collection[str] = WANTED) -> int:
        """How many recipients are done."""
        return sum(self.done_for(r, wanted) for r in self.recipients)

    def complete(self, wanted: Collection[str] = WANTED) -> bool:
        """Whether every recipient is done."""
        return self.done_count(wanted) == len(self.recipients)

    def missing(self, wanted: Collection[str] = WANTED) -> dict[str, list[str]]:
        """Recipient → the wanted codes it has not sent back yet (empty when complete)."""
        gaps = {}
        for organ_id in self.recipients:
            if not self.done_for(organ_id, wanted):
                have = self.codes_from(organ_id)
                gaps[organ_id] = [c for c in wanted if c not in have]
        return gaps


async def refresh(exchange: Exchange, documents: Iterable[Tracked]) -> None:
    """Fetch what each document's sender fleet has received back for it."""

    async def one(doc: Tracked) -> None:
        doc.sent = await exchange.sent(doc.fleet, doc.document_id)

    await asyncio.gather(*(one(d) for d in documents))


async def wait_statuses(
    exchange: Exchange,
    documents: Sequence[Tracked],
    *,
    wanted: Collection[str] = WANTED,
    patience: float,
    on_progress: Callable[[int, int], None] | None = None,
) -> bool:
    """Poll until every recipient of every document is done or ``patience`` seconds pass.

    ``on_progress(done, total)`` counts (document, recipient) pairs. Returns whether all were
    done; transient fleet errors are retried until the deadline.
    """
    total = sum(len(d.recipients) for d in documents)
    deadline = time.monotonic() + patience
    while True:
        pending = [d for d in documents if not d.complete(wanted)]
        try:
            await refresh(exchange, pending)
        except ServiceError:
            if time.monotonic() > deadline:
                raise
        done = sum(d.done_count(wanted) for d in documents)
        if on_progress is not None:
            on_progress(done, total)
        if done == total:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(POLL_INTERVAL)


async def collect_path(
    exchange: Exchange, hubs: Iterable[str], *, sender: str, document_id: str
) -> list[Trace]:
    """Every hub's trace of a document (hubs that never saw it are left out)."""

    async def one(hub: str) -> Trace | None:
        try:
            return await exchange.trace(hub, sender=sender, document_id=document_id)
        except ServiceError:
            return None  # a hub that is down, or never saw it, adds nothing to the path

    traces = await asyncio.gather(*(one(h) for h in hubs))
    return [t for t in traces if t is not None]


@dataclass(frozen=True)
class PathHop:
    """One hop of a document's path, across hubs."""

    hub_id: str
    event: str
    at: str
    detail: str


def merged_hops(traces: Iterable[Trace]) -> list[PathHop]:
    """Every hub's hops in time order (ISO timestamps sort as text once in UTC)."""
    hops = [
        PathHop(hub_id=h.hub_id or t.hub, event=h.event, at=h.at, detail=h.detail)
        for t in traces
        for h in t.hops
    ]
    return sorted(hops, key=lambda h: h.at)


def sender_hub_statuses(traces: Iterable[Trace], hub_id: str) -> tuple[StatusRecord, ...] | None:
    """The statuses as the sender's hub recorded them (precise times), if it answered."""
    for trace in traces:
        if trace.hub == hub_id:
            return trace.statuses
    return None


def status_table(
    doc: Tracked, statuses: Iterable[StatusRecord] | None = None
) -> Mapping[str, list[tuple[str, str]]]:
    """Recipient → the (code, time) pairs it sent back, in order.

    ``statuses`` (the sender hub's record) wins over the sender fleet's, whose times are the
    status packages' own, to the second.
    """
    rows: dict[str, list[tuple[str, str]]] = {r: [] for r in doc.recipients}
    if statuses is None:
        statuses = doc.sent.statuses if doc.sent is not None else ()
    for status in sorted(statuses, key=lambda s: (s.at, s.code)):
        rows.setdefault(status.from_, []).append((status.code, status.at))
    return rows
