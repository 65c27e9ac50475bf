"""`lgsp-sim bench`: benchmarks that print figures measured on this machine."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from simtime import WallClock

app = typer.Typer(
    help="Benchmarks: print figures measured on this machine, in one run.", no_args_is_help=True
)


@app.command("crypto")
def crypto(
    seconds: Annotated[
        float, typer.Option(help="Seconds to spend on each measured operation.")
    ] = 2.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Time raw RSA-2048, our envelope XMLDSig and PAdES signing, and pyHanko's plain usage."""
    from sim.bench.crypto import ENVELOPE_BAR, PADES_BAR, run_crypto_bench

    console = Console(stderr=True)
    with console.status("measuring signatures (keys are loaded once, as in the services)…"):
        figures = run_crypto_bench(at=WallClock().now(), seconds=seconds)
    if as_json:
        typer.echo(json.dumps(figures.as_dict(), indent=2))
        return
    table = Table(
        title=f"Signatures on this machine (package {figures.package_bytes:,} B, PDF {figures.pdf_bytes:,} B)"
    )
    table.add_column("operation")
    table.add_column("per second", justify="right")
    table.add_column("ms each", justify="right")
    rows = [
        ("raw RSA-2048 sign (SHA-256 over the package bytes)", figures.raw_sign),
        ("raw RSA-2048 verify (same bytes)", figures.raw_verify),
        ("envelope sign (XMLDSig, RSA-SHA256)", figures.envelope_sign),
        ("envelope verify (signature + chain + CRL + OrganId)", figures.envelope_verify),
        ("PAdES sign (ours: key loaded once, bytes reserved)", figures.pades_sign),
        ("PAdES validate (a PDF with one signature)", figures.pades_validate),
        (
            "PAdES sign, pyHanko plain default (SimpleSigner.load each time)",
            figures.pades_plain_default_sign,
        ),
    ]
    for label, rate in rows:
        table.add_row(label, f"{rate.per_second:,.0f}", f"{rate.ms:.3f}")
    out = Console()
    out.print(table)
    out.print(
        f"envelope sign = {figures.envelope_sign_vs_raw:.2f}x raw sign, "
        f"envelope verify = {figures.envelope_verify_vs_raw:.2f}x raw verify (bar: ≤ {ENVELOPE_BAR:g}x); "
        f"PAdES signing {figures.pades_speedup:.1f}x faster than the plain default (bar: ≥ {PADES_BAR:g}x)"
    )
