"""`lgsp-sim bench exchange`: how fast one hub accepts signed packages, against its floor.

Every figure comes from one run on the current machine, with the same load generator
(`sim.bench._load`, its own process) for every rate:

1. the HTTP ceiling: a bare FastAPI endpoint (`sim.bench._bare`, the hubs' uvicorn options)
   that only reads a ~20 KB package body;
2. one envelope verification (`keys.verify_envelope`) of the same package, in-process;
3. the floor they give together: ``1 / (1/bare + verify)`` — what a hub doing nothing but
   HTTP and verification would reach on one core;
4. one real LGSP (`python -m lgsp serve`, SQLite) accepting distinct signed packages;
5. the same hub with statistics off (``LGSP_STATS=false``), on the same packages: what
   statistics cost the acceptance rate (issue 5's bar: at most 10%);
6. end-to-end inter-province documents through the `small` topology until 01, 03 and 06 are
   back at the sender.

`measure_acceptance` takes the hub's environment, so a caller can compare other settings on
the same packages the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol, Self

import httpx

import edoc
import keys
from sim.errors import SimError
from sim.runtime import (
    DataDir,
    Exchange,
    Role,
    SendRequest,
    ServiceError,
    ServiceSpec,
    Supervisor,
    check_database_url,
    fleet_id_for,
    sync_client,
)
from sim.topology import Topology

from ._bare import SUBMIT_PATH
from ._load import (
    GENERATOR_NAME,
    LoadResult,
    LoadSpec,
    count_bodies,
    percentile,
    run_load_process,
    run_wrk,
    write_bodies,
    wrk_available,
)
from ._timing import measure

# The bar of the issue: one hub accepts at least 0.6x the floor of HTTP + verification.
ACCEPTANCE_BAR = 0.6
# Issue 5's bar: statistics cost the hub's acceptance rate at most 10% (of the rate off).
STATS_OVERHEAD_BAR_PCT = 10.0
STATS_OFF = {"LGSP_STATS": "false"}
TOPOLOGY = "small"
HUB_ID = "lgsp-h56"
PROVINCE = "H56"
OTHER_PROVINCE = "H04"
FLEET_PROFILE = "demo"
WANTED = ("01", "03", "06")
REJECTED = "02"

DEFAULT_SECONDS = 5.0
DEFAULT_WARMUP = 1.0
DEFAULT_CONCURRENCY = 32
DEFAULT_REPEAT = 3
DEFAULT_DOCUMENTS = 60
DEFAULT_E2E_CONCURRENCY = 8
DEFAULT_E2E_TIMEOUT = 180.0
# Packages beyond what the floor says could be accepted in the run, so the run never starves.
PACKAGE_MARGIN = 1.25
MIN_PACKAGES = 500
MAX_PACKAGES = 100_000
PACKAGES_PER_TASK = 250
RECIPE = "bench-exchange/1"  # change when the packages' recipe changes: the cache is rebuilt
HEALTH_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0
E2E_PAIRS = 8  # distinct sender/recipient agencies, each warmed up (keys issued) first
E2E_POLL_INTERVAL = 0.2
E2E_POLL_CONCURRENCY = 8
E2E_MIN_AGE = 0.5  # the demo profile's 06 comes ~1.1 s after 01: no poll before this age


class BenchError(SimError):
    """The bench could not measure something: a stable code and a clear message."""


class Reporter(Protocol):
    """Where the bench tells what it is doing (the CLI shows a progress display)."""

    def phase(self, text: str, total: int | None = None) -> None:
        """A new phase begins (``total``: how many steps it counts, if it counts any)."""

    def advance(self, completed: int, total: int | None = None) -> None:
        """The current phase has ``completed`` steps done."""


class _Silent:
    def phase(self, text: str, total: int | None = None) -> None:
        """Ignore."""

    def advance(self, completed: int, total: int | None = None) -> None:
        """Ignore."""


# --- figures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EndToEnd:
    """Documents sent between two provinces until 01, 03 and 06 came back to the sender."""

    documents: int  # sent in the timed part
    completed: int  # with 01, 03 and 06 back at the sender
    seconds: float  # from the first send call to the last completion seen
    latencies_ms: tuple[float, ...] = ()  # send call → 06 seen at the sender's fleet
    hub_latencies_ms: tuple[float, ...] = ()  # accepted → 06 stored, at the sender's hub
    errors: dict[str, int] = field(default_factory=dict)
    concurrency: int = DEFAULT_E2E_CONCURRENCY

    @property
    def docs_per_s(self) -> float:
        """Completed documents per second over the whole timed part."""
        return self.completed / self.seconds if self.seconds > 0 else 0.0

    def latency_ms(self, pct: float) -> float:
        """A percentile of the send-to-06 latency."""
        return percentile(sorted(self.latencies_ms), pct)

    def hub_latency_ms(self, pct: float) -> float:
        """A percentile of the accepted-to-06 latency on the sender hub's clock."""
        return percentile(sorted(self.hub_latencies_ms), pct)


@dataclass(frozen=True)
class BareRun:
    """One measured run of the bare endpoint."""

    load: LoadResult
    cpu_share: float | None = None  # CPU the server got in the window, in cores (Linux)

    @property
    def per_s(self) -> float:
        """201 answers per second."""
        return self.load.rate_of(201)


@dataclass(frozen=True)
class AcceptanceRun:
    """One measured run of a real hub accepting distinct signed packages."""

    load: LoadResult
    hub_env: dict[str, str] = field(default_factory=dict)
    accepted_by_hub: int | None = None  # the hub's own count (stats), as a cross-check
    profile: Path | None = None  # py-spy's folded stacks of the hub, when asked
    cpu_share: float | None = None  # CPU the hub process got in the window, in cores (Linux)

    @property
    def per_s(self) -> float:
        """201 answers (packages accepted and stored) per second."""
        return self.load.rate_of(201)


@dataclass(frozen=True)
class Round:
    """One round of the repeated measurements, with the load average before it."""

    load_average: float
    bare: BareRun
    envelope_verify_ms: float
    acceptance: AcceptanceRun
    acceptance_stats_off: AcceptanceRun | None = None  # None: the comparison was skipped

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        off = self.acceptance_stats_off
        return {
            "load_average_1m": round(self.load_average, 2),
            "bare_requests_per_s": round(self.bare.per_s, 1),
            "bare_server_cpu_share": _rounded(self.bare.cpu_share, 2),
            "envelope_verify_ms": round(self.envelope_verify_ms, 4),
            "acceptance_per_s": round(self.acceptance.per_s, 1),
            "acceptance_hub_cpu_share": _rounded(self.acceptance.cpu_share, 2),
            "acceptance_stats_off_per_s": round(off.per_s, 1) if off is not None else None,
            "acceptance_stats_off_hub_cpu_share": (
                _rounded(off.cpu_share, 2) if off is not None else None
            ),
        }


def _rounded(value: float | None, digits: int) -> float | None:
    return round(value, digits) if value is not None else None


def stats_overhead_pct(on_per_s: float, off_per_s: float) -> float | None:
    """``100 × (off − on) / off``: positive when statistics cost throughput (None if off is 0)."""
    return 100.0 * (off_per_s - on_per_s) / off_per_s if off_per_s > 0 else None


@dataclass(frozen=True)
class ExchangeFigures:
    """The figures `bench exchange` prints."""

    cpu_count: int
    load_average: tuple[float, float, float]
    package_bytes: int
    load_generator: str
    concurrency: int
    # Each the best of the rounds, on its own (contention only ever slows a run down).
    bare: BareRun
    envelope_verify_ms: float
    acceptance: AcceptanceRun  # with the hub's statistics on (as ``hub_env`` says)
    end_to_end: EndToEnd | None
    bare_wrk_requests_per_s: float | None = None
    packages_available: int = 0
    load_average_end: tuple[float, float, float] | None = None
    rounds: tuple[Round, ...] = ()
    acceptance_stats_off: AcceptanceRun | None = None  # None: the comparison was skipped
    database: str = "sqlite"  # where the measured hubs stored: "sqlite" or "postgresql"

    @property
    def bare_requests_per_s(self) -> float:
        """The bare endpoint's 201 answers per second: the HTTP ceiling."""
        return self.bare.per_s

    @property
    def floor_per_s(self) -> float:
        """What HTTP and one verification per package allow together, on one core."""
        return floor_per_s(self.bare_requests_per_s, self.envelope_verify_ms)

    @property
    def acceptance_per_s(self) -> float:
        """The hub's accepted packages per second."""
        return self.acceptance.per_s

    @property
    def acceptance_vs_floor(self) -> float:
        """The hub's acceptance rate over the floor."""
        floor = self.floor_per_s
        return self.acceptance_per_s / floor if floor > 0 else 0.0

    @property
    def acceptance_bar_met(self) -> bool:
        """Whether the hub reaches the issue's bar (≥ 0.6x the floor)."""
        return self.acceptance_vs_floor >= ACCEPTANCE_BAR

    @property
    def acceptance_stats_off_per_s(self) -> float | None:
        """The hub's accepted packages per second with statistics off (None: not measured)."""
        off = self.acceptance_stats_off
        return off.per_s if off is not None else None

    @property
    def stats_overhead_pct(self) -> float | None:
        """What statistics cost the acceptance rate, in % of the rate off (positive: slower)."""
        off = self.acceptance_stats_off_per_s
        return stats_overhead_pct(self.acceptance_per_s, off) if off is not None else None

    @property
    def stats_overhead_within_bar(self) -> bool | None:
        """Whether statistics cost at most `STATS_OVERHEAD_BAR_PCT` (None: not measured)."""
        pct = self.stats_overhead_pct
        return pct <= STATS_OVERHEAD_BAR_PCT if pct is not None else None

    def as_dict(self) -> dict[str, Any]:
        """Flatten for JSON: the issue's keys first, then details."""
        e2e = self.end_to_end
        acc = self.acceptance.load
        out: dict[str, Any] = {
            "bare_requests_per_s": round(self.bare_requests_per_s, 1),
            "envelope_verify_ms": round(self.envelope_verify_ms, 4),
            "floor_per_s": round(self.floor_per_s, 1),
            "acceptance_per_s": round(self.acceptance_per_s, 1),
            "acceptance_vs_floor": round(self.acceptance_vs_floor, 3),
            "acceptance_bar": ACCEPTANCE_BAR,
            "acceptance_bar_met": self.acceptance_bar_met,
            "acceptance_stats_off_per_s": _rounded(self.acceptance_stats_off_per_s, 1),
            "stats_overhead_pct": _rounded(self.stats_overhead_pct, 1),
            "stats_overhead_bar_pct": STATS_OVERHEAD_BAR_PCT,
            "stats_overhead_within_bar": self.stats_overhead_within_bar,
            "end_to_end_docs_per_s": round(e2e.docs_per_s, 2) if e2e else None,
            "latency_p50_ms": round(e2e.latency_ms(50), 1) if e2e else None,
            "latency_p99_ms": round(e2e.latency_ms(99), 1) if e2e else None,
            "documents": e2e.documents if e2e else 0,
            "database": self.database,
            "load_generator": self.load_generator,
            "cpu_count": self.cpu_count,
            "load_average": list(self.load_average),
            "load_average_end": list(self.load_average_end) if self.load_average_end else None,
            "package_bytes": self.package_bytes,
            "concurrency": self.concurrency,
            "repeat": len(self.rounds) or 1,
            "bare_seconds": round(self.bare.load.seconds, 2),
            "bare_errors": dict(self.bare.load.errors),
            "bare_server_cpu_share": _rounded(self.bare.cpu_share, 2),
            "bare_wrk_requests_per_s": (
                round(self.bare_wrk_requests_per_s, 1)
                if self.bare_wrk_requests_per_s is not None
                else None
            ),
            "acceptance_seconds": round(acc.seconds, 2),
            "acceptance_accepted": acc.window_statuses.get(201, 0),
            "acceptance_statuses": {str(k): v for k, v in sorted(acc.statuses.items())},
            "acceptance_errors": dict(acc.errors),
            "acceptance_request_p50_ms": round(acc.latency_p50_ms, 2),
            "acceptance_request_p99_ms": round(acc.latency_p99_ms, 2),
            "acceptance_packages_ran_out": acc.exhausted,
            "acceptance_accepted_by_hub": self.acceptance.accepted_by_hub,
            "acceptance_hub_env": dict(self.acceptance.hub_env),
            "acceptance_hub_cpu_share": _rounded(self.acceptance.cpu_share, 2),
            "acceptance_stats_off_hub_env": (
                dict(self.acceptance_stats_off.hub_env) if self.acceptance_stats_off else None
            ),
            "acceptance_stats_off_errors": (
                dict(self.acceptance_stats_off.load.errors) if self.acceptance_stats_off else None
            ),
            "packages_available": self.packages_available,
            "rounds": [r.as_dict() for r in self.rounds],
        }
        if e2e is not None:
            out.update(
                end_to_end_completed=e2e.completed,
                end_to_end_seconds=round(e2e.seconds, 2),
                end_to_end_concurrency=e2e.concurrency,
                end_to_end_errors=dict(e2e.errors),
                latency_measured="send call → 06 seen at the sender's fleet (polled every 0.2 s)",
                hub_latency_p50_ms=round(e2e.hub_latency_ms(50), 1),
                hub_latency_p99_ms=round(e2e.hub_latency_ms(99), 1),
                hub_latency_measured="accepted → 06 stored, both at the sender's LGSP",
                fleet_profile=FLEET_PROFILE,
            )
        return out


def floor_per_s(bare_per_s: float, verify_ms: float) -> float:
    """``1 / (1/bare + verify)``: HTTP handling and verification, one after the other."""
    if bare_per_s <= 0:
        return 0.0
    return 1.0 / (1.0 / bare_per_s + verify_ms / 1000.0)


def machine_state() -> tuple[int, tuple[float, float, float]]:
    """The CPU count and the 1, 5 and 15 minute load averages."""
    return os.cpu_count() or 1, os.getloadavg()


# --- the packages ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchData:
    """A prepared data directory (keys, ``sim.json``, ``systems.json``) and signed packages.

    Kept in a cache directory between runs: the CA, the identities and the packages stay
    valid, and every measurement copies the directory, so each hub starts on an empty
    database and the same packages are never duplicates within one run.
    """

    root: Path
    sender: str
    recipient: str
    system_id: str
    secret: str = field(repr=False)

    @property
    def packages_file(self) -> Path:
        """The distinct signed packages (length-prefixed frames, `sim.bench._load`)."""
        return self.root / "packages.bin"

    @property
    def sample_file(self) -> Path:
        """One package, for the bare endpoint and the verification timing."""
        return self.root / "sample.xml"

    def package_count(self) -> int:
        """How many packages the cache holds."""
        return count_bodies(self.packages_file)

    def copy_to(self, target: Path) -> DataDir:
        """A fresh data directory with this one's keys and files, no databases."""
        target.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.root / "keys", target / "keys")
        for name in ("sim.json", "systems.json"):
            shutil.copy2(self.root / name, target / name)
        return DataDir(target)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/lgsp-sim/bench-exchange`` (``~/.cache`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lgsp-sim" / "bench-exchange"


def prepare_bench_data(cache: Path, *, at: datetime) -> BenchData:
    """Prepare (or reuse) the cached data directory and one sample package."""
    manifest_path = cache / "manifest.json"
    data = DataDir(cache)
    manifest: dict[str, Any] = {}
    if manifest_path.is_file():
        with contextlib.suppress(ValueError):
            manifest = json.loads(manifest_path.read_text())
    if manifest.get("recipe") != RECIPE or not (cache / "keys").is_dir():
        # Another recipe or a broken cache: packages signed by another CA would be refused.
        shutil.rmtree(cache, ignore_errors=True)
        manifest = {}
    topology = data.prepare(TOPOLOGY, at=at)
    province = topology.province(PROVINCE)
    sender = province.agencies[0].organ_id  # the People's Committee (sim.topology)
    recipient = _local_recipient(topology, sender)
    entry = data.system(fleet_id_for(HUB_ID))
    bench = BenchData(
        root=cache,
        sender=sender,
        recipient=recipient,
        system_id=entry.system_id,
        secret=entry.secret,
    )
    if not bench.sample_file.is_file():
        bench.packages_file.unlink(missing_ok=True)
        _write_pdf(cache, topology, sender=sender, at=at)
        bench.sample_file.write_bytes(_sign_range(cache, sender, recipient, 0, 1, at)[0])
    manifest_path.write_text(json.dumps({"recipe": RECIPE, "created": at.isoformat()}))
    return bench


def _local_recipient(topology: Topology, sender: str) -> str:
    # A recipient of the sender's own province: the package becomes an inbox item, and the
    # hub's outbox stays idle (no NDXP runs during the acceptance measurement).
    for agency in topology.agencies_of(HUB_ID):
        if agency.organ_id != sender:
            return agency.organ_id
    raise BenchError("no_recipient", f"{HUB_ID} has a single agency in {TOPOLOGY!r}")


def _write_pdf(cache: Path, topology: Topology, *, sender: str, at: datetime) -> None:
    """Render and PAdES-sign (personal, then agency) the one PDF every package carries."""
    store = keys.KeyStore(cache / "keys")
    name = topology.agency(sender).name
    agency = store.agency(sender, name=name, at=at)
    person = store.person("Nguyễn Văn An", organ_id=sender, position="Chủ tịch", at=at)
    pdf = edoc.render_pdf(
        title="Về việc triển khai chuyển đổi số năm 2025",
        body="Ủy ban nhân dân tỉnh đề nghị các sở, ban, ngành triển khai. " * 40,
        issuer=name,
        notation="1/UBND-VP",
        at=at.date(),
    )
    pdf = keys.sign_pdf(pdf, person, at=at, role=keys.SignerRole.PERSONAL)
    pdf = keys.sign_pdf(pdf, agency, at=at, role=keys.SignerRole.AGENCY)
    (cache / "document.pdf").write_bytes(pdf)


def _sign_range(
    cache: Path, sender: str, recipient: str, start: int, stop: int, at: datetime
) -> list[bytes]:
    """Packages number ``start`` to ``stop - 1``: same PDF, distinct DocumentIds, signed."""
    store = keys.KeyStore(cache / "keys")
    agency = store.agency(sender, at=at)
    pdf = (cache / "document.pdf").read_bytes()
    day = edoc.vietnam_date(at)
    sender_org = edoc.Organization(organ_id=sender, organ_name=agency.name)
    to = [edoc.Organization(organ_id=recipient, organ_name=recipient)]
    out = []
    for number in range(start + 1, stop + 1):
        code = edoc.Code(number=str(number), notation="UBND-VP")
        header = edoc.DocumentHeader(
            from_=sender_org,
            to=to,
            document_id=edoc.compose_document_id(sender, day, code),
            code=code,
            subject="Về việc triển khai chuyển đổi số năm 2025",
            content="Báo cáo kết quả chuyển đổi số",
        )
        package = edoc.build_document(
            header,
            attachments=[
                edoc.AttachmentFile(
                    name=f"{number}-UBND-VP.signed.pdf", content_type="application/pdf", data=pdf
                )
            ],
            traces=[edoc.TraceHeader(sender, at)],
        )
        out.append(keys.sign_envelope(package, agency))
    return out


def ensure_packages(
    bench: BenchData, count: int, *, at: datetime, reporter: Reporter | None = None
) -> int:
    """Have at least ``count`` distinct packages in the cache, signing the missing ones in a
    process pool (one worker per core); returns how many the cache holds."""
    reporter = reporter or _Silent()
    have = bench.package_count()
    if have >= count:
        return have
    missing = count - have
    reporter.phase(f"signing {missing:,} distinct packages (cached for later runs)", missing)
    ranges = [
        (start, min(start + PACKAGES_PER_TASK, count))
        for start in range(have, count, PACKAGES_PER_TASK)
    ]
    done = 0
    workers = max(1, min(os.cpu_count() or 1, len(ranges)))
    # spawn: a clean interpreter per worker (no forked event loop or open sockets).
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = {
            pool.submit(_sign_range, bench.root, bench.sender, bench.recipient, a, b, at): a
            for a, b in ranges
        }
        results: dict[int, list[bytes]] = {}
        next_start = have
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            # Append in order, as soon as the next range is there: numbering stays dense.
            while next_start in results:
                chunk = results.pop(next_start)
                write_bodies(bench.packages_file, chunk, append=True)
                next_start += len(chunk)
                done += len(chunk)
                reporter.advance(done, missing)
    return bench.package_count()


def packages_needed(floor: float, *, seconds: float, warmup: float) -> int:
    """Enough packages for a hub as fast as the floor, with a margin, within bounds."""
    wanted = math.ceil(floor * (seconds + warmup) * PACKAGE_MARGIN) + MIN_PACKAGES
    return max(MIN_PACKAGES, min(MAX_PACKAGES, wanted))


# --- server processes ------------------------------------------------------------------------


class ServerProcess:
    """A server started for one measurement (its own process group), stopped on exit."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        port: int,
        log: Path,
        env: Mapping[str, str] | None = None,
        expect: str | None = None,
    ) -> None:
        self.command = list(command)
        self.port = port
        self.log = log
        self.env = dict(env) if env is not None else dict(os.environ)
        self.expect = expect  # the hub_id /health must name (another program may hold the port)
        self.process: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """Its process id."""
        if self.process is None:
            raise BenchError("not_started", "the server is not running")
        return self.process.pid

    def __enter__(self) -> Self:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log_handle = self.log.open("ab")
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            env={**self.env, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT
        with sync_client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    raise BenchError(
                        "server_exited", f"{self.command[2:4]} exited early; see {self.log}"
                    )
                try:
                    response = client.get(self.url + "/health")
                except httpx.HTTPError:
                    time.sleep(0.1)
                    continue
                claimed = _json_field(response, "hub_id")
                if response.status_code == 200 and self.expect in (None, claimed):
                    return
                raise BenchError("port_taken", f"{self.url} answers as {claimed!r}")
        raise BenchError("health_timeout", f"no answer from {self.url}/health; see {self.log}")

    def stop(self) -> None:
        """SIGTERM to its group, then SIGKILL after a while; idempotent."""
        process = self.process
        if process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            # Anything it spawned goes with the group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            self.process = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None


def _json_field(response: httpx.Response, key: str) -> str | None:
    try:
        raw = response.json()
    except ValueError:
        return None
    value = raw.get(key) if isinstance(raw, dict) else None
    return str(value) if value is not None else None


def _die_with_parent() -> None:
    # In the child before exec: Linux SIGTERMs it if the bench dies, so no server outlives it.
    if sys.platform != "linux":
        return
    name = ctypes.util.find_library("c")
    if name is not None:
        ctypes.CDLL(name, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def hub_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a measured hub: ours, on SQLite, plus ``extra`` (``LGSP_*``)."""
    env = dict(os.environ)
    # A DATABASE_URL in the user's shell must not move the measured hub off SQLite: only
    # --database-url does (through ``extra``).
    env.pop("DATABASE_URL", None)
    env.pop("LGSP_DATABASE_SCHEMA", None)
    env.update(extra or {})
    return env


@contextlib.contextmanager
def bench_schema(database_url: str | None) -> Iterator[dict[str, str]]:
    """The environment putting one measured hub in a fresh PostgreSQL schema, dropped after.

    Yields ``{}`` on SQLite (each hub then has its own fresh file).
    """
    if database_url is None:
        yield {}
        return
    schema = f"bench_{secrets.token_hex(4)}"
    try:
        yield {"DATABASE_URL": database_url, "LGSP_DATABASE_SCHEMA": schema}
    finally:
        asyncio.run(_drop_schema(database_url, schema))


def _drop_schemas(supervisor: Supervisor, database_url: str) -> None:
    if supervisor.topology is None:
        return
    for hub in supervisor.topology.hubs():
        schema = supervisor.schema_of(hub.hub_id)
        if schema is not None:
            asyncio.run(_drop_schema(database_url, schema))


async def _drop_schema(database_url: str, schema: str) -> None:
    from lgsp.store import Database

    db = Database.connect(database_url, schema=schema, pool_size=1)
    try:
        await db.drop_schema()
    finally:
        await db.dispose()


# --- measurements ----------------------------------------------------------------------------


class CpuSampler:
    """A process's CPU time (all its threads, user + system), sampled every 0.1 s in a thread.

    `share` tells how many cores the process got between two wall-clock instants: on a
    shared machine, a rate measured while the server got 0.5 of a core says little about
    the server and much about the neighbours. Linux only (``/proc``); None elsewhere.
    """

    def __init__(self, pid: int, *, interval: float = 0.1) -> None:
        self.path = Path(f"/proc/{pid}/stat")
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (time.time(), CPU seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __enter__(self) -> Self:
        # One sample now and one at exit: whatever happens between is bracketed.
        if self._sample():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._sample()

    def _run(self) -> None:
        # Bounded by the measurement: the owner stops it on exit, or the process goes away.
        while not self._stop.wait(self.interval):
            if not self._sample():
                return

    def _sample(self) -> bool:
        cpu = self._read()
        if cpu is None:
            return False
        self.samples.append((time.time(), cpu))
        return True

    def _read(self) -> float | None:
        try:
            fields = self.path.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        # After the name: state is field 3 of stat(5), utime and stime fields 14 and 15.
        return (int(fields[11]) + int(fields[12])) / self._tick

    def share(self, start: float, end: float) -> float | None:
        """Cores used between ``start`` and ``end`` (wall clock), from the nearest samples."""
        before = [s for s in self.samples if s[0] <= start]
        after = [s for s in self.samples if s[0] >= end]
        if not before or not after or end <= start:
            return None
        (t0, c0), (t1, c1) = before[-1], after[0]
        return (c1 - c0) / (t1 - t0) if t1 > t0 else None


def measure_bare(
    sample: Path, *, work: Path, concurrency: int, seconds: float, warmup: float
) -> BareRun:
    """The bare endpoint's rate with our load generator, and the CPU the server got."""
    port = free_port()
    command = [sys.executable, "-m", "sim.bench._bare", "--port", str(port)]
    with (
        ServerProcess(command, port=port, log=work / "bare.log", expect="bare") as server,
        CpuSampler(server.pid) as cpu,
    ):
        load = run_load_process(
            LoadSpec(
                url=server.url + SUBMIT_PATH,
                concurrency=concurrency,
                seconds=seconds,
                warmup=warmup,
                body_file=str(sample),
            )
        )
    return BareRun(load=load, cpu_share=cpu.share(load.window_from, load.window_to))


def measure_bare_wrk(sample: Path, *, work: Path, concurrency: int, seconds: float) -> float:
    """The bare endpoint's rate as ``wrk`` sees it (the generator check)."""
    port = free_port()
    command = [sys.executable, "-m", "sim.bench._bare", "--port", str(port)]
    with ServerProcess(command, port=port, log=work / "bare-wrk.log", expect="bare") as server:
        result = run_wrk(
            url=server.url + SUBMIT_PATH,
            body_file=sample,
            concurrency=concurrency,
            seconds=seconds,
        )
    if result.non_2xx or result.socket_errors:
        raise BenchError(
            "wrk_errors",
            f"wrk saw {result.non_2xx} non-2xx answers, socket errors: {result.socket_errors}",
        )
    return result.requests_per_s


def measure_verify(bench: BenchData, *, seconds: float, at: datetime) -> float:
    """Milliseconds of one `keys.verify_envelope` of the sample package, as the hub calls it."""
    package = bench.sample_file.read_bytes()
    trust = keys.KeyStore(bench.root / "keys").trust_store(at=at)
    rate = measure(
        lambda: keys.verify_envelope(
            package, trust, at=at, allow_legacy_sha1=True, expected_organ_id=bench.sender
        ),
        min_seconds=seconds,
    )
    return rate.ms


def measure_acceptance(
    bench: BenchData,
    *,
    hub_env: Mapping[str, str] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    seconds: float = DEFAULT_SECONDS,
    warmup: float = DEFAULT_WARMUP,
    profile: Path | None = None,
    work: Path | None = None,
    database_url: str | None = None,
) -> AcceptanceRun:
    """One real LGSP on a fresh database, fed distinct signed packages by the load generator.

    On SQLite by default; ``database_url`` (PostgreSQL) puts the hub in a fresh schema of
    that database, dropped afterwards.

    ``hub_env`` adds ``LGSP_*`` settings to the hub's environment; ``profile`` writes
    py-spy's folded stacks of the hub process over the run (needs ``py-spy`` next to the
    interpreter or on PATH). Settings compare on the same packages, each on a fresh hub::

        bench = prepare_bench_data(default_cache_dir(), at=now)
        ensure_packages(bench, 10_000, at=now)
        on = measure_acceptance(bench)
        off = measure_acceptance(bench, hub_env={"LGSP_STATS": "false"})
    """
    env = dict(hub_env or {})
    with contextlib.ExitStack() as stack:
        database_env = stack.enter_context(bench_schema(database_url))
        if work is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lgsp-accept-")))
        data = bench.copy_to(work / "data")
        port = free_port()
        spec = ServiceSpec(name=HUB_ID, role=Role.LGSP, hub_id=HUB_ID, agencies=0)
        command = spec.command(python=sys.executable, data=data.root, port=port)
        hub = stack.enter_context(
            ServerProcess(
                command,
                port=port,
                log=data.log_path(HUB_ID),
                env=hub_environment({**env, **database_env}),
                expect=HUB_ID,
            )
        )
        token = _token(hub.url, bench.system_id, bench.secret)
        cpu = stack.enter_context(CpuSampler(hub.pid))
        # Sampling starts with the load (warm-up included: it is short next to the window).
        spy = _start_profiler(hub.pid, profile, seconds=warmup + seconds) if profile else None
        try:
            load = run_load_process(
                LoadSpec(
                    url=hub.url + SUBMIT_PATH,
                    concurrency=concurrency,
                    seconds=seconds,
                    warmup=warmup,
                    headers={"Authorization": f"Bearer {token}"},
                    bodies_file=str(bench.packages_file),
                )
            )
        finally:
            if spy is not None:
                _finish_profiler(spy)
        accepted = _accepted_documents(hub.url)
    share = cpu.share(load.window_from, load.window_to)  # after its last sample, at exit
    return AcceptanceRun(
        load=load, hub_env=env, accepted_by_hub=accepted, profile=profile, cpu_share=share
    )


def _token(url: str, system_id: str, secret: str) -> str:
    with sync_client(timeout=10.0) as client:
        response = client.post(
            url + "/api/v1/token",
            data={
                "grant_type": "client_credentials",
                "client_id": system_id,
                "client_secret": secret,
            },
        )
    token = _json_field(response, "access_token")
    if response.status_code != 200 or token is None:
        raise BenchError(
            "token_refused", f"{url} refused a token for {system_id}: {response.text[:200]}"
        )
    return token


def _accepted_documents(url: str) -> int | None:
    try:
        with sync_client(timeout=10.0) as client:
            raw = client.get(url + "/api/v1/stats").json()
        return int(raw["accepted"]["documents"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None  # a cross-check only: its absence does not void the measurement


def py_spy() -> str | None:
    """The py-spy executable: next to this interpreter, or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.is_file() else shutil.which("py-spy")


def _start_profiler(pid: int, out: Path, *, seconds: float) -> subprocess.Popen[bytes]:
    spy = py_spy()
    if spy is None:
        raise BenchError("py_spy_missing", "--profile needs py-spy (.venv/bin/pip install py-spy)")
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, math.ceil(seconds))),
            "--rate",
            "200",
            "--threads",
            # Read without pausing the hub (pausing it 200 times a second cost it a third or
            # more of its rate in trials here); --threads: the summary keeps the loop thread.
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _finish_profiler(spy: subprocess.Popen[bytes]) -> None:
    try:
        spy.wait(timeout=30)
    except subprocess.TimeoutExpired:
        spy.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
        try:
            spy.wait(timeout=10)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()


@dataclass(frozen=True)
class ProfileLine:
    """One function of a profile: its share of samples, alone (self) or with callees."""

    function: str
    self_share: float
    total_share: float


def read_folded(path: Path) -> list[tuple[list[str], int]]:
    """py-spy's folded stacks (``--format raw``) as (frames, samples), event-loop thread only.

    Recorded with ``--threads``, each stack starts with its thread; only the main thread (the
    event loop, where every request runs) is kept: py-spy counts some idle waits of other
    threads (aiosqlite's workers blocked on their queue) as activity.
    """
    stacks: list[tuple[list[str], int]] = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [f for f in stack.split(";") if f]
        if frames and frames[0].startswith("thread ("):
            if not frames[0].endswith("MainThread"):
                continue
            frames = frames[1:]
        if frames:
            stacks.append((frames, int(count_text)))
    return stacks


def summarize_profile(path: Path, *, top: int = 15) -> tuple[int, list[ProfileLine]]:
    """The sample count and the functions with the most samples of their own."""
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    samples = 0
    for stack, count in read_folded(path):
        frames = [_short_frame(f) for f in stack]
        samples += count
        self_counts[frames[-1]] += count
        for frame in set(frames):
            total_counts[frame] += count
    if samples == 0:
        return 0, []
    names = [name for name, _ in self_counts.most_common(top)]
    return samples, [
        ProfileLine(name, self_counts[name] / samples, total_counts[name] / samples)
        for name in names
    ]


def _short_frame(frame: str) -> str:
    # py-spy frames read "function (path/to/module.py:line)": keep the function and module.
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    module = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in module:
            module = module.split(marker, 1)[1]
    return f"{name} ({module})" if module else name


# The parts of a hub's request path, in the order a stack is matched against them: a sample
# inside the envelope check counts as verification even though FastAPI frames sit above it.
PROFILE_PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("envelope verification (keys)", ("keys/_envelope.py", "signxml/", "keys/_trust.py")),
    ("edXML parsing (edoc)", ("edoc/", "lgsp/intake/service.py:_parse")),
    (
        "storage (store, SQLAlchemy, SQLite)",
        ("lgsp/store/", "sqlalchemy/", "sqlmodel/", "aiosqlite/", "sqlite3/", "lgsp/intake/batch"),
    ),
    ("authentication (token, system)", ("lgsp/auth/", "fastapi/security/")),
    ("events and statistics", ("lgsp/events", "lgsp/stats/")),
    ("outbox worker", ("lgsp/outbox/", "lgsp/delivery/")),
    (
        "HTTP and FastAPI (uvicorn, starlette, routing, JSON)",
        ("uvicorn/", "starlette/", "fastapi/", "httptools", "lgsp/api/", "pydantic"),
    ),
)


def profile_breakdown(path: Path) -> tuple[int, list[tuple[str, float]]]:
    """Samples per part of the request path (`PROFILE_PARTS`; the rest is "other")."""
    counts: Counter[str] = Counter()
    samples = 0
    for stack, count in read_folded(path):
        samples += count
        counts[_part_of([_frame_key(frame) for frame in stack])] += count
    if samples == 0:
        return 0, []
    order = [name for name, _ in PROFILE_PARTS] + ["other"]
    return samples, [(name, counts[name] / samples) for name in order if counts[name]]


def _frame_key(frame: str) -> str:
    # "function (path/module.py:12)" → "path/module.py:function", to match markers on either.
    name, _, where = frame.partition(" (")
    module = where.rstrip(")").rsplit(":", 1)[0]
    return f"{module}:{name}"


def _part_of(frames: Sequence[str]) -> str:
    for name, markers in PROFILE_PARTS:
        if any(marker in frame for frame in frames for marker in markers):
            return name
    return "other"


# --- end to end ------------------------------------------------------------------------------


@dataclass
class _Tracked:
    sender: str
    recipient: str
    fleet: str
    started: float = 0.0
    sent: float = 0.0
    document_id: str = ""
    done: float | None = None
    rejected: bool = False
    failed: str | None = None


def measure_end_to_end(
    bench: BenchData,
    *,
    documents: int = DEFAULT_DOCUMENTS,
    concurrency: int = DEFAULT_E2E_CONCURRENCY,
    timeout: float = DEFAULT_E2E_TIMEOUT,
    reporter: Reporter | None = None,
    work: Path | None = None,
    database_url: str | None = None,
) -> EndToEnd:
    """The `small` topology (every hub and fleet a process, fleets on the ``demo`` profile):
    ``documents`` inter-province documents through the sender fleet's ``/fleet/send``.

    ``database_url`` (PostgreSQL) gives every hub its own fresh schema there, dropped after.
    """
    reporter = reporter or _Silent()
    with contextlib.ExitStack() as stack:
        if work is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lgsp-e2e-")))
        data = bench.copy_to(work / "data")
        supervisor = Supervisor(
            data,
            topology=TOPOLOGY,
            database_url=database_url,
            schema_prefix=f"bench_{secrets.token_hex(4)}_",
            hub_env=hub_environment({}),
            fleet_env={"FLEET_PROFILE": FLEET_PROFILE},
        )
        reporter.phase("starting the small topology (NDXP, 2 LGSPs, 3 fleets)", None)
        started = 0

        def on_started(_service: object) -> None:
            nonlocal started
            started += 1
            reporter.advance(started, len(supervisor.services))

        if database_url is not None:
            # Registered first, so it runs after the processes have stopped.
            stack.callback(_drop_schemas, supervisor, database_url)
        supervisor.start(on_started=on_started)
        stack.callback(supervisor.stop)
        topology = supervisor.topology
        if topology is None:
            raise BenchError("no_topology", "the supervisor started without a topology")
        return asyncio.run(
            _end_to_end(
                supervisor.urls,
                topology,
                documents=documents,
                concurrency=concurrency,
                patience=timeout,
                reporter=reporter,
            )
        )


async def _end_to_end(
    urls: Mapping[str, str],
    topology: Topology,
    *,
    documents: int,
    concurrency: int,
    patience: float,
    reporter: Reporter,
) -> EndToEnd:
    senders = [a.organ_id for a in topology.province(PROVINCE).agencies][:E2E_PAIRS]
    recipients = [a.organ_id for a in topology.province(OTHER_PROVINCE).agencies][:E2E_PAIRS]
    pairs = min(len(senders), len(recipients))
    if pairs == 0:
        raise BenchError("no_agencies", f"{TOPOLOGY!r} lacks agencies in {PROVINCE} or H04")
    fleet = fleet_id_for(topology.hub_of(senders[0]))
    sender_hub = topology.hub_of(senders[0])
    async with Exchange(urls) as exchange:
        # Untimed: each pair once, so every agency's keys are issued and caches are warm.
        warm = [_Tracked(senders[i], recipients[i], fleet) for i in range(pairs)]
        reporter.phase(f"warming up: {pairs} documents (keys issued on first use)", pairs)
        await _run_documents(exchange, warm, concurrency, patience, reporter)
        unfinished = [d for d in warm if d.done is None]
        if unfinished:
            first = unfinished[0]
            raise BenchError(
                "warmup_failed",
                f"{len(unfinished)} of {pairs} warm-up documents did not complete "
                f"({first.failed or 'no 06 within the timeout'})",
            )
        timed = [
            _Tracked(senders[i % pairs], recipients[(i + i // pairs) % pairs], fleet)
            for i in range(documents)
        ]
        reporter.phase(
            f"{documents} documents {PROVINCE} → {OTHER_PROVINCE}, {concurrency} at a time, "
            "until 01, 03, 06 are back",
            documents,
        )
        began = time.perf_counter()
        await _run_documents(exchange, timed, concurrency, patience, reporter)
        completed = [d for d in timed if d.done is not None]
        last = max((d.done for d in completed if d.done is not None), default=began)
        reporter.phase("reading the sender hub's traces", len(completed))
        hub_latencies = await _hub_latencies(exchange, sender_hub, completed, reporter)
    errors: Counter[str] = Counter()
    for doc in timed:
        if doc.failed is not None:
            errors[doc.failed] += 1
        elif doc.rejected:
            errors["rejected_02"] += 1
        elif doc.done is None:
            errors["timeout"] += 1
    return EndToEnd(
        documents=documents,
        completed=len(completed),
        seconds=last - began,
        latencies_ms=tuple((d.done - d.started) * 1000 for d in completed if d.done is not None),
        hub_latencies_ms=tuple(hub_latencies),
        errors=dict(errors),
        concurrency=concurrency,
    )


async def _run_documents(
    exchange: Exchange,
    docs: Sequence[_Tracked],
    concurrency: int,
    patience: float,
    reporter: Reporter,
) -> None:
    """Send every document (``concurrency`` at a time) and poll until each completed or
    ``patience`` seconds passed."""
    limit = asyncio.Semaphore(concurrency)
    deadline = time.perf_counter() + patience
    sending_done = asyncio.Event()

    async def send(doc: _Tracked, index: int) -> None:
        async with limit:
            request = SendRequest(
                from_=doc.sender,
                to=[doc.recipient],
                subject=f"Về việc phối hợp trao đổi văn bản điện tử liên tỉnh, lần {index + 1}",
                type_name="Công văn",
            )
            doc.started = time.perf_counter()
            try:
                result = await exchange.send(doc.fleet, request)
            except ServiceError as exc:
                doc.failed = f"send {exc.code}"
                return
            finally:
                doc.sent = time.perf_counter()
            doc.document_id = result.document_id
            if not result.accepted:
                doc.failed = f"{result.http_status} {result.error_code or 'refused'}"

    async def poll() -> None:
        probe = asyncio.Semaphore(E2E_POLL_CONCURRENCY)

        async def check(doc: _Tracked) -> None:
            async with probe:
                try:
                    sent = await exchange.sent(doc.fleet, doc.document_id)
                except ServiceError:
                    return  # a busy fleet: ask again next round
            seen = time.perf_counter()
            if sent is None:
                return
            codes = sent.codes_from(doc.recipient)
            if REJECTED in codes:
                doc.rejected = True
            elif set(WANTED) <= codes:
                doc.done = seen

        while time.perf_counter() < deadline:
            now = time.perf_counter()
            pending = [
                d
                for d in docs
                if d.document_id and d.failed is None and not d.rejected and d.done is None
            ]
            ready = [d for d in pending if now - d.sent >= E2E_MIN_AGE]
            if ready:
                await asyncio.gather(*(check(d) for d in ready))
            finished = sum(1 for d in docs if d.done is not None or d.failed or d.rejected)
            reporter.advance(finished, len(docs))
            if sending_done.is_set() and finished == len(docs):
                return
            await asyncio.sleep(E2E_POLL_INTERVAL)

    poller = asyncio.create_task(poll())
    try:
        await asyncio.gather(*(send(d, i) for i, d in enumerate(docs)))
        sending_done.set()
        await poller
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller


async def _hub_latencies(
    exchange: Exchange, hub: str, docs: Sequence[_Tracked], reporter: Reporter
) -> list[float]:
    """Accepted → 06 stored, in ms, from the sender hub's own trace of each document."""
    probe = asyncio.Semaphore(E2E_POLL_CONCURRENCY)
    out: list[float] = []
    done = 0

    async def one(doc: _Tracked) -> None:
        nonlocal done
        async with probe:
            try:
                trace = await exchange.trace(hub, sender=doc.sender, document_id=doc.document_id)
            except ServiceError:
                trace = None
        done += 1
        reporter.advance(done, len(docs))
        if trace is None:
            return
        accepted = [h.at for h in trace.hops if h.event == "accepted"]
        finals = [s.at for s in trace.statuses if s.code == "06"]
        if accepted and finals:
            start, end = _instant(accepted[0]), _instant(min(finals))
            if start is not None and end is not None:
                out.append((end - start).total_seconds() * 1000)

    await asyncio.gather(*(one(d) for d in docs))
    return out


def _instant(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --- the whole bench -------------------------------------------------------------------------


def run_exchange_bench(
    *,
    at: datetime,
    seconds: float = DEFAULT_SECONDS,
    warmup: float = DEFAULT_WARMUP,
    concurrency: int = DEFAULT_CONCURRENCY,
    repeat: int = DEFAULT_REPEAT,
    documents: int = DEFAULT_DOCUMENTS,
    e2e_concurrency: int = DEFAULT_E2E_CONCURRENCY,
    e2e_timeout: float = DEFAULT_E2E_TIMEOUT,
    hub_env: Mapping[str, str] | None = None,
    stats_compare: bool = True,
    cache: Path | None = None,
    profile: Path | None = None,
    wrk_check: bool = True,
    reporter: Reporter | None = None,
    database_url: str | None = None,
) -> ExchangeFigures:
    """Measure everything `bench exchange` prints, on this machine.

    The hubs store in SQLite files unless ``database_url`` names a PostgreSQL database (each
    measured hub then gets a fresh schema in it, dropped afterwards).

    The bare endpoint, the verification and the hub are measured in ``repeat`` rounds, one
    after the other in each round, and the best round of each is kept (neighbours only ever
    slow a run down); every round is in the figures. With ``stats_compare``, each round also
    measures a fresh hub with ``LGSP_STATS=false`` added to ``hub_env`` (the run with
    ``hub_env`` alone is the one with statistics on), on the same packages. The profile, when
    asked, is the one of the best acceptance round with statistics on.
    """
    reporter = reporter or _Silent()
    repeat = max(1, repeat)
    if database_url is not None:
        check_database_url(database_url)
    cpu_count, load_average = machine_state()
    reporter.phase("preparing the bench data (first run: the CA and a signed PDF)")
    bench = prepare_bench_data(cache or default_cache_dir(), at=at)
    sample = bench.sample_file
    rounds: list[Round] = []
    available = 0
    wrk_rate = None
    with tempfile.TemporaryDirectory(prefix="lgsp-bench-exchange-") as tmp:
        work = Path(tmp)
        if wrk_check and wrk_available():
            reporter.phase("bare endpoint with wrk (a check on our load generator)")
            wrk_rate = measure_bare_wrk(
                sample, work=work, concurrency=concurrency, seconds=min(seconds, 3.0)
            )
        for index in range(repeat):
            tag = f"[{index + 1}/{repeat}]"
            load_now = os.getloadavg()[0]
            reporter.phase(f"{tag} bare endpoint: {concurrency} connections, {seconds:g} s")
            bare = measure_bare(
                sample, work=work, concurrency=concurrency, seconds=seconds, warmup=warmup
            )
            reporter.phase(f"{tag} envelope verification, in-process")
            verify_ms = measure_verify(bench, seconds=min(seconds, 2.0), at=at)
            floor = floor_per_s(bare.per_s, verify_ms)
            available = ensure_packages(
                bench,
                packages_needed(floor, seconds=seconds, warmup=warmup),
                at=at,
                reporter=reporter,
            )
            reporter.phase(f"{tag} one LGSP accepting signed packages: {concurrency} connections")
            acceptance = measure_acceptance(
                bench,
                hub_env=hub_env,
                concurrency=concurrency,
                seconds=seconds,
                warmup=warmup,
                profile=profile.with_name(f"{profile.name}.{index}") if profile else None,
                work=work / f"acceptance-{index}",
                database_url=database_url,
            )
            stats_off = None
            if stats_compare:
                reporter.phase(f"{tag} the same, statistics off (LGSP_STATS=false)")
                stats_off = measure_acceptance(
                    bench,
                    hub_env={**(hub_env or {}), **STATS_OFF},
                    concurrency=concurrency,
                    seconds=seconds,
                    warmup=warmup,
                    work=work / f"acceptance-stats-off-{index}",
                    database_url=database_url,
                )
            rounds.append(Round(load_now, bare, verify_ms, acceptance, stats_off))
        best_acceptance = _best_profiled(rounds, profile)
        end_to_end = None
        if documents > 0:
            end_to_end = measure_end_to_end(
                bench,
                documents=documents,
                concurrency=e2e_concurrency,
                timeout=e2e_timeout,
                reporter=reporter,
                work=work / "e2e",
                database_url=database_url,
            )
    offs = [r.acceptance_stats_off for r in rounds if r.acceptance_stats_off is not None]
    return ExchangeFigures(
        cpu_count=cpu_count,
        load_average=load_average,
        package_bytes=len(sample.read_bytes()),
        load_generator=GENERATOR_NAME,
        concurrency=concurrency,
        bare=max((r.bare for r in rounds), key=lambda b: b.per_s),
        envelope_verify_ms=min(r.envelope_verify_ms for r in rounds),
        acceptance=best_acceptance,
        end_to_end=end_to_end,
        bare_wrk_requests_per_s=wrk_rate,
        packages_available=available,
        load_average_end=os.getloadavg(),
        rounds=tuple(rounds),
        acceptance_stats_off=max(offs, key=lambda a: a.per_s) if offs else None,
        database="sqlite" if database_url is None else "postgresql",
    )


def _best_profiled(rounds: Sequence[Round], profile: Path | None) -> AcceptanceRun:
    """The best acceptance run (statistics on); its profile, if any, moved to ``profile``."""
    best = max((r.acceptance for r in rounds), key=lambda a: a.per_s)
    if profile is None:
        return best
    # py-spy may have failed to write: then no profile rather than a path to nothing.
    source = best.profile if best.profile is not None and best.profile.is_file() else None
    if source is not None:
        source.replace(profile)
    for r in rounds:
        if r.acceptance.profile is not None:
            r.acceptance.profile.unlink(missing_ok=True)  # the other rounds' stacks
    return replace(best, profile=profile if source is not None else None)
