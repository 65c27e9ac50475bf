"""The shipped presets: documented counts, well-formed unique codes, parents, routing."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

from sim.topology import (
    DEFAULT_PRESET,
    Block,
    Layout,
    Tier,
    Topology,
    expand_topology,
    load_topology,
    preset_names,
    validate_topology,
)

# Written independently of sim.topology._codes on purpose.
ORGAN_ID = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$")

# reference/seed-figures.md, "Structure for topologies (2022-2023, three tiers)".
SEED_STRUCTURE = {"H56": (27, 559), "H17": (8, 71), "H04": (8, 108)}


@pytest.fixture(scope="module", params=["three-tier-2023", "two-tier-2025", "small"])
def preset(request: pytest.FixtureRequest) -> Topology:
    return load_topology(request.param)


@pytest.fixture(scope="module")
def default() -> Topology:
    return load_topology()


def test_presets_are_listed_and_the_default_is_three_tier_2023() -> None:
    assert set(preset_names()) >= {"three-tier-2023", "two-tier-2025", "small"}
    assert DEFAULT_PRESET == "three-tier-2023"
    assert load_topology() is load_topology("three-tier-2023")
    assert load_topology().layout == "three-tier"


def test_preset_loads_clean(preset: Topology) -> None:
    assert validate_topology(preset) == []
    assert preset.description
    assert len(preset) == len(preset.agencies()) > 0


def test_organ_ids_are_unique_and_well_formed(preset: Topology) -> None:
    ids = [a.organ_id for a in preset.iter_agencies()]
    assert len(ids) == len(set(ids))
    for organ_id in ids:
        assert ORGAN_ID.match(organ_id), organ_id


def test_local_codes_carry_their_province(preset: Topology) -> None:
    for province in preset.provinces:
        assert province.agencies
        for agency in province.agencies:
            assert agency.organ_id.endswith("." + province.code)
            assert agency.province == province.code
            assert agency.tier is not Tier.CENTRAL
    for ministry in preset.ministries:
        assert ministry.tier is Tier.CENTRAL
        assert ministry.province is None
        assert ministry.organ_id[-3] == "G"


def test_parents_resolve_and_go_up_the_tiers(preset: Topology) -> None:
    rank = {Tier.CENTRAL: 0, Tier.PROVINCE: 1, Tier.DISTRICT: 2, Tier.COMMUNE: 3}
    for agency in preset.iter_agencies():
        if agency.parent is None:
            continue
        parent = preset.agency(agency.parent)
        assert parent.province == agency.province
        assert rank[parent.tier] <= rank[agency.tier]
        # Nothing is its own parent, and communes never hang under another commune body.
        assert parent.organ_id != agency.organ_id
        if agency.tier is Tier.COMMUNE:
            assert parent.tier is not Tier.COMMUNE


def test_unit_chain_commune_to_district_to_province(preset: Topology) -> None:
    for province in preset.provinces:
        top = preset.agency(f"000.00.00.{province.code}")
        assert top.tier is Tier.PROVINCE
        assert top.block is Block.GOVERNMENT
        assert top.parent is None
        for commune in province.commune_units():
            up = preset.agency(commune.parent or "")
            if preset.layout is Layout.THREE_TIER:
                assert up in province.district_units()
                assert up.parent == top.organ_id
            else:
                assert up == top


def test_hub_of_routes_locals_to_their_lgsp_and_ministries_to_the_ndxp(preset: Topology) -> None:
    hubs = preset.hubs()
    assert hubs[0] == preset.ndxp
    assert [h.hub_id for h in hubs[1:]] == [p.hub.hub_id for p in preset.provinces]
    for province in preset.provinces:
        assert province.hub.hub_id == f"lgsp-{province.code.lower()}"
        for agency in province.agencies:
            assert preset.hub_of(agency.organ_id) == province.hub.hub_id
            assert preset.province_of(agency.organ_id) == province.code
        assert preset.agencies_of(province.hub.hub_id) == province.agencies
    for ministry in preset.ministries:
        assert preset.hub_of(ministry.organ_id) == preset.ndxp.hub_id == "ndxp"
        assert preset.province_of(ministry.organ_id) is None
    assert sum(len(preset.agencies_of(h.hub_id)) for h in hubs) == len(preset)


def test_counts_add_up(preset: Topology) -> None:
    assert sum(preset.count_by_tier().values()) == len(preset)
    assert sum(preset.count_by_block().values()) == len(preset)
    assert sum(preset.count_by_tier_and_block().values()) == len(preset)
    for hub in preset.hubs():
        by_tier = preset.count_by_tier(hub_id=hub.hub_id)
        assert sum(by_tier.values()) == len(preset.agencies_of(hub.hub_id))


@pytest.mark.parametrize("name", ["three-tier-2023", "two-tier-2025", "small"])
def test_expansion_is_deterministic(name: str) -> None:
    text = resources.files("sim.topology").joinpath("presets", f"{name}.json").read_text("utf-8")
    first = expand_topology(json.loads(text))
    second = expand_topology(json.loads(text))
    assert first == second
    assert [a.organ_id for a in first.iter_agencies()] == [
        a.organ_id for a in second.iter_agencies()
    ]
    assert first == load_topology(name)


# --- three-tier-2023, the default ---------------------------------------------------------


def test_default_has_the_seed_figures_structure(default: Topology) -> None:
    assert [p.code for p in default.provinces] == ["H56", "H17", "H04"]
    for province in default.provinces:
        districts, communes = SEED_STRUCTURE[province.code]
        assert len(province.district_units()) == districts
        assert len(province.commune_units()) == communes


def test_default_thanh_hoa_city_has_its_34_communes(default: Topology) -> None:
    city = default.agency("000.00.50.H56")
    assert city.name == "Ủy ban nhân dân thành phố Thanh Hóa"
    communes = [a for a in default.children_of(city.organ_id) if a.tier is Tier.COMMUNE]
    assert len(communes) == 34


def test_default_blocks_per_tier(default: Topology) -> None:
    for province in default.provinces:
        blocks: dict[Tier, set[Block]] = {}
        for agency in province.agencies:
            blocks.setdefault(agency.tier, set()).add(agency.block)
        expected_province = {Block.GOVERNMENT, Block.PARTY, Block.MASS}
        if province.code == "H56":
            expected_province.add(Block.ENTERPRISE)
        assert blocks[Tier.PROVINCE] == expected_province
        assert blocks[Tier.DISTRICT] == {Block.GOVERNMENT, Block.PARTY, Block.MASS}
        assert blocks[Tier.COMMUNE] == {Block.GOVERNMENT, Block.PARTY}


def test_default_every_district_and_commune_has_each_of_its_blocks(default: Topology) -> None:
    # Group bodies by unit through their codes: level 2 names the district, levels 2-3 the
    # commune (VVV.CC.DD.X).
    for province in default.provinces:
        districts: dict[str, set[Block]] = {}
        communes: dict[str, set[Block]] = {}
        for agency in province.agencies:
            _, level3, level2, _ = agency.organ_id.split(".")
            if agency.tier is Tier.DISTRICT:
                districts.setdefault(level2, set()).add(agency.block)
            elif agency.tier is Tier.COMMUNE:
                communes.setdefault(f"{level3}.{level2}", set()).add(agency.block)
        assert len(districts) == SEED_STRUCTURE[province.code][0]
        assert len(communes) == SEED_STRUCTURE[province.code][1]
        for blocks in districts.values():
            assert blocks == {Block.GOVERNMENT, Block.PARTY, Block.MASS}
        for blocks in communes.values():
            assert blocks == {Block.GOVERNMENT, Block.PARTY}


def test_default_party_line_runs_commune_to_district_to_province(default: Topology) -> None:
    commune_party = default.agency("001.10.50.H56")
    assert commune_party.name == "Đảng ủy xã số 01, thành phố Thanh Hóa"
    district_party = default.agency(commune_party.parent or "")
    assert district_party.tier is Tier.DISTRICT
    assert district_party.block is Block.PARTY
    province_party = default.agency(district_party.parent or "")
    assert province_party.name == "Tỉnh ủy Thanh Hóa"
    assert province_party.parent is None


def test_default_enterprises_and_ministries(default: Topology) -> None:
    enterprises = [a for a in default.iter_agencies() if a.block is Block.ENTERPRISE]
    assert len(enterprises) == 20
    assert {a.hub_id for a in enterprises} == {"lgsp-h56"}
    assert all(a.tier is Tier.PROVINCE for a in enterprises)
    assert default.agency("000.00.00.G22").name == "Văn phòng Chính phủ"
    assert len(default.ministries) >= 3
    assert default.count_by_tier()[Tier.CENTRAL] == len(default.ministries)


def test_default_codes_are_stable(default: Topology) -> None:
    # A change here renumbers agencies; update deliberately, along with the documentation.
    expected = {
        "000.00.00.H56": "Ủy ban nhân dân tỉnh Thanh Hóa",
        "000.00.01.H56": "Tỉnh ủy Thanh Hóa",
        "000.01.49.H56": "Doanh nghiệp số 01 – tỉnh Thanh Hóa",
        "000.00.51.H56": "Ủy ban nhân dân thành phố Sầm Sơn",
        "000.01.51.H56": "Ban Chấp hành Đảng bộ thành phố Sầm Sơn",
        "000.00.76.H56": "Ủy ban nhân dân huyện Yên Định",
        "000.10.50.H17": "Ủy ban nhân dân xã số 01, thành phố Gia Nghĩa",
        "001.10.57.H04": "Đảng ủy xã số 01, huyện Pác Nặm",
    }
    for organ_id, name in expected.items():
        assert default.agency(organ_id).name == name


# --- two-tier-2025 and small ------------------------------------------------------------


def test_two_tier_has_no_district_tier() -> None:
    t = load_topology("two-tier-2025")
    assert t.layout is Layout.TWO_TIER
    assert t.count_by_tier()[Tier.DISTRICT] == 0
    assert {p.code: len(p.commune_units()) for p in t.provinces} == {
        "H56": 166,
        "H55": 92,
        "H36": 124,
    }
    # The 91st commune opens the second block of 90 under level-2 code 51.
    assert t.agency("000.10.51.H56").name == "Ủy ban nhân dân xã số 91, tỉnh Thanh Hóa"
    for province in t.provinces:
        assert province.district_units() == ()
        for commune in province.commune_units():
            assert commune.parent == f"000.00.00.{province.code}"


def test_small_preset_shape() -> None:
    t = load_topology("small")
    assert len(t.provinces) == 2
    assert len(t.ministries) == 1
    for province in t.provinces:
        assert len(province.district_units()) == 2
        assert len(province.commune_units()) == 4
        for district in province.district_units():
            units = [a for a in t.children_of(district.organ_id) if a.tier is Tier.COMMUNE]
            assert len(units) == 2
    assert len(t) == 38
