"""One clock per process: wall time by default, or simulated time running at a chosen rate.

Every date in a package, every due date, statistics period and latency reads a `Clock`;
nothing else calls ``datetime.now()``. Vietnam local time (UTC+7, no DST) is what edXML
writes; clocks hand out aware UTC datetimes and formatting converts.

A topology whose ``sim.json`` has ``"clock": {"start", "rate", "origin"}`` runs on a
`SharedClock`: every process derives the same simulated time from the wall clock
(`clock_for_data_dir`).
"""

from __future__ import annotations

from ._clock import VIETNAM_TZ, Clock, ScaledClock, WallClock, utc
from ._shared import (
    ClockSpecError,
    SharedClock,
    clock_for_data_dir,
    clock_from_sim_json,
    rate_of,
)

__all__ = [
    "VIETNAM_TZ",
    "Clock",
    "ClockSpecError",
    "ScaledClock",
    "SharedClock",
    "WallClock",
    "clock_for_data_dir",
    "clock_from_sim_json",
    "rate_of",
    "utc",
]
