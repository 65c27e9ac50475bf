"""Fixtures of the SDK front's tests: the hub kit of tests/lgsp/fixtures, and the VXP client."""

from __future__ import annotations

import sys
from pathlib import Path

for _path in (Path(__file__).resolve().parents[1] / "lgsp" / "fixtures", Path(__file__).parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from hubkit import (  # noqa: E402
    database_for,
    db_backend,
    hub_clock,
    hub_data,
    lgsp_h56,
    live_hubs,
    packages,
)

__all__ = [
    "database_for",
    "db_backend",
    "hub_clock",
    "hub_data",
    "lgsp_h56",
    "live_hubs",
    "packages",
]
