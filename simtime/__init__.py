"""One clock per process: wall time by default, or simulated time running at a chosen rate.

Every date in a package, every due date, statistics period and latency reads a `Clock`;
nothing else calls ``datetime.now()``. Vietnam local time (UTC+7, no DST) is what edXML
writes; clocks hand out aware UTC datetimes and formatting converts.
"""

from __future__ import annotations

from ._clock import VIETNAM_TZ, Clock, ScaledClock, WallClock, utc

__all__ = ["VIETNAM_TZ", "Clock", "ScaledClock", "WallClock", "utc"]
