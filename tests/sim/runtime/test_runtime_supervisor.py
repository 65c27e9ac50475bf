"""The supervisor on stand-in services: command lines, ports, health, stops, outages, errors.

A fake ``python`` runs ``fake_service.py`` with the exact arguments the supervisor gives the
real services, so what is checked here is the contract's command line and environment; the
real services are exercised by tests/e2e.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from sim.runtime import DataDir, Role, Supervisor, SupervisorError, is_running, plan_services
from sim.topology import load_topology

FAKE = Path(__file__).with_name("fake_service.py")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory prepared once for the `small` topology (the CA takes a moment)."""
    root = tmp_path_factory.mktemp("prepared")
    DataDir(root).prepare("small", at=datetime.now(UTC))
    return root


@pytest.fixture
def data(prepared: Path, tmp_path: Path) -> Path:
    """A copy of the prepared directory for one test."""
    target = tmp_path / "data"
    shutil.copytree(prepared, target)
    return target


@pytest.fixture
def fake_python(tmp_path: Path) -> str:
    """An executable that stands for ``python``: runs the fake service with the same argv."""
    script = tmp_path / "python"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.fixture
def supervisor(data: Path, fake_python: str) -> Iterator[Supervisor]:
    """A supervisor for `small` whose children are fakes; stopped after the test."""
    running = Supervisor(data, python=fake_python, health_timeout=15, stop_timeout=5)
    yield running
    running.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose; /proc tells.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def test_plan_covers_every_hub_and_a_fleet_per_hub() -> None:
    specs = plan_services(load_topology("small"))
    assert [(s.name, s.role) for s in specs] == [
        ("ndxp", Role.NDXP),
        ("lgsp-h56", Role.LGSP),
        ("lgsp-h04", Role.LGSP),
        ("fleet-ndxp", Role.FLEET),
        ("fleet-h56", Role.FLEET),
        ("fleet-h04", Role.FLEET),
    ]
    lgsp = specs[1].command(python="py", data=Path("/d"), port=9)
    assert lgsp == [
        "py",
        "-m",
        "lgsp",
        "serve",
        "--hub-id",
        "lgsp-h56",
        "--data",
        "/d",
        "--port",
        "9",
    ]
    assert specs[0].command(python="py", data=Path("/d"), port=9)[:4] == [
        "py",
        "-m",
        "ndxp_mock",
        "serve",
    ]
    assert specs[4].command(python="py", data=Path("/d"), port=9)[2:6] == [
        "agencies",
        "serve",
        "--fleet-id",
        "fleet-h56",
    ]


def test_start_writes_services_json_and_everything_answers(
    supervisor: Supervisor, data: Path
) -> None:
    supervisor.start()
    urls = json.loads((data / "services.json").read_text())
    assert urls == supervisor.urls
    assert set(urls) == {"ndxp", "lgsp-h56", "lgsp-h04", "fleet-ndxp", "fleet-h56", "fleet-h04"}
    assert len({u.rsplit(":", 1)[1] for u in urls.values()}) == 6
    for name, url in urls.items():
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url + "/health", trust_env=False).status_code == 200
        assert (data / "logs" / f"{name}.log").read_text().count("fake ") == 1
    recorded = json.loads((data / "fake-lgsp-h56.json").read_text())
    assert recorded["argv"][-4:] == [
        "--data",
        str(data),
        "--port",
        urls["lgsp-h56"].rsplit(":", 1)[1],
    ]
    assert "DATABASE_URL" not in recorded["env"]  # SQLite unless asked
    assert is_running(DataDir(data))


def test_stop_leaves_no_process_and_no_services_file(supervisor: Supervisor, data: Path) -> None:
    supervisor.start()
    pids = [s.pid for s in supervisor.services.values()]
    supervisor.stop()
    assert all(pid is not None and not _alive(pid) for pid in pids)
    assert not (data / "services.json").exists()
    assert not is_running(DataDir(data))
    supervisor.stop()  # idempotent


def test_stop_reaches_what_a_service_spawned(
    supervisor: Supervisor, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    supervisor.env = {"FAKE_MODE": "spawn", "FAKE_ONLY": "lgsp-h56"}
    supervisor.start()
    grandchild = int((data / "grandchild-lgsp-h56.pid").read_text())
    assert _alive(grandchild)
    supervisor.stop()
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_an_outage_and_a_restart_on_the_same_port(supervisor: Supervisor) -> None:
    supervisor.start()
    url = supervisor.urls["ndxp"]
    old_pid = supervisor.services["ndxp"].pid
    supervisor.stop_service("ndxp")
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/health", trust_env=False, timeout=1)
    assert supervisor.urls["ndxp"] == url
    supervisor.start_service("ndxp")
    assert supervisor.services["ndxp"].pid != old_pid
    assert httpx.get(url + "/health", trust_env=False).status_code == 200


def test_database_url_gives_each_hub_its_schema(data: Path, fake_python: str) -> None:
    with Supervisor(
        data,
        python=fake_python,
        database_url="postgresql://postgres@127.0.0.1/test",
        schema_prefix="t_",
        fleet_env={"FLEET_PROFILE": "demo"},
        hub_env={"LGSP_POLL_INTERVAL": "0.2"},
    ):
        hub = json.loads((data / "fake-lgsp-h04.json").read_text())["env"]
        fleet = json.loads((data / "fake-fleet-h04.json").read_text())["env"]
    assert hub["DATABASE_URL"] == "postgresql://postgres@127.0.0.1/test"
    assert hub["LGSP_DATABASE_SCHEMA"] == "t_lgsp_h04"
    assert hub["LGSP_POLL_INTERVAL"] == "0.2"
    assert "DATABASE_URL" not in fleet and fleet["FLEET_PROFILE"] == "demo"


def test_a_user_database_url_does_not_leak_into_sqlite_hubs(
    data: Path, fake_python: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://elsewhere/app")
    with Supervisor(data, python=fake_python):
        hub = json.loads((data / "fake-lgsp-h56.json").read_text())["env"]
    assert "DATABASE_URL" not in hub


def test_a_crashing_service_is_named_with_its_log(supervisor: Supervisor, data: Path) -> None:
    supervisor.env = {"FAKE_MODE": "crash", "FAKE_ONLY": "lgsp-h04"}
    with pytest.raises(SupervisorError) as caught:
        supervisor.start()
    assert caught.value.code == "service_exited"
    assert "lgsp-h04 exited with code 3" in caught.value.message
    assert "something went badly wrong" in caught.value.message
    assert all(not s.running for s in supervisor.services.values())
    assert not is_running(DataDir(data))


def test_a_silent_service_times_out_by_name(supervisor: Supervisor) -> None:
    supervisor.env = {"FAKE_MODE": "mute", "FAKE_ONLY": "fleet-h56"}
    supervisor.health_timeout = 2
    started = time.monotonic()
    with pytest.raises(SupervisorError) as caught:
        supervisor.start()
    assert caught.value.code == "health_timeout"
    assert "fleet-h56 did not answer" in caught.value.message
    assert "mode='mute'" in caught.value.message  # the tail of its log
    assert time.monotonic() - started < 15
    assert all(not s.running for s in supervisor.services.values())


def test_one_topology_per_data_directory(
    supervisor: Supervisor, data: Path, fake_python: str
) -> None:
    supervisor.start()
    with pytest.raises(SupervisorError) as caught:
        Supervisor(data, python=fake_python).start()
    assert caught.value.code == "already_running"
    assert supervisor.services["ndxp"].running  # the first one is untouched


def test_a_port_answered_by_someone_else_is_refused(supervisor: Supervisor) -> None:
    supervisor.start()
    other = supervisor.services["lgsp-h56"]
    supervisor.stop_service("lgsp-h04")
    # Point lgsp-h04 at lgsp-h56's port: its health answer names another hub.
    supervisor.services["lgsp-h04"].port = other.port
    supervisor.services["lgsp-h04"].process = None
    supervisor.env = {"FAKE_MODE": "mute", "FAKE_ONLY": "lgsp-h04"}
    with pytest.raises(SupervisorError) as caught:
        supervisor.start_service("lgsp-h04")
    assert caught.value.code == "port_taken"


def test_dies_with_its_parent(data: Path, fake_python: str, tmp_path: Path) -> None:
    # An orchestrator killed by SIGKILL cannot stop its children: the kernel does (pdeathsig).
    script = tmp_path / "orchestrator.py"
    script.write_text(
        "import sys, time, json\n"
        "from sim.runtime import Supervisor\n"
        f"s = Supervisor({str(data)!r}, python={fake_python!r}).start()\n"
        "print(json.dumps([x.pid for x in s.services.values()]), flush=True)\n"
        "time.sleep(3600)\n"
    )
    orchestrator = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True
    )
    assert orchestrator.stdout is not None
    pids = json.loads(orchestrator.stdout.readline())
    os.kill(orchestrator.pid, signal.SIGKILL)
    orchestrator.wait()
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)


def test_database_url_must_be_postgresql(data: Path) -> None:
    with pytest.raises(SupervisorError) as caught:
        Supervisor(data, database_url="sqlite:///x.db")
    assert caught.value.code == "bad_database_url"
