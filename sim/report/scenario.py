"""Calibrated scenarios: what a province reported, and the traffic that should reproduce it.

A scenario is a JSON file (shipped in ``sim/scenarios/``, or any path): the year and its
volume, the tier mix of writers, the signing probabilities the fleets apply, the fleets'
behaviour profile, a default scale and how many real seconds the simulated year takes (the
clock rate follows). The reported figures sit beside it, to be compared with what the hubs
measure; a probability is an input of the traffic, never a measured figure.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sim.errors import SimError

YEAR_SECONDS = 365 * 86_400


class ScenarioError(SimError):
    """A scenario that cannot be loaded: a stable code and a clear message."""


class Focus(BaseModel):
    """A unit the figures are about (a city): its agencies write out or receive from outside."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: str  # OrganId of the unit's People's Committee; its bodies and communes belong to it
    outgoing_share: float = Field(ge=0, le=1)


class Due(BaseModel):
    """How often a document carries a DueDate, and how far away."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    share: float = Field(default=0.6, ge=0, le=1)
    low_days: int = Field(default=3, ge=0)
    high_days: int = Field(default=20, ge=0)


class Scenario(BaseModel):
    """One calibrated scenario (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    source: str = ""
    topology: str = "three-tier-2023"
    province: str
    year: int = Field(ge=2000, le=2100)
    documents_per_year: int = Field(gt=0)
    volume_note: str = ""
    focus: Focus | None = None
    scale: float = Field(gt=0, le=1)
    duration_seconds: float = Field(default=90.0, gt=0)
    tier_mix: dict[str, float]
    pool: dict[str, int]
    external_share: float = Field(default=0.0, ge=0, le=1)
    recipients: dict[str, float] = Field(default_factory=lambda: {"1": 1.0})
    types: dict[str, float] = Field(default_factory=lambda: {"Công văn": 1.0})
    due: Due = Field(default_factory=Due)
    personal_signing_probability: float = Field(ge=0, le=1)
    agency_signing_probability: float = Field(ge=0, le=1)
    monthly_weights: list[float] = Field(default_factory=lambda: [1.0] * 12)
    profile: dict[str, Any]
    reported: dict[str, float]
    reported_notes: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    @field_validator("monthly_weights")
    @classmethod
    def _twelve(cls, value: list[float]) -> list[float]:
        if len(value) != 12 or any(w < 0 for w in value) or not sum(value) > 0:
            raise ValueError("monthly_weights needs twelve non-negative weights")
        return value

    @field_validator("tier_mix", "recipients", "types")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        if not value or any(w < 0 for w in value.values()) or not sum(value.values()) > 0:
            raise ValueError("weights must be non-negative and not all zero")
        return value

    def documents(self, scale: float | None = None) -> int:
        """Documents a run sends at ``scale`` (default: the scenario's), at least one."""
        return max(1, round(self.documents_per_year * (scale or self.scale)))

    def rate(self, duration: float | None = None) -> float:
        """The clock rate that makes the simulated year last ``duration`` real seconds."""
        return YEAR_SECONDS / (duration or self.duration_seconds)


def scenario_names() -> list[str]:
    """The shipped scenarios."""
    folder = resources.files("sim.scenarios")
    return sorted(
        p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")
    )


def load_scenario(name_or_path: str) -> Scenario:
    """A shipped scenario by name, or a scenario file by path (ScenarioError if wrong)."""
    path = Path(name_or_path)
    if path.suffix == ".json" or path.exists():
        if not path.is_file():
            raise ScenarioError("unknown_scenario", f"no scenario file {path}")
        text = path.read_text(encoding="utf-8")
        where = str(path)
    else:
        if name_or_path not in scenario_names():
            known = ", ".join(scenario_names())
            raise ScenarioError(
                "unknown_scenario", f"{name_or_path!r} is neither a file nor a scenario ({known})"
            )
        text = resources.files("sim.scenarios").joinpath(f"{name_or_path}.json").read_text("utf-8")
        where = f"scenario {name_or_path!r}"
    return parse_scenario(text, where=where)


def parse_scenario(text: str, *, where: str = "scenario") -> Scenario:
    """Read a scenario from JSON text; ScenarioError ``bad_scenario`` says what is wrong."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError("bad_scenario", f"{where}: not JSON ({exc})") from None
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(scenario)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ScenarioError("bad_scenario", f"{where}: {problems}") from None
