"""One hub's configuration: command line, then ``LGSP_*`` environment, then defaults.

``DATABASE_URL`` (no prefix, as docker-compose and twelve-factor tools expect) selects
PostgreSQL; without it each hub keeps a SQLite file under ``DIR/hubs/<hub_id>.db``. The
secret that signs bearer tokens and encrypts stored DMS secrets is ``LGSP_TOKEN_SECRET``, or
else generated once per hub and kept in ``DIR/hubs/<hub_id>.token-key`` (mode 0600) so
that replicas sharing the data directory and restarts keep accepting issued tokens.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Final

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB: Final = 1024 * 1024
_HUB_ID: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")


class HubRole(StrEnum):
    """What a hub is: a provincial axis or the national one."""

    LGSP = "lgsp"
    NDXP = "ndxp"


class HubSettings(BaseSettings):
    """Everything one hub process needs to start; validated once, at start."""

    model_config = SettingsConfigDict(
        env_prefix="LGSP_", extra="ignore", validate_by_name=True, frozen=True
    )

    hub_id: str = Field(description="this hub's id, e.g. lgsp-h56 or ndxp")
    role: HubRole = Field(default=HubRole.LGSP, description="lgsp (a province) or ndxp")
    data_dir: Path = Field(default=Path(".lgsp-data"), description="the shared data directory")
    topology: str | None = Field(
        default=None, description="topology preset or file; default: DIR/sim.json's"
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("database_url", "DATABASE_URL", "LGSP_DATABASE_URL"),
        description="sqlite:///... or postgresql://...; default sqlite:///DIR/hubs/<hub_id>.db",
    )
    database_schema: str | None = Field(
        default=None, description="PostgreSQL schema holding this hub's tables"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_body_bytes: int = Field(default=20 * MIB, gt=0, description="largest package accepted")
    outbox_retry_base: float = Field(default=0.5, gt=0, description="first backoff, seconds")
    outbox_retry_cap: float = Field(default=60.0, gt=0, description="longest backoff, seconds")
    outbox_max_attempts: int = Field(default=8, ge=1, description="failures before dead")
    outbox_concurrency: int = Field(default=16, ge=1, description="deliveries in flight")
    poll_interval: float = Field(default=1.0, gt=0, description="outbox poll, seconds")
    forward_timeout: float = Field(default=30.0, gt=0, description="hub-to-hub HTTP timeout")
    strict: bool = Field(default=False, description="refuse legacy SHA-1 envelope signatures")
    token_secret: SecretStr | None = Field(
        default=None, description="signs tokens; default: DIR/hubs/<hub_id>.token-key"
    )
    token_ttl: int = Field(default=3600, gt=0, description="bearer token lifetime, seconds")
    hub_clock_skew: float = Field(
        default=300.0, gt=0, description="accepted age of a hub request's timestamp, seconds"
    )
    # The SDK-compatible front (lgsp/sdk, docs/sdk-errors.md).
    sdk_prefix: str = Field(
        default="",
        pattern=r"^(/[A-Za-z0-9._~-]+)*$",
        description="path prefix of the SDK calls; default: the hub's root (/sendEdoc, ...)",
    )
    sdk_strict: bool = Field(
        default=False, description="refuse stale SDK timestamps and replayed SDK requests"
    )
    sdk_window: float = Field(
        default=300.0, gt=0, description="SDK timestamp freshness and replay window, seconds"
    )
    sdk_utc_offset_minutes: int = Field(
        default=420, ge=-720, le=840, description="zone of SDK client timestamps (Vietnam: 420)"
    )
    # Statistics (lgsp/stats): off also stops the signature assessment process.
    stats: bool = Field(
        default=True, description="keep statistics and assess signatures (a low-priority process)"
    )

    @field_validator("hub_id")
    @classmethod
    def _check_hub_id(cls, value: str) -> str:
        if not _HUB_ID.fullmatch(value):
            raise ValueError(
                f"hub id {value!r} must be lower-case letters, digits, '.', '_' or '-'"
            )
        return value

    @field_validator("sdk_prefix", mode="before")
    @classmethod
    def _strip_prefix(cls, value: object) -> object:
        # "/" and "/vxp/" mean the root and /vxp: routes are mounted without a trailing slash.
        return value.rstrip("/") if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_backoff(self) -> HubSettings:
        if self.outbox_retry_cap < self.outbox_retry_base:
            raise ValueError("outbox_retry_cap must be at least outbox_retry_base")
        return self

    @property
    def hubs_dir(self) -> Path:
        """``DIR/hubs``: per-hub databases and token keys."""
        return self.data_dir / "hubs"

    @property
    def keys_dir(self) -> Path:
        """``DIR/keys``: the key store."""
        return self.data_dir / "keys"

    def resolved_database_url(self) -> str:
        """The database URL: ``DATABASE_URL`` or this hub's SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.hubs_dir / f'{self.hub_id}.db').resolve()}"

    def resolved_token_secret(self) -> bytes:
        """The hub secret: the configured one, or the per-hub key file (created once)."""
        if self.token_secret is not None:
            return self.token_secret.get_secret_value().encode()
        path = self.hubs_dir / f"{self.hub_id}.token-key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written aside, then linked into place: link fails if the name exists, so of
            # replicas starting together exactly one key wins and nobody reads a half-written
            # file. 0600 because whoever reads it can mint tokens.
            draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(descriptor, "w") as handle:
                    handle.write(secrets.token_urlsafe(32))
                with contextlib.suppress(FileExistsError):
                    os.link(draft, path)
            finally:
                draft.unlink(missing_ok=True)
        secret = path.read_text().strip()
        if not secret:
            raise ValueError(f"the token key file {path} is empty; delete it to get a new one")
        return secret.encode()
