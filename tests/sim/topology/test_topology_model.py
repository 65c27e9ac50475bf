"""The model: lookups, their errors, and validate_topology on hand-built topologies."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from sim.topology import (
    Agency,
    Block,
    HubSpec,
    Layout,
    Province,
    Tier,
    Topology,
    TopologyError,
    find_problems,
    load_topology,
    validate_topology,
)

NDXP = HubSpec("ndxp", "NDXP")
HUB = HubSpec("lgsp-h56", "LGSP tỉnh Thanh Hóa")


def local(organ_id: str, tier: Tier = Tier.PROVINCE, parent: str | None = None) -> Agency:
    return Agency(
        organ_id, f"cơ quan {organ_id}", tier, Block.GOVERNMENT, "H56", parent, HUB.hub_id
    )


def build(*agencies: Agency, ministries: tuple[Agency, ...] = ()) -> Topology:
    province = Province("H56", "Thanh Hóa", HUB, agencies)
    return Topology("t", "", Layout.THREE_TIER, NDXP, (province,), ministries)


def test_lookups() -> None:
    t = load_topology("small")
    ubnd = t.agency("000.00.00.H56")
    assert "000.00.00.H56" in t
    assert "000.00.00.H99" not in t
    assert t.get("000.00.00.H99") is None
    assert t.get("000.00.00.H56") is ubnd
    assert t.province("H56").name == "Thanh Hóa"
    assert t.hub("lgsp-h04").name == "LGSP tỉnh Bắc Kạn"
    children = t.children_of("000.00.00.H56")
    assert children
    assert all(c.parent == ubnd.organ_id for c in children)
    assert t.children_of("000.00.00.H99") == ()


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda t: t.agency("000.00.00.H99"), "unknown_agency"),
        (lambda t: t.hub_of("000.00.00.H99"), "unknown_agency"),
        (lambda t: t.province_of("000.00.00.H99"), "unknown_agency"),
        (lambda t: t.agencies_of("lgsp-h99"), "unknown_hub"),
        (lambda t: t.hub("lgsp-h99"), "unknown_hub"),
        (lambda t: t.count_by_tier(hub_id="lgsp-h99"), "unknown_hub"),
        (lambda t: t.province("H99"), "unknown_province"),
    ],
)
def test_lookup_errors(call: object, code: str) -> None:
    t = load_topology("small")
    with pytest.raises(TopologyError) as info:
        call(t)  # type: ignore[operator]
    assert info.value.code == code
    assert "99" in info.value.message


def test_counts_include_zeros_and_filter_by_hub() -> None:
    t = load_topology("small")
    assert set(t.count_by_tier()) == set(Tier)
    assert set(t.count_by_block()) == set(Block)
    assert t.count_by_tier(hub_id="ndxp") == {
        Tier.CENTRAL: 1,
        Tier.PROVINCE: 0,
        Tier.DISTRICT: 0,
        Tier.COMMUNE: 0,
    }
    assert t.count_by_block(hub_id="lgsp-h04")[Block.ENTERPRISE] == 0
    assert t.count_by_block(hub_id="lgsp-h56")[Block.ENTERPRISE] == 1
    assert t.count_by_tier_and_block()[(Tier.COMMUNE, Block.PARTY)] == 8


def test_topology_is_immutable() -> None:
    t = load_topology("small")
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.ministries[0].name = "other"  # type: ignore[misc]


def test_error_pickles_and_prints() -> None:
    error = TopologyError("bad_schema", "something is off")
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes, round trip)
    assert (again.code, again.message) == ("bad_schema", "something is off")
    assert str(again) == "bad_schema: something is off"


def test_topology_pickles() -> None:
    # Fleet processes may receive their topology from a parent process.
    t = load_topology("small")
    again = pickle.loads(pickle.dumps(t))  # noqa: S301 (our own bytes, round trip)
    assert again == t
    assert again.hub_of("000.00.00.G22") == "ndxp"


def test_a_consistent_hand_built_topology() -> None:
    t = build(
        local("000.00.00.H56"),
        local("000.00.50.H56", Tier.DISTRICT, "000.00.00.H56"),
        local("000.10.50.H56", Tier.COMMUNE, "000.00.50.H56"),
    )
    assert validate_topology(t) == []
    assert t.province("H56").district_units() == (t.agency("000.00.50.H56"),)
    assert t.province("H56").commune_units() == (t.agency("000.10.50.H56"),)


def test_validate_reports_each_problem() -> None:
    ministry = Agency(
        "000.00.00.G22", "Văn phòng Chính phủ", Tier.PROVINCE, Block.GOVERNMENT, "H56", None, "x"
    )
    t = build(
        local("000.00.00.H56"),
        local("000.00.00.H56"),  # duplicate
        local("00.00.00.H56"),  # malformed
        local("000.01.00.H56"),  # level 3 under an unused level 2
        local("000.00.01.H17"),  # another province's code
        local("000.00.02.H56", parent="000.00.99.H56"),  # unknown parent
        local("000.00.03.H56", parent="000.00.04.H56"),
        local("000.00.04.H56", parent="000.00.03.H56"),  # cycle
        dataclasses.replace(local("000.00.05.H56"), hub_id="ndxp"),  # wrong hub
        dataclasses.replace(local("000.00.06.H56"), tier=Tier.CENTRAL),
        ministries=(ministry,),
    )
    codes = [p.code for p in find_problems(t)]
    for code in (
        "duplicate_organ_id",
        "bad_organ_id",
        "province_mismatch",
        "unknown_parent",
        "parent_cycle",
        "wrong_hub",
        "bad_tier",
    ):
        assert code in codes, code
    assert codes.count("bad_organ_id") == 2
    assert codes.count("parent_cycle") == 1
    messages = validate_topology(t)
    assert len(messages) == len(codes)
    assert any("00.00.00.H56" in m for m in messages)
    assert any("level 3 under an unused" in m for m in messages)


def test_validate_reports_province_and_hub_problems() -> None:
    a = Province("H56", "Thanh Hóa", HUB, ())
    b = Province("H56", "Again", HubSpec("ndxp", "clash"), ())
    c = Province("56", "Bad", HubSpec("lgsp-bad", "bad"), ())
    t = Topology("t", "", Layout.THREE_TIER, NDXP, (a, b, c), ())
    codes = {p.code for p in find_problems(t)}
    assert codes == {"duplicate_province", "duplicate_hub", "bad_province_code"}
    # The first of duplicated provinces answers lookups.
    assert t.province("H56") is a
