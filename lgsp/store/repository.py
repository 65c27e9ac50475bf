"""Packages, inbox items and hops: async functions on a caller's session.

None of these functions commits: the caller owns the transaction, so intake can store a
package together with its own rows and acknowledge only after ``await session.commit()``.
Their writes reach the database within the call, so constraint errors surface there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Table, insert, inspect, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from .models import (
    LOCAL_ORIGIN,
    Hop,
    HopEvent,
    InboxItem,
    InboxState,
    OutboxItem,
    OutboxState,
    PackageKind,
    PackageMeta,
    StoredPackage,
    new_id,
)


def _table(model: type[SQLModel]) -> Table:
    table = inspect(model).local_table
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


_PACKAGES, _INBOX, _OUTBOX, _HOPS = (_table(m) for m in (StoredPackage, InboxItem, OutboxItem, Hop))
# Keyed by dialect name; the statements are built once so their compiled form is cached.
_INSERT_PACKAGE: Final = {
    name: dialect_insert(_PACKAGES)
    .on_conflict_do_nothing(index_elements=[_PACKAGES.c.dedupe_key])
    .returning(_PACKAGES.c.id)
    for name, dialect_insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
_INSERT_INBOX: Final = insert(_INBOX)
_INSERT_OUTBOX: Final = insert(_OUTBOX)
_INSERT_HOP: Final = insert(_HOPS)

_META_FIELDS: Final = tuple(PackageMeta.model_fields)
# Listings select these columns only, so a page of entries never loads the package bytes.
_META_COLUMNS: Final = tuple(getattr(StoredPackage, name) for name in _META_FIELDS)


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """One inbox item with its package's metadata (no bytes: fetch them with get_package)."""

    item: InboxItem
    package: PackageMeta


def sha256_hex(body: bytes) -> str:
    """Return the SHA-256 of ``body`` as 64 lowercase hex digits."""
    return hashlib.sha256(body).hexdigest()


def dedupe_key(
    *, kind: PackageKind, sender: str, document_id: str | None = None, sha256: str | None = None
) -> str:
    """Return the key that identifies a package across resubmissions.

    A document is the same document when the same sender sends the same edXML DocumentId
    again (the SDK retries ``sendEdoc`` on its own); a status package has no id of its own,
    so it is the same when the same sender sends the same bytes (``sha256`` of the body).
    The parts are hashed so the unique index stays small whatever a DocumentId holds.
    """
    if kind is PackageKind.DOCUMENT:
        if not document_id:
            raise ValueError("a document package needs its edXML DocumentId")
        identity = document_id
    else:
        if not sha256:
            raise ValueError("a status package is identified by the sha256 of its body")
        identity = sha256
    return hashlib.sha256(f"{kind.value}\x00{sender}\x00{identity}".encode()).hexdigest()


async def store_package(
    session: AsyncSession,
    *,
    hub_id: str,
    kind: PackageKind,
    sender: str,
    body: bytes,
    now: datetime,
    sha256: str | None = None,
    document_id: str | None = None,
    subject: str | None = None,
    document_type: str | None = None,
    status_code: str | None = None,
    response_for: str | None = None,
    origin: str = LOCAL_ORIGIN,
    local_recipients: Sequence[str] = (),
    forwards: Mapping[str, Sequence[str]] | None = None,
) -> tuple[StoredPackage, bool]:
    """Store a package with its inbox items, outbox rows and "accepted" hop; not committed.

    ``local_recipients`` are this hub's agencies (one inbox item each); ``forwards`` maps
    the next hub's id to the recipients it should receive the package for (one outbox row
    each). Returns ``(package, True)``, or ``(existing, False)`` without writing anything
    when the dedupe key is already stored: compare ``existing.sha256`` to tell a retry from
    a different package reusing a DocumentId. Safe against concurrent identical submissions:
    the insert is ``ON CONFLICT (dedupe_key) DO NOTHING``, which on PostgreSQL waits for a
    concurrent inserter of the same key and on SQLite runs under the single write lock.
    ``sha256`` is the body's digest when the caller has already computed it (a transit hub
    checked it against the previous hub's signed header).
    """
    digest = sha256 or sha256_hex(body)
    values: dict[str, Any] = {
        "id": new_id(),
        "kind": kind,
        "sender": sender,
        "document_id": document_id,
        "dedupe_key": dedupe_key(kind=kind, sender=sender, document_id=document_id, sha256=digest),
        "sha256": digest,
        "size": len(body),
        "subject": subject,
        "document_type": document_type,
        "status_code": status_code,
        "response_for": response_for,
        "origin": origin,
        "received_at": now,
        "body": body,
    }
    dialect = session.get_bind().dialect.name
    inserted = (await session.exec(_INSERT_PACKAGE[dialect], params=values)).first()
    if inserted is None:
        existing = await find_by_dedupe_key(session, values["dedupe_key"])
        if existing is None:  # only if the winner was deleted between the two statements
            raise RuntimeError(f"package {values['dedupe_key']} conflicted but is not stored")
        return existing, False

    package_id = values["id"]
    inbox = [
        {
            "id": new_id(),
            "package_id": package_id,
            "recipient": recipient,
            "state": InboxState.PENDING,
            "created_at": now,
        }
        for recipient in dict.fromkeys(local_recipients)
    ]
    outbox = [
        {
            "id": new_id(),
            "package_id": package_id,
            "destination": destination,
            "recipients": list(recipients),
            "state": OutboxState.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for destination, recipients in (forwards or {}).items()
    ]
    # Core statements, not ORM objects: this is every accepted package's path and the unit
    # of work would triple its CPU cost. The rows are plain; nobody needs them as objects.
    for statement, rows in ((_INSERT_INBOX, inbox), (_INSERT_OUTBOX, outbox)):
        if rows:
            await session.exec(statement, params=rows)
    await record_hop(
        session,
        package_id=package_id,
        hub_id=hub_id,
        event=HopEvent.ACCEPTED,
        now=now,
        detail={"origin": origin},
    )
    # The row is stored exactly as built: attach it as loaded rather than read the
    # (possibly large) body back.
    package = StoredPackage(**values)
    make_transient_to_detached(package)
    session.add(package)
    return package, True


async def get_package(session: AsyncSession, package_id: str) -> StoredPackage | None:
    """Return the package stored under the hub's DocId ``package_id``, bytes included."""
    return await session.get(StoredPackage, package_id)


async def get_packages(
    session: AsyncSession, package_ids: Sequence[str]
) -> dict[str, StoredPackage]:
    """Return the packages among ``package_ids`` that exist, by id, in one query."""
    if not package_ids:
        return {}
    found = await session.exec(
        select(StoredPackage).where(col(StoredPackage.id).in_(set(package_ids)))
    )
    return {package.id: package for package in found}


async def find_by_dedupe_key(session: AsyncSession, key: str) -> StoredPackage | None:
    """Return the package stored under dedupe ``key`` (see :func:`dedupe_key`), if any."""
    found = await session.exec(select(StoredPackage).where(StoredPackage.dedupe_key == key))
    return found.first()


async def package_meta(
    session: AsyncSession, *, package_id: str | None = None, key: str | None = None
) -> PackageMeta | None:
    """Return a package's metadata without its bytes, by its id or its dedupe ``key``."""
    if (package_id is None) == (key is None):
        raise ValueError("give exactly one of package_id and key")
    condition = (
        col(StoredPackage.id) == package_id
        if package_id is not None
        else col(StoredPackage.dedupe_key) == key
    )
    statement: Select[*tuple[Any, ...]] = Select(*_META_COLUMNS).where(condition)
    row = (await session.exec(statement)).first()
    return None if row is None else _meta(row)


async def list_inbox(
    session: AsyncSession,
    *,
    recipients: Sequence[str],
    states: Sequence[InboxState] = (InboxState.PENDING, InboxState.FETCHED),
    kind: PackageKind | None = None,
    limit: int = 100,
) -> list[InboxEntry]:
    """Return the oldest ``limit`` inbox entries of ``recipients`` in ``states``, oldest first."""
    if not recipients or not states:
        return []
    statement: Select[*tuple[Any, ...]] = (
        Select(InboxItem, *_META_COLUMNS)
        .join(StoredPackage, col(StoredPackage.id) == col(InboxItem.package_id))
        .where(col(InboxItem.recipient).in_(recipients), col(InboxItem.state).in_(states))
        .order_by(col(InboxItem.created_at), col(InboxItem.id))
        .limit(limit)
    )
    if kind is not None:
        statement = statement.where(StoredPackage.kind == kind)
    rows = await session.exec(statement)
    return [InboxEntry(item=row[0], package=_meta(row[1:])) for row in rows]


async def inbox_item(session: AsyncSession, *, package_id: str, recipient: str) -> InboxItem | None:
    """Return ``recipient``'s inbox item for ``package_id``: None means it may not pull it."""
    found = await session.exec(
        select(InboxItem).where(
            InboxItem.package_id == package_id, InboxItem.recipient == recipient
        )
    )
    return found.first()


async def mark_fetched(
    session: AsyncSession, *, hub_id: str, package_id: str, recipient: str, now: datetime
) -> InboxItem | None:
    """Mark ``recipient``'s item fetched (first pull records a "delivered" hop); None if absent."""
    changed = await _transition(
        session,
        package_id=package_id,
        recipient=recipient,
        from_states=(InboxState.PENDING,),
        values={"state": InboxState.FETCHED, "fetched_at": now},
    )
    if changed is None:
        return await inbox_item(session, package_id=package_id, recipient=recipient)
    await record_hop(
        session,
        package_id=package_id,
        hub_id=hub_id,
        event=HopEvent.DELIVERED,
        now=now,
        detail={"recipient": recipient},
    )
    return changed


async def confirm(
    session: AsyncSession,
    *,
    hub_id: str,
    package_id: str,
    recipient: str,
    state: InboxState,
    now: datetime,
) -> InboxItem | None:
    """Close ``recipient``'s item as ``done`` or ``failed`` with a "confirmed" hop; idempotent.

    An item already closed is returned unchanged; None means there is no such item.
    """
    if state not in (InboxState.DONE, InboxState.FAILED):
        raise ValueError(f"confirm() closes an item as done or failed, not {state.value}")
    changed = await _transition(
        session,
        package_id=package_id,
        recipient=recipient,
        from_states=(InboxState.PENDING, InboxState.FETCHED),
        values={"state": state, "confirmed_at": now},
    )
    if changed is None:
        return await inbox_item(session, package_id=package_id, recipient=recipient)
    await record_hop(
        session,
        package_id=package_id,
        hub_id=hub_id,
        event=HopEvent.CONFIRMED,
        now=now,
        detail={"recipient": recipient, "state": state.value},
    )
    return changed


async def record_hop(
    session: AsyncSession,
    *,
    package_id: str,
    hub_id: str,
    event: HopEvent,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write a hop in the caller's transaction."""
    await record_hops(session, hub_id=hub_id, event=event, now=now, hops=[(package_id, detail)])


async def record_hops(
    session: AsyncSession,
    *,
    hub_id: str,
    event: HopEvent,
    now: datetime,
    hops: Iterable[tuple[str, dict[str, Any] | None]],
) -> None:
    """Write one ``event`` hop per ``(package_id, detail)`` pair, in one statement."""
    rows = [
        {"package_id": package_id, "hub_id": hub_id, "event": event, "at": now, "detail": detail}
        for package_id, detail in hops
    ]
    if rows:
        await session.exec(_INSERT_HOP, params=rows)


async def hops_of(session: AsyncSession, package_id: str) -> list[Hop]:
    """Return the hops of ``package_id`` in the order they were recorded."""
    found = await session.exec(
        select(Hop).where(Hop.package_id == package_id).order_by(col(Hop.id))
    )
    return list(found)


def _meta(columns: Sequence[Any]) -> PackageMeta:
    # The values come straight from the table's columns: skip pydantic validation.
    return PackageMeta.model_construct(**dict(zip(_META_FIELDS, columns, strict=True)))


async def _transition(
    session: AsyncSession,
    *,
    package_id: str,
    recipient: str,
    from_states: Sequence[InboxState],
    values: Mapping[str, Any],
) -> InboxItem | None:
    # One conditional UPDATE: of two concurrent callers exactly one sees the row change,
    # so a transition's hop is recorded once.
    statement = (
        update(InboxItem)
        .where(
            col(InboxItem.package_id) == package_id,
            col(InboxItem.recipient) == recipient,
            col(InboxItem.state).in_(from_states),
        )
        .values(values)
        .returning(InboxItem)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await session.exec(statement)).scalars().first()
