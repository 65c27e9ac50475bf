"""Certificate path validation against the mock Government CA: chain, dates, CRL, profile."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes

from ._errors import CertificateError
from ._profiles import CertKind, common_name_of, kind_of, organ_id_of, title_of

_CRL_RECHECK_SECONDS = 1.0
_CACHE_LIMIT = 20_000


@dataclass(frozen=True)
class _Validated:
    info: CertificateInfo
    valid_from: datetime
    valid_until: datetime


def _check_kind(info: CertificateInfo, expect: CertKind | Iterable[CertKind] | None) -> None:
    if expect is None:
        return
    wanted = {expect} if isinstance(expect, CertKind) else set(expect)
    if info.kind not in wanted:
        names = ", ".join(sorted(k.value for k in wanted))
        raise CertificateError(
            f"certificate of {info.common_name!r} is a {info.kind or 'foreign'} "
            f"certificate, expected {names}",
            code="wrong_certificate_kind",
        )


@dataclass(frozen=True, kw_only=True)
class CertificateInfo:
    """What a validated certificate says about its holder."""

    kind: CertKind | None
    common_name: str
    organ_id: str | None
    title: str | None
    serial: int
    issuer: str
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str

    @classmethod
    def of(cls, certificate: x509.Certificate) -> CertificateInfo:
        """Describe a certificate without validating it."""
        return cls(
            kind=kind_of(certificate),
            common_name=common_name_of(certificate),
            organ_id=organ_id_of(certificate),
            title=title_of(certificate),
            serial=certificate.serial_number,
            issuer=common_name_of_name(certificate.issuer),
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            fingerprint_sha256=certificate.fingerprint(hashes.SHA256()).hex(),
        )


def common_name_of_name(name: x509.Name) -> str:
    """Return the CN of a distinguished name, or the whole name when it has none."""
    values = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if values and isinstance(values[0].value, str):
        return values[0].value
    return name.rfc4514_string()


class TrustStore:
    """Roots, sub-CAs and their CRLs; validates end-entity certificates at a given time.

    Loaded from a key-store directory it re-reads CRL files when they change on disk (at
    most once a second), so a running hub sees a revocation made by ``lgsp-sim keys revoke``.
    """

    def __init__(
        self,
        *,
        roots: Sequence[x509.Certificate],
        intermediates: Sequence[x509.Certificate] = (),
        crls: Sequence[x509.CertificateRevocationList] = (),
        crl_files: Sequence[Path] = (),
    ) -> None:
        self.roots = list(roots)
        self.intermediates = list(intermediates)
        self._by_subject: dict[bytes, list[x509.Certificate]] = {}
        for cert in [*self.roots, *self.intermediates]:
            self._by_subject.setdefault(cert.subject.public_bytes(), []).append(cert)
        self._root_fingerprints = {c.fingerprint(hashes.SHA256()) for c in self.roots}
        self._crls: dict[bytes, x509.CertificateRevocationList] = {}
        # A hub sees the same few thousand agency certificates all day: remember each good
        # chain with the time window in which it stays good. Any CRL change clears it.
        self._validated: dict[x509.Certificate, _Validated] = {}
        self._crl_files = list(crl_files)
        self._crl_mtimes: dict[Path, float] = {}
        self._last_check = 0.0
        for crl in crls:
            self._add_crl(crl)
        self._reload_crl_files(force=True)

    @classmethod
    def load(cls, directory: Path) -> TrustStore:
        """Load the public part of a key store: ``ca/*.crt.pem`` and ``ca/*.crl.pem``."""
        ca_dir = Path(directory) / "ca"
        if not ca_dir.is_dir():
            raise CertificateError(
                f"no CA in {directory}: run `lgsp-sim keys init --dir {directory}`",
                code="trust_store_missing",
            )
        certs = [
            x509.load_pem_x509_certificate(p.read_bytes()) for p in sorted(ca_dir.glob("*.crt.pem"))
        ]
        roots = [c for c in certs if c.issuer == c.subject]
        intermediates = [c for c in certs if c.issuer != c.subject]
        return cls(
            roots=roots, intermediates=intermediates, crl_files=sorted(ca_dir.glob("*.crl.pem"))
        )

    @classmethod
    def from_pem(cls, bundle: bytes, crls: Iterable[bytes] = ()) -> TrustStore:
        """Build a trust store from a PEM bundle (roots and sub-CAs) and PEM CRLs."""
        certs = x509.load_pem_x509_certificates(bundle)
        return cls(
            roots=[c for c in certs if c.issuer == c.subject],
            intermediates=[c for c in certs if c.issuer != c.subject],
            crls=[x509.load_pem_x509_crl(data) for data in crls],
        )

    def bundle_pem(self) -> bytes:
        """Return the root and sub-CA certificates as one PEM bundle."""
        from cryptography.hazmat.primitives.serialization import Encoding

        return b"".join(c.public_bytes(Encoding.PEM) for c in [*self.roots, *self.intermediates])

    def crls(self) -> list[x509.CertificateRevocationList]:
        """Return the CRLs currently in force."""
        self._maybe_refresh()
        return list(self._crls.values())

    def validate(
        self,
        certificate: x509.Certificate,
        *,
        at: datetime,
        expect: CertKind | Iterable[CertKind] | None = None,
    ) -> CertificateInfo:
        """Check ``certificate`` chains to a root, is in date and not revoked at ``at``."""
        self._maybe_refresh()
        cached = self._validated.get(certificate)
        if cached is not None and cached.valid_from <= at <= cached.valid_until:
            info = cached.info
            _check_kind(info, expect)
            return info
        info = CertificateInfo.of(certificate)
        _check_kind(info, expect)
        self._check_usage(certificate, info)
        valid_from, valid_until = self._validate_chain(certificate, at)
        if len(self._validated) >= _CACHE_LIMIT:
            self._validated.clear()
        self._validated[certificate] = _Validated(info, valid_from, valid_until)
        return info

    def _validate_chain(
        self, certificate: x509.Certificate, at: datetime
    ) -> tuple[datetime, datetime]:
        """Walk up to a root; return the window around ``at`` in which the answer holds."""
        valid_from = datetime.min.replace(tzinfo=at.tzinfo)
        valid_until = datetime.max.replace(tzinfo=at.tzinfo)
        current = certificate
        for _depth in range(8):
            self._check_dates(current, at)
            valid_from = max(valid_from, current.not_valid_before_utc)
            valid_until = min(valid_until, current.not_valid_after_utc)
            if current.fingerprint(hashes.SHA256()) in self._root_fingerprints:
                return valid_from, valid_until
            issuer = self._issuer_of(current)
            if issuer is None:
                raise CertificateError(
                    f"certificate of {common_name_of_name(current.subject)!r} was issued by "
                    f"{common_name_of_name(current.issuer)!r}, which is not a CA of this trust store",
                    code="untrusted_issuer",
                )
            valid_until = min(valid_until, self._check_revocation(current, issuer, at))
            current = issuer
        raise CertificateError("certificate chain is too long", code="chain_too_long")

    # -- internals ---------------------------------------------------------------------------

    def _issuer_of(self, certificate: x509.Certificate) -> x509.Certificate | None:
        for candidate in self._by_subject.get(certificate.issuer.public_bytes(), []):
            try:
                certificate.verify_directly_issued_by(candidate)
            except (InvalidSignature, ValueError, TypeError):
                continue
            return candidate
        return None

    @staticmethod
    def _check_dates(certificate: x509.Certificate, at: datetime) -> None:
        name = common_name_of_name(certificate.subject)
        if at < certificate.not_valid_before_utc:
            raise CertificateError(
                f"certificate of {name!r} is not valid before {certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC",
                code="certificate_not_yet_valid",
            )
        if at > certificate.not_valid_after_utc:
            raise CertificateError(
                f"certificate of {name!r} expired on {certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
                code="certificate_expired",
            )

    @staticmethod
    def _check_usage(certificate: x509.Certificate, info: CertificateInfo) -> None:
        try:
            usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            return
        if not usage.digital_signature:
            raise CertificateError(
                f"certificate of {info.common_name!r} may not make digital signatures",
                code="bad_key_usage",
            )

    def _check_revocation(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> datetime:
        crl = self._crls.get(issuer.subject.public_bytes())
        issuer_name = common_name_of_name(issuer.subject)
        if crl is None:
            raise CertificateError(f"no CRL of {issuer_name!r} is available", code="crl_missing")
        if crl.next_update_utc is not None and at > crl.next_update_utc:
            raise CertificateError(
                f"the CRL of {issuer_name!r} expired on {crl.next_update_utc:%Y-%m-%d}",
                code="crl_stale",
            )
        entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
        holds_until = crl.next_update_utc or datetime.max.replace(tzinfo=at.tzinfo)
        if entry is None:
            return holds_until
        if entry.revocation_date_utc > at:
            # Revoked later than ``at``: good at ``at``, not after the revocation.
            return min(holds_until, entry.revocation_date_utc)
        raise CertificateError(
            f"certificate of {common_name_of_name(certificate.subject)!r} "
            f"(serial {certificate.serial_number:x}) was revoked on "
            f"{entry.revocation_date_utc:%Y-%m-%d %H:%M} UTC",
            code="certificate_revoked",
        )

    def _add_crl(self, crl: x509.CertificateRevocationList) -> None:
        self._validated.clear()
        key = crl.issuer.public_bytes()
        for issuer in self._by_subject.get(key, []):
            if crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
                self._crls[key] = crl
                return

    def _maybe_refresh(self) -> None:
        if self._crl_files and time.monotonic() - self._last_check >= _CRL_RECHECK_SECONDS:
            self._reload_crl_files(force=False)

    def _reload_crl_files(self, *, force: bool) -> None:
        self._last_check = time.monotonic()
        for path in self._crl_files:
            try:
                mtime = path.stat().st_mtime_ns
            except FileNotFoundError:
                continue
            if force or self._crl_mtimes.get(path) != mtime:
                self._crl_mtimes[path] = mtime
                self._add_crl(x509.load_pem_x509_crl(path.read_bytes()))
