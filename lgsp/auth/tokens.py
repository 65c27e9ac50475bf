"""Bearer tokens: HMAC-signed, expiring, bound to the hub that issued them.

A token is ``v1.<payload>.<mac>``: base64url of the JSON ``{"sub", "hub", "iat", "exp"}``
and of its HMAC-SHA256 under a key derived from the hub secret. Nothing is stored: any
replica holding the same secret verifies it. Verified tokens are cached until they expire,
so the request path pays the MAC once per token, not once per call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Final

from simtime import Clock

from .errors import AuthError

_PREFIX: Final = "v1"
_CACHE_LIMIT: Final = 10_000


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A fresh access token and its lifetime in seconds."""

    access_token: str
    expires_in: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenService:
    """Issues and verifies this hub's bearer tokens against the hub clock."""

    def __init__(self, *, key: bytes, hub_id: str, ttl: int, clock: Clock) -> None:
        self._key = key
        self.hub_id = hub_id
        self.ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}

    def issue(self, system_id: str) -> IssuedToken:
        """Issue a token for ``system_id`` valid ``ttl`` seconds from now."""
        now = int(self._clock.now().timestamp())
        payload = json.dumps(
            {"sub": system_id, "hub": self.hub_id, "iat": now, "exp": now + self.ttl},
            separators=(",", ":"),
        ).encode()
        body = f"{_PREFIX}.{_b64(payload)}"
        mac = hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()
        return IssuedToken(access_token=f"{body}.{_b64(mac)}", expires_in=self.ttl)

    def verify(self, token: str) -> str:
        """Return the system id a valid token was issued to; AuthError otherwise."""
        now = self._clock.now().timestamp()
        cached = self._cache.get(token)
        if cached is not None:
            system_id, expires = cached
            if now < expires:
                return system_id
            del self._cache[token]
            raise AuthError("token_expired", "the access token has expired; ask for a new one")
        system_id, expires = self._check(token)
        if now >= expires:
            raise AuthError("token_expired", "the access token has expired; ask for a new one")
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()  # crude but bounded; the next calls re-verify
        self._cache[token] = (system_id, expires)
        return system_id

    def _check(self, token: str) -> tuple[str, float]:
        invalid = AuthError("invalid_token", "the access token is not one this hub issued")
        parts = token.split(".")
        # Unpadded base64url only: one token, one spelling (no "=" variants of the same MAC).
        if len(parts) != 3 or parts[0] != _PREFIX or "=" in token:
            raise invalid
        body = f"{parts[0]}.{parts[1]}"
        try:
            mac = _unb64(parts[2])
            expected = hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise invalid from None
        if not hmac.compare_digest(mac, expected):
            raise invalid
        try:
            claims = json.loads(_unb64(parts[1]))
            system_id, hub, expires = claims["sub"], claims["hub"], claims["exp"]
        except (binascii.Error, ValueError, KeyError, TypeError):
            raise invalid from None
        if hub != self.hub_id or not isinstance(system_id, str):
            raise invalid
        if not isinstance(expires, int | float):
            raise invalid
        return system_id, float(expires)
