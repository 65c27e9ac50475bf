"""Hub-to-hub request signatures (docs/exchange.md, "Hub to hub").

The sending hub signs ``"{hub}\\n{recipients}\\n{digest}\\n{timestamp}"`` (the header values,
UTF-8) with its hub key and attaches its certificate. The receiver checks, cheapest first:
headers present, timestamp within the allowed skew, certificate (parsed once per distinct
header value, validated against the CA as kind ``hub`` and cached by fingerprint for a short
while so a revocation is still noticed), CN = claimed hub id, the signature, and — once the
body has been read — the digest.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from keys import CertificateError, CertificateInfo, CertKind, Identity, TrustStore
from simtime import Clock

from .errors import AuthError, hub_auth_failed

HEADER_HUB: Final = "X-Lgsp-Hub"
HEADER_RECIPIENTS: Final = "X-Lgsp-Recipients"
HEADER_DIGEST: Final = "X-Lgsp-Digest"
HEADER_TIMESTAMP: Final = "X-Lgsp-Timestamp"
HEADER_CERTIFICATE: Final = "X-Lgsp-Certificate"
HEADER_SIGNATURE: Final = "X-Lgsp-Signature"
_REQUIRED: Final = (
    HEADER_HUB,
    HEADER_RECIPIENTS,
    HEADER_DIGEST,
    HEADER_TIMESTAMP,
    HEADER_CERTIFICATE,
    HEADER_SIGNATURE,
)
_DIGEST_PREFIX: Final = "sha-256="
_VALIDATION_TTL: Final = 10.0  # seconds a certificate's validation is reused
_MAX_RECIPIENTS: Final = 10_000


def body_digest(body: bytes) -> str:
    """The ``X-Lgsp-Digest`` value of ``body``: ``sha-256=<hex>``."""
    return _DIGEST_PREFIX + hashlib.sha256(body).hexdigest()


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and a ``Z``."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def canonical_string(*, hub: str, recipients: str, digest: str, timestamp: str) -> bytes:
    """What a hub signs: the four header values, one per line, UTF-8."""
    return f"{hub}\n{recipients}\n{digest}\n{timestamp}".encode()


class HubSigner:
    """Signs this hub's outgoing requests (key and certificate loaded once)."""

    def __init__(self, *, hub_id: str, identity: Identity) -> None:
        self.hub_id = hub_id
        self._key = identity.private_key
        der = identity.certificate.public_bytes(serialization.Encoding.DER)
        self._certificate = base64.b64encode(der).decode("ascii")

    def headers(
        self, *, body: bytes, recipients: Sequence[str], now: datetime, digest: str | None = None
    ) -> dict[str, str]:
        """The six ``X-Lgsp-*`` headers for sending ``body`` to the next hub."""
        recipients_value = json.dumps(list(recipients), separators=(",", ":"))
        digest = digest or body_digest(body)
        timestamp = format_timestamp(now)
        message = canonical_string(
            hub=self.hub_id, recipients=recipients_value, digest=digest, timestamp=timestamp
        )
        return {
            HEADER_HUB: self.hub_id,
            HEADER_RECIPIENTS: recipients_value,
            HEADER_DIGEST: digest,
            HEADER_TIMESTAMP: timestamp,
            HEADER_CERTIFICATE: self._certificate,
            HEADER_SIGNATURE: base64.b64encode(_sign(self._key, message)).decode("ascii"),
        }


def _sign(key: object, message: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(message, ec.ECDSA(hashes.SHA256()))
    raise TypeError(f"a hub key must be RSA or EC, not {type(key).__name__}")


@dataclass(frozen=True, slots=True)
class PeerHub:
    """A previous hub whose request headers verified; the digest is checked on the body."""

    hub_id: str
    recipients: tuple[str, ...]
    digest: str
    certificate: CertificateInfo

    def check_body(self, body: bytes) -> str:
        """Raise ``hub_auth_failed`` unless ``body`` is what the signed digest covers.

        Returns the body's SHA-256 (hex), which the hub stores: computed once per hop.
        """
        digest = body_digest(body)
        if not hmac.compare_digest(digest, self.digest):
            raise hub_auth_failed(
                f"{HEADER_DIGEST} does not match the body: the package was altered in transit "
                "or the digest was computed over other bytes"
            )
        return digest.removeprefix(_DIGEST_PREFIX)


@functools.lru_cache(maxsize=256)
def _load_certificate(value: str) -> tuple[x509.Certificate, str]:
    # A hub sees few distinct peer certificates: decode each header value once.
    der = base64.b64decode(value, validate=True)
    certificate = x509.load_der_x509_certificate(der)
    return certificate, hashlib.sha256(der).hexdigest()


class HubVerifier:
    """Authenticates requests from other hubs (see the module docstring for the checks)."""

    def __init__(
        self,
        *,
        trust: TrustStore,
        clock: Clock,
        known_hubs: frozenset[str],
        max_skew: float = 300.0,
    ) -> None:
        self._trust = trust
        self._clock = clock
        self._known_hubs = known_hubs
        self._max_skew = timedelta(seconds=max_skew)
        self._validated: dict[str, tuple[CertificateInfo, float]] = {}

    def verify_headers(self, headers: Mapping[str, str]) -> PeerHub:
        """Check everything but the body digest; return who is calling and for whom."""
        missing = [name for name in _REQUIRED if not headers.get(name)]
        if missing:
            raise hub_auth_failed(f"missing header(s): {', '.join(missing)}")
        hub = headers[HEADER_HUB]
        recipients_value = headers[HEADER_RECIPIENTS]
        digest = headers[HEADER_DIGEST]
        timestamp = headers[HEADER_TIMESTAMP]
        if hub not in self._known_hubs:
            raise hub_auth_failed(f"{hub!r} is not a hub of this topology")
        if not digest.startswith(_DIGEST_PREFIX) or len(digest) != len(_DIGEST_PREFIX) + 64:
            raise hub_auth_failed(f"{HEADER_DIGEST} must be sha-256=<64 hex digits>")
        self._check_timestamp(timestamp)
        certificate, info = self._certificate(headers[HEADER_CERTIFICATE])
        if info.common_name != hub:
            raise hub_auth_failed(
                f"the certificate belongs to hub {info.common_name!r}, not {hub!r}"
            )
        try:
            signature = base64.b64decode(headers[HEADER_SIGNATURE], validate=True)
        except (binascii.Error, ValueError):
            raise hub_auth_failed(f"{HEADER_SIGNATURE} is not base64") from None
        message = canonical_string(
            hub=hub, recipients=recipients_value, digest=digest, timestamp=timestamp
        )
        if not _verify(certificate, signature, message):
            raise hub_auth_failed(
                "the signature does not match the headers and the hub certificate"
            )
        return PeerHub(
            hub_id=hub,
            recipients=_recipients(recipients_value),
            digest=digest.lower(),
            certificate=info,
        )

    def _check_timestamp(self, value: str) -> None:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise hub_auth_failed(f"{HEADER_TIMESTAMP} {value!r} is not ISO 8601") from None
        if moment.tzinfo is None:
            raise hub_auth_failed(f"{HEADER_TIMESTAMP} {value!r} has no time zone (use UTC)")
        skew = abs(self._clock.now() - moment)
        if skew > self._max_skew:
            raise hub_auth_failed(
                f"{HEADER_TIMESTAMP} {value} is {skew.total_seconds():.0f} s away from this "
                f"hub's time; at most {self._max_skew.total_seconds():.0f} s is accepted "
                "(a replayed or delayed request, or clocks out of step)"
            )

    def _certificate(self, value: str) -> tuple[x509.Certificate, CertificateInfo]:
        try:
            certificate, fingerprint = _load_certificate(value)
        except (binascii.Error, ValueError, UnsupportedAlgorithm):
            raise hub_auth_failed(f"{HEADER_CERTIFICATE} is not a base64 DER certificate") from None
        cached = self._validated.get(fingerprint)
        if cached is not None and time.monotonic() < cached[1]:
            return certificate, cached[0]
        try:
            info = self._trust.validate(certificate, at=self._clock.now(), expect=CertKind.HUB)
        except CertificateError as exc:
            raise hub_auth_failed(f"hub certificate refused ({exc.code}): {exc.message}") from None
        except ValueError as exc:  # a field cryptography cannot decode
            raise hub_auth_failed(f"hub certificate unreadable: {exc}") from None
        if len(self._validated) > 1024:
            self._validated.clear()
        self._validated[fingerprint] = (info, time.monotonic() + _VALIDATION_TTL)
        return certificate, info


def _verify(certificate: x509.Certificate, signature: bytes, message: bytes) -> bool:
    key = certificate.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _recipients(value: str) -> tuple[str, ...]:
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if (
        not isinstance(parsed, list)
        or not parsed
        or len(parsed) > _MAX_RECIPIENTS
        or not all(isinstance(item, str) and item for item in parsed)
    ):
        # Signed, so not an attacker's doing: the sending hub is broken (400, permanent).
        raise AuthError(
            "bad_hub_request",
            f"{HEADER_RECIPIENTS} must be a non-empty JSON array of OrganIds",
            http_status=400,
        )
    return tuple(dict.fromkeys(parsed))
