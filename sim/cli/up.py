"""`lgsp-sim up` (run the whole exchange in the foreground) and `lgsp-sim init` (prepare only)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from sim.runtime import DEFAULT_DATA_DIR, DataDir, Service, Supervisor, plan_services, shielded
from simtime import WallClock

from ._common import console, err_console, reported_errors

DataOption = Annotated[
    Path,
    typer.Option(
        "--data", help="Data directory: sim.json, keys/, services.json, systems.json, logs/."
    ),
]
TopologyOption = Annotated[
    str | None,
    typer.Option(
        "--topology",
        help="Preset (three-tier-2023, two-tier-2025, small) or a .json/.toml file. "
        "Default: the one DIR was prepared for, else three-tier-2023.",
        show_default=False,
    ),
]


class FleetProtocol(StrEnum):
    """How the fleets talk to their hubs."""

    SDK = "sdk"
    NATIVE = "native"


ProtocolOption = Annotated[
    FleetProtocol | None,
    typer.Option(
        "--protocol",
        help="How every fleet talks to its hub: sdk (the national SDK's VXP protocol, the "
        "default) or native (the REST API).",
        show_default=False,
    ),
]

ROLE_NAMES = {
    "ndxp": "national axis (NDXP)",
    "lgsp": "provincial axis (LGSP)",
    "fleet": "DMS fleet",
}


class _Stop(Exception):
    """SIGTERM or SIGHUP arrived: stop like Ctrl-C."""


def up(
    data: DataOption = DEFAULT_DATA_DIR,
    topology: TopologyOption = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="PostgreSQL URL (postgresql://user@host/db): every hub gets its own schema "
            "(hub_<hub id>) there. Default: one SQLite file per hub under DIR/hubs.",
            show_default=False,
        ),
    ] = None,
    health_timeout: Annotated[
        float, typer.Option(help="Seconds each service may take to answer /health.")
    ] = 90.0,
    protocol: ProtocolOption = None,
) -> None:
    """Start the exchange: the NDXP, one LGSP per province, one DMS fleet per hub.

    On the first run it prepares DIR (the CA, hub identities, DMS credentials); later runs reuse them and the hubs' databases. Each service is its own process, logging to DIR/logs/<name>.log; their URLs are in DIR/services.json. Stays in the foreground: Ctrl-C (or SIGTERM) stops everything. Then, in another terminal: `lgsp-sim send`.
    """
    with reported_errors():
        supervisor = Supervisor(
            data,
            topology=topology,
            database_url=database_url,
            health_timeout=health_timeout,
            protocol=protocol.value if protocol else None,
        )
    started = time.monotonic()
    with reported_errors(), _stop_on_signals():
        try:
            with console.status(f"preparing {data} and starting every service…") as status:
                answered: list[str] = []

                def progress(service: Service) -> None:
                    answered.append(service.name)
                    count = f"{len(answered)}/{len(supervisor.services)}"
                    status.update(f"{service.name} answers ({count})…")

                supervisor.start(on_started=progress)
            console.print(_services_table(supervisor, database_url))
            console.print(
                f"[green]{len(supervisor.services)} services up[/] in "
                f"{time.monotonic() - started:.1f} s; URLs in {supervisor.data.services_file}, "
                f"logs in {supervisor.data.logs_dir}/"
            )
            console.print(
                Text(
                    f"Try: lgsp-sim send --data {data} --from 000.00.00.H56 --to 000.00.00.G22"
                    "   ·   Ctrl-C stops everything",
                    style="dim",
                )
            )
            _watch(supervisor)
        except (KeyboardInterrupt, _Stop):
            pass
        finally:
            with shielded():
                if supervisor.services:
                    with console.status("stopping every service…"):
                        supervisor.stop()
                    console.print("stopped.")
                else:
                    supervisor.stop()


def init(
    data: DataOption = DEFAULT_DATA_DIR,
    topology: TopologyOption = None,
    service_urls: Annotated[
        str | None,
        typer.Option(
            "--service-urls",
            help="Also write services.json from this template, e.g. 'http://{name}:8000' "
            "(docker-compose, where each service is a host named after it).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Prepare DIR without starting anything: sim.json, the CA, hub identities, systems.json.

    What `up` does before it starts the services; docker-compose runs it once into the shared volume. Safe to run again: what exists is reused.
    """
    with reported_errors():
        directory = DataDir(data)
        loaded = directory.prepare(topology, at=WallClock().now())
        services = plan_services(loaded)
        if service_urls is not None:
            try:
                urls = {s.name: service_urls.format(name=s.name) for s in services}
            except (KeyError, IndexError, ValueError) as exc:
                raise typer.BadParameter(
                    f"the template may only use {{name}} ({exc})", param_hint="--service-urls"
                ) from None
            directory.write_services(urls)
    table = Table(title=f"Prepared {data} for topology {loaded.name!r}", title_justify="left")
    table.add_column("service")
    table.add_column("role")
    table.add_column("agencies", justify="right")
    for spec in services:
        table.add_row(spec.name, ROLE_NAMES[spec.role.value], f"{spec.agencies:,}")
    console.print(table)
    written = "sim.json, keys/, systems.json" + (", services.json" if service_urls else "")
    console.print(f"wrote {written} in {data}")


def _services_table(supervisor: Supervisor, database_url: str | None) -> Table:
    topology = supervisor.topology
    title = f"lgsp-sim: topology {topology.name if topology else '?'!r}"
    table = Table(title=title, title_justify="left")
    table.add_column("service")
    table.add_column("role")
    table.add_column("URL")
    table.add_column("agencies", justify="right")
    table.add_column("pid", justify="right")
    table.add_column("store")
    for service in supervisor.services.values():
        store = ""
        if service.spec.is_hub:
            schema = supervisor.schema_of(service.spec.hub_id)
            store = f"postgres schema {schema}" if schema else f"hubs/{service.name}.db"
        table.add_row(
            service.name,
            ROLE_NAMES[service.spec.role.value],
            service.url,
            f"{service.spec.agencies:,}",
            str(service.pid or ""),
            store,
        )
    return table


def _watch(supervisor: Supervisor) -> None:
    # Stay in the foreground; say so once when a service dies on its own, with its last words.
    reported: set[str] = set()
    while True:
        time.sleep(0.5)
        for name, code in supervisor.exited():
            if name in reported:
                continue
            reported.add(name)
            err_console.print(
                Text(f"warning: {name} exited with code {code}; its last lines:", style="yellow")
            )
            err_console.print(Text(supervisor.log_tail(name, lines=15), style="dim"))


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    # SIGTERM (docker stop, systemd, kill) and SIGHUP (closed terminal) stop cleanly, as Ctrl-C.
    def handler(signum: int, frame: FrameType | None) -> None:
        raise _Stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
