"""PAdES signatures on PDFs: the personal then the agency signature of Decree 30/2020/NĐ-CP.

Signing (`sign_pdf`)
    Every signature is an *approval* signature (never a certification signature), appended as
    an incremental update into its own signature field, so the personal signature stays valid
    when the agency signature follows it. Field names say the role: ``ChuKyCaNhan`` (personal)
    and ``ChuKyCoQuan`` (agency), with a number appended when the name is already taken
    (``ChuKyCaNhan2``). The CMS carries the signer certificate and its sub-CA, and its
    signing-time attribute (and the signature dictionary's ``/M``) come from ``at``.

Verifying (`verify_pdf`)
    Each ``/Sig`` signature in the file is checked for:

    1. integrity — the ``/ByteRange`` digest matches the signed message digest and the
       signature over the signed attributes verifies (``intact``); otherwise ``digest_mismatch``
       or ``signature_invalid``;
    2. coverage — the signature covers the whole file, or its own revision followed only by
       incremental updates that are themselves signatures (or document timestamps) and that
       change nothing but signature fields; anything else appended after signing is
       ``modified_after_signing``; a byte range that does not cover its own revision is
       ``coverage_incomplete``;
    3. the signer certificate against the `TrustStore` at ``at`` (chain, dates, CRL, key usage):
       ``untrusted_issuer``, ``certificate_revoked``, ``certificate_expired``, ``crl_missing``…
       (``trusted``);
    4. the certificate profile: only personal and agency certificates may sign a document
       (``wrong_certificate_kind`` for a hub or profile-less certificate).

    A signature whose dictionary or CMS cannot be read is INVALID (``signature_malformed``,
    ``unsupported_subfilter``); a file that is not a readable PDF raises `SignatureError`
    ``pdf_malformed`` (``pdf_encrypted`` for an encrypted one). The first failing check gives
    ``problem_code``. Certificates are judged at ``at``, the time of verification (PAdES
    baseline B carries no trusted timestamp): a certificate revoked or expired since signing
    makes the signature INVALID, so hubs assess a document when it arrives.

    Certificate validation is our own `TrustStore.validate` rather than pyHanko's
    certvalidator: it gives the same codes as every other check in the simulator, and it needs
    no event loop (pyHanko's synchronous validation wraps ``asyncio.run``, which fails inside
    the hubs' running loops).

The role of a signature
    It comes from the signer certificate's profile: a PERSON certificate makes a personal
    signature, an AGENCY certificate an agency signature, whatever the field is called. A
    certificate whose profile says neither (a foreign CA's certificate without our policy OIDs,
    a hub certificate) is placed by its field name — ``ChuKyCaNhan…`` personal, ``ChuKyCoQuan…``
    agency (case-insensitive) — and is INVALID there; if the field name does not place it
    either, its role is ``None`` and it counts for neither signature (it is still listed, with a
    problem).

Assessing a document (`assess_pdf`, `assess_package`) — what every signing rate counts
    - The assessed file is the package's main document: the first attachment whose content
      type is ``application/pdf`` or whose name ends in ``.pdf`` (case-insensitive), decoded
      (edoc unwraps the ZIP wrapper of the public samples). No such attachment: personal and
      agency are both ABSENT.
    - The attachment cannot be decoded (bad base64, broken ZIP) or the file is not a readable
      PDF: both INVALID, with the problem.
    - personal is VALID when at least one personal signature is valid and its certificate's
      OrganId is the issuing agency's (the package's ``From/OrganId``; `assess_pdf` skips that
      check when ``organ_id`` is None); INVALID when there are personal signatures but none
      qualifies (tampered, appended to, revoked, expired, untrusted, or an official of another
      agency: ``organ_mismatch``); ABSENT when there is none. The same rule with agency
      certificates gives agency.
    - `assess_package` takes the package's bytes or a parsed `edoc.DocumentPackage`; bytes that
      are no package raise `edoc.EdocError`, a status package raises `SignatureError`
      ``not_a_document`` (it has no document to count). `SigningAssessment.of` applies the same
      rules to signatures `verify_pdf` already returned.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.pdf_utils import misc
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import validate_sig_integrity
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator.registry import SimpleCertificateStore

import edoc

from ._ca import PrivateKey
from ._errors import CertificateError, KeysError, SignatureError
from ._profiles import CertKind
from ._trust import CertificateInfo, TrustStore

if TYPE_CHECKING:
    from ._store import Identity

_T = TypeVar("_T")

PERSONAL_FIELD = "ChuKyCaNhan"
AGENCY_FIELD = "ChuKyCoQuan"
PDF_CONTENT_TYPE = "application/pdf"
_DEFAULT_REASONS = {
    "personal": "Ký ban hành văn bản (chữ ký số của người có thẩm quyền)",
    "agency": "Chữ ký số của cơ quan, tổ chức ban hành văn bản",
}
# The CMS is written hex-encoded into a placeholder reserved before signing: too small fails,
# so size it from the certificates once per signer; 8192 hex digits fit an RSA-2048 chain.
_MIN_RESERVED = 8192
_CMS_OVERHEAD = 2048
_SIGNER_CACHE_SIZE = 4096


class SignerRole(StrEnum):
    """Which Decree 30/2020 signature a PDF signature is."""

    PERSONAL = "personal"
    AGENCY = "agency"


class SignatureState(StrEnum):
    """Whether a required signature is valid, present but invalid, or absent."""

    VALID = "valid"
    INVALID = "invalid"
    ABSENT = "absent"


class SignatureCoverage(StrEnum):
    """How much of the file a signature's byte range covers."""

    ENTIRE_FILE = "entire_file"  # every byte of the file
    ENTIRE_REVISION = "entire_revision"  # its revision; later incremental updates are judged apart
    PARTIAL = "partial"  # not even its own revision: never acceptable
    UNKNOWN = "unknown"  # the signature could not be read


_FIELD_OF_ROLE = {SignerRole.PERSONAL: PERSONAL_FIELD, SignerRole.AGENCY: AGENCY_FIELD}
_ROLE_OF_KIND = {CertKind.PERSON: SignerRole.PERSONAL, CertKind.AGENCY: SignerRole.AGENCY}


@dataclass(frozen=True, kw_only=True)
class PdfSignature:
    """One signature embedded in a PDF and what verifying it found."""

    field_name: str
    role: SignerRole | None
    state: SignatureState  # VALID or INVALID
    signer: CertificateInfo | None
    organ_id: str | None
    signing_time: datetime | None
    intact: bool  # the signed bytes are unchanged and the signature over them verifies
    trusted: bool  # the signer certificate chains to our root, in date, not revoked at ``at``
    coverage: SignatureCoverage
    problem_code: str | None = None
    problem: str | None = None

    @property
    def valid(self) -> bool:
        """Whether this signature is valid."""
        return self.state is SignatureState.VALID


@dataclass(frozen=True, kw_only=True)
class SigningAssessment:
    """The personal and agency signature states of one document (see the module docstring)."""

    personal: SignatureState
    agency: SignatureState
    signatures: tuple[PdfSignature, ...] = ()
    document: str | None = None  # the attachment assessed (its name), when it came from a package
    problems: tuple[str, ...] = ()

    @property
    def fully_signed(self) -> bool:
        """Whether both the personal and the agency signature are valid."""
        return self.personal is SignatureState.VALID and self.agency is SignatureState.VALID

    @classmethod
    def of(
        cls,
        signatures: Sequence[PdfSignature],
        *,
        organ_id: str | None = None,
        document: str | None = None,
    ) -> SigningAssessment:
        """Assess signatures `verify_pdf` returned, for a document issued by ``organ_id``."""
        checked = tuple(_check_organ(s, organ_id) for s in signatures)
        problems = tuple(
            f"{s.field_name}: {s.problem_code}: {s.problem}"
            if s.role is not None
            else f"{s.field_name}: ignored, neither personal nor agency ({s.problem_code})"
            for s in checked
            if not s.valid or s.role is None
        )
        return cls(
            personal=_state_of(checked, SignerRole.PERSONAL),
            agency=_state_of(checked, SignerRole.AGENCY),
            signatures=checked,
            document=document,
            problems=problems,
        )


# -- signing ------------------------------------------------------------------------------------


class _KeySigner(Signer):
    """A pyHanko signer over an already-loaded `cryptography` key.

    pyHanko's `SimpleSigner` re-parses its key from DER for every signature; this one converts
    the certificates to asn1crypto once and signs with the key object as it is.
    """

    def __init__(
        self, key: PrivateKey, certificate: x509.Certificate, chain: Sequence[x509.Certificate]
    ):
        self._key = key
        registry = SimpleCertificateStore()  # type: ignore[no-untyped-call]
        registry.register_multiple([_to_asn1(c) for c in chain])
        # The relying party holds the root; embedding the sub-CA is enough to build the path.
        super().__init__(
            signing_cert=_to_asn1(certificate), cert_registry=registry, embed_roots=False
        )
        der_size = sum(
            len(c.public_bytes(serialization.Encoding.DER)) for c in (certificate, *chain)
        )
        self.bytes_reserved = max(_MIN_RESERVED, -(-2 * (der_size + _CMS_OVERHEAD) // 1024) * 1024)

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        """Sign ``data`` with the loaded key (PKCS#1 v1.5 for RSA, ECDSA for P-256)."""
        algorithm = _HASHES[digest_algorithm.lower()]()
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), algorithm)
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(algorithm))
        raise SigningError(f"unsupported key type {type(self._key).__name__}")


_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class _TimedPdfSigner(signers.PdfSigner):
    """A `PdfSigner` whose signing time is given rather than read from the system clock."""

    def __init__(self, meta: signers.PdfSignatureMetadata, signer: Signer, *, at: datetime):
        super().__init__(meta, signer)
        self._at = at

    def init_signing_session(self, pdf_out: Any, existing_fields_only: bool = False) -> Any:
        """Open the signing session, then pin its time to ``at``."""
        session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
        session.system_time = self._at
        return session


_signers: OrderedDict[bytes, _KeySigner] = OrderedDict()
_signers_lock = threading.Lock()


def _signer_for(identity: Identity) -> _KeySigner:
    """Return the cached pyHanko signer of an identity (built once per certificate)."""
    fingerprint = identity.certificate.fingerprint(hashes.SHA256())
    with _signers_lock:
        signer = _signers.get(fingerprint)
        if signer is not None:
            _signers.move_to_end(fingerprint)
            return signer
    # The root stays out: relying parties have it, and it would only make every PDF bigger.
    chain = [c for c in identity.chain if c.issuer != c.subject]
    signer = _KeySigner(identity.private_key, identity.certificate, chain)
    with _signers_lock:
        _signers[fingerprint] = signer
        while len(_signers) > _SIGNER_CACHE_SIZE:
            _signers.popitem(last=False)
    return signer


def sign_pdf(
    pdf: bytes,
    identity: Identity,
    *,
    at: datetime,
    role: SignerRole | None = None,
    reason: str | None = None,
    location: str | None = None,
) -> bytes:
    """Append an approval PAdES signature by ``identity`` to ``pdf``; return the signed PDF."""
    _require_aware(at)
    role = _signing_role(identity, role)
    signer = _signer_for(identity)
    writer = _incremental_writer(pdf)
    meta = signers.PdfSignatureMetadata(
        field_name=_free_field_name(writer, role),
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason if reason is not None else _DEFAULT_REASONS[role.value],
        location=location,
    )
    pdf_signer = _TimedPdfSigner(meta, signer, at=at)
    try:
        output = _run(pdf_signer.async_sign_pdf(writer, bytes_reserved=signer.bytes_reserved))
    except SigningError as exc:
        raise SignatureError(f"pyHanko refused to sign: {exc}", code="pdf_sign_failed") from exc
    except misc.PdfError as exc:
        raise SignatureError(f"cannot sign this PDF: {exc}", code="pdf_malformed") from exc
    data: bytes = output.getvalue()
    return data


def sign_pdf_plain_default(
    pdf: bytes, key_path: Path, cert_path: Path, chain_paths: Sequence[Path], *, at: datetime
) -> bytes:
    """Sign the way pyHanko's documentation does it (benchmark baseline): load, trial-sign, sign."""
    _require_aware(at)
    signer = signers.SimpleSigner.load(  # type: ignore[no-untyped-call]
        str(key_path), str(cert_path), ca_chain_files=tuple(str(p) for p in chain_paths)
    )
    if signer is None:
        raise SignatureError(f"cannot load {key_path} / {cert_path}", code="signer_load_failed")
    meta = signers.PdfSignatureMetadata(
        field_name=PERSONAL_FIELD, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
    )
    writer = _incremental_writer(pdf)
    # Only the signing time is pinned (no wall-clock reads); the cost is pyHanko's default path.
    output = _run(_TimedPdfSigner(meta, signer, at=at).async_sign_pdf(writer))
    data: bytes = output.getvalue()
    return data


def _signing_role(identity: Identity, role: SignerRole | None) -> SignerRole:
    natural = _ROLE_OF_KIND.get(identity.kind)
    if natural is None:
        raise CertificateError(
            f"{identity.name!r} holds a {identity.kind} certificate: only personal and agency "
            "certificates sign documents",
            code="wrong_certificate_kind",
        )
    if role is not None and role is not natural:
        raise CertificateError(
            f"{identity.name!r} holds a {identity.kind} certificate: "
            f"it cannot make the {role} signature",
            code="wrong_certificate_kind",
        )
    return natural


def _free_field_name(writer: IncrementalPdfFileWriter, role: SignerRole) -> str:
    """The field for this role: an empty one already there, else the first unused name."""
    base = _FIELD_OF_ROLE[role]
    taken: set[str] = set()
    empty: set[str] = set()
    for name, value, _ref in fields.enumerate_sig_fields(writer.prev):
        taken.add(name)
        if value is None:
            empty.add(name)
    for number in range(1, 1000):
        name = base if number == 1 else f"{base}{number}"
        if name in empty or name not in taken:
            return name
    raise SignatureError("the PDF has too many signature fields", code="pdf_sign_failed")


def _incremental_writer(pdf: bytes) -> IncrementalPdfFileWriter:
    if b"%PDF-" not in pdf[:1024]:
        raise SignatureError("the file is not a PDF (no %PDF- header)", code="pdf_malformed")
    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf))
    # Arbitrary bytes make pyHanko's parser raise almost anything; all of it means "malformed".
    except Exception as exc:
        raise SignatureError(f"cannot read the PDF: {exc}", code="pdf_malformed") from exc
    if writer.prev.encrypted:
        raise SignatureError("the PDF is encrypted", code="pdf_encrypted")
    return writer


# -- verifying ----------------------------------------------------------------------------------


@dataclass
class _Parsed:
    """A filled signature field as read from the file, before the checks."""

    field_name: str
    embedded: EmbeddedPdfSignature | None
    revision: int | None  # the revision that wrote the signature value
    range_end: int | None  # where its /ByteRange ends
    error: str | None = None
    error_code: str | None = None


@dataclass
class _Integrity:
    coverage: SignatureCoverage
    intact: bool = False
    diff_ok: bool = False
    certificate: x509.Certificate | None = None
    signing_time: datetime | None = None
    problem_code: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class _Layout:
    """What the file as a whole says about the updates that followed each signature."""

    total_revisions: int
    signature_revisions: frozenset[int]  # the only revisions allowed after a signed one
    end_signed: bool  # some signature's byte range reaches the last byte of the file


def verify_pdf(pdf: bytes, trust: TrustStore, *, at: datetime) -> list[PdfSignature]:
    """Verify every signature embedded in ``pdf`` at time ``at``, in signing order."""
    _require_aware(at)
    reader = _reader(pdf)
    try:
        parsed = _signature_fields(reader)
        total_revisions = reader.xrefs.total_revisions
    except Exception as exc:  # a broken AcroForm or xref table: the file as a whole is unreadable
        raise SignatureError(
            f"cannot read the PDF's signature fields: {exc}", code="pdf_malformed"
        ) from exc
    layout = _Layout(
        total_revisions=total_revisions,
        signature_revisions=frozenset(p.revision for p in parsed if p.revision is not None),
        end_signed=any(p.range_end == len(pdf) for p in parsed),
    )
    results: list[PdfSignature] = []
    for item in parsed:
        if item.embedded is None:
            results.append(_unreadable(item))
        elif (
            item.embedded.sig_object_type == "/Sig"
        ):  # document timestamps are no Decree 30 signature
            results.append(_judge(item, _integrity(item), trust=trust, at=at, layout=layout))
    return results


def _reader(pdf: bytes) -> PdfFileReader:
    if b"%PDF-" not in pdf[:1024]:
        raise SignatureError("the file is not a PDF (no %PDF- header)", code="pdf_malformed")
    try:
        reader = PdfFileReader(BytesIO(pdf))
        # Touch the trailer and catalogue now so a truncated file fails here, not later.
        _ = reader.root
    # Arbitrary or truncated bytes make pyHanko's parser raise almost anything.
    except Exception as exc:
        raise SignatureError(f"cannot read the PDF: {exc}", code="pdf_malformed") from exc
    if reader.encrypted:
        raise SignatureError("the PDF is encrypted", code="pdf_encrypted")
    return reader


def _signature_fields(reader: PdfFileReader) -> list[_Parsed]:
    """Every filled signature field, in signing order; unreadable ones are kept, flagged."""
    found: list[_Parsed] = []
    subfilters = {f.value for f in fields.SigSeedSubFilter}
    for name, value, field_ref in fields.enumerate_sig_fields(reader, filled_status=True):
        revision, range_end = _placement(reader, value)
        try:
            subfilter = value.get_object().get("/SubFilter")
            if subfilter not in subfilters:
                message = f"unsupported signature format {subfilter}"
                found.append(
                    _Parsed(name, None, revision, range_end, message, "unsupported_subfilter")
                )
                continue
            embedded = EmbeddedPdfSignature(reader, field_ref, name)
            found.append(_Parsed(name, embedded, embedded.signed_revision, range_end))
        except Exception as exc:  # a damaged signature dictionary or CMS blob: this one is invalid
            message = f"unreadable signature: {exc}"
            found.append(_Parsed(name, None, revision, range_end, message, "signature_malformed"))
    found.sort(key=lambda p: -1 if p.revision is None else p.revision)
    return found


def _placement(reader: PdfFileReader, value: Any) -> tuple[int | None, int | None]:
    """The revision that wrote a signature value and the end of its byte range, if readable."""
    try:
        revision = (
            reader.xrefs.get_last_change(value.reference) if hasattr(value, "reference") else None
        )
        start1, length1, start2, length2 = (int(n) for n in value.get_object()["/ByteRange"])
        return revision, (start2 + length2 if start1 == 0 and length1 >= 0 else None)
    except Exception:  # no byte range: the signature itself is reported as malformed
        return None, None


def _integrity(item: _Parsed) -> _Integrity:
    embedded = item.embedded
    if embedded is None:
        return _Integrity(
            SignatureCoverage.UNKNOWN, problem_code=item.error_code, problem=item.error
        )
    try:
        embedded.compute_integrity_info()  # type: ignore[no-untyped-call]
        summary = embedded.summarise_integrity_info()
        coverage = _COVERAGE.get(summary["coverage"], SignatureCoverage.PARTIAL)
        diff = summary["diff_result"]
        diff_ok = (
            isinstance(diff, DiffResult)
            and diff.modification_level <= ModificationLevel.FORM_FILLING
        )
        result = _Integrity(coverage, diff_ok=diff_ok)
        if embedded.sig_object_type != "/Sig":
            return result
        cert_asn1 = embedded.signer_cert
        result.certificate = x509.load_der_x509_certificate(cert_asn1.dump())
        result.signing_time = embedded.self_reported_timestamp
        digest_ok, signature_ok = validate_sig_integrity(
            embedded.signer_info, cert_asn1, "data", embedded.compute_digest()
        )
    except (SignatureValidationError, misc.PdfError, ValueError, KeyError, TypeError) as exc:
        return _Integrity(
            SignatureCoverage.UNKNOWN, problem_code="signature_malformed", problem=str(exc)
        )
    if not digest_ok:
        result.problem_code = "digest_mismatch"
        result.problem = "the signed bytes were changed after signing (digest mismatch)"
    elif not signature_ok:
        result.problem_code = "signature_invalid"
        result.problem = "the signature value does not verify with the signer's public key"
    result.intact = digest_ok and signature_ok
    return result


_COVERAGE = {
    SignatureCoverageLevel.ENTIRE_FILE: SignatureCoverage.ENTIRE_FILE,
    SignatureCoverageLevel.ENTIRE_REVISION: SignatureCoverage.ENTIRE_REVISION,
}


def _unreadable(item: _Parsed) -> PdfSignature:
    return PdfSignature(
        field_name=item.field_name,
        role=_role_from_field(item.field_name),
        state=SignatureState.INVALID,
        signer=None,
        organ_id=None,
        signing_time=None,
        intact=False,
        trusted=False,
        coverage=SignatureCoverage.UNKNOWN,
        problem_code=item.error_code or "signature_malformed",
        problem=item.error,
    )


def _judge(
    item: _Parsed,
    integrity: _Integrity,
    *,
    trust: TrustStore,
    at: datetime,
    layout: _Layout,
) -> PdfSignature:
    problem_code, problem = integrity.problem_code, integrity.problem
    certificate = integrity.certificate
    info = CertificateInfo.of(certificate) if certificate is not None else None
    role = _ROLE_OF_KIND.get(info.kind) if info is not None and info.kind is not None else None
    if role is None:
        role = _role_from_field(item.field_name)
    if problem_code is None:
        problem_code, problem = _coverage_problem(item, integrity, layout)
    trusted = False
    if certificate is not None:
        try:
            trust.validate(certificate, at=at)
            trusted = True
        except KeysError as exc:
            if problem_code is None:
                problem_code, problem = exc.code, exc.message
    if problem_code is None and info is not None and info.kind not in _ROLE_OF_KIND:
        problem_code = "wrong_certificate_kind"
        problem = (
            f"certificate of {info.common_name!r} is a {info.kind or 'foreign'} certificate: "
            "only personal and agency certificates sign documents"
        )
    return PdfSignature(
        field_name=item.field_name,
        role=role,
        state=SignatureState.VALID if problem_code is None else SignatureState.INVALID,
        signer=info,
        organ_id=info.organ_id if info is not None else None,
        signing_time=integrity.signing_time,
        intact=integrity.intact,
        trusted=trusted,
        coverage=integrity.coverage,
        problem_code=problem_code,
        problem=problem,
    )


def _coverage_problem(
    item: _Parsed, integrity: _Integrity, layout: _Layout
) -> tuple[str | None, str | None]:
    if integrity.coverage is SignatureCoverage.ENTIRE_FILE:
        return None, None
    if integrity.coverage is not SignatureCoverage.ENTIRE_REVISION or item.revision is None:
        return "coverage_incomplete", "the signature's byte range does not cover its own revision"
    # Later revisions must each be a signature's, change nothing but signature fields (pyHanko's
    # diff analysis), and the last signature must reach the end of the file.
    later = range(item.revision + 1, layout.total_revisions)
    only_signatures = all(r in layout.signature_revisions for r in later)
    if layout.end_signed and only_signatures and integrity.diff_ok:
        return None, None
    return (
        "modified_after_signing",
        "the file was changed after signing by something other than a signature",
    )


def _role_from_field(field_name: str) -> SignerRole | None:
    name = field_name.lower()
    if name.startswith(PERSONAL_FIELD.lower()):
        return SignerRole.PERSONAL
    if name.startswith(AGENCY_FIELD.lower()):
        return SignerRole.AGENCY
    return None


# -- assessing ----------------------------------------------------------------------------------


def assess_pdf(
    pdf: bytes, trust: TrustStore, *, at: datetime, organ_id: str | None = None
) -> SigningAssessment:
    """Assess the personal and agency signatures of a PDF issued by ``organ_id`` (if given)."""
    return _assess(pdf, trust, at=at, organ_id=organ_id, document=None)


def assess_package(
    package: bytes | edoc.DocumentPackage, trust: TrustStore, *, at: datetime
) -> SigningAssessment:
    """Assess the personal and agency signatures on a document package's main PDF.

    Raises `edoc.EdocError` for bytes that are not an edXML package and `SignatureError`
    (``not_a_document``) for a status package; everything else is an assessment.
    """
    parsed = edoc.parse(bytes(package)) if isinstance(package, bytes | bytearray) else package
    if not isinstance(parsed, edoc.DocumentPackage):
        raise SignatureError(
            "a status package carries no document to assess", code="not_a_document"
        )
    attachment = next((a for a in parsed.attachments if _is_pdf(a.name, a.content_type)), None)
    if attachment is None:
        return SigningAssessment(
            personal=SignatureState.ABSENT,
            agency=SignatureState.ABSENT,
            problems=("the package has no PDF attachment",),
        )
    try:
        data = attachment.decode()
    except edoc.EdocError as exc:
        return SigningAssessment(
            personal=SignatureState.INVALID,
            agency=SignatureState.INVALID,
            document=attachment.name,
            problems=(f"{exc.code}: {exc.message}",),
        )
    return _assess(
        data, trust, at=at, organ_id=parsed.header.from_.organ_id, document=attachment.name
    )


def _is_pdf(name: str | None, content_type: str | None) -> bool:
    mime = (content_type or "").split(";")[0].strip().lower()
    return mime == PDF_CONTENT_TYPE or (name or "").strip().lower().endswith(".pdf")


def _assess(
    pdf: bytes, trust: TrustStore, *, at: datetime, organ_id: str | None, document: str | None
) -> SigningAssessment:
    try:
        found = verify_pdf(pdf, trust, at=at)
    except SignatureError as exc:
        return SigningAssessment(
            personal=SignatureState.INVALID,
            agency=SignatureState.INVALID,
            document=document,
            problems=(f"{exc.code}: {exc.message}",),
        )
    return SigningAssessment.of(found, organ_id=organ_id, document=document)


def _check_organ(signature: PdfSignature, organ_id: str | None) -> PdfSignature:
    if organ_id is None or not signature.valid or signature.organ_id == organ_id:
        return signature
    who = signature.signer.common_name if signature.signer is not None else "the signer"
    return dataclasses.replace(
        signature,
        state=SignatureState.INVALID,
        problem_code="organ_mismatch",
        problem=f"{who} belongs to {signature.organ_id}, the document is issued by {organ_id}",
    )


def _state_of(signatures: Sequence[PdfSignature], role: SignerRole) -> SignatureState:
    mine = [s for s in signatures if s.role is role]
    if not mine:
        return SignatureState.ABSENT
    return SignatureState.VALID if any(s.valid for s in mine) else SignatureState.INVALID


# -- helpers ------------------------------------------------------------------------------------


def _to_asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("`at` must be a timezone-aware datetime")


def _run(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run pyHanko's coroutine to completion, also when called from inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    # asyncio.run refuses to nest: give the (CPU-bound, ~15 ms) work its own thread and loop.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
