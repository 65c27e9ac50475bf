"""`lgsp-sim systems`: the DMS systems of a data directory (fleets and outside DMSs).

``add`` declares an outside DMS (e.g. a real document-management system speaking the SDK
protocol) at one hub: its ``systemid``, its secret and the agencies it speaks for. The entry
goes to ``DIR/systems.json`` with the secret Fernet-encrypted under that hub's key (the
hub's own scheme, ``DIR/hubs/<hub>.token-key`` or ``LGSP_TOKEN_SECRET``); a running hub
re-reads the file within a second (at once when the new system calls), so no restart is
needed. An agency of the topology given to an outside system is no longer its fleet's.
Secrets are never printed back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

import edoc
from lgsp.auth import secret_cipher
from lgsp.settings import HubSettings
from sim.runtime import DEFAULT_DATA_DIR, DataDir, SystemEntry, fleet_id_for
from sim.runtime.datadir import merge_systems
from sim.topology import Topology
from simtime import WallClock

from ._common import console, fail, reported_errors

app = typer.Typer(
    help="DMS systems: list them, or add an outside DMS that speaks for agencies at a hub.",
    no_args_is_help=True,
)

DataOption = Annotated[
    Path, typer.Option("--data", help="The data directory (prepared by `lgsp-sim up` or `init`).")
]


def _hub_id(topology: Topology, hub: str) -> str:
    """A hub id from ``--hub``: a hub id (lgsp-h56, ndxp) or a province code (H56)."""
    hubs = {spec.hub_id for spec in topology.hubs()}
    if hub in hubs:
        return hub
    for province in topology.provinces:
        if province.code == hub.upper():
            return province.hub.hub_id
    fail("unknown_hub", f"{hub!r} is neither a hub ({', '.join(sorted(hubs))}) nor a province")


@app.command("add")
def add(
    hub: Annotated[str, typer.Option("--hub", help="The hub: a province code (H56) or hub id.")],
    systemid: Annotated[str, typer.Option("--systemid", help="The system's id (systemid).")],
    agency: Annotated[
        list[str],
        typer.Option(
            "--agency",
            help="An OrganId the system speaks for (repeat): an agency of that hub, or a new "
            "code whose level-1 part names it (000.00.07.H56 at lgsp-h56).",
        ),
    ],
    secret: Annotated[
        str,
        typer.Option(
            "--secret", prompt=True, hide_input=True, help="The shared secret (HMAC key)."
        ),
    ],
    data: DataOption = DEFAULT_DATA_DIR,
) -> None:
    """Add (or replace) an outside DMS system at a hub; a running hub serves it at once."""
    with reported_errors():
        directory = DataDir(data)
        topology = directory.load_topology()
        hub_id = _hub_id(topology, hub)
        fleets = {fleet_id_for(spec.hub_id) for spec in topology.hubs()}
        if not systemid.strip() or systemid in fleets:
            fail("bad_systemid", f"{systemid!r} is empty or the id of a fleet of the topology")
        if not secret:
            fail("bad_secret", "the secret may not be empty")
        agencies = list(dict.fromkeys(a.strip() for a in agency if a.strip()))
        if not agencies:
            fail("no_agency", "give at least one --agency")
        for organ_id in agencies:
            if (
                not edoc.is_valid_organ_id(organ_id)
                or str(edoc.parse_organ_id(organ_id)) != organ_id
            ):
                fail("bad_agency", f"{organ_id!r} is not an OrganId like 000.00.07.H56")
            home = topology.home_hub(organ_id)
            if home != hub_id:
                fail("agency_wrong_hub", f"{organ_id} belongs to {home or 'no hub'}, not {hub_id}")
        existing = directory.read_systems()
        others = [e for e in existing if e.system_id != systemid]
        for entry in others:
            if entry.system_id in fleets:
                continue
            taken = sorted(set(entry.agencies) & set(agencies))
            if taken:
                fail("agency_taken", f"{taken[0]} is already hosted by system {entry.system_id}")
        before = next((e for e in existing if e.system_id == systemid), None)
        if before is not None and before.hub_id != hub_id:
            fail("system_exists", f"system {systemid} is a system of {before.hub_id}")
        settings = HubSettings(hub_id=hub_id, data_dir=directory.root)
        cipher = secret_cipher(settings.resolved_token_secret(), hub_id=hub_id)
        now = WallClock().now()
        entry = SystemEntry(
            system_id=systemid,
            secret="",
            hub_id=hub_id,
            agencies=tuple(agencies),
            secret_encrypted=cipher.encrypt(secret.encode()).decode(),
            created=before.created if before is not None and before.created else now.isoformat(),
        )
        merged = merge_systems([*others, entry], topology, at=now)
        directory.write_systems(merged)
    fleet = fleet_id_for(hub_id)
    moved = sorted(
        a for a in agencies if a in topology and any(e.system_id == fleet for e in existing)
    )
    verb = "replaced" if before is not None else "added"
    console.print(
        Text(f"{verb} system {systemid} at {hub_id}: {len(agencies)} agencies", style="green")
    )
    if moved:
        console.print(
            Text(
                f"taken from {fleet}: {', '.join(moved)} (restart {fleet} so it stops "
                "drafting for them)",
                style="yellow",
            )
        )
    console.print(
        Text(
            f"a running {hub_id} serves it within a second; SDK endpoint: the hub's URL "
            f"(see {directory.services_file})",
            style="dim",
        )
    )


@app.command("list")
def list_systems(
    data: DataOption = DEFAULT_DATA_DIR,
    hub: Annotated[
        str | None, typer.Option("--hub", help="Only this hub (province code or hub id).")
    ] = None,
) -> None:
    """The DMS systems: id, hub, agencies, created (never the secret)."""
    with reported_errors():
        directory = DataDir(data)
        topology = directory.load_topology()
        wanted = _hub_id(topology, hub) if hub is not None else None
        entries = [e for e in directory.read_systems() if wanted in (None, e.hub_id)]
    fleets = {fleet_id_for(spec.hub_id) for spec in topology.hubs()}
    prepared = directory.read_sim().created  # fleets exist since the directory was prepared
    table = Table(title=f"DMS systems of {data}", title_justify="left")
    for column in ("systemid", "hub", "kind", "agencies", "created"):
        table.add_column(column, justify="right" if column == "agencies" else "left")
    for entry in entries:
        shown = ", ".join(entry.agencies[:3]) + (" …" if len(entry.agencies) > 3 else "")
        table.add_row(
            Text(entry.system_id),
            entry.hub_id,
            "fleet" if entry.system_id in fleets else "outside",
            Text(f"{len(entry.agencies)}: {shown}" if entry.agencies else "0"),
            entry.created or (prepared if entry.system_id in fleets else ""),
        )
    console.print(table)


__all__ = ["app"]
