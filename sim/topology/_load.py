"""Load a topology from a shipped preset or a user's JSON / TOML file, and check it."""

from __future__ import annotations

import functools
import json
import os
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from ._expand import expand_spec
from ._model import Topology, TopologyError
from ._validate import find_problems

DEFAULT_PRESET = "three-tier-2023"
_PRESET_DIR = "presets"
_SUFFIXES = (".json", ".toml")
_MAX_LISTED = 5


@functools.cache
def preset_names() -> tuple[str, ...]:
    """The names of the shipped presets, sorted."""
    root = resources.files(__package__).joinpath(_PRESET_DIR)
    return tuple(
        sorted(p.name[: -len(".json")] for p in root.iterdir() if p.name.endswith(".json"))
    )


def load_topology(name_or_path: str | os.PathLike[str] = DEFAULT_PRESET) -> Topology:
    """Load a preset by name or a topology file by path, expanded and checked."""
    text = os.fspath(name_or_path)
    if text in preset_names():
        return _load_preset(text)
    path = Path(text)
    if path.is_file():
        return _load_file(path)
    if path.suffix in _SUFFIXES or os.sep in text or "/" in text:
        raise TopologyError("file_not_found", f"no topology file at {text!r}")
    raise TopologyError(
        "unknown_preset",
        f"{text!r} is neither a preset ({', '.join(preset_names())}) nor a topology file "
        "(.json or .toml)",
    )


def expand_topology(spec: Mapping[str, object], *, name: str = "custom") -> Topology:
    """Expand an in-memory description (the file format, already parsed) and check it."""
    topology = expand_spec(spec, default_name=name)
    problems = find_problems(topology)
    if problems:
        listed = "; ".join(p.message for p in problems[:_MAX_LISTED])
        more = f" (and {len(problems) - _MAX_LISTED} more)" if len(problems) > _MAX_LISTED else ""
        raise TopologyError(
            problems[0].code,
            f"topology {topology.name!r} has {len(problems)} problem(s): {listed}{more}",
        )
    return topology


@functools.cache
def _load_preset(name: str) -> Topology:
    # Topologies are immutable, so every caller can share one expansion of a preset.
    resource = resources.files(__package__).joinpath(_PRESET_DIR, f"{name}.json")
    return _from_text(resource.read_text(encoding="utf-8"), ".json", f"preset {name}", name)


def _load_file(path: Path) -> Topology:
    if path.suffix not in _SUFFIXES:
        raise TopologyError(
            "unsupported_format",
            f"{path}: topology files are .json or .toml, not {path.suffix or 'suffix-less'}",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TopologyError("unreadable_file", f"cannot read {path}: {exc}") from None
    return _from_text(text, path.suffix, str(path), path.stem)


def _from_text(text: str, suffix: str, source: str, default_name: str) -> Topology:
    data: object
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        else:
            data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise TopologyError("bad_syntax", f"{source}: invalid JSON at {where}: {exc.msg}") from None
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise TopologyError("bad_syntax", f"{source}: {exc}") from None
    if not isinstance(data, Mapping):
        raise TopologyError("bad_schema", f"{source}: the top level must be an object")
    try:
        return expand_topology(data, name=default_name)
    except TopologyError as exc:
        raise TopologyError(exc.code, f"{source}: {exc.message}") from None


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # json.loads silently keeps the last of duplicated keys; in a hand-written file that is
    # almost always a mistake worth reporting.
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r} in one object")
        result[key] = value
    return result
