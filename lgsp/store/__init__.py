"""The hub's durable store: packages with their exact bytes, inbox, outbox rows and hops.

    db = Database.connect("sqlite:///.lgsp-data/hub-h56.db")  # or postgresql://..., schema=
    await db.create_schema()
    async with db.session() as session:
        package, created = await store_package(session, hub_id="lgsp-h56", ...)
        await session.commit()  # acknowledge only after this

Repository functions take a session and never commit; the caller owns the transaction.
Forwarding rows are worked by :mod:`lgsp.outbox`.
"""

from __future__ import annotations

from ._db import Database, normalize_url
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
from .repository import (
    InboxEntry,
    confirm,
    dedupe_key,
    find_by_dedupe_key,
    get_package,
    get_packages,
    hops_of,
    inbox_item,
    list_inbox,
    mark_fetched,
    package_meta,
    record_hop,
    record_hops,
    sha256_hex,
    store_package,
)

__all__ = [
    "LOCAL_ORIGIN",
    "Database",
    "Hop",
    "HopEvent",
    "InboxEntry",
    "InboxItem",
    "InboxState",
    "OutboxItem",
    "OutboxState",
    "PackageKind",
    "PackageMeta",
    "StoredPackage",
    "confirm",
    "dedupe_key",
    "find_by_dedupe_key",
    "get_package",
    "get_packages",
    "hops_of",
    "inbox_item",
    "list_inbox",
    "mark_fetched",
    "new_id",
    "normalize_url",
    "package_meta",
    "record_hop",
    "record_hops",
    "sha256_hex",
    "store_package",
]
