"""`lgsp-sim bench stats`: one hub's acceptance rate with statistics on and off (bar: ≤ 10%).

Registered on the `bench` group from here (imported by ``sim.cli``), beside `bench exchange`,
whose acceptance measurement it reuses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from simtime import WallClock

from . import bench
from ._common import reported_errors


@bench.app.command("stats")
def stats_overhead(
    rounds: Annotated[int, typer.Option(min=1, help="Runs of each setting, alternating.")] = 2,
    seconds: Annotated[float, typer.Option(min=0.2, help="Seconds each rate is measured.")] = 5.0,
    warmup: Annotated[float, typer.Option(min=0, help="Seconds of load before each window.")] = 1.0,
    concurrency: Annotated[int, typer.Option(min=1, help="Load generator connections.")] = 32,
    cache: Annotated[
        Path | None,
        typer.Option(
            help="The bench data cache (default: that of `bench exchange`).", show_default=False
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Measure what statistics cost: one LGSP accepting signed packages with LGSP_STATS on, then off."""
    from sim.bench.exchange import default_cache_dir, prepare_bench_data
    from sim.bench.stats_overhead import STATS_BAR, measure_stats_overhead

    console = Console(stderr=True)

    class _Status:
        def __init__(self) -> None:
            self.status = console.status("")

        def phase(self, text: str, total: int | None = None) -> None:
            self.status.update(text + "…")

    with reported_errors():
        reporter = _Status()
        with reporter.status:
            reporter.phase("preparing the bench data")
            data = prepare_bench_data(cache or default_cache_dir(), at=WallClock().now())
            figures = measure_stats_overhead(
                data,
                rounds=rounds,
                seconds=seconds,
                warmup=warmup,
                concurrency=concurrency,
                reporter=reporter,
            )
    if as_json:
        typer.echo(json.dumps(figures.as_dict(), indent=2))
        return
    table = Table(title="Acceptance of signed packages by one LGSP (packages per second)")
    table.add_column("statistics")
    table.add_column("runs", justify="right")
    table.add_column("median", justify="right")
    table.add_row("on", ", ".join(f"{r:,.0f}" for r in figures.on), f"{figures.on_per_s:,.0f}")
    table.add_row("off", ", ".join(f"{r:,.0f}" for r in figures.off), f"{figures.off_per_s:,.0f}")
    out = Console()
    out.print(table)
    verdict = "met" if figures.bar_met else "NOT met"
    out.print(
        f"statistics on: {figures.slowdown:+.1%} slower than off (bar: ≤ {STATS_BAR:.0%}): {verdict}"
    )
