"""Topologies: which agencies exist, at which tier and block, and which hub each attaches to.

A topology is data. `load_topology` takes a shipped preset (``three-tier-2023``, the default;
``two-tier-2025``; ``small``) or the path of a user's ``.json`` / ``.toml`` file, expands the
compact description (provinces given by counts of districts and communes) into agencies, checks
it (`validate_topology`) and returns an immutable `Topology` with constant-time lookups.
Anything wrong with a file raises `TopologyError` with a stable ``code`` and a clear message.

File format (JSON shown; TOML has the same structure; keys starting with ``_`` are comments)::

    {
      "format": "lgsp-sim/topology@1",          optional
      "name": "...", "description": "...",
      "layout": "three-tier" | "two-tier",      default three-tier
      "ndxp": {"hub_id": "ndxp", "name": "..."},   optional
      "bodies": {"province": [BODY...], "district": [BODY...], "commune": [BODY...]},
      "enterprise_name": "Doanh nghiệp số {n} – {province}",   optional
      "provinces": [{
          "code": "H56", "name": "Thanh Hóa", "unit": "tỉnh Thanh Hóa" (optional),
          "hub": {"hub_id": "lgsp-h56", "name": "..."} (optional),
          "districts": 27, "communes": 559,                 (three tiers)
          "districts_named": ["thành phố Thanh Hóa", {"name": "huyện X", "communes": 20}, ...],
          "communes": 166, "communes_named": [...],         (two tiers)
          "bodies": {...} (per-tier override), "enterprises": 20,
          "agencies": [{"organ_id", "name", "tier", "block", "parent"?}]   (verbatim)
      }],
      "ministries": [{"organ_id", "name", "block"? (government), "parent"?}],
      "systems": [{"systemid", "secret", "hub": "H56" | "lgsp-h56", "agencies": [OrganId]}]
    }

``systems`` (optional) declares outside DMS systems (e.g. a real DMS speaking the SDK
protocol) and the agencies they speak for: agencies of that hub, or new OrganIds whose
level-1 code routes there; they are written to ``systems.json`` next to the fleets'.

    BODY = {"key": "dang_bo", "name": "Ban Chấp hành Đảng bộ {unit}", "block": "party",
            "parent": "dang_bo" | null (optional; TOML writes false for null)}

Each tier lists its bodies; the first is the unit's People's Committee (its *anchor*). Names
are templates: ``{unit}`` ("tỉnh Thanh Hóa", "huyện Như Xuân", "xã số 07"), ``{name}`` (the
same without the unit kind), ``{province}``, ``{province_name}``, and at commune tier of a
three-tier topology ``{district}``, ``{district_name}``. Districts and communes not named get
generated names ("huyện số 07", "xã số 12"); a province's commune total is split evenly over
the districts that give no count of their own, the first ones taking one more when it does not
divide. Everything is positional, so the same description always gives the same agencies.

Parents: an anchor's parent is the anchor one tier up (commune → district → province People's
Committee; the province's has none); another body's parent is its own unit's anchor unless the
body names a ``parent``: a body key of the unit one tier up (``Đảng ủy xã`` → the district's
Party committee), or ``null`` for none. At province tier, where nothing is above, ``parent``
names another province body.

Code allocation (QĐ 20/2020 ``V1V2V3.Z1Z2.Y1Y2.X``; X = the province's level-1 code). These
codes are the simulator's own, within the decree's shape; they are not the real assignments::

    000.00.00.X   province People's Committee (the first province body)
    000.00.YY.X   the other province bodies, YY = 01..48 in listed order
    000.EE.49.X   enterprises attached to the province hub, EE = 01..99
    000.00.DD.X   district-level unit d (its People's Committee), DD = 50 + d (d = 0..49)
    000.ZZ.DD.X   the district's other bodies, ZZ = 01..09 in listed order
    000.CC.DD.X   commune c of that district (its People's Committee), CC = 10 + c (c = 0..89)
    VVV.CC.DD.X   the commune's other bodies, VVV = 001..999 in listed order

Two tiers (no districts): commune c of the province sits at ``000.CC.GG.X`` with
GG = 50 + c // 90 (a block of 90 communes; the block code names no agency) and CC = 10 + c % 90,
its other bodies at ``VVV.CC.GG.X``. Level-2 slots 01..48 / 49 / 50..99 keep province bodies,
enterprises and districts apart, so no generated code can collide; explicitly listed agencies
are checked for collisions like everything else. Ministries are listed verbatim (tier central,
attached to the NDXP).
"""

from __future__ import annotations

from ._load import DEFAULT_PRESET, expand_topology, load_topology, preset_names
from ._model import (
    Agency,
    Block,
    HubSpec,
    Layout,
    Province,
    SystemSpec,
    Tier,
    Topology,
    TopologyError,
)
from ._validate import Problem, find_problems, validate_topology

__all__ = [
    "DEFAULT_PRESET",
    "Agency",
    "Block",
    "HubSpec",
    "Layout",
    "Problem",
    "Province",
    "SystemSpec",
    "Tier",
    "Topology",
    "TopologyError",
    "expand_topology",
    "find_problems",
    "load_topology",
    "preset_names",
    "validate_topology",
]
