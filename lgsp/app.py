"""The hub application: ``create_app(settings)`` and the lifespan that starts and stops it.

At start, in order: the topology (``DIR/sim.json``) and the directory, the key store and
this hub's identity (issued on first start, then cached), the database and its schema,
the DMS systems of ``DIR/systems.json``, the token service, the HTTP client and the outbox
worker. Nothing per agency is generated: a hub with 1,700 agencies starts as fast as one
with ten. At stop: the worker finishes its deliveries in flight, then everything closes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import types
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from keys import KeysError, KeyStore
from lgsp.api import Hub, api_router, install_error_handlers, log_refusal
from lgsp.auth import (
    HubSigner,
    HubVerifier,
    SystemRegistry,
    TokenService,
    derive_key,
    read_systems_file,
    secret_cipher,
    sync_systems,
)
from lgsp.delivery import Forwarder, HubClient
from lgsp.events import EventBus
from lgsp.intake import GroupCommit, IntakeContext
from lgsp.outbox import OutboxWorker, RetryPolicy
from lgsp.routing import Directory
from lgsp.sdk import install_sdk
from lgsp.settings import HubRole, HubSettings
from lgsp.simclock import CrlKeeper, for_clock, hub_clock, outbox_lease
from lgsp.stats.runtime import StatsRuntime
from lgsp.store import Database
from sim.topology import TopologyError, load_topology
from simtime import Clock, ClockSpecError

log = logging.getLogger("lgsp")


class GatedSession(AsyncSession):
    """A write session holding the hub's write gate from ``async with`` entry to exit.

    SQLite has one write lock per file, and ``BEGIN IMMEDIATE`` takes it: a dozen
    connections of one process waiting for it in their threads poll it with growing sleeps
    (the busy handler), so under load most of them sleep while the lock is free, and some
    give up with "database is locked". Queuing writers on an asyncio lock first leaves one
    connection at a time asking SQLite, which then never waits.
    """

    def __init__(self, *args: Any, gate: asyncio.Lock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gate = gate
        self._holding = False

    async def __aenter__(self) -> GatedSession:
        await self._gate.acquire()
        self._holding = True
        return self

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        try:
            await super().__aexit__(type_, value, traceback)
        finally:
            if self._holding:
                self._holding = False
                self._gate.release()


def run_sqlite_inline(db: Database) -> None:
    """Run this hub's SQLite calls on the event loop instead of one thread per connection.

    aiosqlite hands every call (BEGIN, each INSERT, COMMIT, cursor steps: ~15 per accepted
    package) to its connection's thread and back. Each round trip costs a thread wake-up
    and a GIL hand-over, which measured here as the largest cost of accepting a package and
    halved the acceptance rate. SQLite calls on a local WAL file take microseconds, and
    with writes gated (one writer at a time in this process) they never wait for the lock,
    so running them inline is cheaper than any hand-off. The worker thread stays idle
    until the connection closes. Falls back to threads if aiosqlite's internals differ.
    """
    if db.dialect != "sqlite":
        return

    @event.listens_for(db.engine.sync_engine, "connect")
    def _inline(dbapi_connection: Any, _record: Any) -> None:
        connection = getattr(dbapi_connection, "_connection", None)
        if connection is None or not hasattr(connection, "_execute"):
            log.warning("aiosqlite internals changed: SQLite calls stay on their threads")
            return
        connection._execute = types.MethodType(_execute_inline, connection)


async def _execute_inline(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
    # aiosqlite.Connection._execute, minus the queue to the worker thread.
    if not self._running or not self._connection:
        raise ValueError("Connection closed")
    return fn(*args, **kwargs)


def write_sessions(db: Database) -> async_sessionmaker[AsyncSession]:
    """Write sessions for ``db``: gated on SQLite (see `GatedSession`), plain on PostgreSQL."""
    if db.dialect != "sqlite":
        return db.session_factory
    return async_sessionmaker(
        db.engine, class_=GatedSession, expire_on_commit=False, gate=asyncio.Lock()
    )


class HubStartupError(Exception):
    """The hub cannot start: a missing or invalid data directory, topology, CA, ..."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def create_app(
    settings: HubSettings,
    *,
    clock: Clock | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The hub's FastAPI app; ``clock`` and ``transport`` (outgoing hops) are for tests."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = await start_hub(settings, clock=clock or hub_clock(settings), transport=transport)
        app.state.hub = hub
        # Statistics (signature assessment in a low-priority process) and the upkeep of a
        # fast simulated clock run beside the hub, never on its request path.
        app.state.stats = stats = StatsRuntime(hub.settings, hub.writes)
        keeper = CrlKeeper(KeyStore(hub.settings.keys_dir), hub.clock)
        stats.start()
        keeper.start()
        try:
            yield
        finally:
            try:
                await keeper.stop()
                await stats.stop()
            finally:
                await stop_hub(hub)

    role = "national axis (NDXP)" if settings.role is HubRole.NDXP else "provincial axis (LGSP)"
    app = FastAPI(
        title=f"{settings.hub_id}: {role}",
        description="The native REST API of a hub of lgsp-sim (see docs/exchange.md).",
        version="1",
        lifespan=lifespan,
    )
    install_error_handlers(app, on_refusal=log_refusal)
    app.include_router(api_router)
    install_sdk(app, prefix=settings.sdk_prefix)  # the VXP protocol (lgsp/sdk)
    return app


def check_startup(settings: HubSettings) -> None:
    """Check what a start needs from the data directory, before serving (HubStartupError)."""
    _directory(settings)
    _keystore(settings)
    try:
        hub_clock(settings)
    except ClockSpecError as exc:
        raise HubStartupError("sim_json_invalid", f"sim.json: {exc}") from None


def _keystore(settings: HubSettings) -> KeyStore:
    keystore = KeyStore(settings.keys_dir)
    if not keystore.initialised:
        raise HubStartupError(
            "keys_missing",
            f"no CA in {settings.keys_dir}: run `lgsp-sim keys init --dir {settings.keys_dir}`",
        )
    return keystore


async def start_hub(
    settings: HubSettings, *, clock: Clock, transport: httpx.AsyncBaseTransport | None = None
) -> Hub:
    """Build and start every service of the hub (see the module docstring for the order)."""
    settings = for_clock(settings, clock)  # durations scaled to a fast simulated clock
    now = clock.now()
    hub_id = settings.hub_id
    directory = _directory(settings)
    keystore = _keystore(settings)
    try:
        identity = keystore.hub(hub_id, at=now)
        trust = keystore.trust_store(at=now)
    except KeysError as exc:
        raise HubStartupError(exc.code, exc.message) from None
    secret = settings.resolved_token_secret()

    db = Database.connect(settings.resolved_database_url(), schema=settings.database_schema)
    run_sqlite_inline(db)
    try:
        await db.create_schema()
        systems = await _load_systems(settings, db, directory, secret=secret, clock=clock)
    except BaseException:
        await db.dispose()
        raise

    writes = write_sessions(db)
    events = EventBus(hub_id=hub_id, clock=clock)
    client = HubClient(
        signer=HubSigner(hub_id=hub_id, identity=identity),
        directory=directory,
        clock=clock,
        timeout=settings.forward_timeout,
        max_connections=max(8, settings.outbox_concurrency * 2),
        transport=transport,
    )
    worker = OutboxWorker(
        writes,
        owner=f"{hub_id}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}",
        hub_id=hub_id,
        deliver=Forwarder(client=client, events=events),
        clock=clock,
        policy=RetryPolicy(
            base=settings.outbox_retry_base,
            cap=settings.outbox_retry_cap,
            max_attempts=settings.outbox_max_attempts,
        ),
        poll_interval=settings.poll_interval,
        concurrency=settings.outbox_concurrency,
        lease=outbox_lease(clock),
    )
    intake = IntakeContext(
        hub_id=hub_id,
        commits=GroupCommit(writes),
        directory=directory,
        trust=trust,
        clock=clock,
        events=events,
        max_body_bytes=settings.max_body_bytes,
        strict=settings.strict,
        wake_outbox=worker.notify,
    )
    hub = Hub(
        settings=settings,
        clock=clock,
        db=db,
        writes=writes,
        directory=directory,
        identity=identity,
        trust=trust,
        systems=systems,
        tokens=TokenService(
            key=derive_key(secret, purpose="tokens", hub_id=hub_id),
            hub_id=hub_id,
            ttl=settings.token_ttl,
            clock=clock,
        ),
        verifier=HubVerifier(
            trust=trust,
            clock=clock,
            known_hubs=directory.hub_ids,
            max_skew=settings.hub_clock_skew,
        ),
        events=events,
        client=client,
        worker=worker,
        intake=intake,
        agencies_json=_agencies_json(directory),
    )
    worker.start()
    log.info(
        "%s (%s) started: %d agencies, %d DMS systems, database %s",
        hub_id,
        settings.role.value,
        len(directory.agencies()),
        len(systems),
        db.url,
    )
    return hub


async def stop_hub(hub: Hub) -> None:
    """Stop the worker (letting deliveries in flight settle), end event streams, close."""
    try:
        await hub.worker.stop()
    finally:
        hub.events.close()
        await hub.client.aclose()
        await hub.db.dispose()


def _directory(settings: HubSettings) -> Directory:
    topology_name = settings.topology or _topology_of(settings)
    try:
        topology = load_topology(topology_name)
    except TopologyError as exc:
        raise HubStartupError(exc.code, exc.message) from None
    national = topology.ndxp.hub_id
    if (settings.role is HubRole.NDXP) != (settings.hub_id == national):
        raise HubStartupError(
            "wrong_role",
            f"hub {settings.hub_id!r} cannot run with role {settings.role.value}: the national "
            f"axis is {national!r} (python -m ndxp_mock serve), every other hub is an LGSP",
        )
    try:
        return Directory(
            topology=topology,
            hub_id=settings.hub_id,
            is_national=settings.role is HubRole.NDXP,
            services_path=settings.data_dir / "services.json",
        )
    except ValueError as exc:
        raise HubStartupError("hub_not_in_topology", str(exc)) from None


def _topology_of(settings: HubSettings) -> str:
    path = settings.data_dir / "sim.json"
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HubStartupError(
            "sim_json_missing",
            f"{path} does not exist: start the simulation with `lgsp-sim up`, or set LGSP_TOPOLOGY",
        ) from None
    except ValueError as exc:
        raise HubStartupError("sim_json_invalid", f"{path} is not valid JSON: {exc}") from None
    topology = raw.get("topology") if isinstance(raw, dict) else None
    if not isinstance(topology, str) or not topology:
        raise HubStartupError("sim_json_invalid", f"{path} names no topology")
    return topology


async def _load_systems(
    settings: HubSettings, db: Database, directory: Directory, *, secret: bytes, clock: Clock
) -> SystemRegistry:
    hub_id = settings.hub_id
    cipher = secret_cipher(secret, hub_id=hub_id)
    path = settings.data_dir / "systems.json"
    try:
        entries = read_systems_file(path, hub_id=hub_id, cipher=cipher)
    except ValueError as exc:
        raise HubStartupError("systems_json_invalid", str(exc)) from None
    if entries is None:
        log.warning("%s not found: serving the DMS systems already stored, if any", path)
    else:
        for attempt in (1, 2):
            try:
                async with db.session() as session:
                    await sync_systems(
                        session, entries, hub_id=hub_id, cipher=cipher, now=clock.now()
                    )
                    await session.commit()
                break
            except IntegrityError:
                # A replica starting at the same moment inserted the same system first.
                if attempt == 2:
                    raise
            except ValueError as exc:
                raise HubStartupError("systems_json_invalid", str(exc)) from None
    registry = SystemRegistry(
        hub_id=hub_id, key=derive_key(secret, purpose="system-secrets", hub_id=hub_id)
    )
    async with db.session(readonly=True) as session:
        await registry.load(
            session,
            cipher=cipher,
            local_agencies=[agency.organ_id for agency in directory.agencies()],
        )
    return registry


def _agencies_json(directory: Directory) -> bytes:
    return json.dumps(
        [
            {
                "organ_id": agency.organ_id,
                "name": agency.name,
                "tier": agency.tier.value,
                "block": agency.block.value,
                "parent": agency.parent,
            }
            for agency in directory.agencies()
        ],
        ensure_ascii=False,
    ).encode()
