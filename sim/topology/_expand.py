"""Expand a compact topology description (provinces with counts) into agencies, deterministically.

The description is plain data (parsed JSON or TOML). Expansion is a pure function of it: the
same description always yields the same OrganIds, names, parents and order. The code allocation
is described in the package docstring (`sim.topology`) and implemented by the ``make_organ_id``
calls below; the slot limits live in `_codes`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from . import _codes as C
from ._codes import make_organ_id
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

# Placeholders a body name may use, per tier; rendering refuses anything else.
_PLACEHOLDERS: Final[dict[str, frozenset[str]]] = {
    "province": frozenset({"unit", "name", "province", "province_name"}),
    "district": frozenset({"unit", "name", "province", "province_name"}),
    "commune": frozenset(
        {"unit", "name", "province", "province_name", "district", "district_name"}
    ),
    "enterprise": frozenset({"n", "province", "province_name"}),
}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

# Unit-kind prefixes recognised in given names, to derive the bare name ({name}).
_DISTRICT_KINDS = ("thành phố", "thị xã", "quận", "huyện")
_COMMUNE_KINDS = ("thị trấn", "phường", "xã", "đặc khu")

DEFAULT_NDXP = HubSpec("ndxp", "Trục liên thông văn bản quốc gia (NDXP)")
DEFAULT_ENTERPRISE_NAME = "Doanh nghiệp số {n} – {province}"


def _body(key: str, name: str, block: str, parent: str | None = "") -> dict[str, object]:
    body: dict[str, object] = {"key": key, "name": name, "block": block}
    if parent != "":
        body["parent"] = parent
    return body


# Used when a description gives no "bodies": one body per block that the tier has. Presets
# spell their own bodies out. The first body of a tier is its unit's People's Committee.
DEFAULT_BODIES: Final[dict[Layout, dict[str, list[dict[str, object]]]]] = {
    Layout.THREE_TIER: {
        "province": [
            _body("ubnd", "Ủy ban nhân dân {unit}", "government"),
            _body("dang_bo", "Ban Chấp hành Đảng bộ {unit}", "party", None),
            _body("mttq", "Ủy ban Mặt trận Tổ quốc Việt Nam {unit}", "mass", None),
        ],
        "district": [
            _body("ubnd", "Ủy ban nhân dân {unit}", "government"),
            _body("dang_bo", "Ban Chấp hành Đảng bộ {unit}", "party", "dang_bo"),
            _body("mttq", "Ủy ban Mặt trận Tổ quốc Việt Nam {unit}", "mass", "mttq"),
        ],
        "commune": [
            _body("ubnd", "Ủy ban nhân dân {unit}, {district}", "government"),
            _body("dang_uy", "Đảng ủy {unit}, {district}", "party", "dang_bo"),
        ],
    },
    Layout.TWO_TIER: {
        "province": [
            _body("ubnd", "Ủy ban nhân dân {unit}", "government"),
            _body("dang_bo", "Ban Chấp hành Đảng bộ {unit}", "party", None),
            _body("mttq", "Ủy ban Mặt trận Tổ quốc Việt Nam {unit}", "mass", None),
        ],
        "commune": [
            _body("ubnd", "Ủy ban nhân dân {unit}, {province}", "government"),
            _body("dang_uy", "Đảng ủy {unit}, {province}", "party", "dang_bo"),
        ],
    },
}

_TOP_KEYS = frozenset(
    {"format", "name", "description", "layout", "ndxp", "bodies", "enterprise_name"}
    | {"provinces", "ministries", "systems"}
)
_SYSTEM_KEYS = frozenset({"systemid", "secret", "hub", "agencies"})
_PROVINCE_KEYS = frozenset(
    {"code", "name", "unit", "hub", "bodies", "enterprises", "agencies", "communes"}
    | {"districts", "districts_named", "communes_named"}
)
_FORMAT = "lgsp-sim/topology@1"


class _Default:
    """Marks a body without a ``parent`` key: the default parent rule applies."""


_DEFAULT = _Default()


@dataclass(frozen=True, slots=True)
class _BodySpec:
    key: str
    name: str
    block: Block
    parent: str | _Default | None


@dataclass(frozen=True, slots=True)
class _Unit:
    full: str  # "huyện Như Xuân", "xã số 07"
    bare: str  # "Như Xuân", "số 07"


def expand_spec(spec: Mapping[str, object], *, default_name: str) -> Topology:
    """Build the topology a description describes (no consistency check beyond the schema)."""
    top = _Obj(spec, "topology")
    top.check_keys(_TOP_KEYS)
    fmt = top.opt_str("format")
    if fmt is not None and fmt != _FORMAT:
        raise _schema(f"format: expected {_FORMAT!r}, got {fmt!r}")
    layout_text = top.opt_str("layout") or Layout.THREE_TIER.value
    try:
        layout = Layout(layout_text)
    except ValueError:
        raise _schema(f"layout: expected 'three-tier' or 'two-tier', got {layout_text!r}") from None

    ndxp = _hub(top.opt_obj("ndxp"), DEFAULT_NDXP)
    bodies = _bodies(top.opt_obj("bodies"), DEFAULT_BODIES[layout], layout)
    enterprise_name = top.opt_str("enterprise_name") or DEFAULT_ENTERPRISE_NAME
    _check_template(enterprise_name, "enterprise", "enterprise_name")

    provinces = tuple(
        _province(obj, layout, bodies, enterprise_name) for obj in top.obj_list("provinces")
    )
    ministries = tuple(_ministry(obj, ndxp.hub_id) for obj in top.obj_list("ministries"))
    hubs = {ndxp.hub_id: ndxp.hub_id} | {p.hub.hub_id: p.hub.hub_id for p in provinces}
    hubs.update({p.code: p.hub.hub_id for p in provinces})
    return Topology(
        name=top.opt_str("name") or default_name,
        description=top.opt_str("description") or "",
        layout=layout,
        ndxp=ndxp,
        provinces=provinces,
        ministries=ministries,
        systems=tuple(_system(obj, hubs) for obj in top.obj_list("systems")),
    )


def _system(obj: _Obj, hubs: Mapping[str, str]) -> SystemSpec:
    """A declared DMS system; ``hub`` is a hub id or a province code (H56)."""
    obj.check_keys(_SYSTEM_KEYS)
    system_id = obj.req_str("systemid")
    obj.where = f"system {system_id}"
    hub = obj.req_str("hub")
    if hub not in hubs:
        raise _schema(f"{obj.where}.hub: {hub!r} is neither a hub id nor a province code")
    agencies = [_text(v, f"{obj.where}.agencies") for v in obj.get_list("agencies")]
    return SystemSpec(
        system_id=system_id,
        secret=obj.req_str("secret"),
        hub_id=hubs[hub],
        agencies=tuple(agencies),
    )


# --- provinces --------------------------------------------------------------------------


def _province(
    obj: _Obj,
    layout: Layout,
    default_bodies: Mapping[str, tuple[_BodySpec, ...]],
    enterprise_name: str,
) -> Province:
    code = obj.req_str("code")
    if not C.is_level1_code(code):
        raise TopologyError(
            "bad_province_code",
            f"{obj.where}.code: {code!r} is not a level-1 code "
            "(a capital letter and two digits, e.g. H56)",
        )
    obj.where = f"province {code}"
    obj.check_keys(_PROVINCE_KEYS)
    name = obj.req_str("name")
    unit = _Unit(obj.opt_str("unit") or f"tỉnh {name}", name)
    hub = _hub(obj.opt_obj("hub"), HubSpec(f"lgsp-{code.lower()}", f"LGSP {unit.full}"))
    bodies = dict(default_bodies)
    own = obj.opt_obj("bodies")
    if own is not None:
        bodies.update(_bodies(own, None, layout))
        _check_parents(bodies, layout, own.where)
    builder = _ProvinceBuilder(code, unit, hub.hub_id, bodies)
    builder.province_bodies()
    builder.enterprises(obj.opt_int("enterprises") or 0, enterprise_name, obj.where)
    if layout is Layout.THREE_TIER:
        if "communes_named" in obj.data:
            raise _schema(
                f"{obj.where}: 'communes_named' is for two-tier topologies; name communes under "
                "their district in 'districts_named'"
            )
        for d, (district, communes) in enumerate(_districts(obj)):
            builder.district(d, district, communes)
    else:
        for key in ("districts", "districts_named"):
            if key in obj.data:
                raise _schema(f"{obj.where}: a two-tier topology has no districts ({key!r})")
        for c, commune in enumerate(_communes_two_tier(obj)):
            builder.commune_two_tier(c, commune)
    for i, agency_obj in enumerate(obj.obj_list("agencies")):
        builder.agencies.append(_explicit_agency(agency_obj, code, hub.hub_id, i))
    return Province(code, name, hub, tuple(builder.agencies))


class _ProvinceBuilder:
    """Allocates the codes of one province's units and bodies (see the package docstring)."""

    def __init__(
        self, code: str, unit: _Unit, hub_id: str, bodies: Mapping[str, tuple[_BodySpec, ...]]
    ) -> None:
        self.code = code
        self.unit = unit
        self.hub_id = hub_id
        self.bodies = bodies
        self.agencies: list[Agency] = []
        self.province_ids: dict[str, str] = {}
        self.ctx = {"province": unit.full, "province_name": unit.bare}
        limits = {"province": C.PROVINCE_BODY_MAX, "district": C.DISTRICT_BODY_MAX}
        limits["commune"] = C.COMMUNE_BODY_MAX
        for tier, limit in limits.items():
            if len(bodies.get(tier, ())) > limit + 1:
                raise TopologyError(
                    "capacity_exceeded",
                    f"province {code}: {len(bodies[tier])} {tier} bodies; the code scheme has "
                    f"room for {limit + 1} (the People's Committee and {limit} others)",
                )

    def _emit(
        self,
        tier: Tier,
        ids: Mapping[str, str],
        above_ids: Mapping[str, str],
        above_anchor: str | None,
        ctx: Mapping[str, str],
    ) -> None:
        # `ids` maps this unit's body keys to their codes; parents are resolved against this
        # unit (default rule) or the unit above (a named parent).
        specs = self.bodies[tier.value]
        anchor = ids[specs[0].key]
        for i, spec in enumerate(specs):
            if isinstance(spec.parent, _Default):
                parent = above_anchor if i == 0 else anchor
            elif spec.parent is None:
                parent = None
            else:
                parent = above_ids[spec.parent]
            self.agencies.append(
                Agency(
                    organ_id=ids[spec.key],
                    name=_render(spec.name, ctx),
                    tier=tier,
                    block=spec.block,
                    province=self.code,
                    parent=parent,
                    hub_id=self.hub_id,
                )
            )

    def province_bodies(self) -> None:
        # 000.00.00.X the People's Committee, 000.00.YY.X (YY = 01-48) the other bodies.
        specs = self.bodies["province"]
        self.province_ids = {s.key: make_organ_id(self.code, i) for i, s in enumerate(specs)}
        ctx = {**self.ctx, "unit": self.unit.full, "name": self.unit.bare}
        # Nothing above the province: a named parent is another body of the province itself.
        self._emit(Tier.PROVINCE, self.province_ids, self.province_ids, None, ctx)

    def enterprises(self, count: int, template: str, where: str) -> None:
        # 000.EE.49.X (EE = 01-99): enterprises exchanging documents through the province hub.
        if count > C.ENTERPRISE_MAX:
            raise TopologyError(
                "capacity_exceeded",
                f"{where}: {count} enterprises; the code scheme has room for {C.ENTERPRISE_MAX} "
                "(list more under 'agencies')",
            )
        for n in range(1, count + 1):
            self.agencies.append(
                Agency(
                    organ_id=make_organ_id(self.code, C.ENTERPRISE_LEVEL2, n),
                    name=_render(template, {**self.ctx, "n": f"{n:02d}"}),
                    tier=Tier.PROVINCE,
                    block=Block.ENTERPRISE,
                    province=self.code,
                    parent=None,
                    hub_id=self.hub_id,
                )
            )

    def district(self, d: int, district: _Unit, communes: Sequence[_Unit]) -> None:
        # 000.00.DD.X (DD = 50 + d) the district People's Committee, 000.ZZ.DD.X (ZZ = 01-09)
        # the other district bodies, then the communes at level 3 = 10 + c.
        level2 = C.UNIT_LEVEL2_FIRST + d
        specs = self.bodies["district"]
        ids = {s.key: make_organ_id(self.code, level2, j) for j, s in enumerate(specs)}
        ctx = {**self.ctx, "unit": district.full, "name": district.bare}
        self._emit(Tier.DISTRICT, ids, self.province_ids, self._province_anchor(), ctx)
        commune_ctx = {**self.ctx, "district": district.full, "district_name": district.bare}
        for c, commune in enumerate(communes):
            level3 = C.COMMUNE_LEVEL3_FIRST + c
            self._commune(level2, level3, commune, ids, ids[specs[0].key], commune_ctx)

    def commune_two_tier(self, c: int, commune: _Unit) -> None:
        # No districts: communes sit in blocks of 90 under level-2 codes 50-99, the block code
        # itself naming no agency; they hang directly under the province.
        level2 = C.UNIT_LEVEL2_FIRST + c // C.COMMUNES_PER_GROUP
        level3 = C.COMMUNE_LEVEL3_FIRST + c % C.COMMUNES_PER_GROUP
        above = self.province_ids
        self._commune(level2, level3, commune, above, self._province_anchor(), self.ctx)

    def _province_anchor(self) -> str:
        return self.province_ids[self.bodies["province"][0].key]

    def _commune(
        self,
        level2: int,
        level3: int,
        commune: _Unit,
        above_ids: Mapping[str, str],
        above_anchor: str,
        ctx: Mapping[str, str],
    ) -> None:
        # 000.CC.GG.X the commune People's Committee, VVV.CC.GG.X (VVV = 001-999) its others.
        specs = self.bodies["commune"]
        ids = {s.key: make_organ_id(self.code, level2, level3, k) for k, s in enumerate(specs)}
        full_ctx = {**ctx, "unit": commune.full, "name": commune.bare}
        self._emit(Tier.COMMUNE, ids, above_ids, above_anchor, full_ctx)


def _districts(obj: _Obj) -> list[tuple[_Unit, list[_Unit]]]:
    """The province's districts with their communes, splitting the commune total evenly."""
    named: list[tuple[_Unit | None, int | list[str] | None]] = []
    for i, item in enumerate(obj.get_list("districts_named")):
        where = f"{obj.where}.districts_named[{i}]"
        if isinstance(item, str):
            named.append((_unit(item, _DISTRICT_KINDS, where), None))
        elif isinstance(item, Mapping):
            entry = _Obj(item, where)
            entry.check_keys(frozenset({"name", "communes"}))
            named.append((_unit(entry.req_str("name"), _DISTRICT_KINDS, where), entry.counts()))
        else:
            raise _schema(f"{where}: expected a name or an object, got {type(item).__name__}")
    count = obj.opt_int("districts")
    if count is None:
        count = len(named)
    if len(named) > count:
        raise _schema(f"{obj.where}: {len(named)} districts_named but districts = {count}")
    if count > C.MAX_UNITS:
        raise TopologyError(
            "capacity_exceeded",
            f"{obj.where}: {count} districts; the code scheme has room for {C.MAX_UNITS}",
        )
    named += [(None, None)] * (count - len(named))

    sizes: list[int | None] = [
        None if given is None else given if isinstance(given, int) else len(given)
        for _, given in named
    ]
    total = obj.opt_int("communes")
    fixed = sum(s for s in sizes if s is not None)
    free = [i for i, s in enumerate(sizes) if s is None]
    if total is None:
        if free:
            raise _schema(
                f"{obj.where}: 'communes' (the province's total) is missing and districts "
                f"{[i + 1 for i in free]} give no commune count"
            )
        total = fixed
    rest = total - fixed
    if rest < 0 or (rest and not free):
        raise TopologyError(
            "commune_count_mismatch",
            f"{obj.where}: communes = {total} but the districts' own counts add up to {fixed}",
        )
    # Even split, the first districts taking one more when it does not divide (deterministic).
    share, extra = divmod(rest, len(free)) if free else (0, 0)
    bonus = {i: 1 if rank < extra else 0 for rank, i in enumerate(free)}
    final = [share + bonus[i] if s is None else s for i, s in enumerate(sizes)]

    result: list[tuple[_Unit, list[_Unit]]] = []
    for d, ((district, given), size) in enumerate(zip(named, final, strict=True)):
        district = district or _Unit(f"huyện số {d + 1:02d}", f"số {d + 1:02d}")
        if size > C.COMMUNES_PER_GROUP:
            raise TopologyError(
                "capacity_exceeded",
                f"{obj.where}: {district.full} has {size} communes; the code scheme has room "
                f"for {C.COMMUNES_PER_GROUP} per district",
            )
        names = given if isinstance(given, list) else []
        where = f"{obj.where}, {district.full}"
        result.append((district, _commune_units(names, size, where)))
    return result


def _communes_two_tier(obj: _Obj) -> list[_Unit]:
    names = [
        _text(item, f"{obj.where}.communes_named[{i}]")
        for i, item in enumerate(obj.get_list("communes_named"))
    ]
    total = obj.opt_int("communes")
    if total is None:
        total = len(names)
    if len(names) > total:
        raise TopologyError(
            "commune_count_mismatch",
            f"{obj.where}: {len(names)} communes_named but communes = {total}",
        )
    limit = C.MAX_UNITS * C.COMMUNES_PER_GROUP
    if total > limit:
        raise TopologyError(
            "capacity_exceeded",
            f"{obj.where}: {total} communes; the code scheme has room for {limit}",
        )
    return _commune_units(names, total, obj.where)


def _commune_units(names: Sequence[str], size: int, where: str) -> list[_Unit]:
    units = [_unit(n, _COMMUNE_KINDS, where) for n in names]
    units += [_Unit(f"xã số {c + 1:02d}", f"số {c + 1:02d}") for c in range(len(units), size)]
    return units


def _unit(full: str, kinds: tuple[str, ...], where: str) -> _Unit:
    full = full.strip()
    if not full:
        raise _schema(f"{where}: empty name")
    for kind in kinds:
        if full.lower().startswith(kind + " "):
            return _Unit(full, full[len(kind) + 1 :].strip())
    return _Unit(full, full)


# --- bodies, agencies, hubs -------------------------------------------------------------


def _bodies(
    obj: _Obj | None,
    defaults: Mapping[str, list[dict[str, object]]] | None,
    layout: Layout,
) -> dict[str, tuple[_BodySpec, ...]]:
    """Parse the per-tier body lists, filling tiers the description leaves out from defaults."""
    three = layout is Layout.THREE_TIER
    tiers = ("province", "district", "commune") if three else ("province", "commune")
    raw: dict[str, object] = dict(defaults or {})
    if obj is not None:
        obj.check_keys(frozenset(tiers))
        raw.update({k: v for k, v in obj.data.items() if not k.startswith("_")})
    where = obj.where if obj is not None else "default bodies"
    result: dict[str, tuple[_BodySpec, ...]] = {}
    for tier in tiers:
        if tier not in raw:
            continue
        items = raw[tier]
        if not isinstance(items, list) or not items:
            raise _schema(f"{where}.{tier}: expected a non-empty list of bodies")
        specs: list[_BodySpec] = []
        for i, item in enumerate(items):
            body = _Obj(_mapping(item, f"{where}.{tier}[{i}]"), f"{where}.{tier}[{i}]")
            body.check_keys(frozenset({"key", "name", "block", "parent"}))
            parent: str | _Default | None = _DEFAULT
            if "parent" in body.data:
                # TOML has no null: `parent = false` says "no parent" there.
                given = body.data["parent"]
                parent = None if given is False else body.opt_str("parent")
            spec = _BodySpec(body.req_str("key"), body.req_str("name"), body.block(), parent)
            _check_template(spec.name, tier, f"{body.where}.name")
            if layout is Layout.TWO_TIER and tier == "commune" and "{district" in spec.name:
                raise TopologyError(
                    "bad_template",
                    f"{body.where}.name: {{district}} does not exist in a two-tier topology",
                )
            specs.append(spec)
        keys = [s.key for s in specs]
        if len(set(keys)) != len(keys):
            raise _schema(f"{where}.{tier}: body keys must be unique, got {keys}")
        result[tier] = tuple(specs)
    if defaults is not None:
        _check_parents(result, layout, where)
    return result


def _check_parents(bodies: Mapping[str, tuple[_BodySpec, ...]], layout: Layout, where: str) -> None:
    # Named parents must exist one tier up (the province tier names its own bodies).
    above = {"province": "province", "district": "province"}
    above["commune"] = "district" if layout is Layout.THREE_TIER else "province"
    for tier, specs in bodies.items():
        above_keys = {s.key for s in bodies.get(above[tier], ())}
        for spec in specs:
            if isinstance(spec.parent, str) and spec.parent not in above_keys:
                raise _schema(
                    f"{where}.{tier}: body {spec.key!r} names parent {spec.parent!r}, which is "
                    f"not a {above[tier]}-tier body {sorted(above_keys)}"
                )


def _explicit_agency(obj: _Obj, province: str, hub_id: str, i: int) -> Agency:
    obj.where = f"{obj.where}.agencies[{i}]"
    obj.check_keys(frozenset({"organ_id", "name", "tier", "block", "parent"}))
    tier = obj.tier()
    return Agency(
        organ_id=obj.req_str("organ_id"),
        name=obj.req_str("name"),
        tier=tier,
        block=obj.block(),
        province=province,
        parent=obj.opt_str("parent"),
        hub_id=hub_id,
    )


def _ministry(obj: _Obj, ndxp: str) -> Agency:
    obj.check_keys(frozenset({"organ_id", "name", "block", "parent"}))
    return Agency(
        organ_id=obj.req_str("organ_id"),
        name=obj.req_str("name"),
        tier=Tier.CENTRAL,
        block=obj.block() if "block" in obj.data else Block.GOVERNMENT,
        province=None,
        parent=obj.opt_str("parent"),
        hub_id=ndxp,
    )


def _hub(obj: _Obj | None, default: HubSpec) -> HubSpec:
    if obj is None:
        return default
    obj.check_keys(frozenset({"hub_id", "name"}))
    return HubSpec(obj.opt_str("hub_id") or default.hub_id, obj.opt_str("name") or default.name)


# --- templates --------------------------------------------------------------------------


def _check_template(template: str, kind: str, where: str) -> None:
    unknown = {m[1] for m in _PLACEHOLDER.finditer(template)} - _PLACEHOLDERS[kind]
    if unknown:
        raise TopologyError(
            "bad_template",
            f"{where}: unknown placeholder(s) {sorted(unknown)} in {template!r}; "
            f"allowed: {sorted(_PLACEHOLDERS[kind])}",
        )


def _render(template: str, ctx: Mapping[str, str]) -> str:
    # Plain substitution, not str.format: a user's template cannot reach attributes.
    return _PLACEHOLDER.sub(lambda m: ctx[m[1]], template)


# --- schema access ----------------------------------------------------------------------


def _schema(message: str) -> TopologyError:
    return TopologyError("bad_schema", message)


def _mapping(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise _schema(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _schema(f"{where}: expected a non-empty string, got {value!r}")
    return value.strip()


class _Obj:
    """A mapping from the description, with typed accessors whose errors say where they are."""

    def __init__(self, data: Mapping[str, object], where: str) -> None:
        self.data = data
        self.where = where

    def check_keys(self, allowed: frozenset[str]) -> None:
        # Keys starting with "_" are comments (JSON has none of its own).
        unknown = sorted(k for k in self.data if not str(k).startswith("_") and k not in allowed)
        if unknown:
            raise _schema(f"{self.where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")

    def req_str(self, key: str) -> str:
        if key not in self.data:
            raise _schema(f"{self.where}: missing {key!r}")
        return _text(self.data[key], f"{self.where}.{key}")

    def opt_str(self, key: str) -> str | None:
        value = self.data.get(key)
        return None if value is None else _text(value, f"{self.where}.{key}")

    def opt_int(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        # bool is an int in Python; `true` is not a count.
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _schema(f"{self.where}.{key}: expected a non-negative integer, got {value!r}")
        return value

    def counts(self) -> int | list[str] | None:
        """A district's ``communes``: a count, a list of names, or absent."""
        value = self.data.get("communes")
        if isinstance(value, list):
            return [_text(v, f"{self.where}.communes[{i}]") for i, v in enumerate(value)]
        return self.opt_int("communes")

    def get_list(self, key: str) -> list[object]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise _schema(f"{self.where}.{key}: expected a list, got {type(value).__name__}")
        return value

    def obj_list(self, key: str) -> list[_Obj]:
        prefix = f"{self.where}.{key}"
        items = self.get_list(key)
        return [_Obj(_mapping(v, f"{prefix}[{i}]"), f"{prefix}[{i}]") for i, v in enumerate(items)]

    def opt_obj(self, key: str) -> _Obj | None:
        value = self.data.get(key)
        if value is None:
            return None
        return _Obj(_mapping(value, f"{self.where}.{key}"), f"{self.where}.{key}")

    def block(self) -> Block:
        text = self.req_str("block")
        try:
            return Block(text)
        except ValueError:
            raise _schema(
                f"{self.where}.block: {text!r} is not one of {[b.value for b in Block]}"
            ) from None

    def tier(self) -> Tier:
        text = self.req_str("tier")
        try:
            return Tier(text)
        except ValueError:
            raise _schema(
                f"{self.where}.tier: {text!r} is not one of {[t.value for t in Tier]}"
            ) from None
