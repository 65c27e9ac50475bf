"""What statistics cost the exchange: one hub's acceptance rate with statistics on and off.

Uses `sim.bench.exchange.measure_acceptance` (the same packages, load generator and hub) with
``LGSP_STATS=true`` and ``false``, alternating the order round after round so that a drift of
the machine (2 noisy cores) weighs on both settings alike; compares the medians. The bar of
the issue: statistics on accepts at most 10% fewer packages per second than off.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from .exchange import (
    DEFAULT_CONCURRENCY,
    DEFAULT_SECONDS,
    DEFAULT_WARMUP,
    BenchData,
    measure_acceptance,
)

STATS_BAR: Final = 0.10
DEFAULT_ROUNDS: Final = 2


class Reporter(Protocol):
    """Hears which run starts."""

    def phase(self, text: str, total: int | None = None) -> None: ...


@dataclass(frozen=True)
class StatsOverhead:
    """Acceptance rates (packages per second) of each run, by setting."""

    on: list[float] = field(default_factory=list)
    off: list[float] = field(default_factory=list)

    @property
    def on_per_s(self) -> float:
        """Median rate with statistics on."""
        return statistics.median(self.on)

    @property
    def off_per_s(self) -> float:
        """Median rate with statistics off."""
        return statistics.median(self.off)

    @property
    def slowdown(self) -> float:
        """How much slower with statistics on, as a share of the rate off (negative: faster)."""
        return (self.off_per_s - self.on_per_s) / self.off_per_s if self.off_per_s else 0.0

    @property
    def bar_met(self) -> bool:
        """Statistics on costs at most `STATS_BAR` of the acceptance rate."""
        return self.slowdown <= STATS_BAR

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON."""
        return {
            "on_per_s": self.on,
            "off_per_s": self.off,
            "median_on_per_s": self.on_per_s,
            "median_off_per_s": self.off_per_s,
            "slowdown": self.slowdown,
            "bar": STATS_BAR,
            "bar_met": self.bar_met,
        }


def measure_stats_overhead(
    bench: BenchData,
    *,
    rounds: int = DEFAULT_ROUNDS,
    seconds: float = DEFAULT_SECONDS,
    warmup: float = DEFAULT_WARMUP,
    concurrency: int = DEFAULT_CONCURRENCY,
    reporter: Reporter | None = None,
) -> StatsOverhead:
    """Alternate acceptance runs with statistics off and on, ``rounds`` of each."""
    rates: dict[str, list[float]] = {"true": [], "false": []}
    for round_ in range(rounds):
        order = ("false", "true") if round_ % 2 == 0 else ("true", "false")
        for setting in order:
            if reporter is not None:
                state = "on" if setting == "true" else "off"
                reporter.phase(f"acceptance with statistics {state} (round {round_ + 1}/{rounds})")
            run = measure_acceptance(
                bench,
                hub_env={"LGSP_STATS": setting},
                concurrency=concurrency,
                seconds=seconds,
                warmup=warmup,
            )
            rates[setting].append(run.per_s)
    return StatsOverhead(on=rates["true"], off=rates["false"])
