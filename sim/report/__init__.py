"""Statistics of a whole topology and calibrated reports (`lgsp-sim stats`, `lgsp-sim report`).

- `aggregate`: every hub's statistics added up once; Wilson score intervals;
- `scenario`: the calibrated scenarios (``sim/scenarios/*.json``);
- `traffic`: who writes to whom and when over the simulated year;
- `run`: the run itself and the reported-beside-measured JSON; `html`: the HTML page.
"""
