"""The running hub: every long-lived object a request may need, built once at start."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from keys import Identity, TrustStore
from lgsp.auth import HubVerifier, SystemRegistry, TokenService
from lgsp.delivery import HubClient
from lgsp.events import EventBus
from lgsp.intake import IntakeContext
from lgsp.outbox import OutboxWorker
from lgsp.routing import Directory
from lgsp.settings import HubSettings
from lgsp.store import Database
from simtime import Clock


@dataclass(frozen=True, slots=True)
class Hub:
    """One hub process's services (``app.state.hub``)."""

    settings: HubSettings
    clock: Clock
    db: Database
    writes: async_sessionmaker[AsyncSession]  # write sessions (gated on SQLite)
    directory: Directory
    identity: Identity
    trust: TrustStore
    systems: SystemRegistry
    tokens: TokenService
    verifier: HubVerifier
    events: EventBus
    client: HubClient
    worker: OutboxWorker
    intake: IntakeContext
    agencies_json: bytes  # GET /api/v1/agencies, serialised once

    @property
    def hub_id(self) -> str:
        """This hub's id."""
        return self.settings.hub_id

    @property
    def role(self) -> str:
        """``lgsp`` or ``ndxp``."""
        return self.settings.role.value
