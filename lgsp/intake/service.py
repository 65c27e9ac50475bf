"""Accepting packages: from a DMS system at the entry hub, or from the previous hub.

Both paths end the same way: route the recipients, store the package with its inbox items
and outbox rows in one transaction, commit, and only then answer (nothing is acknowledged
before it is durable), publish events and wake the outbox worker. A refused package raises
:class:`IntakeError` and leaves nothing behind; logging it is the API's job (one place for
every refused input, authentication failures included).

Parsing and signature verification are synchronous on purpose: a few tenths of a millisecond
of CPU together (one parse serves both), cheaper inline than a hop to a thread pool.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from lxml import etree
from sqlalchemy import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

import edoc
import keys
from lgsp.auth import PeerHub, System
from lgsp.events import EventBus, EventType
from lgsp.routing import Directory, Route, RoutingError
from lgsp.store import (
    LOCAL_ORIGIN,
    InboxItem,
    OutboxItem,
    PackageKind,
    StoredPackage,
    store_package,
)
from simtime import Clock

from .batch import GroupCommit
from .errors import IntakeError
from .models import StatusLink
from .schemas import Receipt

_INSERT_LINK: Final = insert(StatusLink)


@dataclass(frozen=True, slots=True)
class IntakeContext:
    """What intake needs from the running hub."""

    hub_id: str
    commits: GroupCommit  # the store's write path: one transaction per burst of packages
    directory: Directory
    trust: keys.TrustStore
    clock: Clock
    events: EventBus
    max_body_bytes: int
    strict: bool
    wake_outbox: Callable[[], None]


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the hub indexes about a package (read leniently: the bytes stay as they are)."""

    kind: PackageKind
    sender: str
    recipients: tuple[str, ...]
    document_id: str | None = None
    subject: str | None = None
    document_type: str | None = None
    status_code: str | None = None
    response_for_organ: str | None = None
    response_for_document: str | None = None


def _parse(body: bytes, *, max_bytes: int) -> tuple[_Facts, etree._Element]:
    """The package's facts, and its tree for the signature check (one parse serves both)."""
    try:
        package, tree = edoc.parse_with_tree(body, max_bytes=max_bytes)
    except edoc.EdocError as exc:
        raise IntakeError(exc.code, exc.message, 400, size=len(body)) from None
    return _facts(package), tree


def _facts(package: edoc.Package) -> _Facts:
    if isinstance(package, edoc.StatusPackage):
        status = package.header
        code = status.status_code
        organ = status.response_for.organ_id or None
        return _Facts(
            kind=PackageKind.STATUS,
            sender=status.from_.organ_id,
            recipients=(organ,) if organ else (),
            status_code=code.value if isinstance(code, edoc.StatusCode) else (code or None),
            response_for_organ=organ,
            response_for_document=status.response_for.document_id or None,
        )
    header = package.header
    document_type = header.document_type
    return _Facts(
        kind=PackageKind.DOCUMENT,
        sender=header.from_.organ_id,
        recipients=tuple(dict.fromkeys(o.organ_id for o in header.to if o.organ_id)),
        document_id=header.document_id or None,
        subject=header.subject,
        document_type=document_type.type_name if document_type is not None else None,
    )


def _check_sender(facts: _Facts, size: int) -> None:
    if not facts.sender:
        raise IntakeError("missing_sender", "the package has no From/OrganId", 400, size=size)


def _check_complete(facts: _Facts, size: int) -> None:
    if not facts.recipients:
        where = "ResponseFor/OrganId" if facts.kind is PackageKind.STATUS else "To/OrganId"
        raise IntakeError(
            "no_recipient",
            f"the package names no recipient ({where} is missing)",
            422,
            sender=facts.sender,
            size=size,
        )
    if facts.kind is PackageKind.DOCUMENT and not facts.document_id:
        raise IntakeError(
            "missing_document_id",
            "a document package needs its DocumentId (it identifies the document everywhere)",
            422,
            sender=facts.sender,
            size=size,
        )


def _route(
    ctx: IntakeContext,
    facts: _Facts,
    recipients: Sequence[str],
    *,
    came_from: str | None,
    size: int,
) -> Route:
    try:
        return ctx.directory.route(recipients, came_from=came_from)
    except RoutingError as exc:
        raise IntakeError(
            exc.code, exc.message, exc.http_status, sender=facts.sender, size=size
        ) from None


async def accept_from_system(*, ctx: IntakeContext, system: System, body: bytes) -> Receipt:
    """Entry-hub intake: parse, check the sender is the caller's, verify, route, store."""
    size = len(body)
    facts, tree = _parse(body, max_bytes=ctx.max_body_bytes)
    _check_sender(facts, size)
    if not system.hosts(facts.sender):
        raise IntakeError(
            "organ_not_hosted",
            f"system {system.system_id!r} does not host agency {facts.sender!r} "
            "(From/OrganId); it may submit only its own agencies' packages",
            403,
            sender=facts.sender,
            size=size,
        )
    try:
        keys.verify_envelope(
            tree,
            ctx.trust,
            at=ctx.clock.now(),
            allow_legacy_sha1=not ctx.strict,
            expected_organ_id=facts.sender,
        )
    except keys.KeysError as exc:
        raise IntakeError(exc.code, exc.message, 422, sender=facts.sender, size=size) from None
    except edoc.EdocError as exc:
        raise IntakeError(exc.code, exc.message, 400, sender=facts.sender, size=size) from None
    _check_complete(facts, size)
    route = _route(ctx, facts, facts.recipients, came_from=None, size=size)
    return await _store(ctx, facts, body, route, origin=LOCAL_ORIGIN)


async def accept_from_hub(*, ctx: IntakeContext, peer: PeerHub, body: bytes) -> Receipt:
    """Transit or destination intake from an authenticated hub; the XML signature is the
    recipient's to verify end to end, so it is not checked again here."""
    size = len(body)
    sha256 = peer.check_body(body)
    facts, _ = _parse(body, max_bytes=ctx.max_body_bytes)
    _check_sender(facts, size)
    _check_complete(facts, size)
    strangers = [r for r in peer.recipients if r not in facts.recipients]
    if strangers:
        raise IntakeError(
            "recipient_not_in_package",
            f"{peer.hub_id} forwards the package for {', '.join(strangers)}, which the "
            "package does not address",
            422,
            sender=facts.sender,
            size=size,
        )
    route = _route(ctx, facts, peer.recipients, came_from=peer.hub_id, size=size)
    return await _store(ctx, facts, body, route, origin=peer.hub_id, sha256=sha256)


async def _store(
    ctx: IntakeContext,
    facts: _Facts,
    body: bytes,
    route: Route,
    *,
    origin: str,
    sha256: str | None = None,
) -> Receipt:
    now = ctx.clock.now()

    async def job(session: AsyncSession) -> Receipt:
        package, created = await store_package(
            session,
            hub_id=ctx.hub_id,
            kind=facts.kind,
            sender=facts.sender,
            body=body,
            sha256=sha256,
            now=now,
            document_id=facts.document_id,
            subject=facts.subject,
            document_type=facts.document_type,
            status_code=facts.status_code,
            response_for=facts.response_for_document,
            origin=origin,
            local_recipients=route.local,
            forwards=route.forwards,
        )
        if not created:
            # Built before the session ends: a rollback would expire the loaded package.
            recipients = await _recipients_of(session, package.id)
            return _receipt(package, recipients, duplicate=True)
        if facts.response_for_organ and facts.response_for_document:
            # Statuses only: lets a trace of the document list what came back.
            await session.exec(
                _INSERT_LINK,
                params={
                    "package_id": package.id,
                    "document_sender": facts.response_for_organ,
                    "document_id": facts.response_for_document,
                    "status_code": facts.status_code or "",
                    "status_from": facts.sender,
                    "at": now,
                },
            )
        return _receipt(package, route.recipients, duplicate=False)

    receipt = await ctx.commits.run(job)
    if not receipt.duplicate:
        _publish_accepted(ctx, receipt, facts, route, origin=origin, size=len(body))
        if route.forwards:
            ctx.wake_outbox()
    return receipt


def _receipt(package: StoredPackage, recipients: Sequence[str], *, duplicate: bool) -> Receipt:
    return Receipt(
        doc_id=package.id,
        kind=package.kind,
        document_id=package.document_id,
        sender=package.sender,
        recipients=list(recipients),
        duplicate=duplicate,
        received_at=package.received_at,
    )


async def _recipients_of(session: AsyncSession, package_id: str) -> list[str]:
    """The recipients the first copy was stored for (inbox items, then outbox rows)."""
    local = await session.exec(
        select(InboxItem.recipient)
        .where(InboxItem.package_id == package_id)
        .order_by(col(InboxItem.created_at), col(InboxItem.id))
    )
    recipients = list(local)
    forwarded = await session.exec(
        select(OutboxItem.recipients)
        .where(OutboxItem.package_id == package_id)
        .order_by(col(OutboxItem.created_at), col(OutboxItem.id))
    )
    for group in forwarded:
        recipients.extend(group)
    return list(dict.fromkeys(recipients))


def _publish_accepted(
    ctx: IntakeContext, receipt: Receipt, facts: _Facts, route: Route, *, origin: str, size: int
) -> None:
    if not ctx.events.subscribers:
        return  # the common case under load: build no payloads nobody reads
    data: dict[str, Any] = {
        "doc_id": receipt.doc_id,
        "kind": facts.kind.value,
        "sender": facts.sender,
        "document_id": facts.document_id,
        "recipients": route.recipients,
        "local": list(route.local),
        "forwards": {hub: list(group) for hub, group in route.forwards.items()},
        "origin": origin,
        "size": size,
    }
    ctx.events.publish(EventType.ACCEPTED, **data)
    if facts.kind is PackageKind.STATUS:
        ctx.events.publish(
            EventType.STATUS,
            doc_id=receipt.doc_id,
            code=facts.status_code,
            sender=facts.sender,
            response_for={
                "organ_id": facts.response_for_organ,
                "document_id": facts.response_for_document,
            },
            origin=origin,
        )
