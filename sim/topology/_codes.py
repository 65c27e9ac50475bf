"""QĐ 20/2020 agency codes (``V1V2V3.Z1Z2.Y1Y2.X``) and the slots our expansion allocates.

`edoc` owns the edXML side of agency codes but had no ``parse_organ_id`` when this module was
written, so topologies check the shape with their own small regex (and nothing else of ours is
imported here).
"""

from __future__ import annotations

import re
from typing import NamedTuple

# Level 1 is a letter and two digits (G = central bodies, H = provinces); levels 2-4 are digits.
_ORGAN_ID = re.compile(r"(\d{3})\.(\d{2})\.(\d{2})\.([A-Z]\d{2})")
_LEVEL1 = re.compile(r"[A-Z]\d{2}")

# Level-2 slots under a province (Y1Y2): 01-48 the province-tier bodies other than the People's
# Committee, 49 the enterprises attached to the province hub, 50-99 the district-level units
# (three tiers) or the commune blocks (two tiers). Splitting the range keeps the two apart.
PROVINCE_BODY_MAX = 48
ENTERPRISE_LEVEL2 = 49
UNIT_LEVEL2_FIRST = 50
UNIT_LEVEL2_MAX = 99
# Level-3 slots under a district or a commune block (Z1Z2): 01-09 the district-tier bodies other
# than the district People's Committee, 10-99 the communes.
DISTRICT_BODY_MAX = 9
COMMUNE_LEVEL3_FIRST = 10
COMMUNE_LEVEL3_MAX = 99
# Level 4 (V1V2V3) under a commune: 001-999 the commune bodies other than its People's Committee.
COMMUNE_BODY_MAX = 999
# Level 3 under the enterprise slot: 01-99 enterprises.
ENTERPRISE_MAX = 99

MAX_UNITS = UNIT_LEVEL2_MAX - UNIT_LEVEL2_FIRST + 1  # 50 districts (or commune blocks)
COMMUNES_PER_GROUP = COMMUNE_LEVEL3_MAX - COMMUNE_LEVEL3_FIRST + 1  # 90 communes each


class OrganCode(NamedTuple):
    """An OrganId split into its levels; level 1 is the letter code, the others are numbers."""

    level1: str
    level2: int
    level3: int
    level4: int


def split_organ_id(organ_id: str) -> OrganCode | None:
    """Split a well-formed OrganId into its levels, or None when it is malformed."""
    m = _ORGAN_ID.fullmatch(organ_id)
    if m is None:
        return None
    return OrganCode(m[4], level2=int(m[3]), level3=int(m[2]), level4=int(m[1]))


def organ_id_problem(organ_id: str) -> str | None:
    """Say why an OrganId is not acceptable, or None when it is."""
    code = split_organ_id(organ_id)
    if code is None:
        return "is not of the form VVV.ZZ.YY.X (e.g. 000.00.00.H56)"
    # "Unused levels are zeros": a lower level cannot be used below an unused one.
    if code.level4 and not code.level3:
        return "uses level 4 under an unused (zero) level 3"
    if code.level3 and not code.level2:
        return "uses level 3 under an unused (zero) level 2"
    return None


def is_level1_code(code: str) -> bool:
    """Whether ``code`` has the shape of a level-1 code (a capital letter and two digits)."""
    return _LEVEL1.fullmatch(code) is not None


def make_organ_id(level1: str, level2: int = 0, level3: int = 0, level4: int = 0) -> str:
    """Build an OrganId from its levels."""
    return f"{level4:03d}.{level3:02d}.{level2:02d}.{level1}"
