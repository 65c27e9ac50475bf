"""A fleet's settings: command line first, then ``FLEET_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FleetSettings(BaseSettings):
    """Settings of one fleet process (``python -m agencies serve``)."""

    model_config = SettingsConfigDict(env_prefix="FLEET_", extra="ignore")

    # FLEET_ID reads better than FLEET_FLEET_ID; both are accepted.
    fleet_id: str = Field(
        min_length=1, validation_alias=AliasChoices("fleet_id", "FLEET_ID", "FLEET_FLEET_ID")
    )
    data: Path = Path(".lgsp-data")
    host: str = "127.0.0.1"
    port: int = Field(default=8100, ge=0, le=65535)
    profile: str = "demo"
    """A shipped profile name (``demo``, ``realistic``) or the path of a profile JSON file."""
    hub_url: str | None = None
    """The hub's base URL; by default it is read from ``DIR/services.json``."""
    protocol: Literal["sdk", "native"] = "sdk"
    """How the fleet talks to its hub: the national SDK's VXP protocol or the native REST API."""
    hub_timeout: float = Field(default=30.0, gt=0)
    workers: int = Field(default=2, ge=1, le=64)
    """Threads for signing and verifying (CPU-bound, ~20-40 ms a PAdES operation)."""
    max_in_flight: int = Field(default=64, ge=1)
    """Inbox items handled at once; the rest waits in the hub for the next poll."""
    max_sending: int = Field(default=32, ge=1)
    """Status packages being drafted and submitted at once."""
    history: int = Field(default=10_000, ge=1)
    """Sent and received documents remembered (each; the oldest are forgotten first)."""
    log_level: str = "info"
