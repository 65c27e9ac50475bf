"""`lgsp-sim stats`: the statistics of the whole running topology, every hub added up once."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from sim.report.aggregate import aggregate, fetch_hub_stats
from sim.runtime import DEFAULT_DATA_DIR, DataDir
from sim.scenario.render import flatten

from ._common import console, err_console, fail, reported_errors


class Format(StrEnum):
    """Output formats."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


class PeriodOption(StrEnum):
    """Calendar periods of the hub clock."""

    HOUR = "hour"
    DAY = "day"
    MONTH = "month"
    YEAR = "year"


def stats(
    data: Annotated[
        Path, typer.Option("--data", help="Data directory of the running topology.")
    ] = DEFAULT_DATA_DIR,
    output: Annotated[Format, typer.Option("--format", help="table, json or csv.")] = Format.TABLE,
    period: Annotated[
        PeriodOption | None, typer.Option(help="Also count by hour, day, month or year.")
    ] = None,
    start: Annotated[
        datetime | None, typer.Option("--from", help="Stored at or after (ISO 8601, with offset).")
    ] = None,
    end: Annotated[datetime | None, typer.Option("--to", help="Stored before (ISO 8601).")] = None,
    tier: Annotated[str | None, typer.Option(help="central, province, district, commune.")] = None,
    block: Annotated[str | None, typer.Option(help="party, government, mass, enterprise.")] = None,
    agency: Annotated[str | None, typer.Option(help="One OrganId.")] = None,
    agencies: Annotated[
        bool, typer.Option("--agencies", help="Also list incoming and outgoing per agency.")
    ] = False,
) -> None:
    """Ask every hub of the running topology for its statistics and add them up.

    Each package enters the exchange at exactly one hub: a document counts as sent where its
    sender's DMS submitted it, as received once per recipient at the hub of that recipient, a
    status once where the answering agency sent it. Transit copies (a document stored by the
    NDXP and the destination LGSP as well) are never added, so nothing is counted twice.
    """
    with reported_errors():
        directory = DataDir(data)
        urls = directory.read_services()
        topology = directory.load_topology()
        hubs = [hub.hub_id for hub in topology.hubs()]
        params = {
            key: value
            for key, value in {
                "period": period.value if period else None,
                "from": _iso(start),
                "to": _iso(end),
                "tier": tier,
                "block": block,
                "agency": agency,
                "agencies": "true" if agencies else None,
            }.items()
            if value is not None
        }
        with console.status("asking every hub for its statistics…"):
            per_hub, errors = asyncio.run(fetch_hub_stats(urls, hubs, params=params))
    for hub, problem in errors.items():
        err_console.print(Text(f"warning: {hub}: {problem}", style="yellow"))
    if not per_hub:
        fail("no_hub_answered", "no hub of the topology answered: is it running (`lgsp-sim up`)?")
    total = aggregate(per_hub)
    if output is Format.JSON:
        typer.echo(
            json.dumps(
                {"total": total, "hubs": per_hub, "missing": errors}, ensure_ascii=False, indent=2
            )
        )
        return
    if output is Format.CSV:
        typer.echo(_csv(total, per_hub), nl=False)
        return
    _tables(total, per_hub)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        fail(
            "bad_time", f"{moment.isoformat()} needs a UTC offset (e.g. 2022-01-01T00:00:00+07:00)"
        )
    return moment.isoformat()


def _csv(total: dict[str, Any], per_hub: dict[str, dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["scope", "metric", "value"])
    for key, value in flatten(total).items():
        writer.writerow(["total", key, value])
    for hub, values in per_hub.items():
        for key, value in flatten(values).items():
            if ".histogram." not in key:
                writer.writerow([hub, key, value])
    return buffer.getvalue()


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def _num(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.3f}"
    return f"{value:,}"


def _tables(total: dict[str, Any], per_hub: dict[str, dict[str, Any]]) -> None:
    hubs = list(per_hub)
    overview = Table(
        title="Exchange (each package counted once, where it entered)", title_justify="left"
    )
    overview.add_column("figure")
    for hub in hubs:
        overview.add_column(hub, justify="right")
    overview.add_column("topology", justify="right", style="bold")
    rows: list[tuple[str, list[Any], Any]] = [
        (
            "documents sent",
            [s["sent"]["total"] for s in per_hub.values()],
            total["sent"]["documents"],
        ),
        (
            "documents received (per recipient)",
            [s["received"]["total"] for s in per_hub.values()],
            total["received"]["documents"],
        ),
        (
            "statuses sent",
            [s["exchange_events"]["statuses"] for s in per_hub.values()],
            total["exchange_events"]["statuses"],
        ),
        (
            "exchange events (lượt trao đổi)",
            [s["exchange_events"]["total"] for s in per_hub.values()],
            total["exchange_events"]["total"],
        ),
        (
            "packages stored (transit included)",
            [s["accepted"]["total"] for s in per_hub.values()],
            None,
        ),
        (
            "forwarded (hops)",
            [s["forwarded"] for s in per_hub.values()],
            total["hops"]["forwarded"],
        ),
        (
            "delivered (confirmed)",
            [s["delivered"] for s in per_hub.values()],
            total["hops"]["delivered"],
        ),
        (
            "rejected",
            [s["rejected"]["total"] for s in per_hub.values()],
            total["rejected"]["total"],
        ),
        (
            "assessment pending",
            [s["signing"]["pending"] for s in per_hub.values()],
            total["signing"]["pending"],
        ),
    ]
    for label, values, summed in rows:
        overview.add_row(label, *(_num(v) for v in values), _num(summed))
    signing = total["signing"]
    for role in ("personal", "agency"):
        overview.add_row(
            f"{role} signing rate",
            *(_pct(s["signing"][role]["rate"]) for s in per_hub.values()),
            _pct(signing[role]["rate"]),
        )
    completion = total["completion"]
    overview.add_row(
        "completed (06 from every recipient)",
        *(_pct(s["completion"]["completed_rate"]) for s in per_hub.values()),
        _pct(completion["completed_rate"]),
    )
    overview.add_row(
        "completed by the DueDate",
        *(_pct(s["completion"]["on_time_rate"]) for s in per_hub.values()),
        _pct(completion["on_time_rate"]),
    )
    console.print(overview)

    verdicts = Table(
        title="Signatures of the documents sent (from verification)", title_justify="left"
    )
    for column in ("role", "valid", "invalid", "absent", "rate", "95% interval (Wilson)"):
        verdicts.add_column(column, justify="right" if column != "role" else "left")
    for role in ("personal", "agency"):
        figures = signing[role]
        interval = figures["interval"]
        verdicts.add_row(
            role,
            _num(figures["valid"]),
            _num(figures["invalid"]),
            _num(figures["absent"]),
            _pct(figures["rate"]),
            f"{interval[0]:.2%} – {interval[1]:.2%}" if interval else "—",
        )
    console.print(verdicts)

    if signing["by_tier"]:
        tiers = Table(title="Signing by the sender's tier", title_justify="left")
        for column in ("tier", "documents", "personal", "agency"):
            tiers.add_column(column, justify="right" if column != "tier" else "left")
        for tier, group in signing["by_tier"].items():
            tiers.add_row(
                tier,
                _num(group.get("documents", 0)),
                _pct(group["personal_rate"]),
                _pct(group["agency_rate"]),
            )
        console.print(tiers)

    latency = Table(
        title="Latency from acceptance (seconds of the hub clock)", title_justify="left"
    )
    for column in ("stage", "hub", "count", "p50", "p90", "p99", "max"):
        latency.add_column(column, justify="left" if column in ("stage", "hub") else "right")
    for hub, hub_stats in per_hub.items():
        for stage, figures in hub_stats.get("latency", {}).items():
            if figures.get("count"):
                latency.add_row(
                    stage,
                    hub,
                    _num(figures["count"]),
                    *(_num(figures.get(q)) for q in ("p50", "p90", "p99", "max")),
                )
    if latency.row_count:
        console.print(latency)

    if total["by_period"]:
        periods = Table(title="By period (Vietnam time of the hub clock)", title_justify="left")
        for column in (
            "period",
            "documents sent",
            "statuses sent",
            "exchange events",
            "received",
            "rejected",
        ):
            periods.add_column(column, justify="left" if column == "period" else "right")
        for period, counts in total["by_period"].items():
            periods.add_row(
                period,
                *(
                    _num(counts.get(key, 0))
                    for key in (
                        "documents_sent",
                        "statuses_sent",
                        "exchange_events",
                        "received",
                        "rejected",
                    )
                ),
            )
        console.print(periods)

    if total["by_agency"]:
        busiest = sorted(
            total["by_agency"].items(),
            key=lambda item: -(item[1].get("outgoing", 0) + item[1].get("incoming", 0)),
        )
        table = Table(title="Agencies (busiest first)", title_justify="left")
        for column in ("agency", "outgoing", "incoming"):
            table.add_column(column, justify="left" if column == "agency" else "right")
        for organ_id, counts in busiest[:30]:
            table.add_row(
                organ_id, _num(counts.get("outgoing", 0)), _num(counts.get("incoming", 0))
            )
        if len(busiest) > 30:
            table.caption = f"{len(busiest) - 30} more: --format json lists them all"
        console.print(table)
