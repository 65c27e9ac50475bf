"""The traffic of a calibrated run: who writes to whom, when, what type, with which DueDate.

Writers come from a pool per tier (a few agencies of each tier, the blocks taking turns), so
a run issues a few dozen identities, not thousands. Times are spread over the simulated year
by the scenario's monthly weights, on working days (Monday to Friday) in office hours,
Vietnam time, so per-hour and per-month figures look like a real year's.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sim.topology import Agency, Topology
from simtime import VIETNAM_TZ

from .scenario import Scenario

_BLOCK_ORDER = ("government", "party", "mass", "enterprise")
_TOPICS = (
    "triển khai nhiệm vụ chuyển đổi số năm {year}",
    "báo cáo kết quả cải cách hành chính quý",
    "phòng, chống thiên tai và tìm kiếm cứu nạn",
    "tổ chức các hoạt động kỷ niệm ngày lễ lớn",
    "kế hoạch phát triển kinh tế - xã hội",
    "tăng cường công tác quản lý đất đai",
    "đôn đốc giải ngân vốn đầu tư công",
    "tổ chức hội nghị sơ kết công tác",
    "bảo đảm an toàn thông tin mạng",
    "thực hiện chính sách an sinh xã hội",
)
_OFFICE_START = time(7, 30)
_OFFICE_SECONDS = int(9.5 * 3600)  # 07:30 to 17:00


@dataclass(frozen=True, slots=True)
class Planned:
    """One document to send: when (simulated time), by whom, to whom, and what."""

    at: datetime
    sender: str
    recipients: tuple[str, ...]
    type_name: str
    subject: str
    due_days: int | None


@dataclass
class Pools:
    """The agencies that write and receive in a run."""

    by_tier: dict[str, list[str]] = field(default_factory=dict)
    inside: dict[str, list[str]] = field(default_factory=dict)  # a focus unit's, by tier
    external: list[str] = field(default_factory=list)

    def everyone(self) -> list[str]:
        """Every agency of the pools, each once."""
        seen: dict[str, None] = {}
        for group in (*self.by_tier.values(), *self.inside.values(), self.external):
            seen.update(dict.fromkeys(group))
        return list(seen)


def _take(agencies: Sequence[Agency], count: int) -> list[str]:
    """Up to ``count`` agencies, the blocks taking turns (government first)."""
    by_block: dict[str, list[Agency]] = defaultdict(list)
    for agency in agencies:
        by_block[agency.block.value].append(agency)
    order = [b for b in _BLOCK_ORDER if b in by_block] + sorted(set(by_block) - set(_BLOCK_ORDER))
    chosen: list[str] = []
    index = 0
    while len(chosen) < count and any(index < len(by_block[b]) for b in order):
        for block in order:
            if index < len(by_block[block]) and len(chosen) < count:
                chosen.append(by_block[block][index].organ_id)
        index += 1
    return chosen


def _in_unit(organ_id: str, unit: str) -> bool:
    """Whether an agency belongs to a district-level unit (its bodies and its communes)."""
    parts, unit_parts = organ_id.split("."), unit.split(".")
    return len(parts) == 4 and parts[2] == unit_parts[2] and parts[3] == unit_parts[3]


def build_pools(scenario: Scenario, topology: Topology) -> Pools:
    """The writers' pools of a scenario on a topology."""
    province = topology.province(scenario.province)
    pools = Pools()
    members = province.agencies
    if scenario.focus is not None:
        unit = scenario.focus.unit
        inside = [a for a in members if _in_unit(a.organ_id, unit)]
        members = tuple(a for a in members if not _in_unit(a.organ_id, unit))
        for tier, count in scenario.pool.items():
            chosen = _take([a for a in inside if a.tier.value == tier], count)
            if chosen:
                pools.inside[tier] = chosen
    for tier, count in scenario.pool.items():
        chosen = _take([a for a in members if a.tier.value == tier], count)
        if chosen:
            pools.by_tier[tier] = chosen
    if scenario.external_share > 0:
        others = [p.agencies[0].organ_id for p in topology.provinces if p.code != province.code]
        pools.external = others + [m.organ_id for m in topology.ministries[:3]]
    return pools


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _counts(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` split by ``weights`` (largest remainders), summing exactly to ``total``."""
    whole = sum(weights)
    raw = [total * w / whole for w in weights]
    counts = [int(r) for r in raw]
    for index in sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)[
        : total - sum(counts)
    ]:
        counts[index] += 1
    return counts


def _working_days(year: int, month: int) -> list[date]:
    day = date(year, month, 1)
    days = []
    while day.month == month:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def plan_traffic(
    scenario: Scenario, pools: Pools, *, documents: int, rng: random.Random
) -> list[Planned]:
    """The run's documents, in time order."""
    planned: list[Planned] = []
    recipients_weights = scenario.recipients
    for month, count in enumerate(_counts(documents, scenario.monthly_weights), start=1):
        days = _working_days(scenario.year, month)
        for _ in range(count):
            day = rng.choice(days)
            moment = datetime.combine(day, _OFFICE_START, tzinfo=VIETNAM_TZ) + timedelta(
                seconds=rng.randrange(_OFFICE_SECONDS)
            )
            sender, recipients = _parties(scenario, pools, rng, int(_pick(rng, recipients_weights)))
            type_name = _pick(rng, scenario.types)
            due_days = None
            if rng.random() < scenario.due.share:
                due_days = rng.randint(
                    scenario.due.low_days, max(scenario.due.low_days, scenario.due.high_days)
                )
            topic = rng.choice(_TOPICS).format(year=scenario.year)
            planned.append(
                Planned(
                    at=moment,
                    sender=sender,
                    recipients=recipients,
                    type_name=type_name,
                    subject=f"{type_name} về việc {topic}",
                    due_days=due_days,
                )
            )
    planned.sort(key=lambda p: p.at)
    return planned


def _parties(
    scenario: Scenario, pools: Pools, rng: random.Random, count: int
) -> tuple[str, tuple[str, ...]]:
    """A sender and ``count`` distinct recipients, following the scenario's mix."""
    outside = pools.by_tier
    if scenario.focus is not None and pools.inside:
        outgoing = rng.random() < scenario.focus.outgoing_share
        writers, readers = (pools.inside, outside) if outgoing else (outside, pools.inside)
    else:
        writers, readers = outside, outside
    mix = {t: w for t, w in scenario.tier_mix.items() if writers.get(t)} or {
        t: 1.0 for t in writers
    }
    sender = rng.choice(writers[_pick(rng, mix)])
    candidates = [a for group in readers.values() for a in group if a != sender]
    recipients: list[str] = []
    while len(recipients) < count and (candidates or pools.external):
        external = pools.external and rng.random() < scenario.external_share
        source = pools.external if external or not candidates else candidates
        choice = rng.choice(source)
        if choice not in recipients and choice != sender:
            recipients.append(choice)
        elif len(set(source) - set(recipients) - {sender}) == 0:
            break
    return sender, tuple(recipients)
