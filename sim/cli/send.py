"""`lgsp-sim send`: one real document through the running exchange, followed live."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table
from rich.text import Text

from sim.runtime import (
    DEFAULT_DATA_DIR,
    DataDir,
    DataDirError,
    Exchange,
    SendRequest,
    SendResult,
    ServiceError,
    fleet_id_for,
)
from sim.scenario.render import STATUS_NAMES, path_tree
from sim.scenario.track import (
    WANTED,
    Tracked,
    collect_path,
    merged_hops,
    refresh,
    sender_hub_statuses,
)
from sim.topology import Topology, TopologyError

from ._common import console, fail, reported_errors

NOT_RUNNING_HINT = "run `lgsp-sim up --data {data}` first (in another terminal)"


def send(
    from_: Annotated[
        str, typer.Option("--from", help="Sender OrganId, e.g. 000.00.00.H56.", show_default=False)
    ],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="Recipient OrganId(s), comma-separated: 000.00.00.G22,000.00.00.H17.",
            show_default=False,
        ),
    ],
    subject: Annotated[str, typer.Option(help="The document's subject (Trích yếu).")] = (
        "Về việc trao đổi văn bản điện tử qua trục liên thông"
    ),
    data: Annotated[
        Path, typer.Option("--data", help="Data directory of the running `lgsp-sim up`.")
    ] = DEFAULT_DATA_DIR,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Print the receipt and return at once.")
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for every recipient's statuses.")
    ] = 60.0,
    unsigned: Annotated[
        bool, typer.Option("--unsigned", help="Leave the envelope unsigned (the hub refuses it).")
    ] = False,
    tamper: Annotated[
        bool,
        typer.Option("--tamper", help="Change one byte after signing (the hub refuses it)."),
    ] = False,
) -> None:
    """Send one real document through the running exchange and follow it.

    The sender's fleet drafts the PDF, signs it (personal, then agency), builds and signs the edXML package and submits it to its hub. Then, unless --no-wait, this follows the statuses coming back (01 arrived, 03 accepted, 06 done, or 02 rejected) and prints the path: every hub's hops with times. Exit 1 if the hub refused it or a status is missing.
    """
    recipients = [r.strip() for r in to.split(",") if r.strip()]
    if not recipients:
        fail("no_recipient", "--to names no OrganId")
    with reported_errors():
        directory = DataDir(data)
        try:
            urls = directory.read_services()
            topology = directory.load_topology()
        except DataDirError as exc:
            if exc.code in ("not_running", "not_initialised"):
                fail("not_running", f"nothing is running from {data}: " + _hint(data))
            raise
        try:
            hub = topology.hub_of(from_)
        except TopologyError:
            fail(
                "unknown_agency",
                f"{from_} is not an agency of topology {topology.name!r} "
                "(see `lgsp-sim up`'s table for hubs, or the topology preset)",
            )
        request = SendRequest(
            from_=from_,
            to=recipients,
            subject=subject,
            envelope_signature=not unsigned,
            tamper=tamper,
        )
        try:
            ok = asyncio.run(
                _send(urls, topology, hub, request, data=data, wait=not no_wait, patience=timeout)
            )
        except KeyboardInterrupt:
            # Only the following stops: the document is already in the exchange.
            console.print("stopped following the document; it travels on.")
            raise typer.Exit(130) from None
    if not ok:
        raise typer.Exit(1)


def _hint(data: Path) -> str:
    return NOT_RUNNING_HINT.format(data=data)


async def _send(
    urls: dict[str, str],
    topology: Topology,
    hub: str,
    request: SendRequest,
    *,
    data: Path,
    wait: bool,
    patience: float,
) -> bool:
    fleet = fleet_id_for(hub)
    async with Exchange(urls) as exchange:
        try:
            with console.status(f"{fleet} drafts, signs and submits the document to {hub}…"):
                result = await exchange.send(fleet, request)
        except ServiceError as exc:
            if exc.code in ("unreachable", "unknown_service", "timeout"):
                fail("not_running", f"{exc.message}: {_hint(data)}")
            raise
        console.print(_receipt_table(result, fleet, hub))
        if not result.accepted:
            console.print(
                Text(
                    f"refused by {hub}: {result.error_code}: {result.error_message}",
                    style="red",
                )
            )
            return False
        doc = Tracked(
            label="Document",
            fleet=fleet,
            sender=request.from_,
            document_id=result.document_id,
            recipients=tuple(request.to),
            subject=request.subject,
        )
        if not wait:
            return True
        complete = await _follow(exchange, doc, patience)
        hubs = [h.hub_id for h in topology.hubs()]
        traces = await collect_path(exchange, hubs, sender=doc.sender, document_id=doc.document_id)
        names = {r: topology.agency(r).name for r in doc.recipients if r in topology}
        statuses = sender_hub_statuses(traces, topology.hub_of(doc.sender))
        console.print(path_tree(doc, merged_hops(traces), statuses=statuses, names=names))
        if not complete:
            missing = "; ".join(f"{r}: {', '.join(c)}" for r, c in doc.missing().items())
            console.print(
                Text(f"no complete answer after {patience:.0f} s — missing {missing}", style="red")
            )
        return complete


async def _follow(exchange: Exchange, doc: Tracked, patience: float) -> bool:
    deadline = time.monotonic() + patience
    with Live(_progress_table(doc), console=console, refresh_per_second=8, transient=True) as live:
        while True:
            try:
                await refresh(exchange, [doc])
            except ServiceError as exc:
                live.console.print(Text(f"warning: {exc}", style="yellow"))
            live.update(_progress_table(doc))
            if doc.complete() or time.monotonic() > deadline:
                return doc.complete()
            await asyncio.sleep(0.3)


def _progress_table(doc: Tracked) -> Table:
    table = Table(title=f"Statuses coming back for {doc.document_id}", title_justify="left")
    table.add_column("recipient")
    for code in WANTED:
        table.add_column(f"{code} {STATUS_NAMES[code]}", justify="center")
    table.add_column("02 rejected", justify="center")
    for organ_id in doc.recipients:
        codes = doc.codes_from(organ_id)
        cells = [Text("✓", style="green") if c in codes else Text("…", style="dim") for c in WANTED]
        cells.append(Text("✗", style="red") if "02" in codes else Text(""))
        table.add_row(organ_id, *cells)
    return table


def _receipt_table(result: SendResult, fleet: str, hub: str) -> Table:
    table = Table(title="Receipt", title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("DocumentId", result.document_id or "(none)")
    table.add_row("via", f"{fleet} → {hub}")
    table.add_row("HTTP", str(result.http_status))
    if result.receipt:
        for key in ("doc_id", "kind", "received_at", "duplicate"):
            if key in result.receipt:
                table.add_row(key, str(result.receipt[key]))
    if result.error_code:
        table.add_row("refused", Text(f"{result.error_code}: {result.error_message}", style="red"))
    return table
