"""Signing: personal then agency, both approval signatures, both stay valid."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import BytesIO

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from pades_support import H56, Signers
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields
from pyhanko.sign.signers import pdf_cms

from keys import (
    CertificateError,
    CertKind,
    SignatureError,
    SignatureState,
    SignerRole,
    TrustStore,
    sign_pdf,
    verify_pdf,
)
from keys import _pades as pades

pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")


def test_personal_then_agency_are_both_valid_with_their_roles(
    both_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    signatures = verify_pdf(both_pdf, pades_trust, at=pades_now)

    assert [(s.field_name, s.role, s.state) for s in signatures] == [
        ("ChuKyCaNhan", SignerRole.PERSONAL, SignatureState.VALID),
        ("ChuKyCoQuan", SignerRole.AGENCY, SignatureState.VALID),
    ]
    personal, agency = signatures
    assert personal.signer is not None and personal.signer.kind is CertKind.PERSON
    assert personal.signer.common_name == "Nguyễn Văn An"
    assert personal.signer.title == "Chủ tịch"
    assert agency.signer is not None and agency.signer.kind is CertKind.AGENCY
    assert personal.organ_id == agency.organ_id == H56
    assert all(s.intact and s.trusted and s.problem_code is None for s in signatures)


def test_first_signature_intact_after_the_second(
    personal_pdf: bytes, both_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    # The agency signature is an incremental update: the personal revision is untouched.
    assert both_pdf.startswith(personal_pdf)
    alone = verify_pdf(personal_pdf, pades_trust, at=pades_now)
    first = verify_pdf(both_pdf, pades_trust, at=pades_now)[0]

    assert alone[0].coverage is pades.SignatureCoverage.ENTIRE_FILE
    assert first.coverage is pades.SignatureCoverage.ENTIRE_REVISION
    assert first.intact and first.state is SignatureState.VALID
    assert first.signer == alone[0].signer


def test_signing_time_comes_from_at(
    unsigned_pdf: bytes, signers: Signers, pades_trust: TrustStore, pades_now: datetime
) -> None:
    at = pades_now - timedelta(minutes=30, seconds=7)

    signed = sign_pdf(unsigned_pdf, signers.person, at=at)

    assert verify_pdf(signed, pades_trust, at=pades_now)[0].signing_time == at


def test_a_second_official_gets_a_field_of_their_own(
    both_pdf: bytes, signers: Signers, pades_trust: TrustStore, pades_now: datetime
) -> None:
    again = sign_pdf(both_pdf, signers.other_person, at=pades_now)

    signatures = verify_pdf(again, pades_trust, at=pades_now)

    assert [s.field_name for s in signatures] == ["ChuKyCaNhan", "ChuKyCoQuan", "ChuKyCaNhan2"]
    assert [s.state for s in signatures] == [SignatureState.VALID] * 3


def test_reason_and_location_are_written(
    unsigned_pdf: bytes, signers: Signers, pades_now: datetime
) -> None:
    signed = sign_pdf(
        unsigned_pdf, signers.agency, at=pades_now, reason="Phát hành văn bản", location="Thanh Hóa"
    )

    reader = pades._reader(signed)
    sig_object = reader.embedded_regular_signatures[0].sig_object
    assert sig_object["/Reason"] == "Phát hành văn bản"
    assert sig_object["/Location"] == "Thanh Hóa"
    assert sig_object["/SubFilter"] == "/ETSI.CAdES.detached"


def test_no_certification_signature_is_made(both_pdf: bytes) -> None:
    reader = pades._reader(both_pdf)
    # A certification (DocMDP) signature would lock the document against the second signature.
    assert "/Perms" not in reader.root
    for embedded in reader.embedded_regular_signatures:
        assert embedded.docmdp_level is None


def test_the_chain_is_embedded_without_the_root(both_pdf: bytes, signers: Signers) -> None:
    reader = pades._reader(both_pdf)
    sub_ca, root = (c.public_bytes(Encoding.DER) for c in signers.person.chain)

    for embedded in reader.embedded_regular_signatures:
        embedded_der = {c.chosen.dump() for c in embedded.signed_data["certificates"]}
        assert sub_ca in embedded_der
        assert root not in embedded_der
        assert len(embedded_der) == 2  # the signer and its sub-CA


def test_hub_certificates_do_not_sign_documents(
    unsigned_pdf: bytes, signers: Signers, pades_now: datetime
) -> None:
    with pytest.raises(CertificateError) as caught:
        sign_pdf(unsigned_pdf, signers.hub, at=pades_now)
    assert caught.value.code == "wrong_certificate_kind"


def test_a_person_cannot_make_the_agency_signature(
    unsigned_pdf: bytes, signers: Signers, pades_now: datetime
) -> None:
    with pytest.raises(CertificateError) as caught:
        sign_pdf(unsigned_pdf, signers.person, at=pades_now, role=SignerRole.AGENCY)
    assert caught.value.code == "wrong_certificate_kind"
    # The matching role is accepted.
    assert sign_pdf(unsigned_pdf, signers.person, at=pades_now, role=SignerRole.PERSONAL)


def test_signing_needs_an_aware_time(unsigned_pdf: bytes, signers: Signers) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_pdf(unsigned_pdf, signers.person, at=datetime(2025, 1, 1, 8, 0))


@pytest.mark.parametrize("data", [b"", b"hello, not a pdf", b"%PDF-1.7\n garbage without xref"])
def test_signing_something_that_is_not_a_pdf(
    data: bytes, signers: Signers, pades_now: datetime
) -> None:
    with pytest.raises(SignatureError) as caught:
        sign_pdf(data, signers.person, at=pades_now)
    assert caught.value.code == "pdf_malformed"


def test_the_signer_is_built_once_per_certificate(signers: Signers) -> None:
    assert pades._signer_for(signers.person) is pades._signer_for(signers.person)
    assert pades._signer_for(signers.person) is not pades._signer_for(signers.agency)


def test_one_raw_signature_per_pdf_and_no_key_reload(
    unsigned_pdf: bytes,
    signers: Signers,
    pades_trust: TrustStore,
    pades_now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fast path: no trial signing run (bytes reserved up front), no DER key re-parse."""
    calls: list[int] = []
    original = pades._KeySigner.async_sign_raw

    async def counting(
        self: pades._KeySigner, data: bytes, digest: str, dry_run: bool = False
    ) -> bytes:
        calls.append(len(data))
        return await original(self, data, digest, dry_run)

    def no_reload(*args: object, **kwargs: object) -> None:
        raise AssertionError("the private key was re-parsed")

    monkeypatch.setattr(pades._KeySigner, "async_sign_raw", counting)
    monkeypatch.setattr(pdf_cms.serialization, "load_der_private_key", no_reload)  # type: ignore[attr-defined]

    signed = sign_pdf(unsigned_pdf, signers.agency, at=pades_now)

    assert len(calls) == 1
    assert verify_pdf(signed, pades_trust, at=pades_now)[0].state is SignatureState.VALID


async def test_signing_inside_a_running_event_loop(
    unsigned_pdf: bytes, signers: Signers, pades_trust: TrustStore, pades_now: datetime
) -> None:
    """Agencies and hubs are async: signing and verifying must not need a loop of their own."""
    signed = sign_pdf(unsigned_pdf, signers.person, at=pades_now)

    assert verify_pdf(signed, pades_trust, at=pades_now)[0].state is SignatureState.VALID


def test_p256_identities_sign_too(
    tmp_path_factory: pytest.TempPathFactory, unsigned_pdf: bytes, pades_now: datetime
) -> None:
    from keys import KeyAlgorithm, KeyStore

    store = KeyStore(tmp_path_factory.mktemp("pades-p256"))
    store.init(at=pades_now, algorithm=KeyAlgorithm.P256)
    person = store.person("Phạm Minh Châu", organ_id=H56, position="Giám đốc", at=pades_now)
    agency = store.agency(H56, at=pades_now)

    signed = sign_pdf(sign_pdf(unsigned_pdf, person, at=pades_now), agency, at=pades_now)

    states = [s.state for s in verify_pdf(signed, store.trust_store(at=pades_now), at=pades_now)]
    assert states == [SignatureState.VALID, SignatureState.VALID]


def test_empty_fields_made_up_front_are_filled(
    unsigned_pdf: bytes, signers: Signers, pades_trust: TrustStore, pades_now: datetime
) -> None:
    """A template with both (empty) signature fields: each signature fills its own."""
    writer = IncrementalPdfFileWriter(BytesIO(unsigned_pdf))
    for name in ("ChuKyCaNhan", "ChuKyCoQuan"):
        fields.append_signature_field(writer, fields.SigFieldSpec(name))
    template = BytesIO()
    writer.write(template)  # type: ignore[no-untyped-call]

    signed = sign_pdf(template.getvalue(), signers.person, at=pades_now)
    signed = sign_pdf(signed, signers.agency, at=pades_now)

    signatures = verify_pdf(signed, pades_trust, at=pades_now)
    assert [(s.field_name, s.state) for s in signatures] == [
        ("ChuKyCaNhan", SignatureState.VALID),
        ("ChuKyCoQuan", SignatureState.VALID),
    ]
