"""`lgsp-sim report`: run a calibrated scenario and print the reported figures beside the measured."""

from __future__ import annotations

import json
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from sim.report.html import render_html
from sim.report.run import report_json, run_report
from sim.report.scenario import load_scenario, scenario_names

from ._common import console, err_console, reported_errors


class ReportFormat(StrEnum):
    """Output formats."""

    TABLE = "table"
    JSON = "json"


_PHASES = {
    "prepare": "issuing the writers' certificates",
    "start": "starting hubs and fleets",
    "send": "sending the year's documents",
    "settle": "waiting for statuses and assessments",
    "collect": "reading every hub's statistics",
}


def report(
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario", help=f"A shipped scenario ({', '.join(scenario_names())}) or a JSON file."
        ),
    ],
    scale: Annotated[
        float | None,
        typer.Option(
            min=1e-7, max=1.0, help="Share of the year's volume to send (default: the scenario's)."
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="A fresh data directory (default: a temporary one)."),
    ] = None,
    output: Annotated[
        ReportFormat, typer.Option("--format", help="table or json.")
    ] = ReportFormat.TABLE,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write an HTML report there.")
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(
            min=5.0, help="Real seconds the simulated year takes (default: the scenario's)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the traffic draws.")] = 2022,
) -> None:
    """Replay a province's reported year at a scale, then compare its figures with what the hubs measured.

    The topology runs on a shared simulated clock (the year compressed into about a minute and
    a half), the fleets send the scenario's volume with its signing probabilities, and every
    rate printed is what the hubs' own verification found in the stored documents, with a 95%
    Wilson score interval.
    """
    with reported_errors():
        loaded = load_scenario(scenario)
        with tempfile.TemporaryDirectory(prefix="lgsp-report-") as temporary:
            directory = data if data is not None else Path(temporary) / "data"
            with _progress() as progress:
                result = run_report(
                    loaded,
                    data=directory,
                    scale=scale,
                    duration=duration,
                    seed=seed,
                    progress=progress,
                )
            document = report_json(result)
            if data is None:
                document["run"]["data_dir"] = None  # removed with the temporary directory
    if out is not None:
        out.write_text(render_html(document), encoding="utf-8")
        err_console.print(f"HTML report written to {out}")
    if output is ReportFormat.JSON:
        typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    _print(document)


class _progress:
    """Rich progress bars fed by the run's ``progress(phase, done, total)`` callback."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _progress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)

    def __call__(self, phase: str, done: int, total: int) -> None:
        task = self._tasks.get(phase)
        if task is None:
            task = self._progress.add_task(_PHASES.get(phase, phase), total=max(total, 1))
            self._tasks[phase] = task
        if phase == "settle":
            # Counts down what is still in flight: show it as the remaining work.
            self._progress.update(
                task, total=None, description=f"{_PHASES[phase]} ({total} in flight)"
            )
            if total == 0:
                self._progress.update(task, total=1, completed=1)
            return
        self._progress.update(task, completed=done, total=max(total, 1))


def _fmt(value: Any, name: str) -> str:
    if value is None:
        return "—"
    if name.endswith("_rate") or name.startswith("online_processing"):
        return f"{value:.2%}"
    return f"{value:,.0f}"


def _print(document: dict[str, Any]) -> None:
    scenario, run = document["scenario"], document["run"]
    table = Table(
        title=f"{scenario['title']}: reported beside measured (scale {run['scale']:g})",
        title_justify="left",
        caption="Counts scaled to the full year (measured in the run ÷ scale); rates from the hubs' verification.",
    )
    table.add_column("figure", no_wrap=True)
    for column in ("reported", "measured", "in the run", "95% CI (Wilson)", "inside"):
        table.add_column(column, justify="right", no_wrap=column != "95% CI (Wilson)")
    for item in document["comparison"]:
        name = item["figure"]
        raw = item["measured_in_run"]
        if isinstance(raw, dict):
            raw_text = f"{raw['successes']:,}/{raw['trials']:,}"
        else:
            raw_text = "—" if raw is None else f"{raw:,}"
        interval = item["interval"]
        within = item["reported_within_interval"]
        table.add_row(
            name,
            _fmt(item["reported"], name),
            _fmt(item["measured"], name),
            raw_text,
            f"{interval[0]:.2%} – {interval[1]:.2%}" if interval else "—",
            ""
            if within is None
            else Text("yes", style="green")
            if within
            else Text("no", style="red"),
        )
    console.print(table)
    for item in document["comparison"]:
        if item.get("note"):
            console.print(Text(f"  {item['figure']}: {item['note']}", style="dim"))
    late_start = run.get("late_start_hours")
    console.print(
        f"{run['sent']:,} documents in {run['wall_seconds']:.0f} s, the year compressed "
        f"{run['clock_rate']:,.0f}×; refused: {run['refused'] or 'none'}; "
        f"settled: {'yes' if run['settled'] else 'NO'}; largest sending lag "
        f"{run['max_lag_hours']} simulated hours ({run['sent_after_year']} sent after the year"
        f"{f'; started {late_start} h into the year' if late_start else ''})."
    )
    on_time = _on_time_line(document)
    if on_time:
        console.print(on_time)


def _on_time_line(document: dict[str, Any]) -> str:
    """The on-time rate with the machine's lag beside it: a fast clock turns tenths of a
    second of lag into simulated hours, and late 06 statuses may be the machine's, not the
    profile's."""
    raw = document["measured_in_run"].get("on_time_rate")
    if not isinstance(raw, dict) or not raw.get("trials"):
        return ""
    rate = raw["successes"] / raw["trials"]
    interval = document["intervals"].get("on_time_rate")
    text = f"completed by the end of the DueDate: {rate:.2%} ({raw['successes']}/{raw['trials']}"
    text += f", 95% CI {interval[0]:.1%}–{interval[1]:.1%})" if interval else ")"
    lag = document["run"].get("completion_lag") or {}
    if not lag.get("statuses_06"):
        return text + "."
    return (
        f"{text}; machine lag: a 06 reached its hub {lag['mean_hours']} simulated hours after "
        f"its planned moment on average (at most {lag['max_hours']}), one real second being "
        f"{lag['simulated_hours_per_real_second']:g} simulated hours; of "
        f"{lag['with_due_date']} 06 statuses answering a DueDate, {lag['planned_late']} were "
        f"drawn late by the fleets' profile and {lag['late_by_lag']} planned on time but "
        "stored late because of that lag."
    )
