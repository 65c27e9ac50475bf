"""The receiving side of a fleet: the clerk (văn thư) of every hosted agency at once.

One poll loop asks the hub for everything waiting for all the fleet's agencies (one inbox
call per poll, not one per agency). Each new item is handled in its own task, at most
``max_in_flight`` at a time:

- a document is fetched, parsed, its envelope verified (`keys.verify_envelope`) and its PDF
  signatures assessed (`keys.assess_package`) in a worker thread, acknowledged (``done``, or
  ``failed`` when it is unreadable), then answered with status packages signed by the
  recipient agency, on the profile's schedule: 01 at once, then 03, 04, 05, 06 after delays;
  or 02 when the envelope does not verify, or by the profile's rejection rate;
- a status is fetched, verified, recorded against the document this fleet sent (by
  ``ResponseFor/DocumentId``) and acknowledged.

Statuses wait in the event loop's own timer queue (`loop.call_at`), so thousands of pending
answers cost a timer each, and the steps of one document are chained: a step is scheduled
only once the previous one was submitted, so they reach the sender in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import edoc
import keys
from edoc import StatusCode
from simtime import rate_of

from .drafting import draft_status
from .fleet import Fleet
from .hubclient import AckState, HubError, InboxItem
from .state import ReceivedDocument, StatusReceived, StatusSent

log = logging.getLogger(__name__)

_REMEMBER_HANDLED = 50_000
_SUBMIT_RETRIES = 5
_MAX_POLL_BACKOFF = 2.0  # a hub started after its fleet is found within 2 s
_MIN_SCALED_POLL = 0.2  # a fast simulated clock shortens polling down to this, no further


@dataclass(frozen=True)
class Inspection:
    """What the receiving DMS found in a package: the parsed package (None when unreadable),
    the envelope verdict ("valid" or an error code) and the PAdES states."""

    package: edoc.Package | None
    envelope: str
    personal: str = "absent"
    agency: str = "absent"
    problems: tuple[str, ...] = ()


def inspect_package(data: bytes, trust: keys.TrustStore, *, at: datetime) -> Inspection:
    """Parse a received package, verify its envelope and, for a document, its PDF signatures."""
    try:
        package, tree = edoc.parse_with_tree(data)
    except edoc.EdocError as exc:
        problem = f"{exc.code}: {exc.message}"
        return Inspection(None, exc.code, "invalid", "invalid", (problem,))
    problems: list[str] = []
    try:
        keys.verify_envelope(tree, trust, at=at)
        envelope = "valid"
    except (keys.KeysError, edoc.EdocError) as exc:
        envelope = exc.code
        problems.append(f"envelope: {exc.code}: {exc.message}")
    if not isinstance(package, edoc.DocumentPackage):
        return Inspection(package, envelope, problems=tuple(problems))
    assessment = keys.assess_package(package, trust, at=at)
    return Inspection(
        package,
        envelope,
        assessment.personal.value,
        assessment.agency.value,
        (*problems, *assessment.problems),
    )


class Clerk:
    """Polls the hub for all the fleet's agencies and answers what arrives."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        max_in_flight: int = 64,
        max_sending: int = 32,
        rng: random.Random | None = None,
    ) -> None:
        if max_in_flight < 1 or max_sending < 1:
            raise ValueError("max_in_flight and max_sending must be at least 1")
        self.fleet = fleet
        self.max_in_flight = max_in_flight
        self._rng = rng or fleet.profile.rng()
        self._in_flight: set[tuple[str, str]] = set()
        self._handled: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._sending = asyncio.Semaphore(max_sending)
        self._loop_task: asyncio.Task[None] | None = None
        self.polls = 0

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the poll loop in the background."""
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self.run(), name=f"clerk-{self.fleet.fleet_id}")

    async def stop(self) -> None:
        """Stop polling, drop pending statuses and cancel the work in progress."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        tasks = [t for t in (self._loop_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._loop_task = None

    @property
    def busy(self) -> int:
        """Items being handled plus statuses waiting to be sent."""
        return len(self._tasks) + len(self._timers)

    async def run(self) -> None:
        """Poll forever; hub errors slow the loop down, never stop it."""
        interval = self.fleet.profile.poll_interval
        # On a fast simulated clock the profile's seconds are simulated ones (see _chain).
        interval = max(interval / rate_of(self.fleet.clock), min(interval, _MIN_SCALED_POLL))
        delay = interval
        while True:
            try:
                await self.poll_once()
                delay = interval
            except HubError as exc:
                self.fleet.state.counts["poll_errors"] += 1
                if delay == interval:  # log the first failure of a series, not every retry
                    log.warning(
                        "%s: polling %s failed: %s", self.fleet.fleet_id, self.fleet.hub_id, exc
                    )
                delay = min(max(delay, interval) * 2, max(_MAX_POLL_BACKOFF, interval))
            except Exception:
                self.fleet.state.counts["poll_errors"] += 1
                log.exception("%s: polling failed", self.fleet.fleet_id)
                delay = min(max(delay, interval) * 2, max(_MAX_POLL_BACKOFF, interval))
            await asyncio.sleep(delay)

    async def poll_once(self) -> int:
        """Ask the hub once for everything waiting; start handling the new items; return how many."""
        self.polls += 1
        items = await self.fleet.hub.inbox()
        started = 0
        for item in items:
            key = (item.doc_id, item.recipient)
            if key in self._in_flight:
                continue
            if len(self._in_flight) >= self.max_in_flight:
                break  # the rest comes back with the next poll
            if not self.fleet.hosts(item.recipient):
                log.warning(
                    "%s: inbox item %s is for %s, not hosted here",
                    self.fleet.fleet_id,
                    item.doc_id,
                    item.recipient,
                )
                continue
            self._in_flight.add(key)
            self._spawn(self._handle(item, key))
            started += 1
        return started

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- handling an inbox item ----------------------------------------------------------------

    async def _handle(self, item: InboxItem, key: tuple[str, str]) -> None:
        try:
            if key in self._handled:
                # Handled before, but the confirmation did not reach the hub: confirm again.
                await self._ack(item, "done")
            elif item.kind == "status":
                await self._take_status(item)
            else:
                await self._take_document(item)
        except HubError as exc:
            log.warning("%s: %s for %s: %s", self.fleet.fleet_id, item.doc_id, item.recipient, exc)
        except Exception:
            log.exception(
                "%s: handling %s for %s failed", self.fleet.fleet_id, item.doc_id, item.recipient
            )
        finally:
            self._in_flight.discard(key)

    def _remember(self, key: tuple[str, str]) -> None:
        self._handled[key] = None
        while len(self._handled) > _REMEMBER_HANDLED:
            self._handled.popitem(last=False)

    async def _ack(self, item: InboxItem, state: AckState, reason: str | None = None) -> None:
        try:
            await self.fleet.hub.ack(item.doc_id, item.recipient, state, reason)
        except HubError as exc:
            # The item stays in the inbox and comes back with a later poll: acked then.
            self.fleet.state.counts["acks_failed"] += 1
            log.warning("%s: ack of %s failed: %s", self.fleet.fleet_id, item.doc_id, exc)

    async def _fetch(self, item: InboxItem) -> bytes | None:
        """The package's bytes; None (and the item acked ``failed``) when the hub will never
        give them, so a broken item does not come back with every poll."""
        try:
            return await self.fleet.hub.fetch(item.doc_id)
        except HubError as exc:
            if exc.transient or exc.http_status == 401:
                raise
            self.fleet.state.counts["unreadable"] += 1
            self._remember((item.doc_id, item.recipient))
            await self._ack(item, "failed", reason=f"fetch refused: {exc.code}: {exc.message}")
            return None

    async def _take_document(self, item: InboxItem) -> None:
        fleet = self.fleet
        data = await self._fetch(item)
        if data is None:
            return
        received_at = fleet.clock.now()
        # The plan's offsets count from this moment, as its DueDate fraction does: reading the
        # package below takes real time (simulated hours on a fast clock) that is part of the
        # processing, not a delay to add after it.
        received_loop = asyncio.get_running_loop().time()
        trust = await fleet.trust()
        inspection = await fleet.cpu(inspect_package, data, trust, at=received_at)
        package = inspection.package
        if package is not None and not isinstance(package, edoc.DocumentPackage):
            # A status package in a document item: the hub mislabelled it; treat it as a status.
            await self._record_status(item, package, inspection, received_at)
            return
        header = package.header if package is not None else None
        record = ReceivedDocument(
            doc_id=item.doc_id,
            document_id=header.document_id if header is not None else item.document_id,
            from_=header.from_.organ_id if header is not None else item.sender,
            to=item.recipient,
            subject=header.subject if header is not None else item.subject,
            received_at=received_at,
            envelope=inspection.envelope,
            personal=inspection.personal,
            agency=inspection.agency,
            due_date=(
                edoc.format_date(header.due_date)
                if header is not None and header.due_date is not None
                else None
            ),
            problems=inspection.problems,
        )
        fleet.state.add_received(record)
        self._remember((item.doc_id, item.recipient))
        if package is None:
            fleet.state.counts["unreadable"] += 1
            await self._ack(item, "failed", reason="; ".join(inspection.problems)[:500])
            return
        await self._ack(item, "done")
        verified = inspection.envelope == "valid"
        topology = fleet.config.topology
        agency = topology.get(record.to) if topology is not None else None
        plan = fleet.profile.plan(
            rng=self._rng,
            received_at=received_at,
            due_date=package.header.due_date,
            verified=verified,
            tier=agency.tier.value if agency is not None else None,
        )
        if any(code is StatusCode.REJECTED for _, code in plan):
            fleet.state.counts["rejected"] += 1
        # Only the header is needed to answer: drop the attachments while statuses wait.
        light = dataclasses.replace(package, raw=b"", attachments=[], signatures=[])
        reason = (
            None if verified else f"chữ ký số trên gói tin không hợp lệ ({inspection.envelope})"
        )
        self._chain(light, record, plan, 0, base=received_loop, reason=reason)

    async def _take_status(self, item: InboxItem) -> None:
        fleet = self.fleet
        data = await self._fetch(item)
        if data is None:
            return
        at = fleet.clock.now()
        trust = await fleet.trust()
        inspection = await fleet.cpu(inspect_package, data, trust, at=at)
        if inspection.package is None:
            fleet.state.counts["unreadable"] += 1
            self._remember((item.doc_id, item.recipient))
            await self._ack(item, "failed", reason="; ".join(inspection.problems)[:500])
            return
        await self._record_status(item, inspection.package, inspection, at)

    async def _record_status(
        self, item: InboxItem, package: edoc.Package, inspection: Inspection, at: datetime
    ) -> None:
        if isinstance(package, edoc.StatusPackage):
            header = package.header
            code = header.status_code
            status = StatusReceived(
                code=code.value if isinstance(code, StatusCode) else str(code),
                from_=header.from_.organ_id,
                at=header.timestamp or at,
                description=header.description,
                doc_id=item.doc_id,
                envelope=inspection.envelope,
            )
            self.fleet.state.add_status_received(header.response_for.document_id, status)
        self._remember((item.doc_id, item.recipient))
        await self._ack(item, "done")

    # -- answering with statuses ---------------------------------------------------------------

    def _chain(
        self,
        document: edoc.DocumentPackage,
        record: ReceivedDocument,
        plan: list[tuple[float, StatusCode]],
        index: int,
        *,
        base: float,
        reason: str | None,
    ) -> None:
        """Schedule step ``index`` of the plan; once sent, it schedules the next one."""
        if index >= len(plan):
            return
        offset, code = plan[index]
        planned = record.received_at + timedelta(seconds=offset)

        async def step() -> None:
            await self._send_status(document, record, code, reason=reason, planned=planned)
            self._chain(document, record, plan, index + 1, base=base, reason=reason)

        # Plan offsets are seconds of the fleet clock: real seconds scale by its rate.
        self._at(base + offset / rate_of(self.fleet.clock), step)

    def _at(self, when: float, job: Callable[[], Awaitable[None]]) -> None:
        loop = asyncio.get_running_loop()
        handle: list[asyncio.TimerHandle] = []

        def fire() -> None:
            self._timers.difference_update(handle)
            self._spawn(job())

        handle.append(loop.call_at(max(when, loop.time()), fire))
        self._timers.update(handle)

    async def _send_status(
        self,
        document: edoc.DocumentPackage,
        record: ReceivedDocument,
        code: StatusCode,
        *,
        reason: str | None,
        planned: datetime | None = None,
    ) -> None:
        fleet = self.fleet
        description = None
        if code is StatusCode.REJECTED:
            description = (
                f"Từ chối tiếp nhận: {reason or 'văn bản không thuộc thẩm quyền giải quyết'}"
            )
        async with self._sending:
            at = fleet.clock.now()
            package = await fleet.cpu(
                draft_status,
                document,
                recipient=fleet.card(record.to),
                code=code,
                at=at,
                agency=await fleet.agency_identity(record.to),
                description=description,
            )
            # Retries send the same bytes: if a lost answer hid a success, the hub takes the
            # retry for a duplicate (same sender, same body digest) instead of a second status.
            for attempt in range(_SUBMIT_RETRIES):
                try:
                    receipt = await fleet.hub.submit(package)
                except HubError as exc:
                    if not exc.transient or attempt == _SUBMIT_RETRIES - 1:
                        log.warning(
                            "%s: status %s from %s for %s not sent: %s",
                            fleet.fleet_id,
                            code.value,
                            record.to,
                            record.document_id,
                            exc,
                        )
                        failed = StatusSent(
                            code=code.value,
                            at=at,
                            error=exc.as_dict(),
                            http_status=exc.http_status,
                        )
                        fleet.state.add_status_sent(record, failed)
                        return
                    await asyncio.sleep(min(0.5 * 2**attempt, 10.0))
                    continue
                sent = StatusSent(code=code.value, at=at, doc_id=receipt.doc_id)
                fleet.state.add_status_sent(record, sent)
                if code is StatusCode.COMPLETED and planned is not None:
                    due = document.header.due_date
                    fleet.state.add_completion(
                        planned=planned,
                        stored=_stored_at(receipt.received_at) or fleet.clock.now(),
                        due=edoc.due_end(due) if due is not None else None,
                    )
                return


def _stored_at(text: str | None) -> datetime | None:
    """The hub's time of storing a package, from its receipt (None when it does not say)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
