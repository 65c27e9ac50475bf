"""``GET /metrics``: the hub's statistics in the Prometheus text format.

Each app gets its own `CollectorRegistry` (metrics registered in the default, process-wide
registry collide as soon as a second app is made, as tests and replicas do). Its collector
renders the `HubStats` computed for the scrape: counts derived by SQL are monotonic as long
as the store keeps its rows, so they are exposed as counters.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .schemas import HubStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _StatsCollector(Collector):
    """Turns the latest `HubStats` into metric families."""

    def __init__(self) -> None:
        self.stats: HubStats | None = None

    def collect(self) -> Iterator[Metric]:
        stats = self.stats
        if stats is None:
            return
        yield from families(stats)


def _counter(name: str, documentation: str, labels: list[str]) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, labels=["hub", *labels])


def _gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=["hub", *labels])


def families(stats: HubStats) -> Iterator[Metric]:
    """Every metric family of one hub's statistics."""
    hub = stats.hub_id
    accepted = _counter(
        "lgsp_packages_accepted", "Packages stored at this hub.", ["kind", "origin"]
    )
    accepted.add_metric([hub, "document", "system"], stats.sent.total)
    accepted.add_metric(
        [hub, "document", "hub"], max(0, stats.accepted.documents - stats.sent.total)
    )
    statuses_local = stats.exchange_events.statuses
    accepted.add_metric([hub, "status", "system"], statuses_local)
    accepted.add_metric([hub, "status", "hub"], max(0, stats.accepted.statuses - statuses_local))
    yield accepted

    events = _counter(
        "lgsp_exchange_events",
        "Exchange events (lượt trao đổi) entering here: documents and statuses.",
        ["kind"],
    )
    events.add_metric([hub, "document"], stats.exchange_events.documents)
    events.add_metric([hub, "status"], stats.exchange_events.statuses)
    yield events

    for name, documentation, value in (
        ("lgsp_forwarded", "Packages the next hub acknowledged.", stats.forwarded),
        ("lgsp_delivered", "Inbox items their recipient confirmed.", stats.delivered),
        (
            "lgsp_delivery_failed",
            "Inbox items their recipient reported failed.",
            stats.delivery_failed,
        ),
    ):
        family = _counter(name, documentation, [])
        family.add_metric([hub], value)
        yield family

    rejected = _counter("lgsp_rejected", "Inputs refused, by reason.", ["reason"])
    for reason, count in stats.rejected.by_reason.items():
        rejected.add_metric([hub, reason], count)
    yield rejected

    for dimension, values in (("tier", stats.sent.by_tier), ("block", stats.sent.by_block)):
        family = _counter(
            f"lgsp_documents_sent_by_{dimension}",
            f"Documents entering here, by the sender's {dimension}.",
            [dimension],
        )
        for key, count in values.items():
            family.add_metric([hub, key], count)
        yield family
    by_type = _counter("lgsp_documents_sent_by_type", "Documents entering here, by type.", ["type"])
    for name, count in stats.sent.by_type.items():
        by_type.add_metric([hub, name], count)
    yield by_type
    received = _counter(
        "lgsp_documents_received", "Documents delivered to local recipients, by tier.", ["tier"]
    )
    for tier, count in stats.received.by_tier.items():
        received.add_metric([hub, tier], count)
    yield received

    statuses = _counter(
        "lgsp_statuses_sent", "Status packages from local agencies, by code.", ["code"]
    )
    for code, count in stats.statuses.by_code.items():
        statuses.add_metric([hub, code], count)
    yield statuses

    signatures = _counter(
        "lgsp_signatures",
        "Assessed documents by PAdES signature role and verdict.",
        ["role", "state"],
    )
    rates = _gauge(
        "lgsp_signing_rate",
        "Documents with a VALID signature of the role over assessed ones.",
        ["role"],
    )
    for role, counts in (("personal", stats.signing.personal), ("agency", stats.signing.agency)):
        for state in ("valid", "invalid", "absent"):
            signatures.add_metric([hub, role, state], getattr(counts, state))
        if counts.rate is not None:
            rates.add_metric([hub, role], counts.rate)
    yield signatures
    yield rates
    pending = _gauge("lgsp_assessment_pending", "Documents waiting for their assessment.", [])
    pending.add_metric([hub], stats.signing.pending)
    yield pending

    completion = _counter(
        "lgsp_documents_completed",
        "Assessed documents by completion (06 from every recipient).",
        ["when"],
    )
    completion.add_metric([hub, "any"], stats.completion.completed)
    completion.add_metric([hub, "on_time"], stats.completion.completed_on_time)
    yield completion

    throughput = _gauge(
        "lgsp_throughput_per_second",
        "Packages accepted per second over a sliding window.",
        ["window"],
    )
    for name, window in stats.throughput.items():
        throughput.add_metric([hub, name], window.per_second)
    yield throughput

    latency = _gauge(
        "lgsp_latency_seconds",
        "Latency from acceptance (hub clock), by stage and quantile.",
        ["stage", "quantile"],
    )
    for stage, figures in stats.latency.items():
        for quantile, seconds in (
            ("0.5", figures.p50),
            ("0.9", figures.p90),
            ("0.99", figures.p99),
        ):
            if seconds is not None:
                latency.add_metric([hub, stage, quantile], seconds)
    yield latency

    for name, documentation, states in (
        ("lgsp_outbox_rows", "Outbox rows by state.", stats.outbox),
        ("lgsp_inbox_items", "Inbox items by state.", stats.inbox),
    ):
        rows = _gauge(name, documentation, ["state"])
        for state, count in states.items():
            rows.add_metric([hub, state], count)
        yield rows


class HubMetrics:
    """One app's registry: set the statistics of a scrape, then render them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._collector = _StatsCollector()
        self.registry.register(self._collector)

    def render(self, stats: HubStats) -> bytes:
        """The Prometheus text exposition of ``stats``."""
        # No await between setting and rendering: concurrent scrapes cannot interleave.
        self._collector.stats = stats
        try:
            return generate_latest(self.registry)
        finally:
            self._collector.stats = None


def metrics_of(state: Any) -> HubMetrics:
    """The app's `HubMetrics` (``app.state.metrics``), made on first use."""
    metrics = getattr(state, "metrics", None)
    if not isinstance(metrics, HubMetrics):
        metrics = HubMetrics()
        state.metrics = metrics
    return metrics
