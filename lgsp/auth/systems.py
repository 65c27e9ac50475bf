"""DMS systems: loaded from ``systems.json`` into the database (secrets encrypted), cached.

``systems.json`` (written by the orchestrator, mode 0600) is the source of truth: at start a
hub upserts the entries of its hub id and drops the systems of its hub id no longer listed.
The request path never touches the file or the table: :class:`SystemRegistry` keeps each
system's agencies and a keyed digest of its secret in memory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .errors import AuthError
from .models import DmsSystem

log = logging.getLogger(__name__)


def derive_key(secret: bytes, *, purpose: str, hub_id: str) -> bytes:
    """Derive a 32-byte key for one purpose from the hub secret (HKDF-SHA256)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"lgsp/{purpose}/{hub_id}".encode()
    ).derive(secret)


def secret_cipher(secret: bytes, *, hub_id: str) -> Fernet:
    """The Fernet cipher that encrypts this hub's stored DMS secrets."""
    key = derive_key(secret, purpose="systems", hub_id=hub_id)
    return Fernet(base64.urlsafe_b64encode(key))


@dataclass(frozen=True, slots=True)
class SystemEntry:
    """One entry of ``systems.json``."""

    system_id: str
    secret: str
    hub_id: str
    agencies: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class System:
    """An authenticated DMS system: what it may speak for."""

    system_id: str
    agencies: frozenset[str]

    def hosts(self, organ_id: str) -> bool:
        """Whether this system speaks for agency ``organ_id``."""
        return organ_id in self.agencies


def read_systems_file(
    path: Path, *, hub_id: str, cipher: Fernet | None = None
) -> list[SystemEntry] | None:
    """The entries of ``path`` for ``hub_id``; None when the file does not exist.

    An entry may hold ``secret_encrypted`` (a Fernet token under ``cipher``, as written by
    ``lgsp-sim systems add``) instead of a plain ``secret``; one that does not decrypt is
    skipped with an error in the log (the key changed), not fatal.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(raw, list):
        raise ValueError(f"{path} must hold a JSON array of systems")
    entries: list[SystemEntry] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValueError(f"{path}[{index}] is not an object")
        if item.get("hub_id") != hub_id:
            continue
        system_id, secret, agencies = (
            item.get("system_id"),
            item.get("secret"),
            item.get("agencies"),
        )
        if not isinstance(system_id, str) or not system_id:
            raise ValueError(f"{path}[{index}] has no system_id")
        encrypted = item.get("secret_encrypted")
        if secret is None and isinstance(encrypted, str) and encrypted and cipher is not None:
            try:
                secret = cipher.decrypt(encrypted.encode()).decode()
            except (InvalidToken, ValueError):
                log.error(
                    "%s: the secret of system %s does not decrypt with the key of %s; skipped",
                    path,
                    system_id,
                    hub_id,
                )
                continue
        if not isinstance(secret, str) or not secret:
            raise ValueError(f"{path}[{index}] ({system_id}) has no secret")
        if not isinstance(agencies, list) or not all(isinstance(a, str) for a in agencies):
            raise ValueError(f"{path}[{index}] ({system_id}) needs agencies: a list of OrganIds")
        entries.append(
            SystemEntry(system_id=system_id, secret=secret, hub_id=hub_id, agencies=tuple(agencies))
        )
    return entries


async def sync_systems(
    session: AsyncSession,
    entries: Sequence[SystemEntry],
    *,
    hub_id: str,
    cipher: Fernet,
    now: datetime,
) -> None:
    """Make the stored systems of ``hub_id`` exactly ``entries``; the caller commits."""
    wanted = {entry.system_id: entry for entry in entries}
    stored = {
        system.system_id: system
        for system in await session.exec(
            select(DmsSystem).where(col(DmsSystem.system_id).in_(list(wanted)))
        )
    }
    for entry in entries:
        system = stored.get(entry.system_id)
        if system is not None and system.hub_id != hub_id:
            raise ValueError(
                f"system {entry.system_id!r} is registered with hub {system.hub_id!r} in this "
                "database; one system serves one hub"
            )
        if system is None:
            system = DmsSystem(
                system_id=entry.system_id,
                hub_id=hub_id,
                secret_encrypted="",
                agencies=[],
                updated_at=now,
            )
            session.add(system)
        elif _decrypt(cipher, system) == entry.secret and system.agencies == list(entry.agencies):
            continue  # unchanged: no write, so replicas starting together do not contend
        system.secret_encrypted = cipher.encrypt(entry.secret.encode()).decode()
        system.agencies = list(entry.agencies)
        system.updated_at = now
    await session.exec(
        delete(DmsSystem).where(
            col(DmsSystem.hub_id) == hub_id, col(DmsSystem.system_id).not_in(list(wanted))
        )
    )


def _decrypt(cipher: Fernet, system: DmsSystem) -> str | None:
    try:
        return cipher.decrypt(system.secret_encrypted.encode()).decode()
    except (InvalidToken, ValueError):
        return None


class SystemRegistry:
    """The systems of one hub, in memory: checks client credentials without I/O."""

    def __init__(self, *, hub_id: str, key: bytes) -> None:
        self.hub_id = hub_id
        self._key = key  # keys the in-memory secret digests
        self._systems: dict[str, System] = {}
        self._digests: dict[str, bytes] = {}

    def __len__(self) -> int:
        return len(self._systems)

    def get(self, system_id: str) -> System | None:
        """The system ``system_id``, if this hub serves it."""
        return self._systems.get(system_id)

    async def load(
        self, session: AsyncSession, *, cipher: Fernet, local_agencies: Iterable[str]
    ) -> None:
        """Replace the cache with the stored systems of this hub (secrets decrypted once)."""
        local = frozenset(local_agencies)
        systems: dict[str, System] = {}
        digests: dict[str, bytes] = {}
        rows = await session.exec(select(DmsSystem).where(DmsSystem.hub_id == self.hub_id))
        for row in rows:
            secret = _decrypt(cipher, row)
            if secret is None:
                log.error(
                    "system %s: its stored secret does not decrypt with this hub's key "
                    "(the token key changed?); it cannot log in until systems.json is "
                    "loaded again",
                    row.system_id,
                )
                continue
            foreign = sorted(set(row.agencies) - local)
            if foreign:
                # A system may speak only for agencies attached to this hub.
                log.warning(
                    "system %s lists %d agencies not attached to %s (e.g. %s); ignored",
                    row.system_id,
                    len(foreign),
                    self.hub_id,
                    foreign[0],
                )
            systems[row.system_id] = System(
                system_id=row.system_id, agencies=frozenset(row.agencies) & local
            )
            digests[row.system_id] = self._digest(secret)
        self._systems, self._digests = systems, digests

    def grant(self, system_id: str, organ_ids: Iterable[str]) -> None:
        """Let a loaded system speak for more agencies (registered at run time)."""
        system = self._systems.get(system_id)
        if system is not None:
            agencies = system.agencies | frozenset(organ_ids)
            self._systems[system_id] = System(system_id=system_id, agencies=agencies)

    def revoke(self, system_id: str, organ_ids: Iterable[str]) -> None:
        """Stop a loaded system from speaking for these agencies."""
        system = self._systems.get(system_id)
        if system is not None:
            agencies = system.agencies - frozenset(organ_ids)
            self._systems[system_id] = System(system_id=system_id, agencies=agencies)

    def authenticate(self, system_id: str, secret: str) -> System:
        """Return the system if ``secret`` is its secret; AuthError ``invalid_client`` if not."""
        expected = self._digests.get(system_id)
        # Compare a digest even for unknown ids, so timing does not tell which ids exist.
        given = self._digest(secret)
        if expected is None or not hmac.compare_digest(expected, given):
            raise AuthError(
                "invalid_client", "unknown client_id or wrong client_secret", http_status=401
            )
        return self._systems[system_id]

    def _digest(self, secret: str) -> bytes:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).digest()
