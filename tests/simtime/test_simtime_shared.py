"""The shared simulated clock: one time for every process of a topology."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from simtime import (
    ClockSpecError,
    ScaledClock,
    SharedClock,
    WallClock,
    clock_for_data_dir,
    clock_from_sim_json,
    rate_of,
)

START = datetime(2022, 1, 1, tzinfo=UTC)


def test_simulated_time_is_derived_from_the_wall_clock() -> None:
    origin = datetime.now(UTC) - timedelta(seconds=10)
    clock = SharedClock(START, rate=3600.0, origin=origin)
    # Ten real seconds at 3600x: ten simulated hours (and a little more while we compute).
    elapsed = clock.now() - START
    assert timedelta(hours=10) <= elapsed < timedelta(hours=10, minutes=10)
    assert clock.at_wall(origin + timedelta(seconds=1)) == START + timedelta(hours=1)
    assert clock.wall_at(START + timedelta(hours=2)) == origin + timedelta(seconds=2)


def test_two_processes_reading_the_same_spec_agree() -> None:
    first = SharedClock(START, rate=1000.0)
    # A process started later reads the same JSON: same start, rate and origin, same time.
    second = SharedClock.from_json(json.loads(json.dumps(first.as_json())))
    wall = datetime.now(UTC)
    assert first.at_wall(wall) == second.at_wall(wall)
    assert (second.start, second.rate, second.origin) == (first.start, first.rate, first.origin)
    # Unlike the monotonic ScaledClock, which starts counting when it is made.
    assert isinstance(ScaledClock(START).now(), datetime)


def test_bad_specs_are_refused() -> None:
    for raw in ("soon", {}, {"start": "never"}, {"start": START.isoformat(), "rate": 0}):
        with pytest.raises(ClockSpecError):
            SharedClock.from_json(raw)


def test_sim_json_chooses_the_clock(tmp_path: Path) -> None:
    assert isinstance(clock_for_data_dir(tmp_path), WallClock)  # no sim.json yet
    sim = tmp_path / "sim.json"
    sim.write_text(json.dumps({"topology": "small", "created": START.isoformat()}))
    assert isinstance(clock_from_sim_json(sim), WallClock)
    spec = SharedClock(START, rate=50.0).as_json()
    sim.write_text(json.dumps({"topology": "small", "clock": spec}))
    clock = clock_for_data_dir(tmp_path)
    assert isinstance(clock, SharedClock) and clock.as_json() == spec
    assert rate_of(clock) == 50.0
    assert rate_of(WallClock()) == 1.0
    sim.write_text(json.dumps({"topology": "small", "clock": {"rate": 2}}))
    with pytest.raises(ClockSpecError):
        clock_from_sim_json(sim)
