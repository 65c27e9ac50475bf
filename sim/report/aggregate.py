"""Statistics of a whole topology: every hub's ``GET /api/v1/stats``, added up once.

A document is stored at every hub it passes (entry LGSP, NDXP, destination LGSP), so hubs'
``accepted`` totals are never summed. Each hub reports ``sent`` and ``exchange_events`` only
for packages its own DMS systems submitted (origin ``local``): every package enters at
exactly one hub, so the sum counts it once, where it entered. ``received`` counts inbox
items of the hub's own agencies: each agency belongs to one hub, so a document counts once
per recipient, at its destination. Signing verdicts and completion are kept by the entry
hub (where the statuses come back), latencies merge through their histograms.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from sim.runtime import async_client

Z95 = 1.959963984540054


def wilson(successes: int, total: int, *, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (95% by default); None without trials."""
    if total <= 0:
        return None
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    # At p = 0 or 1 a bound is exactly 0 or 1; rounding must not move it inside.
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= total else min(1.0, centre + half)
    return low, high


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _add(counter: Counter[str], values: Mapping[str, Any] | None) -> None:
    for key, value in (values or {}).items():
        if isinstance(value, int | float):
            counter[key] += int(value)


def _quantile(histogram: Mapping[str, int], q: float) -> float | None:
    """The upper bound of the bucket holding quantile ``q`` of a cumulative histogram."""
    total = histogram.get("+Inf", 0)
    if not total:
        return None
    wanted = math.ceil(q * total)
    for bound, count in sorted(
        ((float(k), v) for k, v in histogram.items() if k != "+Inf"), key=lambda kv: kv[0]
    ):
        if count >= wanted:
            return bound
    return math.inf


def aggregate(per_hub: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The topology's figures from each hub's statistics (see the module docstring)."""
    events: Counter[str] = Counter()
    sent: Counter[str] = Counter()
    sent_tier: Counter[str] = Counter()
    sent_block: Counter[str] = Counter()
    sent_type: Counter[str] = Counter()
    received: Counter[str] = Counter()
    received_tier: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    status_tiers: defaultdict[str, Counter[str]] = defaultdict(Counter)
    rejected: Counter[str] = Counter()
    signing: Counter[str] = Counter()
    signing_tier: defaultdict[str, Counter[str]] = defaultdict(Counter)
    signing_block: defaultdict[str, Counter[str]] = defaultdict(Counter)
    completion: Counter[str] = Counter()
    histograms: defaultdict[str, Counter[str]] = defaultdict(Counter)
    periods: defaultdict[str, Counter[str]] = defaultdict(Counter)
    agencies: defaultdict[str, Counter[str]] = defaultdict(Counter)
    throughput: defaultdict[str, Counter[str]] = defaultdict(Counter)
    hops = Counter[str]()
    for stats in per_hub.values():
        _add(events, stats.get("exchange_events"))
        sent["documents"] += int(stats.get("sent", {}).get("total", 0))
        _add(sent_tier, stats.get("sent", {}).get("by_tier"))
        _add(sent_block, stats.get("sent", {}).get("by_block"))
        _add(sent_type, stats.get("sent", {}).get("by_type"))
        received["documents"] += int(stats.get("received", {}).get("total", 0))
        _add(received_tier, stats.get("received", {}).get("by_tier"))
        _add(statuses, stats.get("statuses", {}).get("by_code"))
        for code, tiers in (stats.get("statuses", {}).get("by_code_and_tier") or {}).items():
            _add(status_tiers[code], tiers)
        _add(rejected, stats.get("rejected", {}).get("by_reason"))
        hops["forwarded"] += int(stats.get("forwarded", 0))
        hops["delivered"] += int(stats.get("delivered", 0))
        sign = stats.get("signing", {})
        signing["documents"] += int(sign.get("documents", 0))
        signing["assessed"] += int(sign.get("assessed", 0))
        signing["pending"] += int(sign.get("pending", 0))
        signing["both_valid"] += int(sign.get("both_valid", 0))
        for role in ("personal", "agency"):
            for state in ("valid", "invalid", "absent"):
                signing[f"{role}_{state}"] += int(sign.get(role, {}).get(state, 0))
        for target, groups in (
            (signing_tier, sign.get("by_tier")),
            (signing_block, sign.get("by_block")),
        ):
            for key, group in (groups or {}).items():
                _add(target[key], {k: v for k, v in group.items() if not k.endswith("_rate")})
        _add(
            completion,
            {k: v for k, v in stats.get("completion", {}).items() if not k.endswith("_rate")},
        )
        for stage, figures in (stats.get("latency") or {}).items():
            _add(histograms[stage], figures.get("histogram"))
        for period, counts in (stats.get("by_period") or {}).items():
            _add(periods[period], counts)
        for organ_id, counts in (stats.get("by_agency") or {}).items():
            _add(agencies[organ_id], counts)
        for name, window in (stats.get("throughput") or {}).items():
            throughput[name]["entering"] += int(window.get("entering", 0))
            throughput[name]["seconds"] = int(window.get("seconds", 0))
    assessed = signing["assessed"]

    def group_rates(groups: Mapping[str, Counter[str]]) -> dict[str, dict[str, Any]]:
        return {
            key: {
                **dict(counts),
                "personal_rate": _rate(counts["personal_valid"], counts["documents"]),
                "agency_rate": _rate(counts["agency_valid"], counts["documents"]),
            }
            for key, counts in sorted(groups.items())
        }

    return {
        "hubs": sorted(per_hub),
        "exchange_events": {
            "total": events["total"],
            "documents": events["documents"],
            "statuses": events["statuses"],
        },
        "sent": {
            "documents": sent["documents"],
            "by_tier": dict(sorted(sent_tier.items())),
            "by_block": dict(sorted(sent_block.items())),
            "by_type": dict(sorted(sent_type.items())),
        },
        "received": {
            "documents": received["documents"],
            "by_tier": dict(sorted(received_tier.items())),
        },
        "statuses": {
            "by_code": dict(sorted(statuses.items())),
            "by_code_and_tier": {
                c: dict(sorted(t.items())) for c, t in sorted(status_tiers.items())
            },
        },
        "rejected": {"total": sum(rejected.values()), "by_reason": dict(sorted(rejected.items()))},
        "hops": dict(hops),
        "signing": {
            "documents": signing["documents"],
            "assessed": assessed,
            "pending": signing["pending"],
            "personal": {
                "valid": signing["personal_valid"],
                "invalid": signing["personal_invalid"],
                "absent": signing["personal_absent"],
                "rate": _rate(signing["personal_valid"], assessed),
                "interval": wilson(signing["personal_valid"], assessed),
            },
            "agency": {
                "valid": signing["agency_valid"],
                "invalid": signing["agency_invalid"],
                "absent": signing["agency_absent"],
                "rate": _rate(signing["agency_valid"], assessed),
                "interval": wilson(signing["agency_valid"], assessed),
            },
            "both_valid": signing["both_valid"],
            "both_rate": _rate(signing["both_valid"], assessed),
            "by_tier": group_rates(signing_tier),
            "by_block": group_rates(signing_block),
        },
        "completion": {
            **{
                k: completion[k]
                for k in ("documents", "completed", "with_due_date", "completed_on_time")
            },
            "completed_rate": _rate(completion["completed"], completion["documents"]),
            "on_time_rate": _rate(completion["completed_on_time"], completion["with_due_date"]),
        },
        "latency": {
            stage: {
                "count": histogram.get("+Inf", 0),
                "p50_at_most": _quantile(histogram, 0.5),
                "p90_at_most": _quantile(histogram, 0.9),
                "p99_at_most": _quantile(histogram, 0.99),
            }
            for stage, histogram in sorted(histograms.items())
        },
        "throughput": {name: dict(values) for name, values in throughput.items()},
        "by_period": {period: dict(counts) for period, counts in sorted(periods.items())},
        "by_agency": {organ: dict(counts) for organ, counts in sorted(agencies.items())},
    }


async def fetch_hub_stats(
    urls: Mapping[str, str],
    hubs: Sequence[str],
    *,
    params: Mapping[str, str] | None = None,
    request_timeout: float = 60.0,
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Every hub's statistics at once: ``(stats by hub, error by hub that did not answer)``."""
    results: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    async with async_client(timeout=request_timeout) as client:

        async def one(hub: str) -> None:
            url = urls.get(hub)
            if url is None:
                errors[hub] = "not in services.json"
                return
            try:
                response = await client.get(f"{url.rstrip('/')}/api/v1/stats", params=params)
            except httpx.HTTPError as exc:
                errors[hub] = f"unreachable ({type(exc).__name__})"
                return
            if response.status_code != 200:
                errors[hub] = f"HTTP {response.status_code}: {response.text[:200]}"
                return
            results[hub] = response.json()

        await asyncio.gather(*(one(hub) for hub in hubs))
    return dict(sorted(results.items())), errors


def merge_completion_lag(per_fleet: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The fleets' ``completion_lag`` figures (``GET /fleet/stats``) for the whole topology.

    Each fleet tells how long after its planned moment each 06 it sent was stored at its hub,
    and how many of those answering a DueDate were drawn late by the profile or planned on
    time and made late by that lag alone.
    """
    count = sum(int(f.get("count") or 0) for f in per_fleet)
    total = sum(float(f.get("mean_seconds") or 0.0) * int(f.get("count") or 0) for f in per_fleet)
    maxima = [float(f["max_seconds"]) for f in per_fleet if f.get("max_seconds") is not None]
    return {
        "count": count,
        "mean_seconds": total / count if count else None,
        "max_seconds": max(maxima) if maxima else None,
        **{
            key: sum(int(f.get(key) or 0) for f in per_fleet)
            for key in ("with_due_date", "planned_late", "late_by_lag")
        },
    }
