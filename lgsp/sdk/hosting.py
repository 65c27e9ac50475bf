"""Who speaks for which agency at this hub, kept current while the hub runs.

Two sources: ``DIR/systems.json`` (fleets, systems declared by the topology, systems added
with ``lgsp-sim systems add``) and the agencies DMS systems registered through the SDK
(``registerAgency``, table ``sdk_agency``). From them :class:`Hosting` keeps three things
current: the system registry (what each system may speak for, both APIs), the directory's
hosted agencies outside the topology (so they are routable), and each system's secret (the
SDK's HMAC needs it in clear; it is stored Fernet-encrypted).

Runtime changes reach a running hub without a restart: a watcher looks at ``systems.json``
(its size, mtime and inode) and at the registrations' version once a second, and a request
naming an unknown ``systemid`` looks at once. Replicas sharing a database see each other's
registrations the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from lgsp.api.state import Hub
from lgsp.auth import DmsSystem, read_systems_file, secret_cipher, sync_systems

from .errors import ErrorCode, SdkError
from .models import RegisteredAgency

log = logging.getLogger(__name__)

WATCH_INTERVAL: Final = 1.0  # seconds between looks at systems.json and the registrations


class Hosting:
    """The systems and agencies of one hub, reloaded when ``systems.json`` or registrations change."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._cipher: Fernet = secret_cipher(
            hub.settings.resolved_token_secret(), hub_id=hub.hub_id
        )
        self._path = hub.settings.data_dir / "systems.json"
        self._stamp: tuple[int, int, int] | None = None
        self._version: tuple[int, Any] | None = None
        self._lock = asyncio.Lock()
        self._secrets: dict[str, str] = {}
        self._hosts: dict[str, str] = {}  # OrganId → the system speaking for it
        self._listed: dict[str, frozenset[str]] = {}  # system → agencies from systems.json
        self.registered: dict[str, RegisteredAgency] = {}  # code → row (deleted ones too)
        self.generation = 0  # bumped on every reload: directory caches key on it
        self._task: asyncio.Task[None] | None = None

    # -- lookups --------------------------------------------------------------------------

    def secret_of(self, system_id: str) -> str | None:
        """The clear secret of a system of this hub, None if it has none."""
        return self._secrets.get(system_id)

    def host_of(self, organ_id: str) -> str | None:
        """The system speaking for an agency at this hub, if any."""
        return self._hosts.get(organ_id)

    def listed(self, system_id: str, organ_id: str) -> bool:
        """Whether ``systems.json`` (not a registration) gives the agency to the system."""
        return organ_id in self._listed.get(system_id, frozenset())

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Load everything once, then watch for changes in the background."""
        await self.refresh(force=True)
        self._task = asyncio.create_task(self._watch(), name=f"sdk-hosting-{self.hub.hub_id}")

    async def stop(self) -> None:
        """Stop watching."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            try:
                await self.refresh()
            except Exception:  # a bad edit of systems.json must not stop the watcher
                log.exception("%s: reloading the DMS systems failed", self.hub.hub_id)

    async def refresh(self, *, force: bool = False) -> bool:
        """Reload if ``systems.json`` or the registrations changed; True when it reloaded."""
        async with self._lock:
            stamp = self._file_stamp()
            version = await self._registrations_version()
            file_changed = stamp != self._stamp
            if not (force or file_changed or version != self._version):
                return False
            if file_changed and stamp is not None:
                await self._sync_file()
            self._stamp = stamp
            self._version = version
            await self._load()
            return True

    # -- registrations --------------------------------------------------------------------

    async def register(
        self, *, system_id: str, code: str, fields: dict[str, str], now: datetime
    ) -> RegisteredAgency:
        """Register (or update) an agency for ``system_id``; it is hosted and routable at once."""
        async with self._lock:
            host = self._hosts.get(code)
            if host is not None and host != system_id:
                raise SdkError(
                    ErrorCode.AGENCY_TAKEN,
                    "agency_taken",
                    f"agency {code} is already hosted by another system at {self.hub.hub_id}",
                )
            async with self.hub.writes() as session:
                row = await session.get(RegisteredAgency, (self.hub.hub_id, code))
                if row is None:
                    row = RegisteredAgency(
                        hub_id=self.hub.hub_id,
                        code=code,
                        system_id=system_id,
                        registered_at=now,
                        updated_at=now,
                    )
                    session.add(row)
                else:
                    row.version += 1
                    row.deleted = False
                    row.system_id = system_id
                    row.updated_at = now
                for name, value in fields.items():
                    setattr(row, name, value)
                await session.commit()
            self._version = await self._registrations_version()
            await self._load()
            return self.registered[code]

    async def unregister(self, *, system_id: str, code: str, now: datetime) -> None:
        """Delete a registration of ``system_id``: the agency is no longer hosted here."""
        async with self._lock:
            row = self.registered.get(code)
            if row is None or row.deleted or row.system_id != system_id:
                if self.listed(system_id, code):
                    raise SdkError(
                        ErrorCode.AGENCY_NOT_REGISTERED,
                        "agency_not_registered",
                        f"agency {code} is given to {system_id} by systems.json (the operator's "
                        "`lgsp-sim systems`), not by registerAgency; it cannot be deleted here",
                    )
                raise SdkError(
                    ErrorCode.UNKNOWN_AGENCY,
                    "unknown_agency",
                    f"system {system_id} registered no agency {code} at {self.hub.hub_id}",
                )
            async with self.hub.writes() as session:
                stored = await session.get(RegisteredAgency, (self.hub.hub_id, code))
                if stored is not None:
                    stored.deleted = True
                    stored.version += 1
                    stored.updated_at = now
                    await session.commit()
            self._version = await self._registrations_version()
            await self._load()

    # -- loading --------------------------------------------------------------------------

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            stat = os.stat(self._path)
        except FileNotFoundError:
            return None
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    async def _registrations_version(self) -> tuple[int, Any]:
        async with self.hub.db.session(readonly=True) as session:
            row = (
                await session.exec(
                    select(func.count(), func.max(RegisteredAgency.updated_at)).where(
                        RegisteredAgency.hub_id == self.hub.hub_id
                    )
                )
            ).one()
        return (int(row[0]), row[1])

    async def _sync_file(self) -> None:
        hub_id = self.hub.hub_id
        try:
            entries = read_systems_file(self._path, hub_id=hub_id, cipher=self._cipher)
        except ValueError as exc:
            log.error("%s: %s; keeping the systems loaded before", hub_id, exc)
            return
        if entries is None:
            return
        for attempt in (1, 2):
            try:
                async with self.hub.db.session() as session:
                    await sync_systems(
                        session,
                        entries,
                        hub_id=hub_id,
                        cipher=self._cipher,
                        now=self.hub.clock.now(),
                    )
                    await session.commit()
                log.info("%s: DMS systems reloaded from %s", hub_id, self._path)
                return
            except IntegrityError:
                # A replica reloading at the same moment inserted the same system first.
                if attempt == 2:
                    raise
            except ValueError as exc:
                log.error("%s: %s; keeping the systems loaded before", hub_id, exc)
                return

    async def _load(self) -> None:
        hub = self.hub
        directory = hub.directory
        topology = directory.topology
        async with hub.db.session(readonly=True) as session:
            systems = list(
                await session.exec(select(DmsSystem).where(DmsSystem.hub_id == hub.hub_id))
            )
            rows = list(
                await session.exec(
                    select(RegisteredAgency)
                    .where(RegisteredAgency.hub_id == hub.hub_id)
                    .order_by(col(RegisteredAgency.registered_at))
                )
            )
            active = [row for row in rows if not row.deleted]
            listed = {s.system_id: frozenset(s.agencies) for s in systems}
            # Agencies outside the topology are hostable here when their code routes here.
            candidates = set().union(*listed.values()) | {row.code for row in active}
            outside = {
                organ_id
                for organ_id in candidates
                if organ_id not in topology and topology.home_hub(organ_id) == hub.hub_id
            }
            local = {agency.organ_id for agency in directory.agencies()} | outside
            await hub.systems.load(session, cipher=self._cipher, local_agencies=local)
        # No await from here on: requests see the new state all at once.
        directory.set_hosted(outside)
        by_system: dict[str, list[str]] = {}
        for row in active:
            by_system.setdefault(row.system_id, []).append(row.code)
        for system_id, codes in by_system.items():
            hub.systems.grant(system_id, codes)
        hosts: dict[str, str] = {}
        for system_id, agencies in listed.items():
            for organ_id in agencies & local:
                hosts.setdefault(organ_id, system_id)
        for row in active:
            hosts.setdefault(row.code, row.system_id)
        self._hosts = hosts
        self._listed = listed
        self._secrets = self._decrypt(systems)
        self.registered = {row.code: row for row in rows}
        self.generation += 1

    def _decrypt(self, systems: Iterable[DmsSystem]) -> dict[str, str]:
        secrets: dict[str, str] = {}
        for system in systems:
            try:
                secrets[system.system_id] = self._cipher.decrypt(
                    system.secret_encrypted.encode()
                ).decode()
            except (InvalidToken, ValueError):
                continue  # the registry logs it; such a system cannot log in
        return secrets
