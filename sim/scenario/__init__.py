"""Scenarios run against a live topology: the demo's scripted day, tracking, rendering.

- `day`: the scripted day of `lgsp-sim demo` (`plan_day`, `run_day`).
- `track`: following sent documents until their statuses come back; gathering their path.
- `render`: rich renderings of paths, statuses and statistics.
"""

from __future__ import annotations
