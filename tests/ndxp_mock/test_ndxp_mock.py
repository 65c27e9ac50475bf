"""The NDXP process: `python -m ndxp_mock serve`, and a ministry's mail through it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hubkit import G22, H56, SYSTEMS, HubData, Packages, free_port

from lgsp.settings import HubRole, HubSettings
from ndxp_mock import NDXP_HUB_ID, create_app, ndxp_settings


class Process:
    """A hub started from its command line."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.popen = subprocess.Popen(
            [sys.executable, *args, "--port", str(self.port)],
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                output = self.popen.stdout.read().decode() if self.popen.stdout else ""
                raise AssertionError(f"the hub exited with {self.popen.returncode}:\n{output}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("the hub did not start within 60 s")

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


def test_the_ndxp_settings_are_forced(tmp_path: Path) -> None:
    settings = ndxp_settings(data_dir=tmp_path, hub_id="lgsp-h56", role="lgsp")
    assert (settings.hub_id, settings.role) == (NDXP_HUB_ID, HubRole.NDXP)
    app = create_app(HubSettings(hub_id="lgsp-h56", data_dir=tmp_path))
    assert "NDXP" in app.title


def test_a_ministry_receives_through_the_ndxp_processes(
    hub_data: HubData, packages: Packages, tmp_path: Path, processes: list[Process]
) -> None:
    ndxp = Process(
        [
            "-m",
            "ndxp_mock",
            "serve",
            "--data",
            str(hub_data.path),
            "--database-url",
            f"sqlite:///{tmp_path / 'ndxp.db'}",
        ]
    )
    processes.append(ndxp)
    lgsp = Process(
        ["-m", "lgsp", "serve", "--hub-id", "lgsp-h56", "--data", str(hub_data.path)],
        env={"DATABASE_URL": f"sqlite:///{tmp_path / 'h56.db'}", "LGSP_POLL_INTERVAL": "0.2"},
    )
    processes.append(lgsp)
    ndxp.wait_ready()
    lgsp.wait_ready()
    (hub_data.path / "services.json").write_text(
        json.dumps({"ndxp": ndxp.url, "lgsp-h56": lgsp.url})
    )
    try:
        assert httpx.get(ndxp.url + "/health").json() == {
            "hub_id": "ndxp",
            "role": "ndxp",
            "status": "ok",
        }
        with httpx.Client(timeout=10) as client:

            def token(url: str, system_id: str) -> dict[str, str]:
                secret = SYSTEMS[system_id][1]
                response = client.post(
                    url + "/api/v1/token", data={"client_id": system_id, "client_secret": secret}
                )
                return {"Authorization": f"Bearer {response.json()['access_token']}"}

            body = packages.document(H56, (G22,))
            sent = client.post(
                lgsp.url + "/api/v1/packages", content=body, headers=token(lgsp.url, "fleet-h56")
            )
            assert sent.status_code == 201, sent.text
            ministry = token(ndxp.url, "fleet-ndxp")
            deadline = time.monotonic() + 20
            items: list[dict[str, str]] = []
            while not items and time.monotonic() < deadline:
                items = client.get(ndxp.url + "/api/v1/inbox", headers=ministry).json()["items"]
                time.sleep(0.1)
            [item] = items
            assert item["recipient"] == G22
            fetched = client.get(ndxp.url + f"/api/v1/packages/{item['doc_id']}", headers=ministry)
            assert fetched.content == body
            agencies = client.get(ndxp.url + "/api/v1/agencies").json()
            assert [a["organ_id"] for a in agencies] == [G22]
    finally:
        (hub_data.path / "services.json").unlink(missing_ok=True)


def test_startup_errors_are_one_clear_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ndxp_mock", "serve", "--data", str(tmp_path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: sim_json_missing:")
    assert "Traceback" not in result.stderr
    national = subprocess.run(
        [sys.executable, "-m", "lgsp", "serve", "--hub-id", "ndxp", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LGSP_ROLE": "ndxp"},
    )
    assert national.returncode == 2
    assert "ndxp_mock" in national.stderr


def test_a_hub_not_in_the_topology_does_not_start(hub_data: HubData) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lgsp",
            "serve",
            "--hub-id",
            "lgsp-h99",
            "--data",
            str(hub_data.path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "hub_not_in_topology" in result.stderr
    assert "lgsp-h99" in result.stderr
