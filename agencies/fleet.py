"""A fleet at run time: its configuration from the data directory, its agencies' cards and
identities, the worker threads for signing, the hub client, the memory, and sending.

`read_config` reads ``systems.json`` (this fleet's entry), ``sim.json`` (the topology) and the
key store location; `Fleet` holds everything the control API and the clerk share. CPU-heavy
work (PAdES signing and verification, key generation on an identity's first use) runs in a
small thread pool (`Fleet.cpu`) so the event loop keeps answering while it happens.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import edoc
import keys
from sim.topology import Topology, TopologyError, load_topology
from simtime import Clock

from .drafting import AgencyCard, DocumentSpec, Draft, agency_card, draft_document
from .hubclient import HubClient, HubError, NativeHubClient, Receipt, SdkHubClient
from .profile import Profile
from .state import FleetState, OutgoingRegister, SentDocument

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")

_CRL_CHECK_SECONDS = 600.0


class FleetError(Exception):
    """Something a caller or the data directory got wrong: a stable ``code``, a ``message``,
    and the HTTP status the control API answers with."""

    def __init__(self, code: str, message: str, *, http_status: int = 400) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.http_status = http_status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# -- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FleetConfig:
    """What the data directory says about one fleet."""

    fleet_id: str
    hub_id: str
    secret: str
    agencies: tuple[str, ...]
    topology: Topology | None
    data_dir: Path

    @property
    def keys_dir(self) -> Path:
        """The key store directory (``DIR/keys``)."""
        return self.data_dir / "keys"

    @property
    def services_file(self) -> Path:
        """``DIR/services.json``: where the hub's address appears once it is started."""
        return self.data_dir / "services.json"

    @property
    def register_file(self) -> Path:
        """The fleet's outgoing register (``DIR/fleets/<fleet_id>/registry.json``)."""
        return self.data_dir / "fleets" / self.fleet_id / "registry.json"


def read_config(fleet_id: str, data_dir: Path) -> FleetConfig:
    """Read this fleet's entry of ``systems.json`` and the topology of ``sim.json``."""
    entry = _system_entry(fleet_id, data_dir / "systems.json")
    try:
        hub_id = str(entry["hub_id"])
        secret = str(entry["secret"])
        agencies = tuple(str(organ) for organ in entry.get("agencies") or ())
    except (KeyError, TypeError) as exc:
        raise FleetError(
            "bad_systems", f"the systems.json entry of {fleet_id} lacks {exc}", http_status=500
        ) from None
    return FleetConfig(
        fleet_id=fleet_id,
        hub_id=hub_id,
        secret=secret,
        agencies=agencies,
        topology=_topology(data_dir / "sim.json"),
        data_dir=data_dir,
    )


def _read_json(path: Path, *, missing: str, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FleetError(missing, f"{path} does not exist: {what}", http_status=500) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FleetError(
            f"bad_{path.stem}", f"cannot read {path}: {exc}", http_status=500
        ) from None


def _system_entry(fleet_id: str, path: Path) -> dict[str, Any]:
    entries = _read_json(
        path, missing="systems_missing", what="start the simulator with `lgsp-sim up`"
    )
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("system_id") == fleet_id:
            return entry
    raise FleetError(
        "unknown_fleet", f"{path} has no entry with system_id {fleet_id!r}", http_status=500
    )


def _topology(path: Path) -> Topology:
    sim = _read_json(path, missing="sim_missing", what="it names the topology")
    name = sim.get("topology") if isinstance(sim, dict) else None
    if not isinstance(name, str) or not name:
        raise FleetError("bad_sim", f"{path} names no topology", http_status=500)
    try:
        return load_topology(name)
    except TopologyError as exc:
        raise FleetError(exc.code, exc.message, http_status=500) from None


class ServiceDirectory:
    """``services.json``, re-read when it changes, so a hub started later is found."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._services: dict[str, str] = {}

    def url(self, name: str) -> str | None:
        """The base URL of a service (hub or fleet), or None while it is not listed."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                return self._services.get(name)  # caught mid-write: keep what we had
            self._services = (
                {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
            )
            self._stamp = stamp
        return self._services.get(name)


# -- the fleet -------------------------------------------------------------------------------


class Fleet:
    """Every agency of one hub, as their DMS: identities, signing threads, memory, sending."""

    def __init__(
        self,
        config: FleetConfig,
        *,
        hub: HubClient,
        clock: Clock,
        profile: Profile,
        workers: int = 2,
        history: int = 10_000,
        keystore: keys.KeyStore | None = None,
    ) -> None:
        self.config = config
        self.hub = hub
        self.clock = clock
        self.profile = profile
        self.state = FleetState(limit=history)
        self.keystore = keystore or keys.KeyStore(config.keys_dir)
        self.register = OutgoingRegister(config.register_file)
        self._hosted = frozenset(config.agencies)
        self._cards: dict[str, AgencyCard] = {}
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fleet-cpu")
        self._identities: dict[tuple[str, str], keys.Identity] = {}
        self._issuing: dict[tuple[str, str], asyncio.Future[keys.Identity]] = {}
        self._trust: keys.TrustStore | None = None
        self._crl_checked = 0.0

    @property
    def fleet_id(self) -> str:
        """The fleet's system id (``fleet-h56``)."""
        return self.config.fleet_id

    @property
    def hub_id(self) -> str:
        """The hub the fleet is attached to."""
        return self.config.hub_id

    @property
    def agencies(self) -> frozenset[str]:
        """The OrganIds this fleet hosts."""
        return self._hosted

    def hosts(self, organ_id: str) -> bool:
        """Whether the fleet hosts this agency."""
        return organ_id in self._hosted

    async def open(self) -> None:
        """Load the trust store (checks the key store exists); call before anything else."""
        await self.trust()

    async def close(self) -> None:
        """Close the hub client and the worker threads."""
        await self.hub.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- cards and identities ------------------------------------------------------------------

    def card(self, organ_id: str) -> AgencyCard:
        """The card of an agency (hosted or not): name, head, clerk, abbreviation."""
        card = self._cards.get(organ_id)
        if card is None:
            topology = self.config.topology
            agency = topology.get(organ_id) if topology is not None else None
            place = None
            if agency is not None and topology is not None:
                place = (
                    topology.province(agency.province).name
                    if agency.province is not None
                    else "Hà Nội"
                )
            card = agency_card(
                organ_id,
                name=agency.name if agency is not None else None,
                block=agency.block.value if agency is not None else None,
                place=place,
            )
            self._cards[organ_id] = card
        return card

    def organization(self, organ_id: str) -> edoc.Organization:
        """The ``To`` block for an agency: its name when the topology knows it."""
        return self.card(organ_id).organization

    async def agency_identity(self, organ_id: str) -> keys.Identity:
        """The agency certificate of ``organ_id``, issued on first use (in a worker thread)."""
        card = self.card(organ_id)
        return await self._identity(
            ("agency", organ_id),
            lambda: self.keystore.agency(organ_id, name=card.name, at=self.clock.now()),
        )

    async def person_identity(self, organ_id: str) -> keys.Identity:
        """The personal certificate of the agency's head, issued on first use."""
        head = self.card(organ_id).head
        return await self._identity(
            ("person", organ_id),
            lambda: self.keystore.person(
                head.full_name, organ_id=organ_id, position=head.position, at=self.clock.now()
            ),
        )

    async def _identity(
        self, key: tuple[str, str], load: Callable[[], keys.Identity]
    ) -> keys.Identity:
        # KeyStore re-reads its index on every lookup: keep identities here once loaded, and
        # let concurrent first uses share one issuance instead of generating two keys.
        identity = self._identities.get(key)
        if identity is not None:
            return identity
        pending = self._issuing.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self.cpu(load))
            self._issuing[key] = pending
            try:
                identity = await asyncio.shield(pending)
                self._identities[key] = identity
                return identity
            finally:
                self._issuing.pop(key, None)
        return await asyncio.shield(pending)

    async def trust(self) -> keys.TrustStore:
        """The trust store; CRLs about to expire are re-published now and then."""
        now = time.monotonic()
        if self._trust is None or now - self._crl_checked > _CRL_CHECK_SECONDS:
            self._crl_checked = now
            at = self.clock.now()
            if self._trust is None:
                self._trust = await self.cpu(self.keystore.trust_store, at=at)
            else:
                await self.cpu(self.keystore.refresh_crls, at=at)
        return self._trust

    async def cpu(self, function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run CPU-heavy work in the fleet's worker threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: function(*args, **kwargs))

    # -- sending -------------------------------------------------------------------------------

    async def send(
        self,
        *,
        sender: str,
        to: Sequence[str],
        subject: str,
        content: str | None = None,
        type_name: str | None = None,
        due_days: int | None = None,
        response_for: edoc.ResponseFor | None = None,
        personal_signature: bool = True,
        agency_signature: bool = True,
        envelope_signature: bool = True,
        tamper: bool = False,
    ) -> SendOutcome:
        """Draft, sign and submit a document; the hub's refusal is returned, not raised."""
        if not self.hosts(sender):
            raise FleetError(
                "unknown_agency",
                f"{sender} is not an agency of {self.fleet_id} (hub {self.hub_id})",
                http_status=404,
            )
        spec = DocumentSpec(
            sender=self.card(sender),
            recipients=[self.organization(organ_id) for organ_id in to],
            subject=subject,
            content=content,
            type_name=type_name or "Công văn",
            due_days=due_days,
            response_for=response_for,
            personal_signature=personal_signature,
            agency_signature=agency_signature,
            envelope_signature=envelope_signature,
            tamper=tamper,
        )
        person = await self.person_identity(sender) if personal_signature else None
        agency = (
            await self.agency_identity(sender) if agency_signature or envelope_signature else None
        )
        at = self.clock.now()
        try:
            draft = await self.cpu(self._draft, spec, at=at, person=person, agency=agency)
        except edoc.EdocError as exc:
            raise FleetError(exc.code, exc.message, http_status=400) from None
        except keys.KeysError as exc:
            raise FleetError(exc.code, exc.message, http_status=500) from None
        sent = SentDocument(
            document_id=draft.document_id,
            from_=sender,
            to=tuple(to),
            subject=subject,
            sent_at=at,
        )
        # Remembered before submitting: a fast recipient's status must find it.
        self.state.add_sent(sent)
        try:
            receipt = await self.hub.submit(draft.package)
        except HubError as exc:
            self.state.settle_sent(sent, error=exc.as_dict(), http_status=exc.http_status)
            return SendOutcome(
                document_id=draft.document_id, error=exc.as_dict(), http_status=exc.http_status
            )
        self.state.settle_sent(sent, receipt=receipt)
        return SendOutcome(
            document_id=draft.document_id,
            receipt=receipt,
            http_status=200 if receipt.duplicate else 201,
        )

    def _draft(
        self,
        spec: DocumentSpec,
        *,
        at: Any,
        person: keys.Identity | None,
        agency: keys.Identity | None,
    ) -> Draft:
        number = self.register.next_number(spec.sender.organ_id, edoc.vietnam_date(at).year)
        return draft_document(spec, number=number, at=at, person=person, agency=agency)


@dataclass(frozen=True, kw_only=True)
class SendOutcome:
    """What became of a send: the DocumentId, and the hub's receipt or its refusal."""

    document_id: str
    receipt: Receipt | None = None
    error: dict[str, str] | None = None
    http_status: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, as ``POST /fleet/send`` answers."""
        data: dict[str, Any] = {"document_id": self.document_id, "http_status": self.http_status}
        if self.receipt is not None:
            data["receipt"] = self.receipt.as_dict()
        if self.error is not None:
            data["error"] = self.error
        return data


def sdk_client(
    config: FleetConfig,
    *,
    hub_url: str | None = None,
    timeout: float = 30.0,
    now: Callable[[], datetime] | None = None,
) -> SdkHubClient:
    """The VXP (SDK protocol) client of a fleet: ``hub_url``, else services.json's hub."""
    directory = ServiceDirectory(config.services_file)
    return SdkHubClient(
        system_id=config.fleet_id,
        secret=config.secret,
        base_url=hub_url if hub_url else (lambda: directory.url(config.hub_id)),
        timeout=timeout,
        now=now,
    )


def native_client(
    config: FleetConfig,
    *,
    hub_url: str | None = None,
    timeout: float = 30.0,
    inbox_limit: int | None = None,
) -> NativeHubClient:
    """The native REST client of a fleet: ``hub_url``, else the hub's entry in services.json."""
    directory = ServiceDirectory(config.services_file)
    return NativeHubClient(
        system_id=config.fleet_id,
        secret=config.secret,
        base_url=hub_url if hub_url else (lambda: directory.url(config.hub_id)),
        timeout=timeout,
        inbox_limit=inbox_limit,
    )
