"""Behaviour profiles: how fast a fleet's clerks poll, answer and process, as data.

A profile is JSON (shipped presets: ``demo``, ``realistic`` in ``agencies/profiles/``; or
any file of the same shape)::

    {
      "name": "demo",
      "poll_interval": 0.2,                       seconds between inbox polls
      "steps": [{"code": "01", "after": 0},       statuses sent for an accepted document,
                {"code": "03", "after": 0.2},     each ``after`` seconds after the previous
                {"code": "06", "after": 0.5, "jitter": 0.1}],   (± jitter, a fraction)
      "rejection_rate": 0.0,                      share of documents answered 01 then 02
      "offline_rate": {"commune": 0.1, "*": 0.0}, share processed off the system, by the
                                                  recipient's tier: 01 and 03 only, no 04-06
      "rejection_delay": 0.2,                     seconds between that 01 and the 02
      "reject_unverified": true,                  02 at once when the envelope does not verify
      "processing": {                             optional: when the last step comes,
        "distribution": "triangular",             drawn against the document's DueDate
        "low": 0.2, "mode": 0.7, "high": 1.3,     fractions of the time until the DueDate
        "seconds_per_day": 86400,                 real seconds one day of processing takes
        "default_due_days": 10                    when the document has no DueDate
      },
      "seed": null                                a fixed seed makes the draws repeatable
    }
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import random
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

import edoc
from edoc import StatusCode

_PRESETS = ("demo", "realistic")
# What a recipient may answer with; 02 is the rejection path, never a step.
_STEP_CODES = frozenset(
    {
        StatusCode.ARRIVED,
        StatusCode.ACCEPTED,
        StatusCode.ASSIGNED,
        StatusCode.PROCESSING,
        StatusCode.COMPLETED,
    }
)


# What an agency processing a document off the system still answers through it.
_REGISTERED = frozenset({StatusCode.ARRIVED, StatusCode.ACCEPTED})


class ProfileError(Exception):
    """A profile that cannot be loaded: a stable ``code`` and a clear ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class StatusStep(BaseModel):
    """One status of the answer sequence and its delay after the previous one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: StatusCode
    after: float = Field(default=0.0, ge=0)
    jitter: float = Field(default=0.0, ge=0, le=1)

    @field_validator("code", mode="before")
    @classmethod
    def _known_step(cls, value: object) -> StatusCode:
        try:
            code = StatusCode.parse(str(value))
        except edoc.EdocError as exc:
            raise ValueError(exc.message) from None
        if code not in _STEP_CODES:
            allowed = ", ".join(sorted(c.value for c in _STEP_CODES))
            raise ValueError(f"status {code.value} cannot be a step (allowed: {allowed})")
        return code


class Processing(BaseModel):
    """When the last step comes, as a fraction of the time between receipt and the DueDate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    distribution: Literal["fixed", "uniform", "triangular", "lognormal"] = "triangular"
    low: float = Field(default=0.2, ge=0)
    mode: float = Field(default=0.7, gt=0)
    high: float = Field(default=1.3, gt=0)
    sigma: float = Field(default=0.5, gt=0)  # lognormal: spread around ``mode`` (the median)
    seconds_per_day: float = Field(default=86_400.0, gt=0)
    default_due_days: float = Field(default=10.0, gt=0)

    def draw_fraction(self, rng: random.Random) -> float:
        """A fraction of the time until the DueDate (1.0: done on the due date, more: late)."""
        if self.distribution == "fixed":
            return self.mode
        if self.distribution == "uniform":
            return rng.uniform(self.low, self.high)
        if self.distribution == "triangular":
            return rng.triangular(self.low, self.high, min(max(self.mode, self.low), self.high))
        return min(max(rng.lognormvariate(math.log(self.mode), self.sigma), self.low), self.high)


class Profile(BaseModel):
    """A fleet's behaviour: polling, the statuses it answers with, delays, rejections."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "custom"
    description: str = ""
    poll_interval: float = Field(default=0.2, gt=0)
    steps: tuple[StatusStep, ...] = (
        StatusStep(code=StatusCode.ARRIVED),
        StatusStep(code=StatusCode.ACCEPTED, after=0.2),
        StatusStep(code=StatusCode.ASSIGNED, after=0.2),
        StatusStep(code=StatusCode.PROCESSING, after=0.2),
        StatusStep(code=StatusCode.COMPLETED, after=0.5),
    )
    rejection_rate: float = Field(default=0.0, ge=0, le=1)
    offline_rate: dict[str, float] = Field(default_factory=dict)
    rejection_delay: float = Field(default=0.2, ge=0)
    reject_unverified: bool = True
    processing: Processing | None = None
    seed: int | None = None

    @field_validator("offline_rate")
    @classmethod
    def _rates(cls, value: dict[str, float]) -> dict[str, float]:
        for tier, rate in value.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"offline_rate of {tier!r} must be between 0 and 1")
        return value

    def rng(self) -> random.Random:
        """A random generator for this profile's draws (seeded when ``seed`` is set)."""
        return random.Random(self.seed)  # noqa: S311 - simulation draws, not secrets

    def plan(
        self,
        *,
        rng: random.Random,
        received_at: _dt.datetime,
        due_date: _dt.date | None,
        verified: bool,
        tier: str | None = None,
    ) -> list[tuple[float, StatusCode]]:
        """The statuses to answer a document with: (seconds after receipt, code), in order."""
        if not verified and self.reject_unverified:
            return [(0.0, StatusCode.REJECTED)]
        if self.rejection_rate > 0 and rng.random() < self.rejection_rate:
            return [(0.0, StatusCode.ARRIVED), (self.rejection_delay, StatusCode.REJECTED)]
        plan: list[tuple[float, StatusCode]] = []
        offset = 0.0
        for index, step in enumerate(self.steps):
            delay = step.after
            if step.jitter:
                delay *= 1 + rng.uniform(-step.jitter, step.jitter)
            offset += max(delay, 0.0)
            if self.processing is not None and index == len(self.steps) - 1 and index > 0:
                # The last step is the end of processing: drawn against the DueDate, but never
                # before the step in front of it.
                completion = _completion(self.processing, rng, received_at, due_date)
                offset = max(offset - delay, completion)
            plan.append((offset, step.code))
        offline = self.offline_rate.get(tier or "", self.offline_rate.get("*", 0.0))
        if offline > 0 and rng.random() < offline:
            # Registered in the system, then handled on paper: nothing past 03 comes back.
            plan = [(at, code) for at, code in plan if code in _REGISTERED]
        return plan


def _completion(
    processing: Processing,
    rng: random.Random,
    received_at: _dt.datetime,
    due_date: _dt.date | None,
) -> float:
    """Seconds from receipt to the end of processing, drawn against the DueDate."""
    if due_date is not None:
        days = max((edoc.due_end(due_date) - received_at).total_seconds() / 86_400, 0.0)
    else:
        days = processing.default_due_days
    return processing.draw_fraction(rng) * days * processing.seconds_per_day


def preset_names() -> tuple[str, ...]:
    """The names of the shipped profiles."""
    return _PRESETS


def load_profile(source: str | Path | None = None) -> Profile:
    """Load a shipped profile by name (default ``demo``) or a profile JSON file by path."""
    if source is None:
        source = "demo"
    text_source = str(source)
    if text_source in _PRESETS:
        text = (
            resources.files("agencies")
            .joinpath(f"profiles/{text_source}.json")
            .read_text(encoding="utf-8")
        )
        where = f"preset {text_source!r}"
    else:
        path = Path(text_source)
        if not path.is_file():
            names = ", ".join(_PRESETS)
            raise ProfileError(
                "unknown_profile",
                f"{text_source!r} is neither a profile file nor a preset ({names})",
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError("profile_unreadable", f"cannot read {path}: {exc}") from None
        where = str(path)
    return parse_profile(text, where=where)


def parse_profile(text: str, *, where: str = "profile") -> Profile:
    """Read a profile from its JSON text; ProfileError ``bad_profile`` says what is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError("bad_profile", f"{where}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ProfileError("bad_profile", f"{where}: a profile is a JSON object")
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(profile)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ProfileError("bad_profile", f"{where}: {problems}") from None
