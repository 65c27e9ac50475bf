"""`lgsp-sim bench`: benchmarks that print figures measured on this machine."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from simtime import WallClock

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from sim.bench.exchange import ExchangeFigures

app = typer.Typer(
    help="Benchmarks: print figures measured on this machine, in one run.", no_args_is_help=True
)


# Options more than one bench takes.
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        help="Measure hubs on this PostgreSQL database (postgresql://user@host/db), each "
        "in a fresh schema dropped afterwards; the default is SQLite.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")]


@app.command("crypto")
def crypto(
    seconds: Annotated[
        float, typer.Option(help="Seconds to spend on each measured operation.")
    ] = 2.0,
    as_json: JsonOption = False,
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
        ("  of which: hardened XML parse (edoc.load_xml)", figures.xml_parse),
        ("envelope verify of a parsed package (a hub's case)", figures.envelope_verify_parsed),
        (
            f"raw RSA-2048 verify, {figures.large_package_bytes / 1024:,.0f} KB package",
            figures.large_raw_verify,
        ),
        (
            f"envelope verify, {figures.large_package_bytes / 1024:,.0f} KB package",
            figures.large_envelope_verify,
        ),
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
        f"envelope sign = {figures.envelope_sign_vs_raw:.2f}x raw sign; envelope verify = "
        f"{figures.envelope_verify_vs_raw:.2f}x raw verify from bytes, "
        f"{figures.envelope_verify_parsed_vs_raw:.2f}x on a parsed package, "
        f"{figures.large_envelope_verify_vs_raw:.2f}x from bytes at "
        f"{figures.large_package_bytes / 1024:,.0f} KB (bar: ≤ {ENVELOPE_BAR:g}x); "
        f"PAdES signing {figures.pades_speedup:.1f}x faster than the plain default "
        f"(bar: ≥ {PADES_BAR:g}x)"
    )


@app.command("exchange")
def exchange(
    seconds: Annotated[
        float,
        typer.Option(min=0.2, help="Seconds each rate is measured (after --warmup)."),
    ] = 5.0,
    warmup: Annotated[
        float, typer.Option(min=0, help="Seconds of load before each rate's window opens.")
    ] = 1.0,
    concurrency: Annotated[
        int,
        typer.Option(min=1, help="Keep-alive connections of the load generator (bare and hub)."),
    ] = 32,
    repeat: Annotated[
        int,
        typer.Option(
            min=1, help="Rounds of bare + verification + hub; the best of each is reported."
        ),
    ] = 3,
    documents: Annotated[
        int,
        typer.Option(min=0, help="End-to-end documents between two provinces (0: skip that part)."),
    ] = 60,
    e2e_concurrency: Annotated[
        int, typer.Option(min=1, help="End-to-end documents in flight at once.")
    ] = 8,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds the end-to-end documents may take to complete.")
    ] = 180.0,
    profile: Annotated[
        Path | None,
        typer.Option(
            help="Profile the hub with py-spy while it accepts; write its folded stacks here.",
            show_default=False,
        ),
    ] = None,
    cache: Annotated[
        Path | None,
        typer.Option(
            help="Where the CA and the signed packages are kept between runs "
            "(default: ~/.cache/lgsp-sim/bench-exchange).",
            show_default=False,
        ),
    ] = None,
    wrk_check: Annotated[
        bool, typer.Option(help="Also time the bare endpoint with wrk, when installed.")
    ] = True,
    stats_compare: Annotated[
        bool,
        typer.Option(
            help="In every round, also measure a fresh hub with statistics off "
            "(LGSP_STATS=false) on the same packages: what statistics cost (bar: ≤ 10%)."
        ),
    ] = True,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Time one hub's acceptance against HTTP + verification, and the end-to-end exchange.

    Each round times a bare FastAPI endpoint (the HTTP ceiling), one envelope verification,
    one LGSP accepting distinct signed packages with statistics on, then off; the best of
    each is reported with every round beside it. Then documents travel H56 → H04 with their
    statuses 01, 03 and 06 back.
    """
    with _announced() as reporter:
        figures = _run(
            reporter,
            seconds=seconds,
            warmup=warmup,
            concurrency=concurrency,
            repeat=repeat,
            documents=documents,
            e2e_concurrency=e2e_concurrency,
            e2e_timeout=timeout,
            cache=cache,
            profile=profile,
            wrk_check=wrk_check,
            stats_compare=stats_compare,
            database_url=database_url,
        )
    if as_json:
        typer.echo(json.dumps(figures.as_dict(), indent=2, ensure_ascii=False))
        return
    _print_exchange(figures, Console())
    if figures.acceptance.profile is not None:
        _print_profile(figures.acceptance.profile, Console())


@app.command("stats")
def stats(
    rounds: Annotated[
        int, typer.Option(min=1, help="Rounds of statistics on, then off; the best of each.")
    ] = 2,
    seconds: Annotated[float, typer.Option(min=0.2, help="Seconds each rate is measured.")] = 5.0,
    warmup: Annotated[float, typer.Option(min=0, help="Seconds of load before each window.")] = 1.0,
    concurrency: Annotated[int, typer.Option(min=1, help="Load generator connections.")] = 32,
    cache: Annotated[
        Path | None,
        typer.Option(
            help="The bench data cache (default: that of `bench exchange`).", show_default=False
        ),
    ] = None,
    database_url: DatabaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """What statistics cost: one hub's acceptance with statistics on and off (bar: ≤ 10%).

    The rounds of `bench exchange` without the end-to-end part.
    """
    with _announced() as reporter:
        figures = _run(
            reporter,
            seconds=seconds,
            warmup=warmup,
            concurrency=concurrency,
            repeat=rounds,
            documents=0,
            cache=cache,
            wrk_check=False,
            stats_compare=True,
            database_url=database_url,
        )
    if as_json:
        typer.echo(json.dumps(figures.as_dict(), indent=2, ensure_ascii=False))
        return
    out = Console()
    table = Table(title="One LGSP accepting signed packages, statistics on and off")
    table.add_column("measure")
    table.add_column("value", justify="right")
    _stats_rows(figures, table)
    out.print(table)
    _print_rounds(figures, out)
    _stats_verdict(figures, out)


@contextlib.contextmanager
def _announced() -> Iterator[_PhaseProgress]:
    """The machine's state on stderr, then the bench's phases, errors reported as the CLI's."""
    from sim.bench.exchange import machine_state

    from ._common import reported_errors

    status = Console(stderr=True)
    cpus, load = machine_state()
    status.print(
        f"{cpus} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start"
        + ("  (busy: figures will be noisy)" if load[0] > 1.5 else "")
    )
    with reported_errors(), _PhaseProgress(status) as reporter:
        yield reporter


def _run(reporter: _PhaseProgress, **options: Any) -> ExchangeFigures:
    """`run_exchange_bench` at the wall clock's now, reporting to the progress display."""
    from sim.bench.exchange import run_exchange_bench

    return run_exchange_bench(at=WallClock().now(), reporter=reporter, **options)


class _PhaseProgress:
    """The bench's phases as rows of a rich progress display on stderr."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress: Progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.task: TaskID | None = None

    def __enter__(self) -> _PhaseProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish()
        self.progress.stop()

    def phase(self, text: str, total: int | None = None) -> None:
        """Close the current row and open one for the new phase."""
        self._finish()
        self.task = self.progress.add_task(text, total=total)

    def advance(self, completed: int, total: int | None = None) -> None:
        """Move the current row's count."""
        if self.task is not None:
            self.progress.update(self.task, completed=completed, total=total)

    def _finish(self) -> None:
        if self.task is not None:
            task = self.progress.tasks[-1]
            # A phase without a count shows as one step done once it is over.
            total = task.total if task.total is not None else 1
            self.progress.update(self.task, total=total, completed=max(task.completed, total))
            self.task = None


def _print_exchange(figures: ExchangeFigures, out: Console) -> None:
    from sim.bench.exchange import ACCEPTANCE_BAR, FLEET_PROFILE

    load = figures.load_average
    out.print(
        f"machine: {figures.cpu_count} CPUs, load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f} at start; package {figures.package_bytes:,} B; "
        f"{figures.concurrency} connections"
    )
    out.print(f"load generator: {figures.load_generator}")
    table = Table(title="One hub's acceptance against the floor of HTTP + verification")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(
        "bare FastAPI endpoint, same body (HTTP ceiling)",
        f"{figures.bare_requests_per_s:,.0f} req/s{_cores(figures.bare.cpu_share)}",
    )
    if figures.bare_wrk_requests_per_s is not None:
        table.add_row(
            "  the same with wrk (generator check)", f"{figures.bare_wrk_requests_per_s:,.0f} req/s"
        )
    table.add_row(
        "envelope verification (keys.verify_envelope)", f"{figures.envelope_verify_ms:.3f} ms"
    )
    table.add_row("floor = 1 / (1/bare + verify)", f"{figures.floor_per_s:,.0f} /s")
    acceptance = figures.acceptance.load
    table.add_row(
        f"one LGSP, {_DATABASES[figures.database]}: packages accepted (201)",
        f"{figures.acceptance_per_s:,.0f} /s{_cores(figures.acceptance.cpu_share)}",
    )
    table.add_row(
        "  request latency p50 / p99",
        f"{acceptance.latency_p50_ms:.1f} / {acceptance.latency_p99_ms:.1f} ms",
    )
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(acceptance.errors.items())) or "none"
    table.add_row("  errors", errors)
    table.add_row("acceptance / floor", f"{figures.acceptance_vs_floor:.2f}")
    if figures.acceptance_stats_off is not None:
        _stats_rows(figures, table, on_row=False)
    e2e = figures.end_to_end
    if e2e is not None:
        table.add_row(
            f"end to end H56 → H04, 01+03+06 back ({FLEET_PROFILE} profile)",
            f"{e2e.docs_per_s:.2f} docs/s ({e2e.completed}/{e2e.documents})",
        )
        table.add_row(
            "  send call → 06 seen at the sender fleet, p50 / p99",
            f"{e2e.latency_ms(50):,.0f} / {e2e.latency_ms(99):,.0f} ms",
        )
        table.add_row(
            "  accepted → 06 stored at the sender's LGSP, p50 / p99",
            f"{e2e.hub_latency_ms(50):,.0f} / {e2e.hub_latency_ms(99):,.0f} ms",
        )
        e2e_errors = ", ".join(f"{k}: {v}" for k, v in sorted(e2e.errors.items())) or "none"
        table.add_row("  errors", e2e_errors)
    out.print(table)
    _print_rounds(figures, out)
    if acceptance.exhausted:
        out.print(
            f"note: the {figures.packages_available:,} cached packages ran out before the end of the window"
        )
    verdict = "met" if figures.acceptance_bar_met else "NOT met"
    out.print(
        f"acceptance = {figures.acceptance_vs_floor:.2f}x the floor (bar: ≥ {ACCEPTANCE_BAR:g}x): "
        f"{verdict}",
        style="green" if figures.acceptance_bar_met else "red",
    )
    _stats_verdict(figures, out)


def _stats_rows(figures: ExchangeFigures, table: Table, *, on_row: bool = True) -> None:
    """The rows of statistics on and off (the 'on' row only where the table lacks it)."""
    from sim.bench.exchange import STATS_OVERHEAD_BAR_PCT

    off = figures.acceptance_stats_off
    if on_row:
        table.add_row(
            "one LGSP, statistics on: packages accepted (201)",
            f"{figures.acceptance_per_s:,.0f} /s{_cores(figures.acceptance.cpu_share)}",
        )
    if off is None:
        return
    table.add_row(
        "one LGSP, statistics off (LGSP_STATS=false)",
        f"{off.per_s:,.0f} /s{_cores(off.cpu_share)}",
    )
    if off.load.errors:
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(off.load.errors.items()))
        table.add_row("  errors, statistics off", errors)
    pct = figures.stats_overhead_pct
    within = figures.stats_overhead_within_bar
    verdict = "met" if within else "NOT met"
    table.add_row(
        "statistics overhead = (off − on) / off",
        "—" if pct is None else f"{pct:+.1f}% (bar ≤ {STATS_OVERHEAD_BAR_PCT:g}%: {verdict})",
    )


def _print_rounds(figures: ExchangeFigures, out: Console) -> None:
    """Every round's figures, when there was more than one round."""
    if len(figures.rounds) < 2:
        return
    compared = any(r.acceptance_stats_off is not None for r in figures.rounds)
    rounds = Table(title="Every round (the best of each column is reported above)")
    columns = ["round", "load 1 min", "bare req/s", "verify ms", "accepted /s"]
    for column in columns + (["stats off /s"] if compared else []):
        rounds.add_column(column, justify="right")
    for number, r in enumerate(figures.rounds, 1):
        cells = [
            str(number),
            f"{r.load_average:.2f}",
            f"{r.bare.per_s:,.0f}{_cores(r.bare.cpu_share)}",
            f"{r.envelope_verify_ms:.3f}",
            f"{r.acceptance.per_s:,.0f}{_cores(r.acceptance.cpu_share)}",
        ]
        if compared:
            off = r.acceptance_stats_off
            cells.append("—" if off is None else f"{off.per_s:,.0f}{_cores(off.cpu_share)}")
        rounds.add_row(*cells)
    out.print(rounds)


def _stats_verdict(figures: ExchangeFigures, out: Console) -> None:
    """One line: what statistics cost against the bar (nothing when not compared)."""
    from sim.bench.exchange import STATS_OVERHEAD_BAR_PCT

    pct = figures.stats_overhead_pct
    if pct is None:
        return
    within = bool(figures.stats_overhead_within_bar)
    out.print(
        f"statistics cost {pct:+.1f}% of the acceptance rate (bar: ≤ {STATS_OVERHEAD_BAR_PCT:g}%): "
        f"{'met' if within else 'NOT met'}",
        style="green" if within else "red",
    )


_DATABASES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _cores(share: float | None) -> str:
    # How much CPU the server process got in the window: below ~0.9, neighbours took the rest.
    return f" ({share:.2f} core)" if share is not None else ""


def _print_profile(path: Path, out: Console) -> None:
    from sim.bench.exchange import profile_breakdown, summarize_profile

    samples, lines = summarize_profile(path)
    if not samples:
        out.print(f"profile: no samples in {path}")
        return
    parts = Table(title=f"Where the hub's time goes while accepting ({samples:,} py-spy samples)")
    parts.add_column("part of the request path")
    parts.add_column("share of samples", justify="right")
    for name, share in profile_breakdown(path)[1]:
        parts.add_row(name, f"{share:.1%}")
    out.print(parts)
    table = Table(title=f"Functions with the most samples of their own ({path})")
    table.add_column("function (self time first)")
    table.add_column("self", justify="right")
    table.add_column("with callees", justify="right")
    for line in lines:
        table.add_row(line.function, f"{line.self_share:.1%}", f"{line.total_share:.1%}")
    out.print(table)
