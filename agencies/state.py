"""What a fleet remembers: documents sent and the statuses that came back, documents
received with what verifying them found and the statuses sent in answer, and counters.

In memory and bounded (the oldest records are dropped first): a fleet is a simulator, the
hubs keep the durable record. The one thing kept on disk is the outgoing register
(`OutgoingRegister`), so that Code numbers, and the DocumentIds made from them, never repeat
across restarts: a hub would take a repeated DocumentId for a duplicate and drop it.

Everything but the register is touched from the event loop only, so it needs no lock.
"""

from __future__ import annotations

import bisect
import json
import os
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .hubclient import Receipt


@dataclass(frozen=True, kw_only=True)
class StatusReceived:
    """A status package that came back for a document this fleet sent."""

    code: str
    from_: str
    at: datetime
    description: str | None = None
    doc_id: str | None = None  # the hub's id of the status package
    envelope: str = "valid"  # "valid" or the verification error code

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, as ``GET /fleet/sent/{document_id}`` lists it."""
        return {
            "code": self.code,
            "from": self.from_,
            "at": self.at.isoformat(),
            "description": self.description,
            "doc_id": self.doc_id,
            "envelope": self.envelope,
        }


@dataclass(frozen=True, kw_only=True)
class StatusSent:
    """A status package a receiving agency sent (or failed to send) in answer."""

    code: str
    at: datetime
    doc_id: str | None = None  # the hub's id of the status package, once accepted
    error: dict[str, str] | None = None
    http_status: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, as ``GET /fleet/received`` lists it."""
        data: dict[str, Any] = {"code": self.code, "at": self.at.isoformat(), "doc_id": self.doc_id}
        if self.error is not None:
            data["error"] = self.error
            data["http_status"] = self.http_status
        return data


@dataclass(kw_only=True)
class SentDocument:
    """A document one of the fleet's agencies sent; ``receipt`` stays None until the hub
    accepts it, ``error`` says why it did not."""

    document_id: str
    from_: str
    to: tuple[str, ...]
    subject: str
    sent_at: datetime
    receipt: Receipt | None = None
    error: dict[str, str] | None = None
    http_status: int | None = None
    statuses: list[StatusReceived] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, as ``GET /fleet/sent/{document_id}`` answers."""
        data: dict[str, Any] = {
            "document_id": self.document_id,
            "from": self.from_,
            "to": list(self.to),
            "subject": self.subject,
            "sent_at": self.sent_at.isoformat(),
            "receipt": self.receipt.as_dict() if self.receipt is not None else None,
            "statuses": [s.as_dict() for s in self.statuses],
        }
        if self.error is not None:
            data["error"] = self.error
            data["http_status"] = self.http_status
        return data


@dataclass(kw_only=True)
class ReceivedDocument:
    """A document delivered to one of the fleet's agencies (``to``) and what the DMS made of it.

    ``envelope`` is "valid" or the error code of the envelope verification; ``personal`` and
    ``agency`` are the PAdES states ("valid", "invalid", "absent").
    """

    doc_id: str
    document_id: str | None
    from_: str | None
    to: str
    subject: str | None
    received_at: datetime
    envelope: str
    personal: str
    agency: str
    due_date: str | None = None
    problems: tuple[str, ...] = ()
    statuses_sent: list[StatusSent] = field(default_factory=list)

    @property
    def verification_failed(self) -> bool:
        """Whether a signature that is there did not verify (absent ones are no failure)."""
        return self.envelope != "valid" or "invalid" in (self.personal, self.agency)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, as ``GET /fleet/received`` lists it."""
        return {
            "doc_id": self.doc_id,
            "document_id": self.document_id,
            "from": self.from_,
            "to": self.to,
            "subject": self.subject,
            "received_at": self.received_at.isoformat(),
            "due_date": self.due_date,
            "envelope": self.envelope,
            "personal": self.personal,
            "agency": self.agency,
            "problems": list(self.problems),
            "statuses_sent": [s.as_dict() for s in self.statuses_sent],
        }


class FleetState:
    """The fleet's memory, bounded to ``limit`` sent and ``limit`` received documents."""

    def __init__(self, *, limit: int = 10_000) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._sent: OrderedDict[str, SentDocument] = OrderedDict()
        self._received: OrderedDict[tuple[str, str], ReceivedDocument] = OrderedDict()
        self.counts: Counter[str] = Counter()
        self.statuses_sent_by_code: Counter[str] = Counter()
        self.statuses_received_by_code: Counter[str] = Counter()
        self.signatures_received: dict[str, Counter[str]] = {
            "personal": Counter(),
            "agency": Counter(),
            "envelope": Counter(),
        }
        self._completion_lag_total = 0.0  # seconds of the fleet clock, over every 06 sent
        self._completion_lag_max = 0.0

    # -- sent ----------------------------------------------------------------------------------

    def add_sent(self, document: SentDocument) -> None:
        """Remember a document about to be submitted (before, so no status can outrun it)."""
        self._sent[document.document_id] = document
        self._sent.move_to_end(document.document_id)
        while len(self._sent) > self.limit:
            self._sent.popitem(last=False)

    def settle_sent(
        self,
        document: SentDocument,
        *,
        receipt: Receipt | None = None,
        error: dict[str, str] | None = None,
        http_status: int | None = None,
    ) -> None:
        """Record the hub's answer to a submitted document."""
        document.receipt = receipt
        document.error = error
        document.http_status = http_status
        self.counts["sent" if receipt is not None else "send_failed"] += 1
        if receipt is not None and receipt.duplicate:
            self.counts["sent_duplicate"] += 1

    def sent(self, document_id: str) -> SentDocument | None:
        """The sent document with this DocumentId, if still remembered."""
        return self._sent.get(document_id)

    def add_status_received(self, document_id: str | None, status: StatusReceived) -> bool:
        """Attach a status to the sent document it answers; False when that is unknown."""
        self.counts["statuses_received"] += 1
        self.statuses_received_by_code[status.code] += 1
        if status.envelope != "valid":
            self.counts["status_verification_failures"] += 1
        document = self._sent.get(document_id) if document_id is not None else None
        if document is None:
            self.counts["statuses_unmatched"] += 1
            return False
        # Statuses are handled concurrently and may be recorded out of order: keep them in the
        # order of their own Timestamp (seconds), the code breaking ties (01 < 03 < … < 06).
        bisect.insort(document.statuses, status, key=lambda s: (s.at, s.code))
        return True

    # -- received ------------------------------------------------------------------------------

    def add_received(self, document: ReceivedDocument) -> None:
        """Remember a document delivered to one of the fleet's agencies."""
        key = (document.doc_id, document.to)
        self._received[key] = document
        self._received.move_to_end(key)
        while len(self._received) > self.limit:
            self._received.popitem(last=False)
        self.counts["received"] += 1
        if document.verification_failed:
            self.counts["verification_failures"] += 1
        self.signatures_received["personal"][document.personal] += 1
        self.signatures_received["agency"][document.agency] += 1
        self.signatures_received["envelope"][
            "valid" if document.envelope == "valid" else "invalid"
        ] += 1

    def received_document(self, doc_id: str, organ_id: str) -> ReceivedDocument | None:
        """The received document with this hub doc id for this agency, if remembered."""
        return self._received.get((doc_id, organ_id))

    def received(self, *, organ_id: str | None = None, limit: int = 100) -> list[ReceivedDocument]:
        """Received documents, newest first, for one agency or all."""
        found: list[ReceivedDocument] = []
        for document in reversed(self._received.values()):
            if organ_id is None or document.to == organ_id:
                found.append(document)
                if len(found) >= limit:
                    break
        return found

    def add_status_sent(self, document: ReceivedDocument | None, status: StatusSent) -> None:
        """Record a status package sent (or not) in answer to a received document."""
        if document is not None:
            document.statuses_sent.append(status)
        if status.error is None:
            self.counts["statuses_sent"] += 1
            self.statuses_sent_by_code[status.code] += 1
        else:
            self.counts["statuses_send_failed"] += 1

    def add_completion(
        self, *, planned: datetime, stored: datetime, due: datetime | None = None
    ) -> None:
        """Record a 06 the hub stored at ``stored`` that the profile planned for ``planned``.

        The difference is the machine's lag (timers, worker threads, the hub's intake): on a
        compressed clock, tenths of a second are simulated hours, and a 06 planned before
        the end of its DueDate (``due``) may reach the hub after it.
        """
        lag = max((stored - planned).total_seconds(), 0.0)
        self.counts["completions_timed"] += 1
        self._completion_lag_total += lag
        self._completion_lag_max = max(self._completion_lag_max, lag)
        if due is None:
            return
        self.counts["completions_with_due_date"] += 1
        if planned > due:
            self.counts["completions_planned_late"] += 1  # the profile's draw: late by design
        elif stored > due:
            self.counts["completions_late_by_lag"] += 1

    # -- counters ------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """The counters of ``GET /fleet/stats``."""
        names = (
            "sent",
            "send_failed",
            "sent_duplicate",
            "received",
            "unreadable",
            "verification_failures",
            "rejected",
            "statuses_sent",
            "statuses_send_failed",
            "statuses_received",
            "statuses_unmatched",
            "status_verification_failures",
            "acks_failed",
            "poll_errors",
        )
        return {
            **{name: self.counts[name] for name in names},
            "statuses_sent_by_code": dict(sorted(self.statuses_sent_by_code.items())),
            "statuses_received_by_code": dict(sorted(self.statuses_received_by_code.items())),
            "signatures_received": {
                kind: dict(sorted(counter.items()))
                for kind, counter in self.signatures_received.items()
            },
            "remembered": {"sent": len(self._sent), "received": len(self._received)},
            "completion_lag": self.completion_lag(),
        }

    def completion_lag(self) -> dict[str, Any]:
        """How late 06 statuses reached the hub against the profile's plan (fleet seconds)."""
        count = self.counts["completions_timed"]
        return {
            "count": count,
            "mean_seconds": self._completion_lag_total / count if count else None,
            "max_seconds": self._completion_lag_max if count else None,
            "with_due_date": self.counts["completions_with_due_date"],
            "planned_late": self.counts["completions_planned_late"],
            "late_by_lag": self.counts["completions_late_by_lag"],
        }


class OutgoingRegister:
    """The register of outgoing documents (sổ văn bản đi): the last Code number per agency,
    restarting each year, kept in a JSON file when ``path`` is given.

    A number is written to disk before it is handed out, so a crash leaves a gap, never a
    repeat. Drafting runs in worker threads, hence the lock.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._last: dict[str, dict[str, int]] = {}
        if path is not None and path.is_file():
            raw = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(raw, dict):
                self._last = {
                    str(organ): {str(y): int(n) for y, n in years.items()}
                    for organ, years in raw.items()
                    if isinstance(years, dict)
                }

    def next_number(self, organ_id: str, year: int) -> int:
        """Take the next Code number of ``organ_id`` in ``year`` (1 for its first document)."""
        with self._lock:
            years = self._last.setdefault(organ_id, {})
            number = years.get(str(year), 0) + 1
            years[str(year)] = number
            if self.path is not None:
                self._save(self.path)
            return number

    def _save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._last, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
