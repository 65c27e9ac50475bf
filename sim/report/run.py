"""A calibrated run: the topology on a shared simulated clock, the scenario's year of traffic,
then the hubs' statistics beside what the province reported.

1. A fresh data directory is prepared at the simulated start (a little before 1 January, so
   the processes are up when the year begins) and ``sim.json`` gets the shared clock; the
   fleets get the scenario's behaviour profile.
2. The `Supervisor` starts every hub and fleet. The driver sends each planned document when
   the shared clock reaches its time, through the fleets' ``POST /fleet/load``, which applies
   the signatures with the scenario's probabilities.
3. It waits until every fleet is idle, every outbox sent and every document assessed, then
   reads every hub's ``GET /api/v1/stats``. Rates come from the hubs' verification results.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any, Final

import httpx

from agencies.drafting import agency_card
from keys import KeyStore
from sim.errors import SimError
from sim.runtime import DataDir, Supervisor, async_client, fleet_id_for
from sim.topology import Topology, load_topology
from simtime import VIETNAM_TZ, SharedClock

from .aggregate import aggregate, fetch_hub_stats, merge_completion_lag, wilson
from .scenario import Scenario
from .traffic import Planned, build_pools, plan_traffic

# Real seconds allowed for the processes to start before the simulated year begins.
STARTUP_ALLOWANCE: Final = 20.0
_TICK: Final = 0.2
_BATCH_MAX: Final = 40
_SETTLE_TIMEOUT: Final = 300.0

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: phases ``start``, ``send``, ``settle``, ``collect``."""


class ReportError(SimError):
    """A run that could not be done: a stable code and a clear message."""


@dataclass
class DriveLog:
    """What the driver did."""

    planned: int = 0
    dispatched: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    applied: Counter[str] = field(default_factory=Counter)
    max_lag_seconds: float = 0.0  # simulated seconds between a planned time and its sending
    after_year: int = 0  # documents sent only after the simulated year had ended
    late_start_hours: float = 0.0  # the topology was up only this far into the year
    document_ids: list[tuple[str, str]] = field(default_factory=list)  # (sender, DocumentId)


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """1 January of ``year`` and of the next, midnight Vietnam time."""
    start = datetime.combine(datetime(year, 1, 1).date(), day_time(), tzinfo=VIETNAM_TZ)
    end = datetime.combine(datetime(year + 1, 1, 1).date(), day_time(), tzinfo=VIETNAM_TZ)
    return start, end


def prepare(
    data: DataDir, scenario: Scenario, *, rate: float, agencies: Sequence[str] = ()
) -> SharedClock:
    """A fresh data directory for the run, on a shared clock reaching 1 January soon.

    The identities of ``agencies`` are issued first, at the simulated start: generating
    a few dozen RSA keys on the fleets' first sends would hold January's documents back.
    The clock starts counting only after that.
    """
    if data.initialised:
        raise ReportError(
            "data_not_fresh",
            f"{data.root} already holds a topology: a report needs a fresh data directory "
            "(leave --data out to use a temporary one)",
        )
    year_start, _ = year_bounds(scenario.year)
    start = year_start - timedelta(seconds=STARTUP_ALLOWANCE * rate)
    topology = data.prepare(scenario.topology, at=start)
    issue_identities(data, topology, agencies, at=start)
    clock = SharedClock(start, rate, datetime.now(UTC))
    data.write_clock(clock)
    (data.root / "report-profile.json").write_text(
        json.dumps(scenario.profile, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return clock


def issue_identities(
    data: DataDir, topology: Topology, agencies: Sequence[str], *, at: datetime
) -> None:
    """Issue each agency's certificate and its head's, as its fleet would on first use."""
    store = KeyStore(data.keys_dir)
    for organ_id in agencies:
        agency = topology.get(organ_id)
        card = agency_card(
            organ_id,
            name=agency.name if agency is not None else None,
            block=agency.block.value if agency is not None else None,
        )
        store.agency(organ_id, name=card.name, at=at)
        store.person(card.head.full_name, organ_id=organ_id, position=card.head.position, at=at)


def fleet_of(topology: Topology, organ_id: str) -> str:
    """The fleet hosting an agency."""
    return fleet_id_for(topology.hub_of(organ_id))


async def drive(
    plan: list[Planned],
    *,
    topology: Topology,
    urls: Mapping[str, str],
    clock: SharedClock,
    scenario: Scenario,
    rng: random.Random,
    progress: Progress | None = None,
) -> DriveLog:
    """Send every planned document when the shared clock reaches its time."""
    log = DriveLog(planned=len(plan))
    year_start, year_end = year_bounds(scenario.year)
    plan = _fitted(plan, begin=clock.now(), year=(year_start, year_end), log=log)
    queues: dict[str, asyncio.Queue[list[Planned] | None]] = defaultdict(asyncio.Queue)
    async with async_client(timeout=600.0) as client:

        async def sender(fleet: str, queue: asyncio.Queue[list[Planned] | None]) -> None:
            while (batch := await queue.get()) is not None:
                # The lag that matters is at sending: a fleet slower than the clock queues up.
                now = clock.now()
                log.max_lag_seconds = max(log.max_lag_seconds, (now - batch[0].at).total_seconds())
                if now >= year_end:
                    log.after_year += len(batch)
                body = {
                    "documents": [
                        {
                            "from": p.sender,
                            "to": list(p.recipients),
                            "subject": p.subject,
                            "type_name": p.type_name,
                            "due_days": p.due_days,
                        }
                        for p in batch
                    ],
                    "personal_probability": scenario.personal_signing_probability,
                    "agency_probability": scenario.agency_signing_probability,
                    "seed": rng.randrange(2**31),
                }
                try:
                    response = await client.post(f"{urls[fleet]}/fleet/load", json=body)
                    answer = response.json()
                except (httpx.HTTPError, ValueError) as exc:
                    log.refused[f"fleet_unreachable ({type(exc).__name__})"] += len(batch)
                    continue
                if response.status_code != 200:
                    code = answer.get("error", {}).get("code", f"http_{response.status_code}")
                    log.refused[code] += len(batch)
                    continue
                log.accepted += int(answer["accepted"])
                log.duplicates += int(answer["duplicates"])
                log.refused.update(answer["refused"])
                log.applied.update(answer["applied"])
                log.document_ids += [
                    (p.sender, i) for p, i in zip(batch, answer["document_ids"], strict=False)
                ]
                if progress is not None:
                    progress("send", log.accepted + sum(log.refused.values()), log.planned)

        workers: dict[str, asyncio.Task[None]] = {}
        index = 0
        while index < len(plan):
            now = clock.now()
            due: dict[str, list[Planned]] = defaultdict(list)
            while index < len(plan) and plan[index].at <= now:
                item = plan[index]
                due[fleet_of(topology, item.sender)].append(item)
                index += 1
            for fleet, items in due.items():
                if fleet not in workers:
                    workers[fleet] = asyncio.create_task(sender(fleet, queues[fleet]))
                for start in range(0, len(items), _BATCH_MAX):
                    queues[fleet].put_nowait(items[start : start + _BATCH_MAX])
                log.dispatched += len(items)
            await asyncio.sleep(_TICK)
        for fleet in workers:
            queues[fleet].put_nowait(None)
        await asyncio.gather(*workers.values())
    return log


def _fitted(
    plan: list[Planned], *, begin: datetime, year: tuple[datetime, datetime], log: DriveLog
) -> list[Planned]:
    """The plan as is, or squeezed into what is left of the year if the processes started late.

    On a loaded machine the topology may be up only after 1 January: sending January's
    documents in a burst then would push the rest of the year behind the clock.
    """
    start, end = year
    if begin <= start or begin >= end:
        return plan
    log.late_start_hours = (begin - start).total_seconds() / 3600
    factor = (end - begin) / (end - start)
    return [dataclasses.replace(p, at=begin + (p.at - start) * factor) for p in plan]


async def settle(
    urls: Mapping[str, str],
    topology: Topology,
    *,
    patience: float = _SETTLE_TIMEOUT,
    progress: Progress | None = None,
) -> bool:
    """Wait until fleets are idle, outboxes and inboxes empty and every document assessed."""
    hubs = [h.hub_id for h in topology.hubs()]
    fleets = [name for name in urls if name not in hubs]
    deadline = time.monotonic() + patience
    quiet = 0
    async with async_client(timeout=30.0) as client:
        while time.monotonic() < deadline:
            busy = 0
            for fleet in fleets:
                try:
                    busy += int(
                        (await client.get(f"{urls[fleet]}/fleet/stats"))
                        .json()
                        .get("in_progress", 0)
                    )
                except (httpx.HTTPError, ValueError):
                    busy += 1
            per_hub, errors = await fetch_hub_stats(urls, hubs)
            busy += len(errors)
            pending = sum(s["signing"]["pending"] for s in per_hub.values())
            waiting = sum(
                s["outbox"].get("pending", 0)
                + s["inbox"].get("pending", 0)
                + s["inbox"].get("fetched", 0)
                for s in per_hub.values()
            )
            if progress is not None:
                progress("settle", 0, busy + pending + waiting)
            # Twice in a row: a status submitted between the two reads shows in the second.
            quiet = quiet + 1 if busy + pending + waiting == 0 else 0
            if quiet >= 2:
                return True
            await asyncio.sleep(0.5)
    return False


async def fleet_completion_lag(
    urls: Mapping[str, str], topology: Topology, *, request_timeout: float = 30.0
) -> dict[str, Any]:
    """Every fleet's lag of 06 statuses behind their planned moments, merged (fleets that do
    not answer are left out)."""
    hubs = {h.hub_id for h in topology.hubs()}
    fleets = [name for name in urls if name not in hubs]
    figures: list[dict[str, Any]] = []
    async with async_client(timeout=request_timeout) as client:
        for fleet in fleets:
            try:
                lag = (await client.get(f"{urls[fleet]}/fleet/stats")).json().get("completion_lag")
            except (httpx.HTTPError, ValueError):
                continue
            if isinstance(lag, dict):
                figures.append(lag)
    return merge_completion_lag(figures)


@dataclass
class RunResult:
    """Everything a report is made of."""

    scenario: Scenario
    scale: float
    rate: float
    documents: int
    wall_seconds: float
    settled: bool
    clock: SharedClock
    drive: DriveLog
    per_hub: dict[str, dict[str, Any]]
    by_month: dict[str, dict[str, Any]]
    total: dict[str, Any]
    agencies: dict[str, dict[str, Any]]
    data_dir: str
    completion_lag: dict[str, Any] = field(default_factory=dict)  # merge_completion_lag


def run_report(
    scenario: Scenario,
    *,
    data: Path,
    scale: float | None = None,
    duration: float | None = None,
    seed: int = 2022,
    progress: Progress | None = None,
    hub_env: Mapping[str, str] | None = None,
    before_stop: Callable[[Mapping[str, str], Topology, DriveLog], None] | None = None,
) -> RunResult:
    """Run the scenario's year on a fresh topology in ``data`` and collect its statistics.

    ``before_stop(urls, topology, log)`` runs while the topology still runs (tests use it to
    fetch what was delivered).
    """
    began = time.monotonic()
    scale = scale or scenario.scale
    rate = scenario.rate(duration)
    documents = scenario.documents(scale)
    directory = DataDir(data)
    topology = load_topology(scenario.topology)
    pools = build_pools(scenario, topology)
    rng = random.Random(seed)  # noqa: S311 - simulation draws, not secrets
    plan = plan_traffic(scenario, pools, documents=documents, rng=rng)
    if progress is not None:
        progress("prepare", 0, 1)
    clock = prepare(directory, scenario, rate=rate, agencies=pools.everyone())
    if progress is not None:
        progress("prepare", 1, 1)
    supervisor = Supervisor(
        directory,
        clock=clock,
        hub_env={"LGSP_STATS": "true", **(hub_env or {})},
        fleet_env={
            "FLEET_PROFILE": str((directory.root / "report-profile.json").resolve()),
            "FLEET_PROTOCOL": "native",
        },
    )
    if progress is not None:
        progress("start", 0, 1)
    with supervisor:
        if progress is not None:
            progress("start", 1, 1)
        urls = supervisor.urls
        log = asyncio.run(
            drive(
                plan,
                topology=topology,
                urls=urls,
                clock=clock,
                scenario=scenario,
                rng=rng,
                progress=progress,
            )
        )
        settled = asyncio.run(settle(urls, topology, progress=progress))
        lag = asyncio.run(fleet_completion_lag(urls, topology))
        if progress is not None:
            progress("collect", 0, 1)
        hubs = [h.hub_id for h in topology.hubs()]
        year_start, year_end = year_bounds(scenario.year)
        per_hub, errors = asyncio.run(fetch_hub_stats(urls, hubs, params={"agencies": "true"}))
        monthly, _ = asyncio.run(
            fetch_hub_stats(
                urls,
                hubs,
                params={
                    "period": "month",
                    "from": year_start.isoformat(),
                    "to": year_end.isoformat(),
                },
            )
        )
        daily, _ = asyncio.run(fetch_hub_stats(urls, hubs, params={"period": "day"}))
        if errors:
            raise ReportError("hub_unavailable", "; ".join(f"{h}: {e}" for h, e in errors.items()))
        if progress is not None:
            progress("collect", 1, 1)
        if before_stop is not None:
            before_stop(urls, topology, log)
    total = aggregate(per_hub)
    return RunResult(
        scenario=scenario,
        scale=scale,
        rate=rate,
        documents=documents,
        wall_seconds=time.monotonic() - began,
        settled=settled,
        clock=clock,
        drive=log,
        per_hub=per_hub,
        by_month=aggregate(monthly)["by_period"],
        total={**total, "by_day": aggregate(daily)["by_period"]},
        agencies=total["by_agency"],
        data_dir=str(directory.root),
        completion_lag=lag,
    )


# -- measured beside reported ------------------------------------------------------------------


def _ratio(part: int, whole: int) -> dict[str, Any]:
    interval = wilson(part, whole)
    return {
        "value": part / whole if whole else None,
        "successes": part,
        "trials": whole,
        "interval": list(interval) if interval else None,
    }


def measure(result: RunResult) -> dict[str, Any]:
    """The measured figures of a run, by the names the scenario reports them under."""
    scenario = result.scenario
    hub = f"lgsp-{scenario.province.lower()}"
    province = result.per_hub.get(hub)
    if province is None:
        raise ReportError("hub_missing", f"the province's hub {hub} gave no statistics")
    signing = province["signing"]
    assessed = int(signing["assessed"])
    figures: dict[str, dict[str, Any]] = {
        "personal_signing_rate": _ratio(int(signing["personal"]["valid"]), assessed),
        "agency_signing_rate": _ratio(int(signing["agency"]["valid"]), assessed),
        "fully_electronic_rate": _ratio(int(signing["both_valid"]), assessed),
        "completed_rate": _ratio(
            int(province["completion"]["completed"]), int(province["completion"]["documents"])
        ),
        "on_time_rate": _ratio(
            int(province["completion"]["completed_on_time"]),
            int(province["completion"]["with_due_date"]),
        ),
    }
    received = province["received"]["by_tier"]
    completed = province["statuses"]["by_code_and_tier"].get("06", {})
    for tier in ("province", "district", "commune"):
        figures[f"online_processing_{tier}"] = _ratio(
            int(completed.get(tier, 0)), int(received.get(tier, 0))
        )
    counts: dict[str, int] = {
        "documents": int(province["sent"]["total"]),
        "exchange_events": int(province["accepted"]["total"]),
        "statuses": int(province["exchange_events"]["statuses"]),
        "received": int(province["received"]["total"]),
        "rejected": int(province["rejected"]["total"]),
    }
    if scenario.focus is not None:
        unit = scenario.focus.unit.split(".")
        outgoing = incoming = 0
        for organ_id, values in (province.get("by_agency") or {}).items():
            parts = organ_id.split(".")
            if len(parts) == 4 and parts[2:] == unit[2:]:
                outgoing += int(values.get("outgoing", 0))
                incoming += int(values.get("incoming", 0))
        counts.update(outgoing=outgoing, incoming=incoming, documents=outgoing + incoming)
    return {"counts": counts, "rates": figures}


def _completion_lag_json(result: RunResult) -> dict[str, Any]:
    """The fleets' 06 lag in simulated hours, beside how many hours one real second is."""
    lag = result.completion_lag

    def hours(key: str) -> float | None:
        value = lag.get(key)
        return round(value / 3600, 2) if value is not None else None

    return {
        "statuses_06": lag.get("count", 0),
        "mean_hours": hours("mean_seconds"),
        "max_hours": hours("max_seconds"),
        "with_due_date": lag.get("with_due_date", 0),
        "planned_late": lag.get("planned_late", 0),
        "late_by_lag": lag.get("late_by_lag", 0),
        "simulated_hours_per_real_second": round(result.rate / 3600, 1),
    }


def report_json(result: RunResult) -> dict[str, Any]:
    """The report as JSON: the scenario, the run, ``reported``, ``measured`` and intervals."""
    scenario = result.scenario
    measured = measure(result)
    counts, rates = measured["counts"], measured["rates"]
    measured_flat: dict[str, Any] = {}
    measured_raw: dict[str, Any] = {}
    intervals: dict[str, Any] = {}
    comparison = []
    for name, count in counts.items():
        measured_raw[name] = count
        measured_flat[name] = round(count / result.scale)
    for name, figure in rates.items():
        measured_flat[name] = figure["value"]
        measured_raw[name] = {"successes": figure["successes"], "trials": figure["trials"]}
        intervals[name] = figure["interval"]
    for name, reported in scenario.reported.items():
        value = measured_flat.get(name)
        interval = intervals.get(name)
        comparison.append(
            {
                "figure": name,
                "reported": reported,
                "measured": value,
                "measured_in_run": measured_raw.get(name),
                "interval": interval,
                "reported_within_interval": (
                    interval[0] <= reported <= interval[1] if interval is not None else None
                ),
                "relative_difference": (
                    (value - reported) / reported
                    if isinstance(value, int | float) and reported
                    else None
                ),
                "note": scenario.reported_notes.get(name, ""),
            }
        )
    signing_by_tier = {
        tier: {
            "documents": group.get("documents", 0),
            "personal_rate": group.get("personal_rate"),
            "agency_rate": group.get("agency_rate"),
            "personal_interval": wilson(
                int(group.get("personal_valid", 0)), int(group.get("documents", 0))
            ),
            "agency_interval": wilson(
                int(group.get("agency_valid", 0)), int(group.get("documents", 0))
            ),
        }
        for tier, group in result.total["signing"]["by_tier"].items()
    }
    return {
        "scenario": {
            "name": scenario.name,
            "title": scenario.title,
            "source": scenario.source,
            "year": scenario.year,
            "province": scenario.province,
            "topology": scenario.topology,
            "documents_per_year": scenario.documents_per_year,
            "volume_note": scenario.volume_note,
            "personal_signing_probability": scenario.personal_signing_probability,
            "agency_signing_probability": scenario.agency_signing_probability,
            "notes": scenario.notes,
        },
        "run": {
            "scale": result.scale,
            "documents_planned": result.documents,
            "clock_rate": result.rate,
            "simulated_start": result.clock.start.isoformat(),
            "wall_seconds": round(result.wall_seconds, 1),
            "settled": result.settled,
            "sent": result.drive.accepted,
            "duplicates": result.drive.duplicates,
            "refused": dict(result.drive.refused),
            "max_lag_hours": round(result.drive.max_lag_seconds / 3600, 1),
            "sent_after_year": result.drive.after_year,
            "late_start_hours": round(result.drive.late_start_hours, 1),
            "completion_lag": _completion_lag_json(result),
            "data_dir": result.data_dir,
        },
        "reported": dict(scenario.reported),
        "measured": measured_flat,
        "measured_in_run": measured_raw,
        "intervals": intervals,
        "comparison": comparison,
        "series": {
            "by_month": result.by_month,
            "by_day": result.total.get("by_day", {}),
            "signing_by_tier": signing_by_tier,
        },
        "topology_totals": {
            key: result.total[key]
            for key in (
                "exchange_events",
                "sent",
                "received",
                "statuses",
                "rejected",
                "signing",
                "completion",
                "latency",
            )
        },
    }
