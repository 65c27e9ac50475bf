"""The topology model: hubs, provinces, agencies, and the indexes that answer lookups."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from sim.errors import SimError

from ._codes import split_organ_id


class TopologyError(SimError):
    """A topology that cannot be loaded, or a lookup it cannot answer: a code and a message."""


class Layout(StrEnum):
    """How many tiers of local government the topology has."""

    THREE_TIER = "three-tier"  # province, district, commune (until 30 June 2025)
    TWO_TIER = "two-tier"  # province, commune (from 1 July 2025)


class Tier(StrEnum):
    """Where an agency sits: central (ministries) or one of the local tiers."""

    CENTRAL = "central"
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


class Block(StrEnum):
    """The political system an agency belongs to; statistics are broken down by it."""

    PARTY = "party"
    GOVERNMENT = "government"
    MASS = "mass"  # the Fatherland Front and the mass organisations
    ENTERPRISE = "enterprise"


@dataclass(frozen=True, slots=True)
class HubSpec:
    """An integration axis: the NDXP or one province's LGSP."""

    hub_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Agency:
    """One agency that sends and receives e-documents through its hub."""

    organ_id: str
    name: str
    tier: Tier
    block: Block
    province: str | None  # level-1 code of its province; None for central bodies
    parent: str | None  # OrganId of the unit above it, if the topology has one
    hub_id: str


@dataclass(frozen=True, slots=True)
class Province:
    """A province, its LGSP and the agencies attached to it."""

    code: str
    name: str
    hub: HubSpec
    agencies: tuple[Agency, ...]

    def district_units(self) -> tuple[Agency, ...]:
        """The district-level units, one agency each: the ones holding a unit code 000.00.DD.X."""
        return tuple(a for a in self.agencies if a.tier is Tier.DISTRICT and _is_unit_code(a, 3))

    def commune_units(self) -> tuple[Agency, ...]:
        """The communes, one agency each: the ones holding a unit code 000.CC.GG.X."""
        return tuple(a for a in self.agencies if a.tier is Tier.COMMUNE and _is_unit_code(a, 4))


def _is_unit_code(agency: Agency, level: int) -> bool:
    # A unit's People's Committee carries the unit's own code: every level below it is zero.
    code = split_organ_id(agency.organ_id)
    if code is None:
        return False
    return code.level4 == 0 and (level == 4 or code.level3 == 0)


@dataclass(frozen=True, slots=True)
class SystemSpec:
    """A DMS system the topology declares (``"systems"``): it speaks for ``agencies`` at ``hub_id``."""

    system_id: str
    secret: str = field(repr=False)
    hub_id: str
    agencies: tuple[str, ...]


@dataclass(frozen=True)
class Topology:
    """Which agencies exist, at which tier and block, and on which hub.

    Immutable; the indexes behind the lookups are built once at construction, so lookups stay
    constant-time with thousands of agencies. Where an OrganId is duplicated (an invalid
    topology, see `validate_topology`) the indexes keep the first occurrence.
    """

    name: str
    description: str
    layout: Layout
    ndxp: HubSpec
    provinces: tuple[Province, ...]
    ministries: tuple[Agency, ...]
    systems: tuple[SystemSpec, ...] = ()
    _by_id: dict[str, Agency] = field(init=False, repr=False, compare=False)
    _by_hub: dict[str, tuple[Agency, ...]] = field(init=False, repr=False, compare=False)
    _hubs: dict[str, HubSpec] = field(init=False, repr=False, compare=False)
    _provinces: dict[str, Province] = field(init=False, repr=False, compare=False)
    _children: dict[str, tuple[Agency, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, Agency] = {}
        by_hub: dict[str, list[Agency]] = {self.ndxp.hub_id: []}
        hubs: dict[str, HubSpec] = {self.ndxp.hub_id: self.ndxp}
        for province in self.provinces:
            hubs.setdefault(province.hub.hub_id, province.hub)
            by_hub.setdefault(province.hub.hub_id, [])
        children: dict[str, list[Agency]] = {}
        for agency in self.iter_agencies():
            by_id.setdefault(agency.organ_id, agency)
            by_hub.setdefault(agency.hub_id, []).append(agency)
            if agency.parent is not None:
                children.setdefault(agency.parent, []).append(agency)
        # Frozen dataclass: the indexes are written once, here, and never again.
        object.__setattr__(self, "_by_id", by_id)
        object.__setattr__(self, "_by_hub", {k: tuple(v) for k, v in by_hub.items()})
        object.__setattr__(self, "_hubs", hubs)
        object.__setattr__(self, "_provinces", {p.code: p for p in reversed(self.provinces)})
        object.__setattr__(self, "_children", {k: tuple(v) for k, v in children.items()})

    # --- agencies -------------------------------------------------------------------------

    def iter_agencies(self) -> Iterator[Agency]:
        """Every agency: the ministries first, then each province's in order."""
        yield from self.ministries
        for province in self.provinces:
            yield from province.agencies

    def agencies(self) -> tuple[Agency, ...]:
        """Every agency, in the order of `iter_agencies`."""
        return tuple(self.iter_agencies())

    def __len__(self) -> int:
        return len(self.ministries) + sum(len(p.agencies) for p in self.provinces)

    def __contains__(self, organ_id: object) -> bool:
        return organ_id in self._by_id

    def agency(self, organ_id: str) -> Agency:
        """The agency with this OrganId; TopologyError ``unknown_agency`` if there is none."""
        try:
            return self._by_id[organ_id]
        except KeyError:
            raise TopologyError(
                "unknown_agency", f"no agency {organ_id!r} in topology {self.name!r}"
            ) from None

    def get(self, organ_id: str) -> Agency | None:
        """The agency with this OrganId, or None."""
        return self._by_id.get(organ_id)

    def children_of(self, organ_id: str) -> tuple[Agency, ...]:
        """The agencies whose parent is ``organ_id``, in topology order."""
        return self._children.get(organ_id, ())

    # --- hubs and provinces ---------------------------------------------------------------

    def hubs(self) -> tuple[HubSpec, ...]:
        """Every hub: the NDXP first, then the provinces' LGSPs in topology order."""
        return tuple(self._hubs.values())

    def hub(self, hub_id: str) -> HubSpec:
        """The hub with this id; TopologyError ``unknown_hub`` if there is none."""
        try:
            return self._hubs[hub_id]
        except KeyError:
            raise TopologyError(
                "unknown_hub", f"no hub {hub_id!r} in topology {self.name!r}"
            ) from None

    def home_hub(self, organ_id: str) -> str | None:
        """The hub an OrganId belongs to: its own hub if listed, else by its level-1 code
        (``Hxx``: that province's LGSP, ``Gxx``: the NDXP); None when nothing matches."""
        agency = self._by_id.get(organ_id)
        if agency is not None:
            return agency.hub_id
        code = split_organ_id(organ_id)
        if code is None:
            return None
        if code.level1.startswith("G"):
            return self.ndxp.hub_id
        province = self._provinces.get(code.level1)
        return province.hub.hub_id if province is not None else None

    def hub_of(self, organ_id: str) -> str:
        """The id of the hub the agency is attached to (its LGSP, or the NDXP for ministries)."""
        return self.agency(organ_id).hub_id

    def agencies_of(self, hub_id: str) -> tuple[Agency, ...]:
        """The agencies attached directly to a hub; TopologyError ``unknown_hub`` if unknown."""
        if hub_id not in self._by_hub:
            self.hub(hub_id)  # raises unknown_hub
        return self._by_hub[hub_id]

    def province(self, code: str) -> Province:
        """The province with this level-1 code; TopologyError ``unknown_province`` if none."""
        try:
            return self._provinces[code]
        except KeyError:
            raise TopologyError(
                "unknown_province", f"no province {code!r} in topology {self.name!r}"
            ) from None

    def province_of(self, organ_id: str) -> str | None:
        """The level-1 code of the agency's province, or None for a central body."""
        return self.agency(organ_id).province

    # --- counts ---------------------------------------------------------------------------

    def count_by_tier(self, *, hub_id: str | None = None) -> dict[Tier, int]:
        """How many agencies at each tier, over the topology or one hub; zero tiers included."""
        counts = Counter(a.tier for a in self._scope(hub_id))
        return {tier: counts[tier] for tier in Tier}

    def count_by_block(self, *, hub_id: str | None = None) -> dict[Block, int]:
        """How many agencies in each block, over the topology or one hub; zero blocks included."""
        counts = Counter(a.block for a in self._scope(hub_id))
        return {block: counts[block] for block in Block}

    def count_by_tier_and_block(
        self, *, hub_id: str | None = None
    ) -> dict[tuple[Tier, Block], int]:
        """How many agencies per (tier, block) pair present, over the topology or one hub."""
        return dict(Counter((a.tier, a.block) for a in self._scope(hub_id)))

    def _scope(self, hub_id: str | None) -> tuple[Agency, ...] | Iterator[Agency]:
        return self.iter_agencies() if hub_id is None else self.agencies_of(hub_id)
