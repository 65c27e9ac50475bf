"""Authenticating SDK calls: the signed headers, the HMAC, then freshness and replays.

The SDK sets its timestamp once per service object and reuses it for every call, so two polls
are byte-identical: by default a stale timestamp or a replayed request (same HMAC within the
window) is only counted and logged as a warning. ``LGSP_SDK_STRICT`` refuses both, for
security tests. Duplicate documents are caught by intake (DocumentId), not here.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from lgsp.auth import System
from lgsp.auth.systems import SystemRegistry
from simtime import Clock

from . import protocol
from .errors import ErrorCode, SdkError
from .hosting import Hosting

log = logging.getLogger(__name__)

_MAX_REMEMBERED: Final = 200_000  # HMACs kept for replay detection (oldest dropped first)
_WARN_EVERY: Final = 60.0  # seconds between two warnings of one kind for one system
_LOOKUP_EVERY: Final = 0.5  # seconds between two reloads asked for by unknown systemids


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated SDK call: the system and its signed parameters."""

    system: System
    request: protocol.SignedRequest

    @property
    def system_id(self) -> str:
        """The calling system."""
        return self.system.system_id


class Guard:
    """Checks each call's signature; counts (or, strict, refuses) stale and replayed ones."""

    def __init__(
        self,
        *,
        hosting: Hosting,
        registry: SystemRegistry,
        clock: Clock,
        strict: bool,
        window: float,
        utc_offset_minutes: int,
    ) -> None:
        self.hosting = hosting
        self.registry = registry
        self.clock = clock
        self.strict = strict
        self.window = window
        self.utc_offset_minutes = utc_offset_minutes
        self.warnings: Counter[str] = Counter()
        self._seen: OrderedDict[str, datetime] = OrderedDict()
        self._warned: dict[tuple[str, str], float] = {}
        self._last_lookup = 0.0

    async def authenticate(self, raw_headers: Iterable[tuple[bytes, bytes]]) -> Caller:
        """The authenticated caller, or SdkError (1xx)."""
        request = protocol.read_signed_request(raw_headers)
        system_id = request.system_id
        secret = self.hosting.secret_of(system_id)
        if secret is None and time.monotonic() - self._last_lookup > _LOOKUP_EVERY:
            # Perhaps added a moment ago (`lgsp-sim systems add`): look before refusing.
            self._last_lookup = time.monotonic()
            await self.hosting.refresh()
            secret = self.hosting.secret_of(system_id)
        system = self.registry.get(system_id)
        if secret is None or system is None:
            raise SdkError(
                ErrorCode.UNKNOWN_SYSTEM,
                "unknown_system",
                f"systemid {system_id!r} is not a DMS system of this hub",
            )
        if not protocol.signature_matches(request, secret):
            raise SdkError(
                ErrorCode.BAD_SIGNATURE,
                "bad_signature",
                "XroadVnpt-hash-header is not the HMAC-SHA256 of XroadVnpt-sign-header under "
                f"the secret of {system_id!r}",
            )
        self._check_fresh(request)
        self._check_replay(request)
        return Caller(system=system, request=request)

    def _check_fresh(self, request: protocol.SignedRequest) -> None:
        age = protocol.timestamp_age(
            request.timestamp, now=self.clock.now(), utc_offset_minutes=self.utc_offset_minutes
        )
        if abs(age) <= self.window:
            return
        where = "old" if age > 0 else "in the future"
        message = (
            f"timestamp {request.timestamp} is {abs(age):.0f} s {where} (window "
            f"{self.window:.0f} s, client zone UTC{self.utc_offset_minutes / 60:+g})"
        )
        if self.strict:
            raise SdkError(ErrorCode.STALE_TIMESTAMP, "stale_timestamp", message)
        self._warn("stale_timestamp", request.system_id, message)

    def _check_replay(self, request: protocol.SignedRequest) -> None:
        now = self.clock.now()
        horizon = now - timedelta(seconds=self.window)
        seen = self._seen
        while seen and (next(iter(seen.values())) < horizon or len(seen) > _MAX_REMEMBERED):
            seen.popitem(last=False)
        first = seen.get(request.hash_header)
        if first is None or first < horizon:
            seen[request.hash_header] = now
            seen.move_to_end(request.hash_header)
            return
        message = f"the same signed request came {(now - first).total_seconds():.0f} s ago"
        if self.strict:
            raise SdkError(ErrorCode.REPLAYED_REQUEST, "replayed_request", message)
        self._warn("replayed_request", request.system_id, message)

    def _warn(self, kind: str, system_id: str, message: str) -> None:
        self.warnings[kind] += 1
        # The SDK repeats its timestamp on every call: one line a minute per system is enough.
        key = (kind, system_id)
        now = time.monotonic()
        if now - self._warned.get(key, -_WARN_EVERY) >= _WARN_EVERY:
            self._warned[key] = now
            log.warning(
                "SDK %s from %s (accepted, not strict; %d so far): %s",
                kind,
                system_id,
                self.warnings[kind],
                message,
            )
