"""The `lgsp-sim` command line: one sub-command group per concern."""

from __future__ import annotations

import typer

from . import bench, demo, edxml, edxml_signing, keys, pdf, send, systems, tour, up
from . import report as report_command
from . import stats as stats_command

app = typer.Typer(
    name="lgsp-sim",
    help="Simulate Vietnam's government e-document exchange (LGSP / NDXP, edXML, real signatures).",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(keys.app, name="keys")
app.add_typer(edxml.app, name="edxml")
app.add_typer(pdf.app, name="pdf")
app.add_typer(bench.app, name="bench")
app.add_typer(systems.app, name="systems")
app.command("demo")(demo.demo)
app.command("up")(up.up)
app.command("init")(up.init)
app.command("send")(send.send)
app.command("tour")(tour.tour)
app.command("stats")(stats_command.stats)
app.command("report")(report_command.report)
del edxml_signing  # registers `edxml sign` and `edxml verify` on edxml.app


def main() -> None:
    """Entry point of the `lgsp-sim` console script."""
    app()
