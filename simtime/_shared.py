"""Simulated time shared by every process of a topology, and reading it from ``sim.json``.

`SharedClock` derives simulated time from the wall clock, not from a process's monotonic
counter: ``start + (wall_now - origin) * rate``. Every process that reads the same
``{"start", "rate", "origin"}`` therefore tells the same simulated time, whenever it started
(a `ScaledClock` starts counting when it is made, so two processes would drift apart).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from ._clock import Clock, WallClock, utc

SIM_FILE: Final = "sim.json"


class ClockSpecError(ValueError):
    """A ``clock`` entry of ``sim.json`` that cannot be used."""


class SharedClock:
    """Simulated time: ``start`` at wall time ``origin``, advancing ``rate`` times faster."""

    def __init__(self, start: datetime, rate: float = 1.0, origin: datetime | None = None) -> None:
        if not rate > 0:
            raise ClockSpecError("clock rate must be positive")
        self.start = utc(start)
        self.rate = float(rate)
        self.origin = utc(origin) if origin is not None else datetime.now(UTC)

    def now(self) -> datetime:
        """Return the simulated time now."""
        elapsed = (datetime.now(UTC) - self.origin).total_seconds()
        return self.start + timedelta(seconds=elapsed * self.rate)

    def at_wall(self, wall: datetime) -> datetime:
        """The simulated time at wall time ``wall``."""
        return self.start + timedelta(seconds=(utc(wall) - self.origin).total_seconds() * self.rate)

    def wall_at(self, simulated: datetime) -> datetime:
        """The wall time at which the simulated time reaches ``simulated``."""
        return self.origin + timedelta(
            seconds=(utc(simulated) - self.start).total_seconds() / self.rate
        )

    def as_json(self) -> dict[str, Any]:
        """The clock as ``sim.json`` records it."""
        return {
            "start": self.start.isoformat(),
            "rate": self.rate,
            "origin": self.origin.isoformat(),
        }

    @classmethod
    def from_json(cls, raw: object) -> SharedClock:
        """Read ``{"start": ISO, "rate": R, "origin": wall ISO}`` (ClockSpecError if wrong)."""
        if not isinstance(raw, dict):
            raise ClockSpecError('"clock" must be an object {"start", "rate", "origin"}')
        try:
            start = datetime.fromisoformat(str(raw["start"]))
            rate = float(raw.get("rate", 1.0))
            origin_text = raw.get("origin")
            origin = datetime.fromisoformat(str(origin_text)) if origin_text else None
        except KeyError:
            raise ClockSpecError('"clock" needs "start" (an ISO 8601 time)') from None
        except (TypeError, ValueError) as exc:
            raise ClockSpecError(f'"clock" is not valid: {exc}') from None
        return cls(start, rate, origin)

    def __repr__(self) -> str:
        return f"SharedClock(start={self.start.isoformat()}, rate={self.rate:g})"


def rate_of(clock: Clock) -> float:
    """How many simulated seconds pass per real second on ``clock`` (1 for the wall clock)."""
    rate = getattr(clock, "rate", 1.0)
    return float(rate) if isinstance(rate, int | float) and rate > 0 else 1.0


def clock_from_sim_json(path: Path) -> Clock:
    """The clock ``sim.json`` prescribes: a `SharedClock` when it has a ``clock``, else wall time.

    A missing or unreadable file means wall time: whoever needs the file itself reports it.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return WallClock()
    spec = raw.get("clock") if isinstance(raw, dict) else None
    if spec is None:
        return WallClock()
    return SharedClock.from_json(spec)


def clock_for_data_dir(data_dir: Path) -> Clock:
    """The clock of the topology running from ``data_dir`` (its ``sim.json``)."""
    return clock_from_sim_json(Path(data_dir) / SIM_FILE)
