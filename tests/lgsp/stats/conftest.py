"""Fixtures of the statistics tests: the shared hub kit (tests/lgsp/fixtures/hubkit.py)."""

from __future__ import annotations

import sys
from pathlib import Path

_KIT = str(Path(__file__).resolve().parents[1] / "fixtures")
if _KIT not in sys.path:
    sys.path.insert(0, _KIT)

from hubkit import (  # noqa: E402
    database_for,
    db_backend,
    hub_clock,
    hub_data,
    lgsp_h56,
    packages,
)

__all__ = ["database_for", "db_backend", "hub_clock", "hub_data", "lgsp_h56", "packages"]
