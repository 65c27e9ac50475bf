"""`lgsp-sim demo`: the first command a newcomer runs (`make demo`) — and a smoke test.

It brings a whole topology up (each hub and fleet its own process), runs the scripted day of
`sim.scenario.day`, prints each document's path and statuses and every hub's and fleet's
statistics, stops everything and exits 0 only if every expected outcome happened.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from sim.runtime import DEFAULT_DATA_DIR, Exchange, Service, ServiceError, Supervisor, shielded
from sim.scenario.day import (
    DEFAULT_COMMUNES_PER_DISTRICT,
    DEFAULT_TIMEOUT,
    DayPlan,
    DayResult,
    plan_day,
    run_day,
)
from sim.scenario.render import hub_summary, path_tree, stages_table, stats_table
from sim.scenario.track import Tracked, collect_path, merged_hops, sender_hub_statuses
from sim.topology import Topology

from ._common import console, reported_errors
from .up import ProtocolOption

# One document per stage is drawn with its full path; the rest are counted in the tables.
PATH_SAMPLES = ("directive", "pass-on", "reports", "between provinces", "from a ministry")


def demo(
    data: Annotated[
        Path, typer.Option("--data", help="Data directory (created on first run, then reused).")
    ] = DEFAULT_DATA_DIR,
    topology: Annotated[
        str | None,
        typer.Option(
            "--topology",
            help="Preset or file; default: the one DIR was prepared for, else three-tier-2023.",
            show_default=False,
        ),
    ] = None,
    communes_per_district: Annotated[
        int,
        typer.Option(
            "--communes-per-district",
            min=0,
            help="Communes of each district taking part (the first ones). A first run issues "
            "every participant's keys, so more means a longer wait.",
        ),
    ] = DEFAULT_COMMUNES_PER_DISTRICT,
    timeout: Annotated[
        float, typer.Option(help="Seconds each wait for statuses may take.")
    ] = DEFAULT_TIMEOUT,
    protocol: ProtocolOption = None,
) -> None:
    """Run the exchange for a scripted day, show every document's path, exit 0 if all went well.

    Starts the NDXP, one LGSP per province and one DMS fleet per hub as processes; then Thanh Hóa's People's Committee sends a directive to its districts, each district passes it on to its communes, the communes report back, Thanh Hóa writes to Đắk Nông, the Government Office writes to the provinces, and an unsigned and a tampered document are refused. Every recipient must answer 01, 03 and 06. Then statistics, and everything stops.
    """
    began = time.monotonic()
    supervisor = Supervisor(data, topology=topology, protocol=protocol.value if protocol else None)
    with reported_errors():
        try:
            _start(supervisor)
            loaded = supervisor.topology
            if loaded is None:  # start() sets it; this keeps the type checker informed
                raise RuntimeError("the supervisor started without a topology")
            plan = plan_day(loaded, communes_per_district=communes_per_district)
            _introduce(loaded, plan)
            result = asyncio.run(_run(supervisor.urls, loaded, plan, timeout))
        except KeyboardInterrupt:
            console.print("interrupted: stopping every service.")
            raise typer.Exit(130) from None
        finally:
            with shielded(), console.status("stopping every service…"):
                supervisor.stop()
    elapsed = time.monotonic() - began
    _conclude(result, elapsed)
    if not result.ok:
        raise typer.Exit(1)


def _start(supervisor: Supervisor) -> None:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("preparing the data directory (first run: the CA)…", total=None)

        def started(service: Service) -> None:
            total = len(supervisor.services)
            progress.update(task, description=f"started {service.name}", total=total, advance=1)

        supervisor.start(on_started=started)
    rows = ", ".join(
        f"{s.name} {s.url.removeprefix('http://')}" for s in supervisor.services.values()
    )
    console.print(
        Text(f"✓ {len(supervisor.services)} services up: ", style="green") + Text(rows, style="dim")
    )
    console.print(Text(f"  logs in {supervisor.data.logs_dir}/", style="dim"))


def _introduce(topology: Topology, plan: DayPlan) -> None:
    console.rule(f"A day on topology {topology.name!r}")
    console.print(
        Text(
            f"{len(topology):,} agencies on {len(topology.hubs())} hubs; home province "
            f"{plan.home.name} ({plan.home.code}).",
        )
    )
    if plan.three_tier:
        console.print(
            Text(
                f"Sampled: {plan.sampled_communes} of {plan.communes_available} communes "
                f"(the first {max(len(c) for c in plan.communes.values())} of each of "
                f"{len(plan.units)} districts; --communes-per-district changes it).",
                style="dim",
            )
        )
    else:
        console.print(
            Text(
                f"Two tiers: the directive goes to {len(plan.units)} of "
                f"{plan.communes_available} communes.",
                style="dim",
            )
        )


class _ProgressReporter:
    """Prints the day's stages and notes; one progress bar per fan-out or wait."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def stage(self, title: str) -> None:
        self.progress.console.print(Text(f"▸ {title}", style="bold"))

    def begin(self, key: str, description: str, total: int) -> None:
        self.tasks[key] = self.progress.add_task(f"  {description}", total=total)

    def update(self, key: str, completed: int) -> None:
        self.progress.update(self.tasks[key], completed=completed)

    def note(self, text: str, *, ok: bool = True) -> None:
        mark, style = ("✓", "green") if ok else ("✗", "red")
        self.progress.console.print(Text(f"  {mark} ", style=style) + Text(text))


async def _run(
    urls: dict[str, str], topology: Topology, plan: DayPlan, patience: float
) -> DayResult:
    async with Exchange(urls, timeout=120.0) as exchange:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            result = await run_day(
                exchange, topology, plan, reporter=_ProgressReporter(progress), patience=patience
            )
        await _show_paths(exchange, topology, result)
        await _show_stats(exchange, topology)
    return result


async def _show_paths(exchange: Exchange, topology: Topology, result: DayResult) -> None:
    console.rule("Paths: each hub's hops, and the statuses back")
    hubs = [h.hub_id for h in topology.hubs()]
    for stage in PATH_SAMPLES:
        documents = result.stages.get(stage) or []
        if not documents:
            continue
        doc: Tracked = documents[0]
        traces = await collect_path(exchange, hubs, sender=doc.sender, document_id=doc.document_id)
        names = {r: topology.agency(r).name for r in doc.recipients if r in topology}
        suffix = f" (1 of {len(documents)})" if len(documents) > 1 else ""
        doc.label = f"{doc.label}{suffix}"
        statuses = sender_hub_statuses(traces, topology.hub_of(doc.sender))
        console.print(path_tree(doc, merged_hops(traces), statuses=statuses, names=names))
    console.print(stages_table(result.stages))
    refusals = Table(title="Refused at the entry hub", title_justify="left")
    for column in ("document", "HTTP", "code", "message", "expected"):
        refusals.add_column(column)
    for refusal in result.refusals:
        answer = refusal.result
        refusals.add_row(
            refusal.label,
            str(answer.http_status) if answer else "",
            Text(
                (answer.error_code or "ACCEPTED") if answer else "send failed",
                style="green" if refusal.ok else "red",
            ),
            Text((answer.error_message or "") if answer else (refusal.problem or "")),
            refusal.expected_code,
        )
    console.print(refusals)


async def _show_stats(exchange: Exchange, topology: Topology) -> None:
    hub_ids = [h.hub_id for h in topology.hubs()]
    fleet_ids = [n for n in exchange.urls if n not in hub_ids]

    async def fetch(name: str, hub: bool) -> tuple[str, dict[str, Any]]:
        try:
            stats = await (exchange.hub_stats(name) if hub else exchange.fleet_stats(name))
        except ServiceError as exc:
            return name, {"error": exc.code}
        return name, stats

    hubs = await asyncio.gather(*(fetch(n, True) for n in hub_ids))
    fleets = await asyncio.gather(*(fetch(n, False) for n in fleet_ids))
    console.rule("Statistics")
    summaries = {name: hub_summary(stats) for name, stats in hubs}
    console.print(stats_table("Hubs (GET /api/v1/stats)", summaries))
    console.print(stats_table("Fleets (GET /fleet/stats)", dict(fleets)))


def _conclude(result: DayResult, elapsed: float) -> None:
    table = Table(title="Expected outcomes", title_justify="left")
    table.add_column("")
    table.add_column("expectation")
    table.add_column("observed")
    for outcome in result.outcomes:
        mark = Text("✓", style="green") if outcome.ok else Text("✗", style="red")
        table.add_row(mark, outcome.label, outcome.detail)
    console.print(table)
    verdict = "every expected outcome happened" if result.ok else "SOME EXPECTATIONS FAILED"
    style = "bold green" if result.ok else "bold red"
    console.print(Text(f"Demo finished in {elapsed:.1f} s: {verdict}.", style=style))
