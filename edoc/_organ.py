"""Agency identifiers (mã định danh cơ quan, QĐ 20/2020/QĐ-TTg): ``V1V2V3.Z1Z2.Y1Y2.X``.

X is the level-1 code (``H56`` Thanh Hóa, ``G22`` Government Office), Y1Y2 level 2,
Z1Z2 level 3, V1V2V3 level 4; unused levels are zeros. Level-1 names live in
``organ_codes.json`` (data, not code).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Literal

from ._errors import FieldFormatError

_ORGAN_ID_RE = re.compile(r"([0-9]{3})\.([0-9]{2})\.([0-9]{2})\.([A-Za-z][0-9]{2})")
_LEVEL1_RE = re.compile(r"[A-Z][0-9]{2}")
# Width of each level's digits, from level 2 to level 4.
_WIDTHS = {2: 2, 3: 2, 4: 3}


@dataclass(frozen=True, order=True)
class OrganId:
    """A parsed agency identifier; ``str()`` gives the canonical ``000.00.00.H56`` text."""

    level1: str
    level2: str = "00"
    level3: str = "00"
    level4: str = "000"

    def __post_init__(self) -> None:
        if not _LEVEL1_RE.fullmatch(self.level1):
            raise FieldFormatError(
                "bad_organ_id", f"level-1 code {self.level1!r} is not a letter and two digits"
            )
        for level, value in ((2, self.level2), (3, self.level3), (4, self.level4)):
            if not (value.isascii() and value.isdigit() and len(value) == _WIDTHS[level]):
                raise FieldFormatError(
                    "bad_organ_id", f"level-{level} code {value!r} must be {_WIDTHS[level]} digits"
                )

    def __str__(self) -> str:
        return f"{self.level4}.{self.level3}.{self.level2}.{self.level1}"

    @property
    def tier(self) -> int:
        """How deep the agency sits: 1 (level-1 agency) to 4, by its deepest non-zero level."""
        if int(self.level4):
            return 4
        if int(self.level3):
            return 3
        if int(self.level2):
            return 2
        return 1

    @property
    def is_ministry(self) -> bool:
        """True for ministries and central bodies (level-1 code ``G..``)."""
        return self.level1.startswith("G")

    @property
    def is_province(self) -> bool:
        """True for provinces and their agencies (level-1 code ``H..``)."""
        return self.level1.startswith("H")

    @property
    def top(self) -> OrganId:
        """The level-1 agency this one belongs to (e.g. the province's People's Committee)."""
        return OrganId(self.level1)

    @property
    def parent(self) -> OrganId | None:
        """The agency one level up (deepest non-zero level cleared), None at tier 1."""
        tier = self.tier
        if tier == 4:
            return OrganId(self.level1, self.level2, self.level3)
        if tier == 3:
            return OrganId(self.level1, self.level2)
        if tier == 2:
            return OrganId(self.level1)
        return None

    def child(self, code: int | str) -> OrganId:
        """Return the agency one level below with this code (e.g. ``H56`` → ``000.00.05.H56``)."""
        level = self.tier + 1
        if level > 4:
            raise FieldFormatError("bad_organ_id", f"{self} is at level 4 and has no children")
        width = _WIDTHS[level]
        text = str(code).strip()
        if not (text.isascii() and text.isdigit()) or len(text) > width or int(text) == 0:
            raise FieldFormatError(
                "bad_organ_id", f"child code {code!r} must be 1 to {'9' * width}"
            )
        text = text.zfill(width)
        if level == 2:
            return OrganId(self.level1, text)
        if level == 3:
            return OrganId(self.level1, self.level2, text)
        return OrganId(self.level1, self.level2, self.level3, text)

    def is_within(self, other: OrganId) -> bool:
        """True when this agency is ``other`` or sits below it."""
        node: OrganId | None = self
        while node is not None:
            if node == other:
                return True
            node = node.parent
        return False

    @property
    def level1_name(self) -> str | None:
        """Name of the level-1 agency when known (e.g. "Thanh Hóa")."""
        info = level1_info(self.level1)
        return info.name if info else None


def parse_organ_id(text: str) -> OrganId:
    """Parse ``V1V2V3.Z1Z2.Y1Y2.X``; raise FieldFormatError ``bad_organ_id``."""
    match = _ORGAN_ID_RE.fullmatch(text.strip())
    if match is None:
        raise FieldFormatError(
            "bad_organ_id", f"{text!r} is not an agency code of the form 000.00.00.H56"
        )
    level4, level3, level2, level1 = match.groups()
    return OrganId(level1.upper(), level2, level3, level4)


def is_valid_organ_id(text: str) -> bool:
    """Tell whether ``text`` is a well-formed agency code."""
    try:
        parse_organ_id(text)
    except FieldFormatError:
        return False
    return True


@dataclass(frozen=True)
class Level1Info:
    """A level-1 code and its name; ``confirmed`` False marks codes inferred, not sourced."""

    code: str
    name: str
    kind: Literal["province", "central"]
    confirmed: bool


@cache
def level1_codes() -> Mapping[str, Level1Info]:
    """All known level-1 codes (provinces ``H..``, central bodies ``G..``), by code."""
    text = resources.files("edoc").joinpath("organ_codes.json").read_text("utf-8")
    entries = json.loads(text)["codes"]
    return MappingProxyType(
        {
            entry["code"]: Level1Info(
                code=entry["code"],
                name=entry["name"],
                kind=entry["kind"],
                confirmed=bool(entry["confirmed"]),
            )
            for entry in entries
        }
    )


def level1_info(code: str) -> Level1Info | None:
    """Look up a level-1 code such as ``H56``."""
    return level1_codes().get(code.strip().upper())
