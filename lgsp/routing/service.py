"""Routing decisions from the topology, and peer addresses from ``services.json``."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sim.topology import Agency, Topology

from .errors import PeerUnknownError, RoutingError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Route:
    """Where a package's recipients go from this hub."""

    local: tuple[str, ...] = ()
    """Recipients attached to this hub: one inbox item each."""
    forwards: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Next hub id → the recipients it gets the package for: one outbox row each."""

    @property
    def recipients(self) -> list[str]:
        """Every recipient, local ones first."""
        return [*self.local, *(r for group in self.forwards.values() for r in group)]


class Directory:
    """This hub's view of the topology: local agencies, next hops and peer addresses."""

    def __init__(
        self, *, topology: Topology, hub_id: str, is_national: bool, services_path: Path
    ) -> None:
        hub_ids = {hub.hub_id for hub in topology.hubs()}
        if hub_id not in hub_ids:
            raise ValueError(
                f"hub {hub_id!r} is not in topology {topology.name!r} "
                f"(its hubs: {', '.join(sorted(hub_ids))})"
            )
        if is_national != (hub_id == topology.ndxp.hub_id):
            raise ValueError(
                f"hub {hub_id!r} must run with role "
                f"{'ndxp' if hub_id == topology.ndxp.hub_id else 'lgsp'} in topology "
                f"{topology.name!r}"
            )
        self.topology = topology
        self.hub_id = hub_id
        self.is_national = is_national
        self.national_hub_id = topology.ndxp.hub_id
        self.hub_ids = frozenset(hub_ids)
        self._services_path = services_path
        self._peers: dict[str, str] = {}
        self._peers_loaded = False
        # Agencies outside the topology hosted here (SDK registerAgency, systems.json).
        self._hosted: frozenset[str] = frozenset()

    # -- agencies and next hops -----------------------------------------------------------

    def agencies(self) -> tuple[Agency, ...]:
        """The agencies attached to this hub."""
        return self.topology.agencies_of(self.hub_id)

    def is_known(self, organ_id: str) -> bool:
        """Whether the topology has this agency."""
        return organ_id in self.topology

    def next_hop(self, organ_id: str) -> str | None:
        """The hub to forward ``organ_id``'s packages to, or None when it is local."""
        agency = self.topology.get(organ_id)
        if agency is None:
            return self._next_hop_unlisted(organ_id)
        if agency.hub_id == self.hub_id:
            return None
        # A province reaches everything outside it through the national axis; the national
        # axis hands each recipient to the hub it is attached to.
        return agency.hub_id if self.is_national else self.national_hub_id

    def set_hosted(self, organ_ids: Iterable[str]) -> None:
        """Agencies outside the topology that are hosted here from now on (local recipients)."""
        self._hosted = frozenset(organ_ids)

    def is_hosted(self, organ_id: str) -> bool:
        """Whether ``organ_id`` is an agency outside the topology hosted at this hub."""
        return organ_id in self._hosted

    def _next_hop_unlisted(self, organ_id: str) -> str | None:
        # An agency registered at run time is known only to its own hub; every other hub
        # routes it by its level-1 code (Hxx: that province's LGSP, Gxx: the NDXP).
        if organ_id in self._hosted:
            return None
        home = self.topology.home_hub(organ_id)
        if home is None or home == self.hub_id:
            why = f"nor registered at {home}" if home else "and its level-1 code names no hub"
            raise RoutingError(
                "unknown_recipient",
                f"recipient {organ_id!r} is not an agency of topology {self.topology.name!r} {why}",
            )
        return home if self.is_national else self.national_hub_id

    def route(self, recipients: Iterable[str], *, came_from: str | None = None) -> Route:
        """Split ``recipients`` into local ones and next hops; refuse unknowns and loops.

        ``came_from`` is the hub that handed us the package: sending a recipient back to it
        would bounce the package between two hubs forever (``routing_loop``).
        """
        local: list[str] = []
        forwards: dict[str, list[str]] = {}
        for recipient in dict.fromkeys(recipients):
            hop = self.next_hop(recipient)
            if hop is None:
                local.append(recipient)
                continue
            if hop == came_from:
                raise RoutingError(
                    "routing_loop",
                    f"recipient {recipient!r} is reached through {hop}, the hub that sent "
                    f"the package here; {self.hub_id} will not send it back",
                )
            forwards.setdefault(hop, []).append(recipient)
        return Route(
            local=tuple(local), forwards={hub: tuple(group) for hub, group in forwards.items()}
        )

    # -- peers ------------------------------------------------------------------------------

    def peer_url(self, hub_id: str) -> str:
        """The base URL of hub ``hub_id``; re-reads ``services.json`` when it is not known yet."""
        url = self._peers.get(hub_id)
        if url is None:
            self._load_services()
            url = self._peers.get(hub_id)
        if url is None:
            raise PeerUnknownError(hub_id, str(self._services_path))
        return url

    def reload_peers(self) -> None:
        """Forget the peer addresses read so far and read ``services.json`` again."""
        self._peers = {}
        self._load_services()

    def _load_services(self) -> None:
        try:
            raw = json.loads(self._services_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            # The orchestrator may be rewriting it right now: keep what we had.
            log.warning("cannot read %s: %s", self._services_path, exc)
            return
        if not isinstance(raw, dict):
            log.warning("%s is not a JSON object; ignored", self._services_path)
            return
        self._peers = {
            str(name): str(url).rstrip("/") for name, url in raw.items() if isinstance(url, str)
        }
