"""Scenarios, Wilson intervals, the topology aggregate, the planned traffic, the HTML page."""

from __future__ import annotations

import random
from collections import Counter
from datetime import time
from typing import Any

import pytest

from sim.report.aggregate import aggregate, wilson
from sim.report.html import bar_chart, line_chart
from sim.report.scenario import ScenarioError, load_scenario, parse_scenario, scenario_names
from sim.report.traffic import build_pools, plan_traffic
from sim.topology import load_topology
from simtime import VIETNAM_TZ


def test_shipped_scenarios_load() -> None:
    assert scenario_names() == ["bac-kan-2022", "thanh-hoa-2022", "thanh-hoa-city-2023"]
    thanh_hoa = load_scenario("thanh-hoa-2022")
    assert thanh_hoa.reported["exchange_events"] == 3_436_164
    assert thanh_hoa.reported["personal_signing_rate"] == 0.9872
    assert thanh_hoa.documents() == round(823_915 * thanh_hoa.scale)
    assert thanh_hoa.rate() == 365 * 86_400 / thanh_hoa.duration_seconds
    city = load_scenario("thanh-hoa-city-2023")
    assert (
        city.focus is not None and city.reported["incoming"] + city.reported["outgoing"] == 342_176
    )
    assert load_scenario("bac-kan-2022").profile["offline_rate"]["commune"] == 0.1


def test_bad_scenarios_say_why(tmp_path: object) -> None:
    with pytest.raises(ScenarioError) as unknown:
        load_scenario("atlantis-2030")
    assert unknown.value.code == "unknown_scenario"
    with pytest.raises(ScenarioError) as bad:
        parse_scenario('{"name": "x"}')
    assert bad.value.code == "bad_scenario" and "province" in bad.value.message


def test_wilson_intervals() -> None:
    low, high = wilson(8, 10) or (0, 0)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson(10, 10) == (pytest.approx(0.7225, abs=1e-4), 1.0)
    assert wilson(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert wilson(0, 0) is None


def _hub(sent: int, received: int, statuses: int, accepted: int, valid: int) -> dict[str, object]:
    return {
        "accepted": {"total": accepted},
        "exchange_events": {"total": sent + statuses, "documents": sent, "statuses": statuses},
        "sent": {"total": sent, "by_tier": {"province": sent} if sent else {}},
        "received": {"total": received, "by_tier": {"province": received} if received else {}},
        "statuses": {"by_code": {"06": statuses}, "by_code_and_tier": {}},
        "rejected": {"by_reason": {}},
        "forwarded": 0,
        "delivered": received,
        "signing": {
            "documents": sent,
            "assessed": sent,
            "pending": 0,
            "both_valid": valid,
            "personal": {"valid": valid, "invalid": 0, "absent": sent - valid},
            "agency": {"valid": sent, "invalid": 0, "absent": 0},
        },
        "completion": {"documents": sent, "completed": sent},
        "latency": {"delivered": {"histogram": {"1": received, "+Inf": received}}},
    }


def test_the_aggregate_counts_every_package_once() -> None:
    # Two documents from lgsp-h56 to lgsp-h04 through the NDXP, one status back each.
    total = aggregate(
        {
            "lgsp-h56": _hub(sent=2, received=0, statuses=0, accepted=4, valid=1),
            "ndxp": _hub(sent=0, received=0, statuses=0, accepted=4, valid=0),
            "lgsp-h04": _hub(sent=0, received=2, statuses=2, accepted=4, valid=0),
        }
    )
    assert total["sent"]["documents"] == 2
    assert total["received"]["documents"] == 2
    assert total["exchange_events"] == {"total": 4, "documents": 2, "statuses": 2}
    assert total["signing"]["personal"]["rate"] == 0.5
    assert total["signing"]["agency"]["interval"][1] == 1.0
    assert total["latency"]["delivered"]["p50_at_most"] == 1.0


def test_planned_traffic_follows_the_scenario() -> None:
    scenario = load_scenario("thanh-hoa-2022")
    topology = load_topology(scenario.topology)
    pools = build_pools(scenario, topology)
    assert {t: len(p) for t, p in pools.by_tier.items()} == scenario.pool
    blocks = Counter(topology.agency(a).block.value for a in pools.by_tier["province"])
    assert blocks["government"] and blocks["party"] and blocks["mass"] and blocks["enterprise"]
    plan = plan_traffic(scenario, pools, documents=600, rng=random.Random(1))
    assert len(plan) == 600
    months = Counter(p.at.astimezone(VIETNAM_TZ).month for p in plan)
    assert months[2] < months[12]  # Tết is quiet, December busy
    for item in plan:
        local = item.at.astimezone(VIETNAM_TZ)
        assert local.weekday() < 5 and time(7, 30) <= local.time() < time(17, 0)
        assert item.sender not in item.recipients and item.recipients
    tiers = Counter(topology.agency(p.sender).tier.value for p in plan)
    assert tiers["commune"] > tiers["province"] * 0.8


def test_a_focus_unit_writes_out_and_receives_in() -> None:
    scenario = load_scenario("thanh-hoa-city-2023")
    topology = load_topology(scenario.topology)
    pools = build_pools(scenario, topology)
    plan = plan_traffic(scenario, pools, documents=400, rng=random.Random(2))

    def inside(organ_id: str) -> bool:
        return organ_id.split(".")[2:] == ["50", "H56"]

    outgoing = sum(inside(p.sender) for p in plan)
    assert all(inside(p.sender) != all(inside(r) for r in p.recipients) for p in plan)
    assert 0.3 < outgoing / len(plan) < 0.45


def test_charts_are_inline_svg() -> None:
    line = line_chart({"documents": {"2022-01-03": 2.0, "2022-02-01": 5.0}}, title="t")
    bars = bar_chart(
        {"province": {"personal": 0.98, "agency": 0.99}},
        title="t",
        percent=True,
        intervals={"province": {"personal": (0.95, 0.99), "agency": None}},
        floor=0.9,
    )
    for chart in (line, bars):
        assert chart.startswith("<svg") and "<script" not in chart
    assert "<polyline" in line and bars.count("<rect") == 2 and bars.count("<line") > 2


def test_a_late_start_squeezes_the_plan_into_the_rest_of_the_year() -> None:
    from datetime import timedelta

    from sim.report.run import DriveLog, _fitted, year_bounds

    scenario = load_scenario("thanh-hoa-2022")
    topology = load_topology(scenario.topology)
    plan = plan_traffic(
        scenario, build_pools(scenario, topology), documents=50, rng=random.Random(4)
    )
    start, end = year_bounds(2022)
    log = DriveLog()
    assert _fitted(plan, begin=start - timedelta(days=1), year=(start, end), log=log) == plan
    late = _fitted(plan, begin=start + timedelta(days=10), year=(start, end), log=log)
    assert log.late_start_hours == 240
    assert all(start + timedelta(days=10) <= p.at < end for p in late)
    assert [p.sender for p in late] == [p.sender for p in plan]


def test_the_fleets_completion_lag_merges_weighted_by_count() -> None:
    from sim.report.aggregate import merge_completion_lag

    idle = {"count": 0, "mean_seconds": None, "max_seconds": None, "with_due_date": 0}
    merged = merge_completion_lag(
        [
            {"count": 3, "mean_seconds": 100.0, "max_seconds": 250.0, "with_due_date": 2,
             "planned_late": 1, "late_by_lag": 0},
            {"count": 1, "mean_seconds": 500.0, "max_seconds": 500.0, "with_due_date": 1,
             "planned_late": 0, "late_by_lag": 1},
            idle,
        ]
    )  # fmt: skip
    assert merged == {
        "count": 4,
        "mean_seconds": 200.0,
        "max_seconds": 500.0,
        "with_due_date": 3,
        "planned_late": 1,
        "late_by_lag": 1,
    }
    assert merge_completion_lag([idle])["mean_seconds"] is None


def test_the_on_time_rate_is_printed_beside_the_machine_lag() -> None:
    from sim.cli.report import _on_time_line

    document: dict[str, Any] = {
        "measured_in_run": {"on_time_rate": {"successes": 120, "trials": 136}},
        "intervals": {"on_time_rate": [0.817, 0.927]},
        "run": {
            "completion_lag": {
                "statuses_06": 260,
                "mean_hours": 1.5,
                "max_hours": 31.2,
                "with_due_date": 150,
                "planned_late": 12,
                "late_by_lag": 4,
                "simulated_hours_per_real_second": 87.6,
            }
        },
    }
    line = _on_time_line(document)
    assert line.startswith("completed by the end of the DueDate: 88.24% (120/136, 95% CI 81.7%")
    assert "1.5 simulated hours after its planned moment on average (at most 31.2)" in line
    assert "one real second being 87.6 simulated hours" in line
    assert "12 were drawn late by the fleets' profile and 4 planned on time" in line
    document["run"]["completion_lag"] = {"statuses_06": 0}
    assert _on_time_line(document).endswith("92.7%).")
    document["measured_in_run"]["on_time_rate"] = {"successes": 0, "trials": 0}
    assert _on_time_line(document) == ""
