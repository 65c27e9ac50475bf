"""Topologies agree with the edXML layer on agency codes and level-1 names."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from sim.topology import Topology, load_topology, preset_names


@pytest.fixture(scope="module")
def edoc() -> ModuleType:
    module = importlib.import_module("edoc")
    if not hasattr(module, "parse_organ_id"):
        # Seen when the editable install predates edoc/__init__.py: without the working
        # directory on sys.path, `edoc` then imports as an empty namespace package.
        pytest.fail(
            f"edoc imported without its API (from {module.__path__}); reinstall the package "
            "(`.venv/bin/pip install -e .`) or run `python -m pytest`"
        )
    return module


@pytest.fixture(scope="module", params=["three-tier-2023", "two-tier-2025", "small"])
def preset(request: pytest.FixtureRequest) -> Topology:
    return load_topology(request.param)


def test_all_presets_are_covered() -> None:
    assert set(preset_names()) == {"three-tier-2023", "two-tier-2025", "small"}


def test_edoc_accepts_every_organ_id(edoc: ModuleType, preset: Topology) -> None:
    # A hub checks From/OrganId with edoc: every agency of a topology must pass, canonically.
    for agency in preset.iter_agencies():
        assert str(edoc.parse_organ_id(agency.organ_id)) == agency.organ_id


def test_edoc_sees_local_agencies_within_their_province(edoc: ModuleType, preset: Topology) -> None:
    for province in preset.provinces:
        top = edoc.parse_organ_id(f"000.00.00.{province.code}")
        for agency in province.agencies:
            code = edoc.parse_organ_id(agency.organ_id)
            assert code.is_province
            assert code.is_within(top)
    for ministry in preset.ministries:
        assert edoc.parse_organ_id(ministry.organ_id).is_ministry


def test_province_names_agree_with_edoc_level1_table(edoc: ModuleType, preset: Topology) -> None:
    for province in preset.provinces:
        info = edoc.level1_info(province.code)
        assert info is not None, province.code
        assert info.name == province.name
    assert edoc.level1_info("G22") is not None
