"""The data directory every process of a running topology shares, and its JSON files.

Layout (docs/exchange.md)::

    DIR/sim.json        {"topology": <preset name or absolute path>, "created": <iso time>,
                         "clock"?: {"start": <iso>, "rate": R, "origin": <wall iso>}}
    DIR/keys/           the keys.KeyStore: CA, CRLs, identities (issued lazily by everyone)
    DIR/services.json   {"<service name>": "http://127.0.0.1:<port>", ...}
    DIR/systems.json    DMS credentials, mode 0600: one entry per fleet
    DIR/hubs/           each hub's SQLite database (unless DATABASE_URL is set)
    DIR/logs/           each process's output, <service>.log

`DataDir.prepare` makes everything a topology needs before its processes start; it is
idempotent: a second run reuses the CA, the identities and the secrets it finds.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from keys import KeyStore
from sim.errors import SimError
from sim.topology import DEFAULT_PRESET, Topology, load_topology, preset_names
from simtime import Clock, SharedClock, clock_from_sim_json

DEFAULT_DATA_DIR = Path(".lgsp-data")

SIM_FILE = "sim.json"
SERVICES_FILE = "services.json"
SYSTEMS_FILE = "systems.json"
KEYS_DIR = "keys"
LOGS_DIR = "logs"
HUBS_DIR = "hubs"
LOCK_FILE = ".running.lock"

NDXP_HUB_ID = "ndxp"


class DataDirError(SimError):
    """A data directory that cannot be used as asked: a stable code and a clear message."""


@dataclass(frozen=True)
class SimInfo:
    """What ``sim.json`` records: which topology this directory runs, and since when."""

    topology: str
    created: str


@dataclass(frozen=True)
class SystemEntry:
    """One DMS system's credentials: a fleet, or an outside DMS (``lgsp-sim systems add``).

    A fleet's ``secret`` is kept plain (the fleet reads it); an outside system added at run
    time has ``secret_encrypted`` instead: a Fernet token under its hub's key.
    """

    system_id: str
    secret: str = field(repr=False)
    hub_id: str
    agencies: tuple[str, ...]
    secret_encrypted: str | None = field(default=None, repr=False)
    created: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The entry as written in ``systems.json``."""
        entry: dict[str, Any] = {"system_id": self.system_id}
        if self.secret_encrypted:
            entry["secret_encrypted"] = self.secret_encrypted
        else:
            entry["secret"] = self.secret
        entry.update(hub_id=self.hub_id, agencies=list(self.agencies))
        if self.created:
            entry["created"] = self.created
        return entry


def fleet_id_for(hub_id: str) -> str:
    """The id of the fleet hosting a hub's agencies: ``lgsp-h56`` → ``fleet-h56``."""
    suffix = hub_id.removeprefix("lgsp-")
    return f"fleet-{suffix}"


def hub_schema_for(hub_id: str, *, prefix: str = "hub_") -> str:
    """A PostgreSQL schema name for a hub: ``lgsp-h56`` → ``hub_lgsp_h56``."""
    return (prefix + hub_id).lower().replace("-", "_").replace(".", "_")


def topology_reference(name_or_path: str) -> str:
    """What ``sim.json`` stores for a topology: a preset's name or a file's absolute path."""
    if name_or_path in preset_names():
        return name_or_path
    return str(Path(name_or_path).expanduser().resolve())


class DataDir:
    """A data directory: paths, and reading and writing its JSON files atomically."""

    def __init__(self, root: Path | str = DEFAULT_DATA_DIR) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"DataDir({str(self.root)!r})"

    # --- paths ----------------------------------------------------------------------------

    @property
    def sim_file(self) -> Path:
        """``sim.json``."""
        return self.root / SIM_FILE

    @property
    def services_file(self) -> Path:
        """``services.json``."""
        return self.root / SERVICES_FILE

    @property
    def systems_file(self) -> Path:
        """``systems.json``."""
        return self.root / SYSTEMS_FILE

    @property
    def keys_dir(self) -> Path:
        """The key store's directory."""
        return self.root / KEYS_DIR

    @property
    def logs_dir(self) -> Path:
        """Where each process's output goes."""
        return self.root / LOGS_DIR

    @property
    def hubs_dir(self) -> Path:
        """Where hubs keep their SQLite databases."""
        return self.root / HUBS_DIR

    @property
    def lock_file(self) -> Path:
        """Held (flock) by the supervisor while a topology runs from this directory."""
        return self.root / LOCK_FILE

    def log_path(self, service: str) -> Path:
        """The log file of one service."""
        return self.logs_dir / f"{service}.log"

    @property
    def initialised(self) -> bool:
        """Whether ``prepare`` (``lgsp-sim up`` or ``init``) has run here."""
        return self.sim_file.is_file()

    # --- sim.json -------------------------------------------------------------------------

    def read_sim(self) -> SimInfo:
        """Read ``sim.json``; ``not_initialised`` if there is none."""
        if not self.sim_file.is_file():
            raise DataDirError(
                "not_initialised",
                f"{self.root} holds no {SIM_FILE}: run `lgsp-sim up --data {self.root}` first",
            )
        raw = self._read_json(self.sim_file)
        if not isinstance(raw, dict) or not isinstance(raw.get("topology"), str):
            raise DataDirError("bad_data_file", f'{self.sim_file}: no "topology" string')
        return SimInfo(topology=raw["topology"], created=str(raw.get("created", "")))

    def load_topology(self) -> Topology:
        """The topology this directory runs (from ``sim.json``)."""
        return load_topology(self.read_sim().topology)

    def clock(self) -> Clock:
        """The topology's clock: ``sim.json``'s shared simulated clock, else wall time."""
        return clock_from_sim_json(self.sim_file)

    def write_clock(self, clock: SharedClock | None) -> None:
        """Record ``"clock": {"start", "rate", "origin"}`` in ``sim.json`` (None removes it).

        Every process reads it at start: write it before `Supervisor.start`.
        """
        raw = self._read_json(self.sim_file) if self.sim_file.is_file() else {}
        if not isinstance(raw, dict):
            raise DataDirError("bad_data_file", f"{self.sim_file}: expected a JSON object")
        if clock is None:
            raw.pop("clock", None)
        else:
            raw["clock"] = clock.as_json()
        self._write_json(self.sim_file, raw, mode=0o644)

    # --- systems.json ---------------------------------------------------------------------

    def read_systems(self) -> list[SystemEntry]:
        """Every DMS system's credentials; empty when the file does not exist yet."""
        if not self.systems_file.is_file():
            return []
        raw = self._read_json(self.systems_file)
        if not isinstance(raw, list):
            raise DataDirError("bad_data_file", f"{self.systems_file}: expected a JSON array")
        entries = []
        for item in raw:
            try:
                encrypted = item.get("secret_encrypted")
                entries.append(
                    SystemEntry(
                        system_id=str(item["system_id"]),
                        secret="" if encrypted else str(item["secret"]),
                        hub_id=str(item["hub_id"]),
                        agencies=tuple(str(a) for a in item["agencies"]),
                        secret_encrypted=str(encrypted) if encrypted else None,
                        created=str(item["created"]) if item.get("created") else None,
                    )
                )
            except (KeyError, TypeError, AttributeError) as exc:
                raise DataDirError(
                    "bad_data_file", f"{self.systems_file}: an entry lacks {exc}"
                ) from None
        return entries

    def system(self, system_id: str) -> SystemEntry:
        """One system's credentials; ``unknown_system`` if it is not in ``systems.json``."""
        for entry in self.read_systems():
            if entry.system_id == system_id:
                return entry
        raise DataDirError("unknown_system", f"no system {system_id!r} in {self.systems_file}")

    def write_systems(self, entries: Iterable[SystemEntry]) -> None:
        """Write ``systems.json`` (mode 0600: it holds secrets)."""
        self._write_json(self.systems_file, [e.as_json() for e in entries], mode=0o600)

    # --- services.json --------------------------------------------------------------------

    def read_services(self) -> dict[str, str]:
        """Service name → base URL; ``not_running`` when ``services.json`` does not exist."""
        if not self.services_file.is_file():
            raise DataDirError(
                "not_running",
                f"no {SERVICES_FILE} in {self.root}: run `lgsp-sim up --data {self.root}` first",
            )
        raw = self._read_json(self.services_file)
        if not isinstance(raw, dict):
            raise DataDirError("bad_data_file", f"{self.services_file}: expected a JSON object")
        return {str(k): str(v) for k, v in raw.items()}

    def write_services(self, urls: Mapping[str, str]) -> None:
        """Write ``services.json`` atomically: readers never see half a file."""
        self._write_json(self.services_file, dict(urls), mode=0o644)

    # --- preparation ----------------------------------------------------------------------

    def prepare(self, topology: str | None, *, at: datetime) -> Topology:
        """Make what the processes need: ``sim.json``, the CA, hub identities, ``systems.json``.

        ``topology`` None means the one already recorded here, else the default preset. A
        directory prepared for another topology is refused (``topology_mismatch``): its keys,
        systems and databases belong to that one.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        for sub in (self.logs_dir, self.hubs_dir):
            sub.mkdir(exist_ok=True)
        if self.initialised:
            recorded = self.read_sim().topology
            if topology is not None and topology_reference(topology) != recorded:
                raise DataDirError(
                    "topology_mismatch",
                    f"{self.root} was prepared for topology {recorded!r}, not "
                    f"{topology_reference(topology)!r}: use another --data directory",
                )
            reference = recorded
        else:
            reference = topology_reference(topology or DEFAULT_PRESET)
        loaded = load_topology(reference)
        if not self.initialised:
            self._write_json(
                self.sim_file, {"topology": reference, "created": at.isoformat()}, mode=0o644
            )
        store = KeyStore(self.keys_dir)
        if not store.initialised:
            store.init(at=at)
        # Hub identities now, so hubs start without a key generation on their request path.
        for hub in loaded.hubs():
            store.hub(hub.hub_id, at=at)
        self.write_systems(merge_systems(self.read_systems(), loaded, at=at))
        return loaded

    # --- helpers --------------------------------------------------------------------------

    def _read_json(self, path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataDirError("bad_data_file", f"{path}: invalid JSON ({exc.msg})") from None

    def _write_json(self, path: Path, value: object, *, mode: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(value, handle, ensure_ascii=False, indent=2)
                handle.write("\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def merge_systems(
    existing: Iterable[SystemEntry], topology: Topology, *, at: datetime | None = None
) -> list[SystemEntry]:
    """One system per hub with agencies, then the topology's and the added outside systems.

    Fleet secrets already issued are kept, new ones drawn. Systems declared by the topology
    take their declared secret; systems added with ``lgsp-sim systems add`` are kept as they
    are. An agency an outside system speaks for is no longer its fleet's: one agency, one DMS.
    """
    previous = {entry.system_id: entry for entry in existing}
    created = at.isoformat() if at is not None else None
    fleet_ids = {fleet_id_for(hub.hub_id) for hub in topology.hubs()}
    outside: list[SystemEntry] = [
        SystemEntry(
            system_id=spec.system_id,
            secret=spec.secret,
            hub_id=spec.hub_id,
            agencies=spec.agencies,
            created=_created_of(previous.get(spec.system_id), created),
        )
        for spec in topology.systems
    ]
    declared = {entry.system_id for entry in outside}
    outside += [
        entry
        for entry in previous.values()
        if entry.system_id not in fleet_ids and entry.system_id not in declared
    ]
    taken = {organ_id for entry in outside for organ_id in entry.agencies}
    entries = []
    for hub in topology.hubs():
        agencies = topology.agencies_of(hub.hub_id)
        if not agencies:
            continue  # a hub nobody is attached to needs no DMS
        system_id = fleet_id_for(hub.hub_id)
        before = previous.get(system_id)
        entries.append(
            SystemEntry(
                system_id=system_id,
                secret=(before.secret if before else "") or secrets.token_urlsafe(32),
                hub_id=hub.hub_id,
                agencies=tuple(a.organ_id for a in agencies if a.organ_id not in taken),
            )
        )
    return entries + outside


def _created_of(entry: SystemEntry | None, default: str | None) -> str | None:
    return entry.created if entry is not None and entry.created else default
