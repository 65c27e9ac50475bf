"""The scripted day of `lgsp-sim demo`: a directive down three tiers, reports back up, a letter
between provinces, one from a ministry, and two documents the axis must refuse.

On the default topology (three tiers)::

    1. Thanh Hóa's People's Committee sends a directive to every district's People's Committee;
    2. every district passes it on to its communes (ResponseFor the directive);
    3. the communes report back to their district (ResponseFor the district's letter);
    4. Thanh Hóa writes to Đắk Nông (through the NDXP);
    5. the Government Office writes to the three provinces' People's Committees;
    6. an unsigned and a tampered document are refused at the entry hub.

Then every recipient must answer 01, 03 and 06 within the timeout. Communes are sampled
(``communes_per_district``, first ones of each district) so a first run, which issues each
agency's keys on first use, stays short. Any topology works: the home province is H56 when
present (else the first), the other H17 (else the next), the ministry G22 (else the first);
on a two-tier topology the directive goes straight to a sample of communes, who report back
to the province.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sim.runtime import Exchange, SendRequest, SendResult, ServiceError, fleet_id_for
from sim.topology import Agency, Province, Topology

from .track import WANTED, Tracked, wait_statuses

DEFAULT_COMMUNES_PER_DISTRICT = 2
DEFAULT_TIMEOUT = 180.0
TWO_TIER_SAMPLE_FACTOR = 8  # two tiers: as many communes as eight districts would pass it to
SEND_CONCURRENCY = 8

HOME_PROVINCE = "H56"
OTHER_PROVINCE = "H17"
MINISTRY = "000.00.00.G22"

EXPECTED_REFUSALS = {"unsigned": "signature_missing", "tampered": "signature_invalid"}


class DayReporter(Protocol):
    """Where the day tells what it does (the CLI prints; tests record)."""

    def stage(self, title: str) -> None:
        """A new stage begins."""

    def begin(self, key: str, description: str, total: int) -> None:
        """A counted task begins (a fan-out, a wait for statuses)."""

    def update(self, key: str, completed: int) -> None:
        """A counted task progressed to ``completed``."""

    def note(self, text: str, *, ok: bool = True) -> None:
        """One line of outcome."""


@dataclass(frozen=True)
class DayPlan:
    """Who takes part in the day, derived from the topology."""

    home: Province
    home_pc: Agency
    units: tuple[Agency, ...]  # directive recipients: districts (three tiers) or communes
    communes: Mapping[str, tuple[Agency, ...]]  # district → its sampled communes
    communes_available: int  # communes under those districts, sampled or not
    other_pc: Agency | None
    ministry: Agency | None
    province_pcs: tuple[Agency, ...]

    @property
    def sampled_communes(self) -> int:
        """How many communes take part."""
        return sum(len(c) for c in self.communes.values())

    @property
    def three_tier(self) -> bool:
        """Whether the directive goes through districts."""
        return bool(self.communes)


@dataclass(frozen=True)
class Refusal:
    """A document the entry hub had to refuse, and what it answered."""

    label: str
    expected_code: str
    result: SendResult | None
    problem: str | None = None  # when the send itself failed

    @property
    def ok(self) -> bool:
        """Refused with the expected code, nothing accepted."""
        return (
            self.result is not None
            and not self.result.accepted
            and self.result.error_code == self.expected_code
        )


@dataclass(frozen=True)
class Outcome:
    """One expectation of the day and whether it held."""

    label: str
    ok: bool
    detail: str


@dataclass
class DayResult:
    """Everything the day sent, what was refused, and which expectations held."""

    plan: DayPlan
    stages: dict[str, list[Tracked]] = field(default_factory=dict)
    refusals: list[Refusal] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def documents(self) -> list[Tracked]:
        """Every accepted document, in the order sent."""
        return [doc for docs in self.stages.values() for doc in docs]

    @property
    def ok(self) -> bool:
        """Whether every expectation held."""
        return bool(self.outcomes) and all(o.ok for o in self.outcomes)


def plan_day(
    topology: Topology, *, communes_per_district: int = DEFAULT_COMMUNES_PER_DISTRICT
) -> DayPlan:
    """Choose the day's agencies on this topology."""
    if not topology.provinces:
        raise ValueError(f"topology {topology.name!r} has no province to run the day in")
    codes = [p.code for p in topology.provinces]
    home = topology.province(HOME_PROVINCE if HOME_PROVINCE in codes else codes[0])
    others = [c for c in codes if c != home.code]
    other_code = OTHER_PROVINCE if OTHER_PROVINCE in others else (others[0] if others else None)
    ministries = {m.organ_id: m for m in topology.ministries}
    ministry = ministries.get(MINISTRY) or next(iter(ministries.values()), None)
    home_pc = _anchor(home)
    districts = home.district_units()
    communes: dict[str, tuple[Agency, ...]] = {}
    available = 0
    if districts:
        units = districts
        all_communes = home.commune_units()
        for district in districts:
            under = [c for c in all_communes if c.parent == district.organ_id]
            available += len(under)
            communes[district.organ_id] = tuple(under[: max(communes_per_district, 0)])
    else:
        pool = home.commune_units()
        available = len(pool)
        units = pool[: max(communes_per_district, 1) * TWO_TIER_SAMPLE_FACTOR]
    return DayPlan(
        home=home,
        home_pc=home_pc,
        units=tuple(units),
        communes=communes,
        communes_available=available,
        other_pc=_anchor(topology.province(other_code)) if other_code else None,
        ministry=ministry,
        province_pcs=tuple(_anchor(p) for p in topology.provinces),
    )


def _anchor(province: Province) -> Agency:
    # The province's People's Committee is its first agency, 000.00.00.X (sim.topology).
    return province.agencies[0]


async def run_day(
    exchange: Exchange,
    topology: Topology,
    plan: DayPlan,
    *,
    reporter: DayReporter,
    patience: float = DEFAULT_TIMEOUT,
) -> DayResult:
    """Run the day on a running topology; ``patience``: seconds each wait for statuses may take."""
    day = _Day(exchange, topology, plan, reporter, patience)
    await day.run()
    return day.result


class _Day:
    def __init__(
        self,
        exchange: Exchange,
        topology: Topology,
        plan: DayPlan,
        reporter: DayReporter,
        timeout: float,
    ) -> None:
        self.exchange = exchange
        self.topology = topology
        self.plan = plan
        self.reporter = reporter
        self.timeout = timeout
        self.result = DayResult(plan=plan)
        self.limit = asyncio.Semaphore(SEND_CONCURRENCY)

    async def run(self) -> None:
        plan = self.plan
        tier = "district" if plan.three_tier else "commune"
        self.reporter.stage(
            f"{plan.home_pc.name} sends a directive to {len(plan.units)} {tier} People's Committees"
        )
        directive = await self._send_stage(
            "directive",
            [
                SendRequest(
                    from_=plan.home_pc.organ_id,
                    to=[u.organ_id for u in plan.units],
                    subject="Chỉ thị về đẩy mạnh chuyển đổi số và trao đổi văn bản điện tử",
                    type_name="Chỉ thị",
                    content=(
                        "Yêu cầu các cơ quan, đơn vị triển khai gửi, nhận văn bản điện tử có "
                        "ký số qua trục liên thông văn bản của tỉnh."
                    ),
                )
            ],
            labels=["Directive"],
        )
        if not directive:
            return
        # The next tier acts on the directive once it has arrived (status 01 came back).
        await self._wait("directive", directive, wanted=("01",), what="directive arrived")
        if plan.three_tier:
            await self._pass_on(directive[0])
        else:
            await self._reports(
                {plan.home_pc.organ_id: (directive[0], plan.units)}, stage="reports"
            )
        await self._between_and_ministry()
        await self._refusals()
        self.reporter.stage("Waiting for every recipient to answer 01, 03 and 06")
        await self._wait("all", self.result.documents, wanted=WANTED, what="answered 01, 03, 06")
        self._check_outcomes()

    async def _pass_on(self, directive: Tracked) -> None:
        plan = self.plan
        self.reporter.stage(
            f"Every district passes it on to its communes: {plan.sampled_communes} of "
            f"{plan.communes_available} communes sampled "
            f"({max((len(c) for c in plan.communes.values()), default=0)} per district)"
        )
        districts = [d for d in plan.units if plan.communes.get(d.organ_id)]
        passed = await self._send_stage(
            "pass-on",
            [
                SendRequest(
                    from_=d.organ_id,
                    to=[c.organ_id for c in plan.communes[d.organ_id]],
                    subject="Triển khai Chỉ thị của Ủy ban nhân dân tỉnh về chuyển đổi số",
                    type_name="Công văn",
                    response_for=(directive.sender, directive.document_id),
                )
                for d in districts
            ],
            labels=[f"Pass-on by {d.organ_id}" for d in districts],
        )
        if not passed:
            return
        await self._wait("pass-on", passed, wanted=("01",), what="communes received it")
        by_district = {doc.sender: doc for doc in passed}
        await self._reports(
            {
                d.organ_id: (by_district[d.organ_id], plan.communes[d.organ_id])
                for d in districts
                if d.organ_id in by_district
            },
            stage="reports",
        )

    async def _reports(
        self, answered: Mapping[str, tuple[Tracked, Sequence[Agency]]], *, stage: str
    ) -> None:
        reporters = [(parent, doc, c) for parent, (doc, cs) in answered.items() for c in cs]
        self.reporter.stage(f"{len(reporters)} communes report back")
        await self._send_stage(
            stage,
            [
                SendRequest(
                    from_=commune.organ_id,
                    to=[parent],
                    subject="Báo cáo kết quả triển khai chuyển đổi số",
                    type_name="Báo cáo",
                    response_for=(doc.sender, doc.document_id),
                )
                for parent, doc, commune in reporters
            ],
            labels=[f"Report by {c.organ_id}" for _, _, c in reporters],
        )

    async def _between_and_ministry(self) -> None:
        plan = self.plan
        if plan.other_pc is not None:
            self.reporter.stage(f"{plan.home_pc.name} writes to {plan.other_pc.name} (via NDXP)")
            await self._send_stage(
                "between provinces",
                [
                    SendRequest(
                        from_=plan.home_pc.organ_id,
                        to=[plan.other_pc.organ_id],
                        subject="Về việc phối hợp trao đổi văn bản điện tử liên tỉnh",
                        type_name="Công văn",
                    )
                ],
                labels=[f"{plan.home.code} to {plan.other_pc.province}"],
            )
        if plan.ministry is not None:
            self.reporter.stage(
                f"{plan.ministry.name} writes to {len(plan.province_pcs)} provinces' "
                "People's Committees"
            )
            await self._send_stage(
                "from a ministry",
                [
                    SendRequest(
                        from_=plan.ministry.organ_id,
                        to=[p.organ_id for p in plan.province_pcs],
                        subject="Về việc báo cáo tình hình gửi, nhận văn bản điện tử",
                        type_name="Công văn",
                    )
                ],
                labels=[f"{plan.ministry.organ_id} to the provinces"],
            )

    async def _refusals(self) -> None:
        plan = self.plan
        target = plan.other_pc or plan.ministry or plan.units[0]
        self.reporter.stage("Two documents the entry hub must refuse")
        fleet = fleet_id_for(plan.home_pc.hub_id)
        variants = {
            "unsigned": SendRequest(
                from_=plan.home_pc.organ_id,
                to=[target.organ_id],
                subject="Văn bản không ký số phong bì (phải bị từ chối)",
                envelope_signature=False,
            ),
            "tampered": SendRequest(
                from_=plan.home_pc.organ_id,
                to=[target.organ_id],
                subject="Văn bản bị sửa sau khi ký (phải bị từ chối)",
                tamper=True,
            ),
        }
        for label, request in variants.items():
            expected = EXPECTED_REFUSALS[label]
            try:
                result: SendResult | None = await self.exchange.send(fleet, request)
                problem = None
            except ServiceError as exc:
                result, problem = None, str(exc)
            refusal = Refusal(label, expected, result, problem)
            self.result.refusals.append(refusal)
            if result is None:
                self.reporter.note(f"{label}: the send failed: {problem}", ok=False)
            elif result.accepted:
                self.reporter.note(f"{label}: ACCEPTED by the hub (it must be refused)", ok=False)
            else:
                self.reporter.note(
                    f"{label} document refused: HTTP {result.http_status} "
                    f"{result.error_code} — {result.error_message}",
                    ok=refusal.ok,
                )

    # --- helpers --------------------------------------------------------------------------

    async def _send_stage(
        self, stage: str, requests: Sequence[SendRequest], *, labels: Sequence[str]
    ) -> list[Tracked]:
        accepted: list[Tracked] = []
        failures: list[str] = []
        done = 0
        self.reporter.begin(stage, f"sending: {stage}", len(requests))

        async def one(request: SendRequest, label: str) -> None:
            nonlocal done
            fleet = fleet_id_for(self.topology.hub_of(request.from_))
            async with self.limit:
                try:
                    result = await self.exchange.send(fleet, request)
                except ServiceError as exc:
                    failures.append(f"{label}: {exc}")
                else:
                    if result.accepted:
                        accepted.append(
                            Tracked(
                                label=label,
                                fleet=fleet,
                                sender=request.from_,
                                document_id=result.document_id,
                                recipients=tuple(request.to),
                                subject=request.subject,
                            )
                        )
                    else:
                        failures.append(
                            f"{label}: refused {result.error_code}: {result.error_message}"
                        )
            done += 1
            self.reporter.update(stage, done)

        await _gather(one(r, label) for r, label in zip(requests, labels, strict=True))
        # Keep the order of the requests, not of completion: reports read better that way.
        order = {label: i for i, label in enumerate(labels)}
        accepted.sort(key=lambda d: order[d.label])
        self.result.stages[stage] = accepted
        ok = not failures
        self.result.outcomes.append(
            Outcome(
                f"{stage}: accepted by the entry hub",
                ok,
                f"{len(accepted)}/{len(requests)} accepted"
                + (
                    f"; {failures[0]}"
                    + (f" (+{len(failures) - 1} more)" if len(failures) > 1 else "")
                    if failures
                    else ""
                ),
            )
        )
        self.reporter.note(f"{stage}: {len(accepted)}/{len(requests)} accepted", ok=ok)
        for failure in failures[:3]:
            self.reporter.note(failure, ok=False)
        return accepted

    async def _wait(
        self, key: str, documents: Sequence[Tracked], *, wanted: Sequence[str], what: str
    ) -> bool:
        total = sum(len(d.recipients) for d in documents)
        task = f"wait {key} {'/'.join(wanted)}"
        self.reporter.begin(task, what, total)
        done = await wait_statuses(
            self.exchange,
            documents,
            wanted=wanted,
            patience=self.timeout,
            on_progress=lambda completed, _total: self.reporter.update(task, completed),
        )
        if not done:
            missing = sum(len(d.missing(wanted)) for d in documents)
            self.reporter.note(
                f"{missing} of {total} recipients had not answered {'/'.join(wanted)} "
                f"after {self.timeout:.0f} s",
                ok=False,
            )
        return done

    def _check_outcomes(self) -> None:
        for stage, documents in self.result.stages.items():
            if not documents:
                continue
            pairs = sum(len(d.recipients) for d in documents)
            complete = sum(d.done_count(WANTED) for d in documents)
            rejected = sum("02" in d.codes_from(r) for d in documents for r in d.recipients)
            ok = complete == pairs and rejected == 0
            detail = f"{complete - rejected}/{pairs} recipients answered 01, 03, 06"
            if rejected:
                detail += f"; {rejected} rejected (02)"
            self.result.outcomes.append(Outcome(f"{stage}: statuses back", ok, detail))
        for refusal in self.result.refusals:
            got = (
                refusal.problem
                if refusal.result is None
                else ("accepted" if refusal.result.accepted else refusal.result.error_code)
            )
            self.result.outcomes.append(
                Outcome(
                    f"{refusal.label} document refused",
                    refusal.ok,
                    f"expected {refusal.expected_code}, got {got}",
                )
            )


async def _gather(coroutines: Iterable[Awaitable[None]]) -> None:
    await asyncio.gather(*coroutines)
