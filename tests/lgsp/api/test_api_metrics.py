"""``GET /metrics`` is Prometheus text; ``GET /api/v1/stats`` takes filters and refuses bad ones."""

from __future__ import annotations

from hubkit import H04, H56, H56B, HubHandle, Packages
from prometheus_client.parser import text_string_to_metric_families


async def test_metrics_parse_as_prometheus_text(lgsp_h56: HubHandle, packages: Packages) -> None:
    await lgsp_h56.submit(packages.document(H56, (H56B,)))
    await lgsp_h56.submit(packages.document(H56B, (H56, H04)))
    await lgsp_h56.submit(packages.status(H56B, response_to=H56, document_id="d"))
    await lgsp_h56.submit(b"<nope")
    response = await lgsp_h56.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in families.values()
        for s in family.samples
    }
    hub = ("hub", "lgsp-h56")
    assert families["lgsp_packages_accepted"].type == "counter"
    assert (
        samples[("lgsp_packages_accepted_total", (hub, ("kind", "document"), ("origin", "system")))]
        == 2
    )
    assert samples[("lgsp_exchange_events_total", (hub, ("kind", "status")))] == 1
    assert samples[("lgsp_rejected_total", (hub, ("reason", "xml_malformed")))] == 1
    assert samples[("lgsp_documents_sent_by_block_total", (("block", "government"), hub))] == 1
    assert ("lgsp_signing_rate", (hub, ("role", "personal"))) not in samples  # none assessed yet
    assert {"lgsp_throughput_per_second", "lgsp_outbox_rows", "lgsp_latency_seconds"} <= set(
        families
    )
    # A second scrape renders again from the same app's own registry.
    assert (await lgsp_h56.client.get("/metrics")).text.count("# TYPE lgsp_delivered_total") == 1


async def test_stats_filters_and_refusals(lgsp_h56: HubHandle, packages: Packages) -> None:
    await lgsp_h56.submit(packages.document(H56, (H56B,)))
    await lgsp_h56.submit(packages.document(H56B, (H56,)))
    client = lgsp_h56.client
    party = (await client.get("/api/v1/stats", params={"block": "party"})).json()
    assert party["sent"]["total"] == 1 and party["filters"]["block"] == "party"
    daily = (await client.get("/api/v1/stats", params={"period": "day", "agencies": "true"})).json()
    assert sum(p["documents_sent"] for p in daily["by_period"].values()) == 2
    assert daily["by_agency"][H56] == {"outgoing": 1, "incoming": 1}
    assert (await client.get("/api/v1/stats")).json()["by_period"] is None

    bad_period = await client.get("/api/v1/stats", params={"period": "week"})
    assert bad_period.status_code == 422
    naive = await client.get("/api/v1/stats", params={"from": "2022-01-01T00:00:00"})
    assert (naive.status_code, naive.json()["error"]["code"]) == (400, "bad_time")
    backwards = await client.get(
        "/api/v1/stats", params={"from": "2022-02-01T00:00:00Z", "to": "2022-01-01T00:00:00Z"}
    )
    assert (backwards.status_code, backwards.json()["error"]["code"]) == (400, "bad_range")
