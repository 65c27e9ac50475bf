"""Assessing documents: the personal and agency states every signing rate counts."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pades_support import H22, H56, H56_NAME, Signers
from pyhanko.sign import fields, signers

import edoc
from keys import (
    CertKind,
    Identity,
    SignatureError,
    SignatureState,
    SignerRole,
    TrustStore,
    assess_package,
    assess_pdf,
    sign_pdf,
)
from keys import _pades as pades

pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")

ABSENT, INVALID, VALID = SignatureState.ABSENT, SignatureState.INVALID, SignatureState.VALID


def _package(*files: edoc.AttachmentFile, organ_id: str = H56) -> bytes:
    header = edoc.DocumentHeader(
        from_=edoc.Organization(organ_id=organ_id, organ_name=H56_NAME),
        to=[edoc.Organization(organ_id="000.00.00.H41", organ_name="UBND tỉnh Nghệ An")],
        subject="Về việc triển khai chữ ký số",
    )
    return edoc.build_document(header, attachments=files)


def _pdf_file(data: bytes, name: str = "CV-123.pdf", content_type: str = "application/pdf") -> Any:
    return edoc.AttachmentFile(name=name, content_type=content_type, data=data)


def _docx() -> edoc.AttachmentFile:
    return edoc.AttachmentFile(
        name="PhuLuc.docx",
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        data=b"PK\x03\x04 not really a docx",
    )


def _states(assessment: pades.SigningAssessment) -> tuple[SignatureState, SignatureState]:
    return assessment.personal, assessment.agency


# -- assess_pdf ---------------------------------------------------------------------------------


def test_both_signatures_valid(
    both_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    assessment = assess_pdf(both_pdf, pades_trust, at=pades_now, organ_id=H56)

    assert _states(assessment) == (VALID, VALID)
    assert assessment.fully_signed
    assert assessment.problems == ()
    assert len(assessment.signatures) == 2


def test_unsigned_pdf_is_absent_absent(
    unsigned_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    assessment = assess_pdf(unsigned_pdf, pades_trust, at=pades_now, organ_id=H56)

    assert _states(assessment) == (ABSENT, ABSENT)
    assert not assessment.fully_signed


def test_personal_signature_of_another_agencys_official(
    unsigned_pdf: bytes, signers: Signers, pades_trust: TrustStore, pades_now: datetime
) -> None:
    signed = sign_pdf(unsigned_pdf, signers.other_person, at=pades_now)
    signed = sign_pdf(signed, signers.agency, at=pades_now)

    assessment = assess_pdf(signed, pades_trust, at=pades_now, organ_id=H56)

    assert _states(assessment) == (INVALID, VALID)
    assert assessment.signatures[0].problem_code == "organ_mismatch"
    assert any("organ_mismatch" in p and H22 in p for p in assessment.problems)
    # Without an issuing agency to compare with, the same signature is fine.
    assert _states(assess_pdf(signed, pades_trust, at=pades_now)) == (VALID, VALID)


def test_agency_signature_of_another_agency(
    personal_pdf: bytes, signers: Signers, pades_trust: TrustStore, pades_now: datetime
) -> None:
    signed = sign_pdf(personal_pdf, signers.other_agency, at=pades_now)

    assessment = assess_pdf(signed, pades_trust, at=pades_now, organ_id=H56)

    assert _states(assessment) == (VALID, INVALID)


def test_one_valid_personal_signature_is_enough(
    both_pdf: bytes, signers: Signers, pades_trust: TrustStore, pades_now: datetime
) -> None:
    # A second personal signature by an official of another agency does not spoil the first.
    signed = sign_pdf(both_pdf, signers.other_person, at=pades_now)

    assessment = assess_pdf(signed, pades_trust, at=pades_now, organ_id=H56)

    assert _states(assessment) == (VALID, VALID)
    assert len(assessment.problems) == 1


def test_tampered_pdf_is_invalid_invalid(
    both_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    tampered = bytearray(both_pdf)
    tampered[both_pdf.index(b"stream", 200) + 40] ^= 0x01

    assessment = assess_pdf(bytes(tampered), pades_trust, at=pades_now, organ_id=H56)

    assert _states(assessment) == (INVALID, INVALID)
    assert len(assessment.problems) == 2


def test_malformed_pdf_is_invalid_not_an_exception(
    pades_trust: TrustStore, pades_now: datetime
) -> None:
    assessment = assess_pdf(b"%PDF-1.4\ntruncated", pades_trust, at=pades_now)

    assert _states(assessment) == (INVALID, INVALID)
    assert assessment.problems[0].startswith("pdf_malformed:")


# -- certificates of no known profile -----------------------------------------------------------


def _profileless_identity(now: datetime) -> Identity:
    """A signer whose certificate carries none of our policy OIDs, from a CA of its own."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some Commercial CA")])
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, H56),
            x509.NameAttribute(NameOID.COMMON_NAME, "Nguyễn Văn An"),
        ]
    )
    start, end = now.replace(year=now.year - 1), now.replace(year=now.year + 1)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(ca_key, hashes.SHA256())
    )
    # The identity claims to be a person; only the certificate's (missing) profile is read back.
    return Identity(
        kind=CertKind.PERSON, name="Nguyễn Văn An", organ_id=H56,
        private_key=key, certificate=cert, chain=(ca,),
    )  # fmt: skip


@pytest.fixture(scope="module")
def profileless(pades_now: datetime) -> Identity:
    return _profileless_identity(pades_now)


def _sign_into(pdf: bytes, identity: Identity, field_name: str, at: datetime) -> bytes:
    meta = signers.PdfSignatureMetadata(
        field_name=field_name, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
    )
    signer = pades._signer_for(identity)
    writer = pades._incremental_writer(pdf)
    pdf_signer = pades._TimedPdfSigner(meta, signer, at=at)
    output = pades._run(pdf_signer.async_sign_pdf(writer, bytes_reserved=signer.bytes_reserved))
    data: bytes = output.getvalue()
    return data


def test_unknown_profile_counts_as_invalid_for_the_role_its_field_claims(
    agency_only_pdf: bytes, profileless: Identity, pades_trust: TrustStore, pades_now: datetime
) -> None:
    signed = sign_pdf(agency_only_pdf, profileless, at=pades_now)

    assessment = assess_pdf(signed, pades_trust, at=pades_now, organ_id=H56)

    assert _states(assessment) == (INVALID, VALID)
    foreign = assessment.signatures[1]
    assert (foreign.field_name, foreign.role) == ("ChuKyCaNhan", SignerRole.PERSONAL)
    assert foreign.signer is not None and foreign.signer.kind is None
    assert foreign.problem_code == "untrusted_issuer"


def test_unknown_profile_in_an_unplaceable_field_counts_for_nothing(
    agency_only_pdf: bytes, profileless: Identity, pades_trust: TrustStore, pades_now: datetime
) -> None:
    signed = _sign_into(agency_only_pdf, profileless, "Signature1", pades_now)

    assessment = assess_pdf(signed, pades_trust, at=pades_now, organ_id=H56)

    assert _states(assessment) == (ABSENT, VALID)
    assert assessment.signatures[1].role is None
    assert assessment.problems == (
        "Signature1: ignored, neither personal nor agency (untrusted_issuer)",
    )


def test_the_certificate_profile_wins_over_the_field_name(
    unsigned_pdf: bytes, signers: Signers, pades_trust: TrustStore, pades_now: datetime
) -> None:
    signed = _sign_into(unsigned_pdf, signers.agency, "Signature1", pades_now)

    assessment = assess_pdf(signed, pades_trust, at=pades_now, organ_id=H56)

    assert _states(assessment) == (ABSENT, VALID)


def test_a_hub_certificate_in_the_agency_field_is_invalid(
    personal_pdf: bytes, signers: Signers, pades_trust: TrustStore, pades_now: datetime
) -> None:
    signed = _sign_into(personal_pdf, signers.hub, "ChuKyCoQuan", pades_now)

    assessment = assess_pdf(signed, pades_trust, at=pades_now, organ_id=H56)

    assert _states(assessment) == (VALID, INVALID)
    assert assessment.signatures[1].problem_code == "wrong_certificate_kind"
    assert assessment.signatures[1].trusted  # a good certificate, for the wrong purpose


# -- assess_package -----------------------------------------------------------------------------


def test_package_without_pdf(pades_trust: TrustStore, pades_now: datetime) -> None:
    assessment = assess_package(_package(_docx()), pades_trust, at=pades_now)

    assert _states(assessment) == (ABSENT, ABSENT)
    assert assessment.document is None


def test_package_without_attachments(pades_trust: TrustStore, pades_now: datetime) -> None:
    assert _states(assess_package(_package(), pades_trust, at=pades_now)) == (ABSENT, ABSENT)


def test_package_with_unsigned_pdf(
    unsigned_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    assessment = assess_package(_package(_pdf_file(unsigned_pdf)), pades_trust, at=pades_now)

    assert _states(assessment) == (ABSENT, ABSENT)
    assert assessment.document == "CV-123.pdf"


def test_package_with_only_the_agency_signature(
    agency_only_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    assessment = assess_package(_package(_pdf_file(agency_only_pdf)), pades_trust, at=pades_now)

    assert _states(assessment) == (ABSENT, VALID)


def test_package_with_both_signatures_parsed_or_not(
    both_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    data = _package(
        _docx(),
        _pdf_file(both_pdf, name="VanBan.SIGNED.PDF", content_type="application/octet-stream"),
    )

    from_bytes = assess_package(data, pades_trust, at=pades_now)
    parsed = edoc.parse(data)
    assert isinstance(parsed, edoc.DocumentPackage)
    from_package = assess_package(parsed, pades_trust, at=pades_now)

    assert _states(from_bytes) == _states(from_package) == (VALID, VALID)
    assert from_bytes.document == "VanBan.SIGNED.PDF"


def test_the_first_pdf_is_the_main_document(
    both_pdf: bytes, unsigned_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    data = _package(
        _pdf_file(unsigned_pdf, name="DuThao.pdf"), _pdf_file(both_pdf, name="BanChinh.pdf")
    )

    assessment = assess_package(data, pades_trust, at=pades_now)

    assert assessment.document == "DuThao.pdf"
    assert _states(assessment) == (ABSENT, ABSENT)


def test_the_sender_is_the_issuing_agency(
    both_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    # Both signatures are H56's, but the package says it comes from G22.
    assessment = assess_package(
        _package(_pdf_file(both_pdf), organ_id=H22), pades_trust, at=pades_now
    )

    assert _states(assessment) == (INVALID, INVALID)
    assert {s.problem_code for s in assessment.signatures} == {"organ_mismatch"}


def test_personal_signature_by_another_agency_in_a_package(
    unsigned_pdf: bytes, signers: Signers, pades_trust: TrustStore, pades_now: datetime
) -> None:
    signed = sign_pdf(
        sign_pdf(unsigned_pdf, signers.other_person, at=pades_now), signers.agency, at=pades_now
    )

    assessment = assess_package(_package(_pdf_file(signed)), pades_trust, at=pades_now)

    assert _states(assessment) == (INVALID, VALID)


def test_zip_wrapped_or_bare_base64(
    both_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    wrapped = _package(_pdf_file(both_pdf, name="CV-123.SIGNED.PDF"))
    parsed = edoc.parse(wrapped)
    assert isinstance(parsed, edoc.DocumentPackage)
    assert parsed.attachments[0].raw_bytes().startswith(b"PK\x03\x04")  # like the public samples
    bare = _replace_attachment_base64(wrapped, base64.b64encode(both_pdf).decode())

    for data in (wrapped, bare):
        assert _states(assess_package(data, pades_trust, at=pades_now)) == (VALID, VALID)


def test_bad_base64_is_invalid_invalid(
    both_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    xml = _replace_attachment_base64(_package(_pdf_file(both_pdf)), "@@@ this is not base64 @@@")

    assessment = assess_package(xml, pades_trust, at=pades_now)

    assert _states(assessment) == (INVALID, INVALID)
    assert assessment.document == "CV-123.pdf"
    assert assessment.problems[0].startswith("attachment_base64:")


def test_a_status_package_is_not_a_document(pades_trust: TrustStore, pades_now: datetime) -> None:
    status = edoc.build_status(
        edoc.StatusHeader(
            from_=edoc.Organization(organ_id=H56),
            response_for=edoc.ResponseFor(organ_id="000.00.00.H41", document_id="abc"),
            status_code=edoc.StatusCode("03"),
            timestamp=pades_now,
        )
    )
    with pytest.raises(SignatureError) as caught:
        assess_package(status, pades_trust, at=pades_now)
    assert caught.value.code == "not_a_document"


def _replace_attachment_base64(xml: bytes, text: str) -> bytes:
    pattern = re.compile(
        rb"(<(?:\w+:)?ContentTransferEncoded>)(.*?)(</(?:\w+:)?ContentTransferEncoded>)", re.S
    )
    replaced, count = pattern.subn(lambda m: m.group(1) + text.encode() + m.group(3), xml, count=1)
    assert count == 1
    return replaced
