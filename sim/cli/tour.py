"""`lgsp-sim tour`: the format and signing layer at work on one document, without services."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from simtime import WallClock

from ._common import console, reported_errors


def tour(
    data: Annotated[Path, typer.Option("--data", help="Data directory (keys, packages).")] = Path(
        ".lgsp-data"
    ),
) -> None:
    """Walk one real document through signing and verification, no services needed.

    The PDF, the personal and agency PAdES signatures, the edXML package, its envelope signature, the recipient's checks, a status package back; then a tampered copy, an unsigned one and a revoked signer, refused.
    """
    from sim.showcase import Step, run_showcase

    table = Table(title="One document from Thanh Hóa to the Government Office")
    table.add_column("step")
    table.add_column("outcome")

    def report(step: Step) -> None:
        mark = "[green]✓[/]" if step.ok else "[red]✗[/]"
        console.print(mark, Text(f"{step.action}: {step.outcome}"))
        table.add_row(Text(step.action), Text(step.outcome, style="" if step.ok else "red"))

    with reported_errors():
        data.mkdir(parents=True, exist_ok=True)
        steps = run_showcase(data, at=WallClock().now(), report=report)
    console.print(table)
    if not all(step.ok for step in steps):
        raise typer.Exit(1)
