"""Running a topology: the data directory, the supervised processes, the one HTTP client.

- `DataDir`: the shared directory (``sim.json``, ``keys/``, ``services.json``,
  ``systems.json``, ``hubs/``, ``logs/``) and its preparation.
- `Supervisor`: starts every service of a topology as its own process and stops them cleanly.
- `Exchange`: async access to the hubs' REST API and the fleets' control API.
"""

from __future__ import annotations

from .client import (
    Exchange,
    Hop,
    SendRequest,
    SendResult,
    SentDocument,
    ServiceError,
    StatusRecord,
    Trace,
    async_client,
    sync_client,
)
from .datadir import (
    DEFAULT_DATA_DIR,
    DataDir,
    DataDirError,
    SimInfo,
    SystemEntry,
    fleet_id_for,
    hub_schema_for,
)
from .supervisor import (
    Role,
    Service,
    ServiceSpec,
    Supervisor,
    SupervisorError,
    check_database_url,
    is_running,
    plan_services,
    shielded,
)

__all__ = [
    "DEFAULT_DATA_DIR",
    "DataDir",
    "DataDirError",
    "Exchange",
    "Hop",
    "Role",
    "SendRequest",
    "SendResult",
    "SentDocument",
    "Service",
    "ServiceError",
    "ServiceSpec",
    "SimInfo",
    "StatusRecord",
    "Supervisor",
    "SupervisorError",
    "SystemEntry",
    "Trace",
    "async_client",
    "check_database_url",
    "fleet_id_for",
    "hub_schema_for",
    "is_running",
    "plan_services",
    "shielded",
    "sync_client",
]
