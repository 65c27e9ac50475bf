"""Start, watch and stop the processes of a topology: the NDXP, one LGSP per province, fleets.

Each service runs as its own process in its own process group (so a Ctrl-C in the terminal
reaches only the orchestrator, which then stops the children in order, and a stop reaches a
service's own children too), with its output in ``DIR/logs/<name>.log``::

    with Supervisor(tmp_path, topology="small") as running:
        running.urls["lgsp-h56"]        # http://127.0.0.1:41873
        running.stop_service("ndxp")    # an outage
        running.start_service("ndxp")   # same port, same database

Used by ``lgsp-sim up`` and ``demo``, the end-to-end tests and the benchmarks.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

from sim.errors import SimError
from sim.topology import Topology
from simtime import Clock, WallClock

from .client import sync_client
from .datadir import DataDir, fleet_id_for, hub_schema_for

DEFAULT_HEALTH_TIMEOUT = 90.0
DEFAULT_STOP_TIMEOUT = 10.0
LOG_TAIL_LINES = 25


class SupervisorError(SimError):
    """A topology that could not be started or stopped: a stable code and a clear message."""


def check_database_url(database_url: str) -> None:
    """Refuse anything but a PostgreSQL URL: without one, every hub keeps a SQLite file."""
    if not database_url.startswith(("postgresql", "postgres:")):
        raise SupervisorError(
            "bad_database_url",
            f"{database_url.split('@')[-1]!r}: --database-url is for PostgreSQL "
            "(postgresql://user@host/db); without it every hub keeps a SQLite file",
        )


class Role(StrEnum):
    """What a service is in the exchange."""

    NDXP = "ndxp"
    LGSP = "lgsp"
    FLEET = "fleet"


@dataclass(frozen=True)
class ServiceSpec:
    """One process to run: its name (hub or fleet id), role, and the hub it belongs to."""

    name: str
    role: Role
    hub_id: str
    agencies: int

    @property
    def is_hub(self) -> bool:
        """Whether this is an axis (NDXP or LGSP) rather than a fleet."""
        return self.role is not Role.FLEET

    def command(
        self, *, python: str, data: Path, port: int, protocol: str | None = None
    ) -> list[str]:
        """The command line of docs/exchange.md that starts this service.

        ``protocol`` (``sdk`` or ``native``) is how a fleet talks to its hub.
        """
        where = ["--data", str(data), "--port", str(port)]
        if self.role is Role.NDXP:
            return [python, "-m", "ndxp_mock", "serve", *where]
        if self.role is Role.LGSP:
            return [python, "-m", "lgsp", "serve", "--hub-id", self.name, *where]
        chosen = ["--protocol", protocol] if protocol else []
        return [python, "-m", "agencies", "serve", "--fleet-id", self.name, *where, *chosen]


def plan_services(topology: Topology) -> list[ServiceSpec]:
    """Every service of a topology: the hubs (NDXP first), then one fleet per hub with agencies."""
    hubs = []
    fleets = []
    for hub in topology.hubs():
        role = Role.NDXP if hub.hub_id == topology.ndxp.hub_id else Role.LGSP
        count = len(topology.agencies_of(hub.hub_id))
        hubs.append(ServiceSpec(name=hub.hub_id, role=role, hub_id=hub.hub_id, agencies=count))
        if count:
            fleets.append(
                ServiceSpec(
                    name=fleet_id_for(hub.hub_id),
                    role=Role.FLEET,
                    hub_id=hub.hub_id,
                    agencies=count,
                )
            )
    return hubs + fleets


@dataclass
class Service:
    """A service of the running topology: its spec, port and (while it runs) its process."""

    spec: ServiceSpec
    port: int
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    log_offset: int = 0  # where this run's output starts in the log file

    @property
    def name(self) -> str:
        """The service name (hub or fleet id)."""
        return self.spec.name

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        """Whether its process is alive."""
        return self.process is not None and self.process.poll() is None


class Supervisor:
    """Runs a topology's services as child processes; a library for `up`, `demo` and tests.

    ``database_url`` (PostgreSQL) gives every hub ``DATABASE_URL`` and its own schema
    (``LGSP_DATABASE_SCHEMA``, e.g. ``hub_lgsp_h56`` with the default ``schema_prefix``);
    without it each hub keeps a SQLite file under ``DIR/hubs``. ``hub_env`` and ``fleet_env``
    add settings (``LGSP_*``, ``FLEET_*``) to every hub or fleet; ``protocol`` (``sdk``, the
    fleets' default, or ``native``) is how every fleet talks to its hub. Children die with the
    thread that started them (Linux ``PR_SET_PDEATHSIG``): start and stop from one
    long-lived thread, normally the main one.
    """

    def __init__(
        self,
        data: DataDir | Path | str,
        *,
        topology: str | None = None,
        database_url: str | None = None,
        schema_prefix: str = "hub_",
        env: Mapping[str, str] | None = None,
        hub_env: Mapping[str, str] | None = None,
        fleet_env: Mapping[str, str] | None = None,
        health_timeout: float = DEFAULT_HEALTH_TIMEOUT,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
        python: str = sys.executable,
        clock: Clock | None = None,
        protocol: str | None = None,
    ) -> None:
        if database_url is not None:
            check_database_url(database_url)
        if protocol not in (None, "sdk", "native"):
            raise SupervisorError(
                "bad_protocol", f"protocol {protocol!r}: fleets speak sdk or native"
            )
        self.protocol = protocol
        self.data = data if isinstance(data, DataDir) else DataDir(data)
        self.topology_arg = topology
        self.database_url = database_url
        self.schema_prefix = schema_prefix
        self.env = dict(env or {})
        self.hub_env = dict(hub_env or {})
        self.fleet_env = dict(fleet_env or {})
        self.health_timeout = health_timeout
        self.stop_timeout = stop_timeout
        self.python = python
        self.clock = clock or WallClock()
        self.topology: Topology | None = None
        self.services: dict[str, Service] = {}
        self._lock: IO[str] | None = None

    # --- the public surface -------------------------------------------------------------------

    @property
    def urls(self) -> dict[str, str]:
        """Service name → base URL (what ``services.json`` holds)."""
        return {name: service.url for name, service in self.services.items()}

    def schema_of(self, hub_id: str) -> str | None:
        """The PostgreSQL schema of a hub, or None on SQLite."""
        if self.database_url is None:
            return None
        return hub_schema_for(hub_id, prefix=self.schema_prefix)

    def start(self, *, on_started: Callable[[Service], None] | None = None) -> Self:
        """Prepare the data directory, write ``services.json``, start everything, wait healthy.

        ``on_started`` hears of each service as it first answers. On any failure what was
        started is stopped again and `SupervisorError` says which service failed, with the
        tail of its log.
        """
        self._acquire_lock()
        try:
            self.topology = self.data.prepare(self.topology_arg, at=self.clock.now())
            specs = plan_services(self.topology)
            ports = _free_ports([s.name for s in specs], preferred=self._previous_ports())
            self.services = {spec.name: Service(spec=spec, port=ports[spec.name]) for spec in specs}
            self.data.write_services(self.urls)
            # All at once: on two cores the imports overlap (~6 s instead of ~9 s hubs first);
            # a fleet never needs its hub before its first poll, which it retries anyway.
            for service in self.services.values():
                self._launch(service)
            self._wait_healthy(list(self.services.values()), on_healthy=on_started)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every service (SIGTERM to each process group, wait, then SIGKILL); idempotent."""
        running = [s for s in self.services.values() if s.process is not None]
        _terminate(running, timeout=self.stop_timeout)
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self.data.services_file.unlink(missing_ok=True)
            self._release_lock()

    def stop_service(self, name: str) -> None:
        """Stop one service (an outage); its port stays reserved for `start_service`."""
        _terminate([self._service(name)], timeout=self.stop_timeout)

    def start_service(self, name: str) -> None:
        """Start one stopped service again, on the same port, and wait until it answers."""
        service = self._service(name)
        if service.running:
            return
        self._launch(service)
        self._wait_healthy([service])

    def exited(self) -> list[tuple[str, int]]:
        """The services whose process ended on its own: (name, exit code)."""
        gone = []
        for service in self.services.values():
            if service.process is not None and service.process.poll() is not None:
                gone.append((service.name, service.process.returncode))
        return gone

    def log_tail(self, name: str, *, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines a service wrote in this run."""
        service = self._service(name)
        return _tail(self.data.log_path(name), offset=service.log_offset, lines=lines)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- internals ----------------------------------------------------------------------------

    def _service(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            known = ", ".join(self.services) or "none started"
            raise SupervisorError("unknown_service", f"no service {name!r} ({known})") from None

    def _previous_ports(self) -> dict[str, int]:
        # Keep the URLs of the last run when their ports are still free: bookmarks keep working.
        try:
            previous = self.data.read_services()
        except Exception:
            return {}
        ports = {}
        for name, url in previous.items():
            port = url.rsplit(":", 1)[-1].rstrip("/")
            if url.startswith("http://127.0.0.1:") and port.isdigit():
                ports[name] = int(port)
        return ports

    def _environment(self, spec: ServiceSpec) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env["PYTHONUNBUFFERED"] = "1"  # log lines reach the file as they happen
        if spec.is_hub:
            # An unrelated DATABASE_URL in the user's shell must not move hubs off SQLite.
            env.pop("DATABASE_URL", None)
            env.pop("LGSP_DATABASE_SCHEMA", None)
            if self.database_url is not None:
                env["DATABASE_URL"] = self.database_url
                env["LGSP_DATABASE_SCHEMA"] = hub_schema_for(spec.hub_id, prefix=self.schema_prefix)
            env.update(self.hub_env)
        else:
            env.update(self.fleet_env)
        return env

    def _launch(self, service: Service) -> None:
        log_path = self.data.log_path(service.name)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        command = service.spec.command(
            python=self.python, data=self.data.root, port=service.port, protocol=self.protocol
        )
        with log_path.open("ab") as log:
            service.log_offset = log.tell()
            banner = f"=== {self.clock.now().isoformat()} lgsp-sim starts: {' '.join(command)}\n"
            log.write(banner.encode())
            log.flush()
            service.log_offset = log.tell()
            # A new session: the terminal's Ctrl-C reaches the orchestrator only, which stops
            # the children in order; killpg then reaches anything a service spawned.
            service.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._environment(service.spec),
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def _wait_healthy(
        self,
        services: Sequence[Service],
        *,
        on_healthy: Callable[[Service], None] | None = None,
    ) -> None:
        deadline = time.monotonic() + self.health_timeout
        pending = {s.name: s for s in services}
        with sync_client(timeout=2.0) as client:
            while pending:
                for name, service in list(pending.items()):
                    process = service.process
                    if process is None or process.poll() is not None:
                        code = process.returncode if process is not None else None
                        raise SupervisorError(
                            "service_exited",
                            f"{name} exited with code {code} before answering /health; "
                            f"{self._log_excerpt(service)}",
                        )
                    if _healthy(client, service):
                        del pending[name]
                        if on_healthy is not None:
                            on_healthy(service)
                if not pending:
                    break
                if time.monotonic() > deadline:
                    name, service = next(iter(pending.items()))
                    raise SupervisorError(
                        "health_timeout",
                        f"{name} did not answer {service.url}/health within "
                        f"{self.health_timeout:.0f} s; {self._log_excerpt(service)}",
                    )
                time.sleep(0.1)

    def _log_excerpt(self, service: Service) -> str:
        path = self.data.log_path(service.name)
        tail = _tail(path, offset=service.log_offset, lines=LOG_TAIL_LINES)
        if not tail.strip():
            return f"its log {path} is empty"
        return f"the end of {path}:\n{tail}"

    def _acquire_lock(self) -> None:
        if self._lock is not None:
            raise SupervisorError("already_started", "this supervisor is already running")
        self.data.root.mkdir(parents=True, exist_ok=True)
        handle = self.data.lock_file.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise SupervisorError(
                "already_running",
                f"a topology is already running from {self.data.root} (`lgsp-sim up` or "
                "`demo`): stop it first, or use another --data directory",
            ) from None
        self._lock = handle

    def _release_lock(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None


def is_running(data: DataDir) -> bool:
    """Whether some supervisor holds this data directory (a topology runs from it)."""
    if not data.lock_file.exists():
        return False
    with data.lock_file.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def _healthy(client: httpx.Client, service: Service) -> bool:
    try:
        response = client.get(service.url + "/health")
    except httpx.HTTPError:
        return False
    if response.status_code != 200:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    # Another program may hold a port we thought free: only our service's answer counts.
    key = "fleet_id" if service.spec.role is Role.FLEET else "hub_id"
    claimed = body.get(key) if isinstance(body, dict) else None
    if claimed not in (None, service.name):
        raise SupervisorError(
            "port_taken",
            f"{service.url} answers as {claimed!r}, not {service.name!r}: the port is taken",
        )
    return True


def _terminate(services: Sequence[Service], *, timeout: float) -> None:
    # SIGTERM to every group at once, then one shared deadline: stopping N services takes the
    # time of the slowest, not the sum.
    live = [s for s in services if s.process is not None]
    for service in live:
        _signal_group(service, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for service in live:
        process = service.process
        if process is None:
            continue
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(service, signal.SIGKILL)
            process.wait()
        # Whatever the service itself spawned dies with the group.
        _signal_group(service, signal.SIGKILL)
        service.process = None


def _signal_group(service: Service, signum: signal.Signals) -> None:
    if service.process is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(service.process.pid, signum)


def _die_with_parent() -> None:
    # Runs in the child before exec: ask Linux to SIGTERM it if the orchestrator dies, even by
    # SIGKILL, so no service outlives the orchestrator.
    if sys.platform != "linux":
        return
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return
    libc = ctypes.CDLL(libc_name, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


def _free_ports(names: Sequence[str], *, preferred: Mapping[str, int]) -> dict[str, int]:
    """A free TCP port on 127.0.0.1 for each name: its preferred one when still free."""
    sockets: list[socket.socket] = []
    ports: dict[str, int] = {}
    try:
        # Hold every socket until all ports are chosen, so no port is handed out twice.
        for name in names:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            wanted = preferred.get(name)
            if wanted is not None and wanted not in ports.values():
                try:
                    sock.bind(("127.0.0.1", wanted))
                except OSError:
                    sock.close()
                    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    sockets.append(sock)
                else:
                    ports[name] = wanted
                    continue
            sock.bind(("127.0.0.1", 0))
            ports[name] = sock.getsockname()[1]
    finally:
        for sock in sockets:
            sock.close()
    return ports


def _tail(path: Path, *, offset: int, lines: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            start = max(offset, size - 64 * 1024)
            handle.seek(start)
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Ignore Ctrl-C, SIGTERM and SIGHUP inside (main thread): a stop must run to its end."""
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
