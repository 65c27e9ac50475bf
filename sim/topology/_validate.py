"""Consistency checks of a topology: codes, uniqueness, parents, provinces, hubs, tiers."""

from __future__ import annotations

from typing import NamedTuple

from ._codes import is_level1_code, organ_id_problem, split_organ_id
from ._model import Agency, Layout, Tier, Topology


class Problem(NamedTuple):
    """One thing wrong with a topology: a stable code and a message naming the culprit."""

    code: str
    message: str


def validate_topology(topology: Topology) -> list[str]:
    """Everything wrong with a topology, one message each; empty when it is consistent."""
    return [p.message for p in find_problems(topology)]


def find_problems(topology: Topology) -> list[Problem]:
    """Everything wrong with a topology, with a stable code per problem."""
    checker = _Checker(topology)
    checker.run()
    return checker.problems


class _Checker:
    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.problems: list[Problem] = []
        self.province_codes: set[str] = set()

    def add(self, code: str, message: str) -> None:
        self.problems.append(Problem(code, message))

    def run(self) -> None:
        t = self.topology
        hub_ids = {t.ndxp.hub_id}
        for province in t.provinces:
            code, hub_id = province.code, province.hub.hub_id
            if not is_level1_code(code):
                self.add(
                    "bad_province_code",
                    f"province code {code!r} is not a level-1 code "
                    "(a capital letter and two digits, e.g. H56)",
                )
            if code in self.province_codes:
                self.add("duplicate_province", f"province {code} is listed twice")
            if hub_id in hub_ids:
                self.add("duplicate_hub", f"hub id {hub_id!r} of province {code} is already used")
            self.province_codes.add(code)
            hub_ids.add(hub_id)

        seen: set[str] = set()
        for agency in t.iter_agencies():
            reason = organ_id_problem(agency.organ_id)
            if reason is not None:
                self.add("bad_organ_id", f"OrganId {agency.organ_id!r} ({agency.name}) {reason}")
            if agency.organ_id in seen:
                self.add(
                    "duplicate_organ_id",
                    f"OrganId {agency.organ_id} is used by more than one agency "
                    f"(one of them: {agency.name})",
                )
            seen.add(agency.organ_id)

        for agency in t.ministries:
            self.check_central(agency)
        for province in t.provinces:
            for agency in province.agencies:
                self.check_local(agency, province.code, province.hub.hub_id)

        for agency in t.iter_agencies():
            if agency.parent is not None and agency.parent not in t:
                self.add(
                    "unknown_parent",
                    f"parent {agency.parent!r} of {agency.organ_id} ({agency.name}) "
                    "is not an agency of the topology",
                )
        self.check_cycles()
        self.check_systems()

    def check_systems(self) -> None:
        # A declared system speaks for agencies of its own hub, each hosted by one system.
        t = self.topology
        fleets = {f"fleet-{hub.hub_id.removeprefix('lgsp-')}" for hub in t.hubs()}
        hosted: dict[str, str] = {}
        ids: set[str] = set()
        for system in t.systems:
            label = f"system {system.system_id!r}"
            if system.system_id in ids or system.system_id in fleets:
                self.add("duplicate_system", f"{label} is declared twice or names a fleet")
            ids.add(system.system_id)
            if not system.agencies:
                self.add("bad_system", f"{label} speaks for no agency")
            for organ_id in system.agencies:
                reason = organ_id_problem(organ_id)
                if reason is not None:
                    self.add("bad_organ_id", f"{label}: OrganId {organ_id!r} {reason}")
                elif t.home_hub(organ_id) != system.hub_id:
                    self.add(
                        "wrong_hub",
                        f"{label}: {organ_id} belongs to {t.home_hub(organ_id)!r}, "
                        f"not {system.hub_id!r}",
                    )
                if hosted.setdefault(organ_id, system.system_id) != system.system_id:
                    self.add(
                        "duplicate_system",
                        f"{label}: {organ_id} is already hosted by {hosted[organ_id]!r}",
                    )

    def check_central(self, agency: Agency) -> None:
        ndxp = self.topology.ndxp.hub_id
        label = f"ministry {agency.organ_id} ({agency.name})"
        if agency.tier is not Tier.CENTRAL:
            self.add("bad_tier", f"{label} has tier {agency.tier.value!r}, not 'central'")
        if agency.province is not None:
            self.add("province_mismatch", f"{label} claims province {agency.province}")
        code = split_organ_id(agency.organ_id)
        # A central body under a province's level-1 code would be routed to that province's LGSP.
        if code is not None and code.level1 in self.province_codes:
            self.add("province_mismatch", f"{label} uses the level-1 code of a province")
        if agency.hub_id != ndxp:
            self.add(
                "wrong_hub", f"{label} is attached to {agency.hub_id!r}, not the NDXP {ndxp!r}"
            )

    def check_local(self, agency: Agency, province: str, hub_id: str) -> None:
        label = f"{agency.organ_id} ({agency.name})"
        if agency.tier is Tier.CENTRAL:
            self.add("bad_tier", f"{label} of province {province} has tier 'central'")
        if agency.tier is Tier.DISTRICT and self.topology.layout is Layout.TWO_TIER:
            self.add("bad_tier", f"{label} is at district tier in a two-tier topology")
        code = split_organ_id(agency.organ_id)
        if code is not None and code.level1 != province:
            self.add(
                "province_mismatch",
                f"{label} is listed under province {province} but its level-1 code is "
                f"{code.level1}",
            )
        if agency.province != province:
            self.add(
                "province_mismatch",
                f"{label} is listed under province {province} but names {agency.province!r}",
            )
        if agency.hub_id != hub_id:
            self.add("wrong_hub", f"{label} is attached to {agency.hub_id!r}, not {hub_id!r}")

    def check_cycles(self) -> None:
        # Walk each parent chain once; `done` holds agencies already known to reach a root.
        t = self.topology
        done: set[str] = set()
        for agency in t.iter_agencies():
            path: list[str] = []
            current: Agency | None = agency
            while current is not None and current.organ_id not in done:
                if current.organ_id in path:
                    loop = [*path[path.index(current.organ_id) :], current.organ_id]
                    self.add("parent_cycle", "parent links loop: " + " → ".join(loop))
                    break
                path.append(current.organ_id)
                current = t.get(current.parent) if current.parent is not None else None
            done.update(path)
