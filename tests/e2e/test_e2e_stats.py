"""`lgsp-sim stats` on a running topology: every hub asked, each package counted once."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from e2e_support import COMMUNE_2_1, DISTRICT_2, H04, fleet_of
from e2e_topology import Running
from test_e2e_cli import lgsp_sim

SENDER = "000.00.03.H56"  # Sở Nội vụ tỉnh Thanh Hóa: no other test of this module sends


def _stats(topology: Running, *args: str) -> dict[str, Any]:
    done = lgsp_sim("stats", "--data", topology.data, "--format", "json", *args)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_topology_counts_each_package_once(topology: Running) -> None:
    documents = [
        {"from": SENDER, "to": [H04], "due_days": 5},  # to another province, through the NDXP
        {"from": SENDER, "to": [H04]},
        {"from": SENDER, "to": [DISTRICT_2, COMMUNE_2_1]},  # two recipients in the province
    ]
    answer = httpx.post(
        f"{topology.urls[fleet_of(SENDER)]}/fleet/load",
        json={"documents": documents, "personal_probability": 1.0, "agency_probability": 1.0},
        timeout=120,
    ).json()
    assert answer["accepted"] == 3

    # The demo profile answers 01, 03, 04, 05 and 06: 4 recipients, 20 statuses.
    deadline = time.monotonic() + 90
    while True:
        stats = _stats(topology)
        total = stats["total"]
        if (total["exchange_events"]["statuses"], total["signing"]["pending"]) == (20, 0):
            break
        assert time.monotonic() < deadline, total
        time.sleep(0.5)
    assert total["sent"]["documents"] == 3
    assert total["received"]["documents"] == 4
    assert total["exchange_events"] == {"total": 23, "documents": 3, "statuses": 20}
    assert total["signing"]["personal"]["valid"] == 3
    assert total["signing"]["personal"]["interval"][1] == 1.0
    # Transit copies exist (the NDXP and lgsp-h04 stored the two documents too) but only
    # the entry hub counts them as sent.
    hubs = stats["hubs"]
    assert sum(h["accepted"]["documents"] for h in hubs.values()) == 3 + 2 + 2
    assert hubs["lgsp-h56"]["sent"]["total"] == 3
    assert hubs["lgsp-h04"]["received"]["total"] == 2
    assert total["statuses"]["by_code"]["06"] == 4

    filtered = _stats(topology, "--tier", "district", "--period", "day")["total"]
    assert filtered["received"]["documents"] == 1
    assert sum(p.get("received", 0) for p in filtered["by_period"].values()) == 1

    csv_out = lgsp_sim("stats", "--data", topology.data, "--format", "csv")
    assert csv_out.returncode == 0 and csv_out.stdout.startswith("scope,metric,value")
    assert "total,sent.documents,3" in csv_out.stdout
    table = lgsp_sim("stats", "--data", topology.data, "--agencies")
    assert table.returncode == 0, table.stderr
    assert "exchange events" in table.stdout and SENDER in table.stdout
