"""User topology files: JSON and TOML load; broken ones raise TopologyError with a clear code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sim.topology import Block, Layout, Tier, TopologyError, expand_topology, load_topology


def minimal() -> dict[str, Any]:
    return {
        "name": "mine",
        "description": "a user's topology",
        "provinces": [{"code": "H56", "name": "Thanh Hóa", "districts": 3, "communes": 7}],
        "ministries": [{"organ_id": "000.00.00.G22", "name": "Văn phòng Chính phủ"}],
    }


def write(tmp_path: Path, data: dict[str, Any], name: str = "topo.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def expect_error(data: dict[str, Any], code: str, *fragments: str) -> TopologyError:
    with pytest.raises(TopologyError) as info:
        expand_topology(data)
    assert info.value.code == code, info.value
    for fragment in fragments:
        assert fragment in info.value.message
    return info.value


# --- what loads ---------------------------------------------------------------------------


def test_minimal_json_file_loads_with_default_bodies(tmp_path: Path) -> None:
    t = load_topology(str(write(tmp_path, minimal())))
    assert t.name == "mine"
    assert t.layout is Layout.THREE_TIER
    [province] = t.provinces
    assert province.hub.hub_id == "lgsp-h56"
    assert len(province.district_units()) == 3
    # 7 communes over 3 districts: 3, 2, 2.
    sizes = [
        len([a for a in t.children_of(d.organ_id) if a.tier is Tier.COMMUNE])
        for d in province.district_units()
    ]
    assert sizes == [3, 2, 2]
    blocks = {(a.tier, a.block) for a in t.iter_agencies()}
    assert (Tier.DISTRICT, Block.MASS) in blocks
    assert (Tier.COMMUNE, Block.PARTY) in blocks
    assert t.agency("000.00.00.H56").name == "Ủy ban nhân dân tỉnh Thanh Hóa"
    assert t.agency("000.12.50.H56").name == "Ủy ban nhân dân xã số 03, huyện số 01"
    assert t.hub_of("000.00.00.G22") == "ndxp"


def test_path_object_and_name_from_file_stem(tmp_path: Path) -> None:
    data = minimal()
    del data["name"]
    t = load_topology(write(tmp_path, data, "thanh-hoa.json"))
    assert t.name == "thanh-hoa"


def test_full_featured_file(tmp_path: Path) -> None:
    data = minimal()
    data["ndxp"] = {"hub_id": "national", "name": "Trục quốc gia"}
    data["enterprise_name"] = "Công ty số {n} ({province_name})"
    data["provinces"] = [
        {
            "_comment": "underscore keys are comments",
            "code": "H56",
            "name": "Thanh Hóa",
            "hub": {"hub_id": "lgsp-thanhhoa"},
            "communes": 5,
            "districts_named": [
                {"name": "thành phố Thanh Hóa", "communes": ["phường Điện Biên", "xã Hoằng Quang"]},
                "huyện Như Xuân",
            ],
            "enterprises": 2,
            "bodies": {
                "district": [
                    {"key": "ubnd", "name": "UBND {name}", "block": "government"},
                    {"key": "mttq", "name": "MTTQ {unit}", "block": "mass", "parent": "mttq"},
                    {
                        "key": "dang_bo",
                        "name": "Đảng bộ {unit}",
                        "block": "party",
                        "parent": "dang_bo",
                    },
                ]
            },
            "agencies": [
                {
                    "organ_id": "000.01.05.H56",
                    "name": "Trường học X",
                    "tier": "province",
                    "block": "government",
                    "parent": "000.00.00.H56",
                }
            ],
        }
    ]
    t = load_topology(str(write(tmp_path, data)))
    assert t.hubs()[0].hub_id == "national"
    assert t.hub_of("000.00.00.G22") == "national"
    assert t.hub_of("000.00.50.H56") == "lgsp-thanhhoa"
    assert t.agency("000.00.50.H56").name == "UBND Thanh Hóa"
    assert t.agency("000.01.50.H56").parent == "000.00.02.H56"  # MTTQ huyện → MTTQ tỉnh
    assert t.agency("000.10.50.H56").name == "Ủy ban nhân dân phường Điện Biên, thành phố Thanh Hóa"
    assert t.agency("001.11.50.H56").name == "Đảng ủy xã Hoằng Quang, thành phố Thanh Hóa"
    # Commune Party committee → the district's Party body, wherever the override put it.
    assert t.agency("001.10.50.H56").parent == "000.02.50.H56"
    assert t.agency("000.02.49.H56").name == "Công ty số 02 (Thanh Hóa)"
    assert t.agency("000.01.05.H56").parent == "000.00.00.H56"
    assert len(t.province("H56").commune_units()) == 5


def test_toml_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "topo.toml"
    path.write_text(
        """
name = "toml-topo"
layout = "two-tier"

[[bodies.province]]
key = "ubnd"
name = "Ủy ban nhân dân {unit}"
block = "government"

[[bodies.province]]
key = "dang_bo"
name = "Tỉnh ủy {name}"
block = "party"
parent = false

[[provinces]]
code = "H56"
name = "Thanh Hóa"
communes = 3
communes_named = ["phường Hạc Thành"]

[[ministries]]
organ_id = "000.00.00.G22"
name = "Văn phòng Chính phủ"
""",
        encoding="utf-8",
    )
    t = load_topology(str(path))
    assert t.layout is Layout.TWO_TIER
    assert t.agency("000.00.01.H56").parent is None
    assert t.agency("000.10.50.H56").name == "Ủy ban nhân dân phường Hạc Thành, tỉnh Thanh Hóa"
    assert t.agency("000.12.50.H56").name == "Ủy ban nhân dân xã số 03, tỉnh Thanh Hóa"
    # Default two-tier commune bodies: the Party committee answers to the province's.
    assert t.agency("001.10.50.H56").parent == "000.00.01.H56"


def test_loading_is_deterministic_across_files(tmp_path: Path) -> None:
    a = load_topology(str(write(tmp_path, minimal(), "a.json")))
    b = load_topology(str(write(tmp_path, minimal(), "b.json")))
    assert a == b


# --- what does not ------------------------------------------------------------------------


def test_unknown_preset() -> None:
    with pytest.raises(TopologyError) as info:
        load_topology("three-tier-1990")
    assert info.value.code == "unknown_preset"
    assert "three-tier-2023" in info.value.message
    assert str(info.value).startswith("unknown_preset: ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TopologyError) as info:
        load_topology(str(tmp_path / "nope.json"))
    assert info.value.code == "file_not_found"


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "topo.yaml"
    path.write_text("name: x", encoding="utf-8")
    with pytest.raises(TopologyError) as info:
        load_topology(str(path))
    assert info.value.code == "unsupported_format"


def test_bad_json_syntax(tmp_path: Path) -> None:
    path = tmp_path / "topo.json"
    path.write_text('{"name": "x",\n "provinces": [}', encoding="utf-8")
    with pytest.raises(TopologyError) as info:
        load_topology(str(path))
    assert info.value.code == "bad_syntax"
    assert "line 2" in info.value.message
    assert str(path) in info.value.message


def test_duplicate_json_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "topo.json"
    path.write_text('{"name": "x", "name": "y"}', encoding="utf-8")
    with pytest.raises(TopologyError) as info:
        load_topology(str(path))
    assert info.value.code == "bad_syntax"
    assert "'name'" in info.value.message


def test_bad_toml_syntax(tmp_path: Path) -> None:
    path = tmp_path / "topo.toml"
    path.write_text("name = ", encoding="utf-8")
    with pytest.raises(TopologyError) as info:
        load_topology(str(path))
    assert info.value.code == "bad_syntax"


def test_duplicate_organ_id(tmp_path: Path) -> None:
    data = minimal()
    data["provinces"][0]["agencies"] = [
        {"organ_id": "000.00.50.H56", "name": "Trùng mã", "tier": "district", "block": "mass"}
    ]
    with pytest.raises(TopologyError) as info:
        load_topology(str(write(tmp_path, data)))
    assert info.value.code == "duplicate_organ_id"
    assert "000.00.50.H56" in info.value.message
    assert "topo.json" in info.value.message


def test_duplicate_ministry() -> None:
    data = minimal()
    data["ministries"].append({"organ_id": "000.00.00.G22", "name": "Again"})
    expect_error(data, "duplicate_organ_id", "000.00.00.G22")


def test_bad_organ_id() -> None:
    data = minimal()
    data["ministries"] = [{"organ_id": "G22", "name": "Văn phòng Chính phủ"}]
    expect_error(data, "bad_organ_id", "'G22'", "VVV.ZZ.YY.X")


def test_organ_id_with_a_gap_in_its_levels() -> None:
    data = minimal()
    data["ministries"] = [{"organ_id": "001.00.00.G22", "name": "Gap"}]
    expect_error(data, "bad_organ_id", "level 4 under an unused")


def test_bad_province_code() -> None:
    data = minimal()
    data["provinces"][0]["code"] = "56"
    expect_error(data, "bad_province_code", "'56'")


def test_agency_under_the_wrong_province() -> None:
    data = minimal()
    data["provinces"][0]["agencies"] = [
        {"organ_id": "000.00.01.H17", "name": "Lạc tỉnh", "tier": "province", "block": "mass"}
    ]
    expect_error(data, "province_mismatch", "000.00.01.H17", "H56")


def test_ministry_with_a_province_code() -> None:
    data = minimal()
    data["ministries"] = [{"organ_id": "000.00.09.H56", "name": "Bộ lạc chỗ"}]
    expect_error(data, "province_mismatch", "000.00.09.H56")


def test_unknown_parent() -> None:
    data = minimal()
    data["provinces"][0]["agencies"] = [
        {
            "organ_id": "000.00.30.H56",
            "name": "Mồ côi",
            "tier": "province",
            "block": "government",
            "parent": "000.00.31.H56",
        }
    ]
    expect_error(data, "unknown_parent", "000.00.31.H56")


def test_parent_cycle() -> None:
    data = minimal()
    data["provinces"][0]["agencies"] = [
        {"organ_id": "000.00.30.H56", "name": "A", "tier": "province", "block": "mass",
         "parent": "000.00.31.H56"},
        {"organ_id": "000.00.31.H56", "name": "B", "tier": "province", "block": "mass",
         "parent": "000.00.30.H56"},
    ]  # fmt: skip
    expect_error(data, "parent_cycle", "000.00.30.H56", "000.00.31.H56")


def test_district_agency_in_a_two_tier_topology() -> None:
    data = minimal()
    data["layout"] = "two-tier"
    expect_error(data, "bad_schema", "two-tier topology has no districts")
    del data["provinces"][0]["districts"]
    data["provinces"][0]["agencies"] = [
        {"organ_id": "000.00.30.H56", "name": "Huyện cũ", "tier": "district", "block": "mass"}
    ]
    expect_error(data, "bad_tier", "district tier")


def test_central_tier_inside_a_province() -> None:
    data = minimal()
    data["provinces"][0]["agencies"] = [
        {"organ_id": "000.00.30.H56", "name": "X", "tier": "central", "block": "government"}
    ]
    expect_error(data, "bad_tier", "'central'")


def test_commune_counts_that_do_not_add_up() -> None:
    data = minimal()
    data["provinces"][0]["districts_named"] = [
        {"name": "huyện A", "communes": 4},
        {"name": "huyện B", "communes": 4},
        {"name": "huyện C", "communes": 4},
    ]
    expect_error(data, "commune_count_mismatch", "communes = 7", "12")


def test_missing_commune_total() -> None:
    data = minimal()
    del data["provinces"][0]["communes"]
    expect_error(data, "bad_schema", "'communes'")


def test_more_named_districts_than_districts() -> None:
    data = minimal()
    data["provinces"][0]["districts_named"] = ["huyện A", "huyện B", "huyện C", "huyện D"]
    expect_error(data, "bad_schema", "4 districts_named")


def test_capacity_limits() -> None:
    data = minimal()
    data["provinces"][0]["districts"] = 51
    data["provinces"][0]["communes"] = 51
    expect_error(data, "capacity_exceeded", "51 districts", "50")
    data = minimal()
    data["provinces"][0]["districts"] = 1
    data["provinces"][0]["communes"] = 91
    expect_error(data, "capacity_exceeded", "91 communes", "90")
    data = minimal()
    data["provinces"][0]["enterprises"] = 100
    expect_error(data, "capacity_exceeded", "100 enterprises")


def test_schema_mistakes_name_the_place() -> None:
    data = minimal()
    data["provinces"][0]["district"] = 3
    expect_error(data, "bad_schema", "province H56", "'district'")
    data = minimal()
    data["provinces"][0]["districts"] = "27"
    expect_error(data, "bad_schema", "districts", "'27'")
    data = minimal()
    data["provinces"][0]["districts"] = True
    expect_error(data, "bad_schema", "non-negative integer")
    data = minimal()
    data["layout"] = "one-tier"
    expect_error(data, "bad_schema", "'one-tier'")
    data = minimal()
    data["ministries"][0]["block"] = "army"
    expect_error(data, "bad_schema", "'army'")
    data = minimal()
    del data["provinces"][0]["name"]
    expect_error(data, "bad_schema", "missing 'name'")


def test_body_mistakes() -> None:
    data = minimal()
    data["bodies"] = {
        "commune": [{"key": "ubnd", "name": "UBND {unit} {village}", "block": "government"}]
    }
    expect_error(data, "bad_template", "village")
    data["bodies"] = {
        "commune": [{"key": "ubnd", "name": "UBND {unit}", "block": "government", "parent": "x"}]
    }
    expect_error(data, "bad_schema", "'x'")
    data["bodies"] = {"commune": []}
    expect_error(data, "bad_schema", "non-empty list")
    data["bodies"] = {
        "province": [
            {"key": "a", "name": "A", "block": "government"},
            {"key": "a", "name": "B", "block": "government"},
        ]
    }
    expect_error(data, "bad_schema", "unique")


def test_province_override_must_keep_named_parents() -> None:
    data = minimal()
    # The default commune Party committee answers to the district's "dang_bo"; an override of
    # the district tier without it leaves that parent dangling.
    data["provinces"][0]["bodies"] = {
        "district": [{"key": "ubnd", "name": "UBND {unit}", "block": "government"}]
    }
    expect_error(data, "bad_schema", "'dang_bo'")


def test_district_placeholder_in_a_two_tier_topology() -> None:
    data = minimal()
    data["layout"] = "two-tier"
    del data["provinces"][0]["districts"]
    data["bodies"] = {
        "commune": [{"key": "ubnd", "name": "UBND {unit}, {district}", "block": "government"}]
    }
    expect_error(data, "bad_template", "{district}")
