"""The data directory: preparation, reuse, and the JSON files of docs/exchange.md."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

import sim.topology
from keys import CertKind, KeyStore
from sim.runtime import DataDir, DataDirError, fleet_id_for, hub_schema_for
from sim.runtime.datadir import topology_reference

AT = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def test_names_follow_the_contract() -> None:
    assert fleet_id_for("lgsp-h56") == "fleet-h56"
    assert fleet_id_for("ndxp") == "fleet-ndxp"
    assert hub_schema_for("lgsp-h56") == "hub_lgsp_h56"
    assert hub_schema_for("ndxp", prefix="e2e_ab12_") == "e2e_ab12_ndxp"


def test_prepare_makes_everything_the_processes_need(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "d")
    topology = data.prepare("small", at=AT)

    assert data.read_sim().topology == "small"
    assert data.read_sim().created == AT.isoformat()
    assert (data.logs_dir).is_dir() and data.hubs_dir.is_dir()
    store = KeyStore(data.keys_dir)
    hubs = {r.name for r in store.records() if r.kind is CertKind.HUB}
    assert hubs == {h.hub_id for h in topology.hubs()}

    systems = data.read_systems()
    assert [s.system_id for s in systems] == ["fleet-ndxp", "fleet-h56", "fleet-h04"]
    for entry in systems:
        assert entry.agencies == tuple(a.organ_id for a in topology.agencies_of(entry.hub_id))
        assert len(entry.secret) >= 32
    assert stat.S_IMODE(data.systems_file.stat().st_mode) == 0o600
    raw = json.loads(data.systems_file.read_text())
    assert set(raw[0]) == {"system_id", "secret", "hub_id", "agencies"}


def test_prepare_again_reuses_keys_and_secrets(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    data.prepare("small", at=AT)
    secrets_before = {s.system_id: s.secret for s in data.read_systems()}
    root_before = (data.keys_dir / "ca" / "root.crt.pem").read_bytes()
    index_before = (data.keys_dir / "index.json").read_text()

    topology = data.prepare(None, at=AT)  # None: the recorded topology

    assert topology.name == "small"
    assert {s.system_id: s.secret for s in data.read_systems()} == secrets_before
    assert (data.keys_dir / "index.json").read_text() == index_before
    assert (data.keys_dir / "ca" / "root.crt.pem").read_bytes() == root_before


def test_a_directory_keeps_its_topology(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    data.prepare("small", at=AT)
    with pytest.raises(DataDirError) as caught:
        data.prepare("two-tier-2025", at=AT)
    assert caught.value.code == "topology_mismatch"
    assert "small" in caught.value.message


def test_a_topology_file_is_recorded_by_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Path(sim.topology.__file__).parent / "presets" / "small.json"
    mine = tmp_path / "mine.json"
    mine.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert topology_reference("mine.json") == str(mine)
    data = DataDir(tmp_path / "d")
    data.prepare("mine.json", at=AT)
    assert data.read_sim().topology == str(mine)
    assert len(data.load_topology()) == len(sim.topology.load_topology("small"))


def test_services_file_round_trip_and_missing(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    with pytest.raises(DataDirError) as caught:
        data.read_services()
    assert caught.value.code == "not_running"
    assert "lgsp-sim up" in caught.value.message
    data.write_services({"ndxp": "http://127.0.0.1:1234"})
    assert data.read_services() == {"ndxp": "http://127.0.0.1:1234"}
    assert not list(tmp_path.glob(".services.json.*"))  # no temporary file left behind


def test_unreadable_files_say_which(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    data.sim_file.write_text("{not json")
    with pytest.raises(DataDirError) as caught:
        data.read_sim()
    assert caught.value.code == "bad_data_file"
    assert "sim.json" in caught.value.message
    with pytest.raises(DataDirError) as missing:
        DataDir(tmp_path / "nothing").read_sim()
    assert missing.value.code == "not_initialised"


def test_system_lookup(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    data.prepare("small", at=AT)
    assert data.system("fleet-h56").hub_id == "lgsp-h56"
    with pytest.raises(DataDirError) as caught:
        data.system("fleet-x")
    assert caught.value.code == "unknown_system"
