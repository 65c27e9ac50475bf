"""DMS systems outside the fleets: topology declarations, `lgsp-sim systems`, routing by code."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lgsp.auth import read_systems_file, secret_cipher
from lgsp.routing import Directory, RoutingError
from lgsp.settings import HubSettings
from sim.cli import app
from sim.runtime import DataDir
from sim.topology import TopologyError, expand_topology, load_topology

AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
SPEC = {
    "name": "tiny",
    "provinces": [
        {"code": "H56", "name": "Thanh Hóa", "districts": 1, "communes": 1},
        {"code": "H04", "name": "Bắc Kạn", "districts": 1, "communes": 1},
    ],
    "ministries": [{"organ_id": "000.00.00.G22", "name": "Văn phòng Chính phủ"}],
}


def test_a_topology_declares_systems(tmp_path: Path) -> None:
    spec = {
        **SPEC,
        "systems": [
            {
                "systemid": "dms-vendor",
                "secret": "vendor-secret",
                "hub": "H56",
                "agencies": ["000.00.00.H56", "000.00.07.H56"],
            }
        ],
    }
    topology = expand_topology(spec)
    [system] = topology.systems
    assert (system.system_id, system.hub_id) == ("dms-vendor", "lgsp-h56")
    assert "vendor-secret" not in repr(system)

    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(spec))
    data = DataDir(tmp_path / "data")
    data.prepare(str(path), at=AT)
    entries = {e.system_id: e for e in data.read_systems()}
    assert entries["dms-vendor"].secret == "vendor-secret"
    assert "000.00.00.H56" not in entries["fleet-h56"].agencies  # one agency, one DMS
    assert "000.00.00.H04" in entries["fleet-h04"].agencies


@pytest.mark.parametrize(
    ("system", "code"),
    [
        ({"systemid": "x", "secret": "s", "hub": "H56", "agencies": ["000.00.00.H04"]}, "wrong_hub"),
        ({"systemid": "x", "secret": "s", "hub": "H56", "agencies": ["7.H56"]}, "bad_organ_id"),
        ({"systemid": "x", "secret": "s", "hub": "H99", "agencies": []}, "bad_schema"),
        ({"systemid": "fleet-h56", "secret": "s", "hub": "H56", "agencies": ["000.00.07.H56"]}, "duplicate_system"),
    ],
)  # fmt: skip
def test_bad_system_declarations(system: dict[str, object], code: str) -> None:
    with pytest.raises(TopologyError) as caught:
        expand_topology({**SPEC, "systems": [system]})
    assert caught.value.code == code


def test_unlisted_codes_route_by_their_level_1_code(tmp_path: Path) -> None:
    topology = load_topology("small")
    h56 = Directory(
        topology=topology, hub_id="lgsp-h56", is_national=False, services_path=tmp_path / "s"
    )
    ndxp = Directory(topology=topology, hub_id="ndxp", is_national=True, services_path=tmp_path)
    h04 = Directory(
        topology=topology, hub_id="lgsp-h04", is_national=False, services_path=tmp_path / "s"
    )
    assert topology.home_hub("000.00.07.H56") == "lgsp-h56"
    assert topology.home_hub("000.00.07.G09") == "ndxp"
    assert topology.home_hub("000.00.07.H99") is None
    assert h04.next_hop("000.00.07.H56") == "ndxp"
    assert ndxp.next_hop("000.00.07.H56") == "lgsp-h56"
    assert h56.next_hop("000.00.07.G09") == "ndxp"
    with pytest.raises(RoutingError):
        h56.next_hop("000.00.07.H56")  # its own code, but nobody registered it here
    with pytest.raises(RoutingError):
        h04.next_hop("000.00.07.H99")
    h56.set_hosted(["000.00.07.H56"])
    assert h56.next_hop("000.00.07.H56") is None


def test_systems_add_and_list(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "data"
    DataDir(data).prepare("small", at=AT)
    add = ["systems", "add", "--data", str(data), "--hub", "H56", "--systemid", "dms-x"]
    result = runner.invoke(
        app,
        [
            *add,
            "--secret",
            "s3cret-value",
            "--agency",
            "000.00.07.H56",
            "--agency",
            "000.00.02.H56",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "s3cret-value" not in result.output
    assert "taken from fleet-h56" in result.output

    raw = json.loads((data / "systems.json").read_text())
    entry = next(e for e in raw if e["system_id"] == "dms-x")
    assert "secret" not in entry and entry["created"]
    assert stat.S_IMODE((data / "systems.json").stat().st_mode) == 0o600
    fleet = next(e for e in raw if e["system_id"] == "fleet-h56")
    assert "000.00.02.H56" not in fleet["agencies"]
    # The hub decrypts it with its own key.
    settings = HubSettings(hub_id="lgsp-h56", data_dir=data)
    cipher = secret_cipher(settings.resolved_token_secret(), hub_id="lgsp-h56")
    entries = read_systems_file(data / "systems.json", hub_id="lgsp-h56", cipher=cipher)
    assert entries is not None
    assert {e.system_id: e.secret for e in entries}["dms-x"] == "s3cret-value"

    # `up` / `init` again keep it.
    DataDir(data).prepare(None, at=AT)
    assert "dms-x" in {e.system_id for e in DataDir(data).read_systems()}

    listed = runner.invoke(app, ["systems", "list", "--data", str(data), "--hub", "H56"])
    assert listed.exit_code == 0, listed.output
    assert "dms-x" in listed.output and "fleet-h04" not in listed.output
    assert "s3cret-value" not in listed.output

    refusals = {
        "agency_taken": [*add[:-1], "dms-y", "--secret", "s", "--agency", "000.00.07.H56"],
        "agency_wrong_hub": [*add, "--secret", "s", "--agency", "000.00.07.H04"],
        "bad_agency": [*add, "--secret", "s", "--agency", "H56"],
        "unknown_hub": [*add[:5], "H99", *add[6:], "--secret", "s", "--agency", "000.00.07.H56"],
        "bad_systemid": [*add[:-1], "fleet-h56", "--secret", "s", "--agency", "000.00.07.H56"],
    }
    for code, arguments in refusals.items():
        refused = runner.invoke(app, arguments)
        assert refused.exit_code == 2, (code, refused.output)
        assert f"error: {code}" in refused.output
