from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol

# Giờ Việt Nam: UTC+07:00 all year round.
VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")


def utc(moment: datetime) -> datetime:
    """Return ``moment`` as an aware UTC datetime (naive values are taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class Clock(Protocol):
    """Source of the current time for one process."""

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...


class WallClock:
    """The real time."""

    def now(self) -> datetime:
        """Return the wall-clock time in UTC."""
        return datetime.now(UTC)


class ScaledClock:
    """Simulated time: starts at ``start`` and advances ``rate`` times faster than real time."""

    def __init__(self, start: datetime, rate: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError("clock rate must be positive")
        self.start = utc(start)
        self.rate = rate
        self._origin = time.monotonic()

    def now(self) -> datetime:
        """Return the simulated time."""
        elapsed = time.monotonic() - self._origin
        return self.start + timedelta(seconds=elapsed * self.rate)
