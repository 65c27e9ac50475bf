"""The assessment process: verifies the PAdES signatures of stored documents, off the hub.

``python -m lgsp.stats.assessor --hub-id ID --keys DIR [--schema S]`` (database URL in
``LGSP_ASSESSOR_DATABASE_URL``) is started by its hub (`lgsp.stats.runtime`). It lowers its
own priority first (SCHED_IDLE, else nice 19): `keys.assess_package` costs ~35 ms of CPU per
document, which must come from idle time, never from the request path. It only READS the
hub's database (documents its systems sent that have no assessment yet) and prints one JSON
line per document on stdout; the hub writes the results with its own write sessions, so
SQLite keeps a single writer and a descheduled low-priority process never holds its lock.

It exits when its parent (the hub) goes away or closes the pipe. On PostgreSQL, replicas of
one hub share a database: an advisory lock keeps one assessor of the schema at work.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import and_, exists, or_, text
from sqlmodel import col, select

import edoc
import keys
from lgsp.store import LOCAL_ORIGIN, Database, PackageKind, StoredPackage
from simtime import utc

from .models import Assessment

log = logging.getLogger("lgsp.stats.assessor")

DATABASE_URL_ENV: Final = "LGSP_ASSESSOR_DATABASE_URL"
_BATCH: Final = 16
_IDLE_SLEEP: Final = 0.5
_RESCAN_SECONDS: Final = 20.0  # go back to the oldest unassessed document now and then
_FORGET_SENT_SECONDS: Final = 120.0
_LOCK_RETRY_SECONDS: Final = 5.0
_ADVISORY_KEY: Final = 0x16_5D_0A55


@dataclass(frozen=True, slots=True)
class Result:
    """One document's assessment, as printed for the hub."""

    package_id: str
    personal: str
    agency: str
    recipients: int
    due_at: datetime | None
    problem: str | None

    def to_line(self) -> str:
        """The JSON line the hub reads."""
        return json.dumps(
            {
                "package_id": self.package_id,
                "personal": self.personal,
                "agency": self.agency,
                "recipients": self.recipients,
                "due_at": self.due_at.isoformat() if self.due_at else None,
                "problem": self.problem,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_line(cls, line: str | bytes) -> Result:
        """Read a JSON line (ValueError when it is not one of ours)."""
        raw: Any = json.loads(line)
        if not isinstance(raw, dict) or not isinstance(raw.get("package_id"), str):
            raise ValueError("not an assessment line")
        due = raw.get("due_at")
        return cls(
            package_id=raw["package_id"],
            personal=str(raw["personal"]),
            agency=str(raw["agency"]),
            recipients=int(raw.get("recipients") or 0),
            due_at=datetime.fromisoformat(due) if due else None,
            problem=str(raw["problem"])[:500] if raw.get("problem") else None,
        )


def due_moment(due_date: Any) -> datetime | None:
    """The end of a DueDate (a Vietnamese calendar date) as an aware UTC datetime."""
    return edoc.due_end(due_date) if due_date is not None else None


def assess(package_id: str, body: bytes, trust: keys.TrustStore, *, at: datetime) -> Result:
    """Assess one stored document package at the time the hub accepted it."""
    try:
        parsed = edoc.parse(body)
    except edoc.EdocError as exc:
        return Result(package_id, "invalid", "invalid", 0, None, f"{exc.code}: {exc.message}")
    if not isinstance(parsed, edoc.DocumentPackage):
        return Result(package_id, "absent", "absent", 0, None, "not a document package")
    header = parsed.header
    recipients = len({o.organ_id for o in header.to if o.organ_id})
    try:
        assessment = keys.assess_package(parsed, trust, at=at)
    except (keys.KeysError, edoc.EdocError) as exc:
        return Result(
            package_id, "invalid", "invalid", recipients, due_moment(header.due_date), str(exc)
        )
    problem = assessment.problems[0] if assessment.problems else None
    return Result(
        package_id,
        assessment.personal.value,
        assessment.agency.value,
        recipients,
        due_moment(header.due_date),
        problem,
    )


def lower_priority() -> str:
    """Run on idle CPU only: SCHED_IDLE where Linux allows it, else nice 19."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return "idle"
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, 19)
    return f"nice {os.getpriority(os.PRIO_PROCESS, 0)}"


class Assessor:
    """Reads unassessed documents of one hub in order, assesses them, prints the results."""

    def __init__(
        self,
        db: Database,
        trust: keys.TrustStore,
        *,
        out: Any,
        batch: int = _BATCH,
        parent_pid: int | None = None,
    ) -> None:
        self._db = db
        self._trust = trust
        self._out = out
        self._batch = batch
        self._parent = parent_pid
        self._cursor: tuple[datetime, str] | None = None
        self._sent: dict[str, float] = {}  # printed, maybe not written by the hub yet
        self._scanned = time.monotonic()
        self.assessed = 0

    def parent_alive(self) -> bool:
        """Whether the hub that started us still runs (we are re-parented when it dies)."""
        return self._parent is None or os.getppid() == self._parent

    async def next_batch(self) -> list[tuple[str, bytes, datetime]]:
        """The next documents to assess: sent by this hub's systems, not assessed yet."""
        now = time.monotonic()
        if now - self._scanned > _RESCAN_SECONDS:
            # A document stored with an earlier time than the cursor (a slower transaction)
            # would otherwise wait for the restart: go round from the oldest again.
            self._cursor = None
            self._scanned = now
            self._sent = {k: v for k, v in self._sent.items() if now - v < _FORGET_SENT_SECONDS}
        statement = (
            select(StoredPackage.id, StoredPackage.body, StoredPackage.received_at)
            .where(
                col(StoredPackage.kind) == PackageKind.DOCUMENT,
                col(StoredPackage.origin) == LOCAL_ORIGIN,
                ~exists().where(col(Assessment.package_id) == col(StoredPackage.id)),
            )
            .order_by(col(StoredPackage.received_at), col(StoredPackage.id))
            .limit(self._batch + len(self._sent))
        )
        if self._cursor is not None:
            at, package_id = self._cursor
            statement = statement.where(
                or_(
                    col(StoredPackage.received_at) > at,
                    and_(col(StoredPackage.received_at) == at, col(StoredPackage.id) > package_id),
                )
            )
        async with self._db.session(readonly=True) as session:
            rows = list(await session.exec(statement))
        if rows:
            last = rows[-1]
            self._cursor = (last[2], last[0])
        fresh = [(row[0], bytes(row[1]), utc(row[2])) for row in rows if row[0] not in self._sent]
        return fresh[: self._batch]

    def publish(self, result: Result) -> None:
        """Print one result for the hub (BrokenPipeError when the hub is gone)."""
        self._out.write(result.to_line() + "\n")
        self._out.flush()
        self._sent[result.package_id] = time.monotonic()
        self.assessed += 1

    async def run(self, *, once: bool = False) -> None:
        """Assess until the parent goes away (or, with ``once``, until nothing is left)."""
        while self.parent_alive():
            batch = await self.next_batch()
            for package_id, body, at in batch:
                self.publish(assess(package_id, body, self._trust, at=at))
            if not batch:
                if once:
                    return
                await asyncio.sleep(_IDLE_SLEEP)


async def _hold_advisory_lock(db: Database) -> Any:
    """On PostgreSQL: a connection holding this schema's assessor lock (waits for it)."""
    if db.dialect != "postgresql":
        return None
    # Keyed by schema: hubs sharing one database in schemas of their own each get one.
    params = {"k": _ADVISORY_KEY, "s": db.schema or "public"}
    while True:
        connection = await db.engine.connect()
        got = (
            await connection.execute(text("SELECT pg_try_advisory_lock(:k, hashtext(:s))"), params)
        ).scalar()
        if got:
            return connection
        await connection.close()
        await asyncio.sleep(_LOCK_RETRY_SECONDS)


async def amain(args: argparse.Namespace) -> int:
    """Connect, take the lock on PostgreSQL, and assess until the hub goes away."""
    url = os.environ.get(DATABASE_URL_ENV)
    if not url:
        log.error("%s is not set", DATABASE_URL_ENV)
        return 2
    db = Database.connect(url, schema=args.schema, pool_size=2)
    lock = None
    try:
        trust = keys.KeyStore(Path(args.keys)).trust_store()
        lock = await _hold_advisory_lock(db)
        assessor = Assessor(db, trust, out=sys.stdout, batch=args.batch, parent_pid=args.parent_pid)
        await assessor.run(once=args.once)
    except BrokenPipeError:
        pass  # the hub closed our pipe: it is stopping
    finally:
        if lock is not None:
            await lock.close()
        await db.dispose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m lgsp.stats.assessor``."""
    priority = lower_priority()
    parser = argparse.ArgumentParser(prog="python -m lgsp.stats.assessor")
    parser.add_argument("--hub-id", required=True)
    parser.add_argument("--keys", required=True, help="the key store directory (DIR/keys)")
    parser.add_argument("--schema", default=None, help="PostgreSQL schema of the hub")
    parser.add_argument("--batch", type=int, default=_BATCH)
    parser.add_argument("--parent-pid", type=int, default=None)
    parser.add_argument("--once", action="store_true", help="stop when nothing is left")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s %(levelname)s assessor[{args.hub_id}]: %(message)s"
    )
    log.info("assessing documents of %s at %s priority", args.hub_id, priority)
    try:
        return asyncio.run(amain(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
