"""Agency codes (QĐ 20/2020): V1V2V3.Z1Z2.Y1Y2.X."""

from __future__ import annotations

import dataclasses

import pytest

import edoc


def test_parse_a_province_code() -> None:
    code = edoc.parse_organ_id("000.00.00.H56")
    assert code == edoc.OrganId("H56")
    assert (code.level1, code.level2, code.level3, code.level4) == ("H56", "00", "00", "000")
    assert code.tier == 1
    assert code.is_province and not code.is_ministry
    assert str(code) == "000.00.00.H56"
    assert code.level1_name == "Thanh Hóa"


def test_parse_a_ministry_and_deeper_codes() -> None:
    assert edoc.parse_organ_id("000.00.00.G22").is_ministry
    assert edoc.parse_organ_id("000.00.15.H51").tier == 2
    assert edoc.parse_organ_id("000.03.15.H51").tier == 3
    assert edoc.parse_organ_id("007.03.15.H51").tier == 4
    # Real codes skip levels (a level-4 unit straight under a level-2 body).
    assert edoc.parse_organ_id("002.00.20.H13").tier == 4


def test_parse_is_lenient_on_case_and_spaces_and_canonical_on_output() -> None:
    code = edoc.parse_organ_id("  000.00.01.h56\n")
    assert str(code) == "000.00.01.H56"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "H56",
        "01.02.G22",
        "14.00.W00",
        "000.00.00.H5",
        "000.00.00.56H",
        "000.0.00.H56",
        "000.00.00.HH6",
        "0000.00.00.H56",
        "000-00-00-H56",
        "000.00.00.H٥٦",
        "000.00.00.H56.1",
    ],
)
def test_bad_codes(text: str) -> None:
    assert not edoc.is_valid_organ_id(text)
    with pytest.raises(edoc.FieldFormatError) as caught:
        edoc.parse_organ_id(text)
    assert caught.value.code == "bad_organ_id"
    assert isinstance(caught.value, edoc.EdocError)


def test_direct_construction_is_validated() -> None:
    with pytest.raises(edoc.EdocError) as caught:
        edoc.OrganId("H56", level2="5")
    assert caught.value.code == "bad_organ_id"


def test_children_parents_and_ancestry() -> None:
    province = edoc.parse_organ_id("000.00.00.H56")
    department = province.child(5)
    assert str(department) == "000.00.05.H56"
    office = department.child("3")
    assert str(office) == "000.03.05.H56"
    unit = office.child(12)
    assert str(unit) == "012.03.05.H56"
    assert unit.tier == 4
    assert unit.parent == office and office.parent == department and department.parent == province
    assert province.parent is None
    assert unit.top == province
    assert unit.is_within(province) and unit.is_within(office) and unit.is_within(unit)
    assert not province.is_within(unit)
    assert not unit.is_within(edoc.parse_organ_id("000.00.00.H41"))
    assert not unit.is_within(edoc.parse_organ_id("000.00.06.H56"))


@pytest.mark.parametrize("code", [0, 100, "abc", "-1", ""])
def test_bad_child_codes(code: int | str) -> None:
    with pytest.raises(edoc.FieldFormatError):
        edoc.parse_organ_id("000.00.00.H56").child(code)


def test_level4_has_no_children() -> None:
    with pytest.raises(edoc.FieldFormatError):
        edoc.parse_organ_id("001.01.01.H56").child(1)
    assert str(edoc.parse_organ_id("000.01.01.H56").child(999)) == "999.01.01.H56"


def test_codes_are_frozen_hashable_and_ordered() -> None:
    a, b = edoc.parse_organ_id("000.00.00.H41"), edoc.parse_organ_id("000.00.00.H56")
    assert {a, b, edoc.parse_organ_id("000.00.00.H41")} == {a, b}
    assert sorted([b, a]) == [a, b]
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.level1 = "H01"  # type: ignore[misc]


def test_level1_table_holds_the_confirmed_codes() -> None:
    confirmed = {
        "H14": "Cao Bằng",
        "H20": "Đồng Tháp",
        "H22": "Hà Giang",
        "H29": "Hồ Chí Minh",
        "H41": "Nghệ An",
        "H47": "Quảng Nam",
        "H49": "Quảng Ninh",
        "H56": "Thanh Hóa",
        "G22": "Văn phòng Chính phủ",
    }
    for code, name in confirmed.items():
        info = edoc.level1_info(code)
        assert info is not None, code
        assert (info.name, info.confirmed) == (name, True)
    assert edoc.level1_info("G22").kind == "central"  # type: ignore[union-attr]
    assert edoc.level1_info("h56") == edoc.level1_info("H56")
    assert edoc.level1_info("X99") is None


def test_level1_table_covers_63_provinces_marking_inferred_codes() -> None:
    table = edoc.level1_codes()
    provinces = [info for info in table.values() if info.kind == "province"]
    assert len(provinces) == 63
    assert [info.code for info in provinces] == [f"H{i:02d}" for i in range(1, 64)]
    assert table["H04"].name == "Bắc Kạn" and table["H04"].confirmed is False
    assert table["H17"].name == "Đắk Nông" and table["H17"].confirmed is False
    with pytest.raises(TypeError):
        table["H99"] = table["H56"]  # type: ignore[index]
