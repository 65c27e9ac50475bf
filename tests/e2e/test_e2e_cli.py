"""The commands a user types: `lgsp-sim up`, `send`, `init`, `demo`, as real processes (SQLite)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sim.runtime import DataDir

LGSP_SIM = str(Path(sys.executable).with_name("lgsp-sim"))
ENV = {**os.environ, "COLUMNS": "160", "LGSP_OUTBOX_RETRY_CAP": "1.0"}


def lgsp_sim(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run one `lgsp-sim` command to its end."""
    return subprocess.run(
        [LGSP_SIM, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
        check=False,
    )


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "State:\tZ" not in status.read_text()
    except OSError:
        return False


class Up:
    """`lgsp-sim up` running in the background."""

    def __init__(self, data: Path, *args: str) -> None:
        self.data = data
        self.log = (data.parent / f"up-{time.monotonic_ns()}.out").open("w+")
        self.process = subprocess.Popen(
            [LGSP_SIM, "up", "--data", str(data), *args],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=ENV,
        )

    def wait_ready(self, timeout: float = 90) -> dict[str, str]:
        """Wait until services.json exists and every service answers."""
        deadline = time.monotonic() + timeout
        services = DataDir(self.data).services_file
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            if services.exists():
                urls: dict[str, str] = json.loads(services.read_text())
                if all(_answers(url) for url in urls.values()) and "services up" in self.output():
                    return urls
            time.sleep(0.2)
        raise AssertionError(f"`lgsp-sim up` not ready in {timeout} s:\n{self.output()}")

    def stop(self, signum: signal.Signals) -> int:
        """Signal it, wait for its end, and check that no child outlived it."""
        children = _children(self.process.pid)
        assert children, "up has no child processes"
        self.process.send_signal(signum)
        code = self.process.wait(timeout=30)
        deadline = time.monotonic() + 5
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(c) for c in children), "a service outlived `lgsp-sim up`"
        return code

    def output(self) -> str:
        """What it printed so far."""
        self.log.flush()
        return Path(self.log.name).read_text()

    def kill(self) -> None:
        """Last resort after a failed test."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=1, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def up_small(tmp_path: Path) -> Iterator[Up]:
    """`lgsp-sim up --topology small` in a fresh directory."""
    running = Up(tmp_path / "data", "--topology", "small")
    try:
        yield running
    finally:
        running.kill()


def test_up_send_stop_and_up_again(up_small: Up) -> None:
    urls = up_small.wait_ready()
    assert set(urls) == {"ndxp", "lgsp-h56", "lgsp-h04", "fleet-ndxp", "fleet-h56", "fleet-h04"}
    table = up_small.output()
    for name in urls:
        assert name in table
    assert "provincial axis (LGSP)" in table and "hubs/lgsp-h56.db" in table

    sent = lgsp_sim(
        "send",
        "--data",
        up_small.data,
        "--from",
        "000.00.00.H56",
        "--to",
        "000.00.00.H04",
        "--subject",
        "Về việc thử nghiệm",
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    for expected in ("Receipt", "lgsp-h56", "ndxp", "lgsp-h04", "forwarded", "delivered", "06"):
        assert expected in sent.stdout, (expected, sent.stdout)

    quick = lgsp_sim(
        "send",
        "--data",
        up_small.data,
        "--from",
        "000.00.00.G22",
        "--to",
        "000.00.50.H56",
        "--no-wait",
    )
    assert quick.returncode == 0, quick.stderr
    assert "DocumentId" in quick.stdout and "statuses back" not in quick.stdout
    document_id = next(
        line.split()[-2] for line in quick.stdout.splitlines() if "DocumentId" in line
    )

    refused = lgsp_sim(
        "send",
        "--data",
        up_small.data,
        "--from",
        "000.00.00.H56",
        "--to",
        "000.00.00.G22",
        "--unsigned",
    )
    assert refused.returncode == 1
    assert "signature_missing" in refused.stdout

    unknown = lgsp_sim("send", "--data", up_small.data, "--from", "999.00.00.H99", "--to", "x")
    assert unknown.returncode == 2
    assert "unknown_agency" in unknown.stderr and "Traceback" not in unknown.stderr

    systems = DataDir(up_small.data).systems_file.read_text()
    root = (up_small.data / "keys" / "ca" / "root.crt.pem").read_bytes()
    assert up_small.stop(signal.SIGINT) == 0  # Ctrl-C
    assert not DataDir(up_small.data).services_file.exists()
    assert "stopped." in up_small.output()

    # Again on the same directory, without --topology: keys, systems, databases are reused.
    again = Up(up_small.data)
    try:
        urls = again.wait_ready()
        assert DataDir(up_small.data).systems_file.read_text() == systems
        assert (up_small.data / "keys" / "ca" / "root.crt.pem").read_bytes() == root
        trace = httpx.get(
            urls["ndxp"] + "/api/v1/trace",
            params={"sender": "000.00.00.G22", "document_id": document_id},
            trust_env=False,
        )
        assert trace.status_code == 200, trace.text  # stored by the first run
        assert again.stop(signal.SIGTERM) == 0
    finally:
        again.kill()


def test_send_without_a_running_topology_says_what_to_do(tmp_path: Path) -> None:
    result = lgsp_sim(
        "send", "--data", tmp_path, "--from", "000.00.00.H56", "--to", "000.00.00.G22"
    )
    assert result.returncode == 2
    assert "not_running" in result.stderr and "lgsp-sim up" in result.stderr
    assert "Traceback" not in result.stderr
    # A stale services.json (an `up` that was killed) says the same.
    DataDir(tmp_path).prepare(
        "small", at=__import__("datetime").datetime.now(__import__("datetime").UTC)
    )
    DataDir(tmp_path).write_services(
        {"fleet-h56": "http://127.0.0.1:9", "lgsp-h56": "http://127.0.0.1:9"}
    )
    stale = lgsp_sim("send", "--data", tmp_path, "--from", "000.00.00.H56", "--to", "000.00.00.G22")
    assert stale.returncode == 2
    assert "not_running" in stale.stderr and "lgsp-sim up" in stale.stderr


def test_init_prepares_without_starting(tmp_path: Path) -> None:
    result = lgsp_sim(
        "init", "--data", tmp_path, "--topology", "small", "--service-urls", "http://{name}:8000"
    )
    assert result.returncode == 0, result.stderr
    data = DataDir(tmp_path)
    assert data.read_sim().topology == "small"
    assert data.read_services()["lgsp-h56"] == "http://lgsp-h56:8000"
    assert [s.system_id for s in data.read_systems()] == ["fleet-ndxp", "fleet-h56", "fleet-h04"]
    assert not list(data.logs_dir.iterdir())  # nothing was started
    mismatch = lgsp_sim("init", "--data", tmp_path, "--topology", "two-tier-2025")
    assert mismatch.returncode == 2 and "topology_mismatch" in mismatch.stderr


def test_the_demo_is_a_smoke_test(tmp_path: Path) -> None:
    result = lgsp_sim("demo", "--data", tmp_path, "--topology", "small", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    for expected in (
        "every expected outcome happened",
        "signature_missing",
        "signature_invalid",
        "Hubs (GET /api/v1/stats)",
        "Fleets (GET /fleet/stats)",
        "Pass-on by",
    ):
        assert expected in result.stdout, expected
    assert not DataDir(tmp_path).services_file.exists()  # everything stopped


def test_the_signing_tour_is_still_there(tmp_path: Path) -> None:
    result = lgsp_sim("tour", "--data", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "a tampered copy is refused" in result.stdout
    assert (tmp_path / "demo-document.edxml").is_file()
