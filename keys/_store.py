"""The key store on disk: the CA hierarchy, issued identities (lazily, cached), revocation."""

from __future__ import annotations

import fcntl
import json
import os
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ._ca import (
    CRL_LIFETIME,
    KeyAlgorithm,
    PrivateKey,
    SubjectSpec,
    generate_key,
    make_crl,
    make_end_entity,
    make_root,
    make_sub_ca,
)
from ._errors import KeyStoreError
from ._profiles import ROOT_NAME, SUB_CA_NAMES, CaName, CertKind
from ._trust import TrustStore

_INDEX = "index.json"
_ROOT = "root"


@dataclass(frozen=True)
class Identity:
    """A signer: its private key, loaded once, its certificate and the chain up to the root."""

    kind: CertKind
    name: str
    organ_id: str | None
    private_key: PrivateKey = field(repr=False)
    certificate: x509.Certificate = field(repr=False)
    chain: tuple[x509.Certificate, ...] = field(repr=False)  # issuer first, root last

    @property
    def certificate_pem(self) -> bytes:
        """The certificate as PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def serial(self) -> int:
        """The certificate serial number."""
        return self.certificate.serial_number


@dataclass
class CertificateRecord:
    """One issued certificate as the index remembers it."""

    serial: str  # lowercase hex
    kind: CertKind
    ca: CaName
    name: str
    organ_id: str | None
    position: str | None
    not_after: str
    file: str
    revoked_at: str | None = None
    reason: str | None = None

    @property
    def revoked(self) -> bool:
        """Whether the certificate is on its CA's CRL."""
        return self.revoked_at is not None


class KeyStore:
    """The mock Government CA in a directory (``ca/``, ``issued/``, ``index.json``).

    Several processes may share one directory: every change happens under a file lock, and
    identities are issued on first use then cached, so a topology of thousands of agencies
    starts without thousands of key generations.
    """

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._identities: dict[tuple[CertKind, str | None, str], Identity] = {}
        self._ca_cache: dict[str, tuple[PrivateKey, x509.Certificate]] = {}

    # -- the CA hierarchy ----------------------------------------------------------------------

    @property
    def initialised(self) -> bool:
        """Whether ``init`` has run in this directory."""
        return (self.directory / _INDEX).is_file()

    def init(self, *, at: datetime, algorithm: KeyAlgorithm = KeyAlgorithm.RSA2048) -> None:
        """Create the root, the state and Party sub-CAs and their (empty) CRLs."""
        with self._locked():
            if self.initialised:
                raise KeyStoreError(
                    f"a CA already exists in {self.directory}", code="keystore_exists"
                )
            ca_dir = self.directory / "ca"
            ca_dir.mkdir(parents=True, exist_ok=True)
            (self.directory / "issued").mkdir(exist_ok=True)
            root_key = generate_key(algorithm)
            root = make_root(key=root_key, common_name=ROOT_NAME, at=at)
            self._write_pair(ca_dir, _ROOT, root_key, root)
            for ca in CaName:
                key = generate_key(algorithm)
                cert = make_sub_ca(
                    key=key,
                    common_name=SUB_CA_NAMES[ca],
                    issuer_key=root_key,
                    issuer=root,
                    issuer_slug=_ROOT,
                    at=at,
                )
                self._write_pair(ca_dir, ca.value, key, cert)
            index: dict[str, Any] = {
                "algorithm": algorithm.value,
                "crl_numbers": {},
                "certificates": [],
            }
            self._save_index(index)
            for slug in (_ROOT, *[ca.value for ca in CaName]):
                self._publish_crl(index, slug, at=at)
            self._save_index(index)

    @property
    def algorithm(self) -> KeyAlgorithm:
        """The key algorithm chosen at ``init``."""
        return KeyAlgorithm(self._load_index()["algorithm"])

    def trust_store(self, *, at: datetime | None = None) -> TrustStore:
        """Return a trust store over this CA; re-publishes CRLs that are about to expire at ``at``."""
        self._require_init()
        if at is not None:
            self.refresh_crls(at=at)
        return TrustStore.load(self.directory)

    def trust_bundle_pem(self) -> bytes:
        """Return the root and sub-CA certificates as PEM (root first)."""
        self._require_init()
        ca_dir = self.directory / "ca"
        parts = [
            (ca_dir / f"{slug}.crt.pem").read_bytes()
            for slug in (_ROOT, *[c.value for c in CaName])
        ]
        return b"".join(parts)

    def crl_paths(self) -> list[Path]:
        """Return the CRL files, one per CA."""
        return sorted((self.directory / "ca").glob("*.crl.pem"))

    def refresh_crls(self, *, at: datetime) -> None:
        """Re-publish every CRL whose nextUpdate is within a day of ``at``."""
        for path in self.crl_paths():
            crl = x509.load_pem_x509_crl(path.read_bytes())
            next_update = crl.next_update_utc
            if next_update is None or (next_update - at) < CRL_LIFETIME / 30:
                with self._locked():
                    index = self._load_index()
                    self._publish_crl(index, path.name.removesuffix(".crl.pem"), at=at)
                    self._save_index(index)

    # -- issuing -------------------------------------------------------------------------------

    def issue_agency(
        self,
        *,
        organ_id: str,
        name: str,
        at: datetime,
        ca: CaName = CaName.STATE,
        email: str | None = None,
    ) -> CertificateRecord:
        """Issue an agency (organisation) certificate carrying the OrganId."""
        spec = SubjectSpec(
            kind=CertKind.AGENCY,
            common_name=name,
            organ_id=organ_id,
            organization=name,
            email=email,
        )
        return self._issue(spec, ca=ca, at=at, position=None)

    def issue_person(
        self,
        *,
        full_name: str,
        organ_id: str,
        position: str,
        at: datetime,
        agency_name: str | None = None,
        ca: CaName = CaName.STATE,
    ) -> CertificateRecord:
        """Issue a personal certificate for an official of agency ``organ_id``."""
        spec = SubjectSpec(
            kind=CertKind.PERSON,
            common_name=full_name,
            organ_id=organ_id,
            organization=agency_name,
            title=position,
        )
        return self._issue(spec, ca=ca, at=at, position=position)

    def issue_hub(self, *, name: str, at: datetime) -> CertificateRecord:
        """Issue a certificate for an axis (LGSP or NDXP) under the state sub-CA."""
        spec = SubjectSpec(kind=CertKind.HUB, common_name=name, organ_id=name, organization=name)
        return self._issue(spec, ca=CaName.STATE, at=at, position=None)

    def revoke(
        self, serial: str, *, at: datetime, reason: str = "unspecified"
    ) -> CertificateRecord:
        """Revoke the certificate with this serial (hex) and re-publish its CA's CRL."""
        wanted = _normalise_serial(serial)
        with self._locked():
            index = self._load_index()
            for raw in index["certificates"]:
                if raw["serial"] == wanted:
                    if raw["revoked_at"] is None:
                        raw["revoked_at"] = at.isoformat()
                        raw["reason"] = reason
                        self._publish_crl(index, raw["ca"], at=at)
                        self._save_index(index)
                    self._identities.clear()
                    return _record(raw)
        raise KeyStoreError(
            f"no certificate with serial {serial} in {self.directory}", code="unknown_serial"
        )

    def records(self) -> list[CertificateRecord]:
        """Every certificate issued so far, oldest first."""
        return [_record(raw) for raw in self._load_index()["certificates"]]

    def find(
        self, *, kind: CertKind, organ_id: str | None = None, name: str | None = None
    ) -> CertificateRecord | None:
        """Return the newest unrevoked certificate matching the selector, if any."""
        for record in reversed(self.records()):
            if record.kind != kind or record.revoked:
                continue
            if organ_id is not None and record.organ_id != organ_id:
                continue
            if name is not None and record.name != name:
                continue
            return record
        return None

    # -- identities (lazy, cached) -------------------------------------------------------------

    def load_identity(self, record: CertificateRecord) -> Identity:
        """Load an issued certificate and its key (the key is parsed once per process)."""
        key_cache = (record.kind, record.organ_id, record.serial)
        cached = self._identities.get(key_cache)
        if cached is not None:
            return cached
        base = self.directory / record.file
        cert = x509.load_pem_x509_certificate(Path(f"{base}.crt.pem").read_bytes())
        key = serialization.load_pem_private_key(
            Path(f"{base}.key.pem").read_bytes(), password=None
        )
        issuer_key, issuer = self._ca(record.ca.value)
        del issuer_key
        _root_key, root = self._ca(_ROOT)
        identity = Identity(
            kind=record.kind,
            name=record.name,
            organ_id=record.organ_id,
            private_key=key,  # type: ignore[arg-type]
            certificate=cert,
            chain=(issuer, root),
        )
        self._identities[key_cache] = identity
        return identity

    def agency(
        self, organ_id: str, *, name: str | None = None, at: datetime, ca: CaName = CaName.STATE
    ) -> Identity:
        """Return the agency's signing identity, issuing it on first use."""
        record = self.find(kind=CertKind.AGENCY, organ_id=organ_id)
        if record is None:
            name = name or organ_id
            spec = SubjectSpec(
                kind=CertKind.AGENCY, common_name=name, organ_id=organ_id, organization=name
            )
            record = self._issue(spec, ca=ca, at=at, position=None, reuse=True)
        return self.load_identity(record)

    def person(
        self,
        full_name: str,
        *,
        organ_id: str,
        position: str,
        at: datetime,
        ca: CaName = CaName.STATE,
    ) -> Identity:
        """Return an official's personal signing identity, issuing it on first use."""
        record = self.find(kind=CertKind.PERSON, organ_id=organ_id, name=full_name)
        if record is None:
            spec = SubjectSpec(
                kind=CertKind.PERSON, common_name=full_name, organ_id=organ_id, title=position
            )
            record = self._issue(spec, ca=ca, at=at, position=position, reuse=True)
        return self.load_identity(record)

    def hub(self, name: str, *, at: datetime) -> Identity:
        """Return a hub's identity, issuing it on first use."""
        record = self.find(kind=CertKind.HUB, name=name)
        if record is None:
            spec = SubjectSpec(
                kind=CertKind.HUB, common_name=name, organ_id=name, organization=name
            )
            record = self._issue(spec, ca=CaName.STATE, at=at, position=None, reuse=True)
        return self.load_identity(record)

    # -- internals -----------------------------------------------------------------------------

    def _issue(
        self,
        spec: SubjectSpec,
        *,
        ca: CaName,
        at: datetime,
        position: str | None,
        reuse: bool = False,
    ) -> CertificateRecord:
        self._require_init()
        # Key generation happens outside the lock: it is the slow part.
        key = generate_key(self.algorithm)
        with self._locked():
            index = self._load_index()
            if reuse:
                # Another process may have issued it while we generated the key: use theirs.
                for raw in reversed(index["certificates"]):
                    if (
                        raw["revoked_at"] is None
                        and raw["kind"] == spec.kind.value
                        and raw["organ_id"] == spec.organ_id
                        and (spec.kind is not CertKind.PERSON or raw["name"] == spec.common_name)
                    ):
                        return _record(raw)
            issuer_key, issuer = self._ca(ca.value)
            cert = make_end_entity(
                public_key=key.public_key(),
                spec=spec,
                issuer_key=issuer_key,
                issuer=issuer,
                issuer_slug=ca.value,
                at=at,
            )
            serial = f"{cert.serial_number:x}"
            relative = f"issued/{spec.kind.value}/{_slug(spec.organ_id or '')}-{_slug(spec.common_name)}-{serial[:12]}"
            base = self.directory / relative
            base.parent.mkdir(parents=True, exist_ok=True)
            _write_private(Path(f"{base}.key.pem"), key)
            Path(f"{base}.crt.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            record = CertificateRecord(
                serial=serial,
                kind=spec.kind,
                ca=ca,
                name=spec.common_name,
                organ_id=spec.organ_id,
                position=position,
                not_after=cert.not_valid_after_utc.isoformat(),
                file=relative,
            )
            index["certificates"].append(_raw(record))
            self._save_index(index)
        return record

    def _ca(self, slug: str) -> tuple[PrivateKey, x509.Certificate]:
        cached = self._ca_cache.get(slug)
        if cached is None:
            ca_dir = self.directory / "ca"
            try:
                cert = x509.load_pem_x509_certificate((ca_dir / f"{slug}.crt.pem").read_bytes())
                key = serialization.load_pem_private_key(
                    (ca_dir / f"{slug}.key.pem").read_bytes(), password=None
                )
            except FileNotFoundError as exc:
                raise KeyStoreError(
                    f"CA {slug!r} is missing from {ca_dir}", code="keystore_incomplete"
                ) from exc
            cached = (key, cert)  # type: ignore[assignment]
            self._ca_cache[slug] = cached  # type: ignore[assignment]
        return cached  # type: ignore[return-value]

    def _publish_crl(self, index: dict[str, Any], slug: str, *, at: datetime) -> None:
        key, cert = self._ca(slug)
        issuer_serials: list[tuple[int, datetime]] = []
        for raw in index["certificates"]:
            if raw["revoked_at"] and raw["ca"] == slug:
                issuer_serials.append(
                    (int(raw["serial"], 16), datetime.fromisoformat(raw["revoked_at"]))
                )
        number = int(index["crl_numbers"].get(slug, 0)) + 1
        index["crl_numbers"][slug] = number
        crl = make_crl(issuer_key=key, issuer=cert, revoked=issuer_serials, number=number, at=at)
        path = self.directory / "ca" / f"{slug}.crl.pem"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        os.replace(tmp, path)

    def _require_init(self) -> None:
        if not self.initialised:
            raise KeyStoreError(
                f"no CA in {self.directory}: run `lgsp-sim keys init --dir {self.directory}` first",
                code="keystore_missing",
            )

    def _load_index(self) -> dict[str, Any]:
        self._require_init()
        data: dict[str, Any] = json.loads((self.directory / _INDEX).read_text(encoding="utf-8"))
        return data

    def _save_index(self, index: dict[str, Any]) -> None:
        path = self.directory / _INDEX
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(index, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def _write_pair(directory: Path, slug: str, key: PrivateKey, cert: x509.Certificate) -> None:
        _write_private(directory / f"{slug}.key.pem", key)
        (directory / f"{slug}.crt.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_private(path: Path, key: PrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text.replace("Đ", "D").replace("đ", "d"))
    ascii_text = ascii_text.encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9.]+", "_", ascii_text).strip("_")[:48] or "x"


def _normalise_serial(serial: str) -> str:
    text = serial.strip().lower().replace(":", "")
    text = text.removeprefix("0x")
    try:
        return f"{int(text, 16):x}"
    except ValueError as exc:
        raise KeyStoreError(
            f"{serial!r} is not a hexadecimal serial number", code="bad_serial"
        ) from exc


def _raw(record: CertificateRecord) -> dict[str, Any]:
    raw = asdict(record)
    raw["kind"] = record.kind.value
    raw["ca"] = record.ca.value
    return raw


def _record(raw: dict[str, Any]) -> CertificateRecord:
    return CertificateRecord(**{**raw, "kind": CertKind(raw["kind"]), "ca": CaName(raw["ca"])})
