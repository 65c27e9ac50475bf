"""Verifying: integrity, changes after signing, certificates, malformed files."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import BytesIO

import pytest
from pades_support import H56, Signers
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from keys import (
    KeyStore,
    SignatureError,
    SignatureState,
    SignerRole,
    TrustStore,
    sign_pdf,
    verify_pdf,
)
from keys import _pades as pades

pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")


def _states(signatures: list[pades.PdfSignature]) -> list[tuple[str, SignatureState, str | None]]:
    return [(s.field_name, s.state, s.problem_code) for s in signatures]


def _signed_ranges(pdf: bytes) -> list[tuple[int, int, int, int]]:
    reader = pades._reader(pdf)
    ranges = []
    for embedded in reader.embedded_regular_signatures:
        start1, len1, start2, len2 = (int(n) for n in embedded.byte_range)
        ranges.append((start1, len1, start2, len2))
    return ranges


# -- integrity ----------------------------------------------------------------------------------


def test_an_unsigned_pdf_has_no_signatures(
    unsigned_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    assert verify_pdf(unsigned_pdf, pades_trust, at=pades_now) == []


def test_one_changed_byte_in_the_signed_range_breaks_both(
    both_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    # A byte of the first page's content stream: covered by both signatures.
    position = both_pdf.index(b"stream", 200) + 40
    assert position < _signed_ranges(both_pdf)[0][1]
    tampered = bytearray(both_pdf)
    tampered[position] ^= 0x01

    signatures = verify_pdf(bytes(tampered), pades_trust, at=pades_now)

    assert _states(signatures) == [
        ("ChuKyCaNhan", SignatureState.INVALID, "digest_mismatch"),
        ("ChuKyCoQuan", SignatureState.INVALID, "digest_mismatch"),
    ]
    assert not any(s.intact for s in signatures)
    # The certificates themselves are still fine: only the bytes are wrong.
    assert all(s.trusted for s in signatures)


def test_a_change_in_the_second_revision_breaks_only_the_agency_signature(
    both_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    _, _, start2, len2 = _signed_ranges(both_pdf)[1]
    first_end = sum(_signed_ranges(both_pdf)[0][2:])
    # The /Reason text of the agency signature dictionary: after the personal revision.
    position = both_pdf.index(b"/Reason", first_end) + 12
    assert first_end < position
    tampered = bytearray(both_pdf)
    tampered[position] ^= 0x01

    signatures = verify_pdf(bytes(tampered), pades_trust, at=pades_now)

    assert _states(signatures) == [
        ("ChuKyCaNhan", SignatureState.VALID, None),
        ("ChuKyCoQuan", SignatureState.INVALID, "digest_mismatch"),
    ]
    assert signatures[0].intact and not signatures[1].intact
    assert start2 + len2 == len(both_pdf)


def test_bytes_appended_after_signing_are_flagged(
    both_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    signatures = verify_pdf(both_pdf + b"\n% added later\n", pades_trust, at=pades_now)

    assert _states(signatures) == [
        ("ChuKyCaNhan", SignatureState.INVALID, "modified_after_signing"),
        ("ChuKyCoQuan", SignatureState.INVALID, "modified_after_signing"),
    ]
    assert all(s.intact for s in signatures)  # the signed bytes themselves are unchanged


def _append_page_content(pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    forged = generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 720 Td (DA DUYET) Tj ET")
    writer.add_stream_to_page(0, writer.add_object(forged))  # type: ignore[no-untyped-call]
    out = BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


def test_an_incremental_update_that_is_not_a_signature_is_flagged(
    personal_pdf: bytes, both_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    after_one = verify_pdf(_append_page_content(personal_pdf), pades_trust, at=pades_now)
    after_both = verify_pdf(_append_page_content(both_pdf), pades_trust, at=pades_now)

    assert _states(after_one) == [("ChuKyCaNhan", SignatureState.INVALID, "modified_after_signing")]
    assert [s.problem_code for s in after_both] == ["modified_after_signing"] * 2


def test_a_signature_over_a_modified_file_covers_the_change(
    personal_pdf: bytes, signers: Signers, pades_trust: TrustStore, pades_now: datetime
) -> None:
    """A page changed after the personal signature, then signed by the agency: only the
    agency signature (which covers the change) is valid."""
    modified = _append_page_content(personal_pdf)

    signatures = verify_pdf(
        sign_pdf(modified, signers.agency, at=pades_now), pades_trust, at=pades_now
    )

    assert _states(signatures) == [
        ("ChuKyCaNhan", SignatureState.INVALID, "modified_after_signing"),
        ("ChuKyCoQuan", SignatureState.VALID, None),
    ]


def test_a_corrupted_signature_blob_is_invalid_and_leaves_the_other_valid(
    both_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    # /Contents is outside every byte range: break the agency CMS without touching signed bytes.
    _, len1, start2, _ = _signed_ranges(both_pdf)[1]
    corrupted = both_pdf[: len1 + 1] + b"0" * 64 + both_pdf[len1 + 65 :]
    assert len(corrupted) == len(both_pdf) and start2 > len1 + 65

    signatures = verify_pdf(corrupted, pades_trust, at=pades_now)

    assert _states(signatures) == [
        ("ChuKyCaNhan", SignatureState.VALID, None),
        ("ChuKyCoQuan", SignatureState.INVALID, "signature_malformed"),
    ]
    assert signatures[1].role is SignerRole.AGENCY  # placed by its field name
    assert signatures[1].signer is None


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"<edXML>not a pdf</edXML>", id="xml"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, id="png"),
        pytest.param(b"%PDF-1.7\n1 0 obj << >> endobj\n", id="no-xref"),
    ],
)
def test_non_pdf_bytes_are_pdf_malformed(
    data: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_pdf(data, pades_trust, at=pades_now)
    assert caught.value.code == "pdf_malformed"


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_a_truncated_signed_pdf_is_pdf_malformed(
    keep: float, both_pdf: bytes, pades_trust: TrustStore, pades_now: datetime
) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_pdf(both_pdf[: int(len(both_pdf) * keep)], pades_trust, at=pades_now)
    assert caught.value.code == "pdf_malformed"


def test_verifying_needs_an_aware_time(both_pdf: bytes, pades_trust: TrustStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_pdf(both_pdf, pades_trust, at=datetime(2025, 1, 1))


# -- certificates -------------------------------------------------------------------------------


def test_a_revoked_signer_is_invalid(
    pades_store: KeyStore, unsigned_pdf: bytes, signers: Signers, pades_now: datetime
) -> None:
    signer = pades_store.person(
        "Trần Văn Cường", organ_id=H56, position="Phó Chủ tịch", at=pades_now
    )
    signed = sign_pdf(sign_pdf(unsigned_pdf, signer, at=pades_now), signers.agency, at=pades_now)

    pades_store.revoke(f"{signer.serial:x}", at=pades_now, reason="key_compromise")
    fresh = pades_store.trust_store(at=pades_now)
    signatures = verify_pdf(signed, fresh, at=pades_now + timedelta(minutes=1))

    assert _states(signatures) == [
        ("ChuKyCaNhan", SignatureState.INVALID, "certificate_revoked"),
        ("ChuKyCoQuan", SignatureState.VALID, None),
    ]
    assert signatures[0].intact and not signatures[0].trusted


def test_a_signer_of_another_ca_is_untrusted(
    unsigned_pdf: bytes, signers: Signers, pades_trust: TrustStore, pades_now: datetime
) -> None:
    signed = sign_pdf(unsigned_pdf, signers.foreign_person, at=pades_now)
    signed = sign_pdf(signed, signers.foreign_agency, at=pades_now)

    signatures = verify_pdf(signed, pades_trust, at=pades_now)

    assert _states(signatures) == [
        ("ChuKyCaNhan", SignatureState.INVALID, "untrusted_issuer"),
        ("ChuKyCoQuan", SignatureState.INVALID, "untrusted_issuer"),
    ]
    assert all(s.intact and not s.trusted for s in signatures)
    assert [s.role for s in signatures] == [SignerRole.PERSONAL, SignerRole.AGENCY]


def test_an_expired_certificate_is_invalid(
    both_pdf: bytes, signers: Signers, pades_trust: TrustStore
) -> None:
    later = signers.person.certificate.not_valid_after_utc + timedelta(days=1)

    signatures = verify_pdf(both_pdf, pades_trust, at=later)

    assert [(s.state, s.problem_code) for s in signatures] == [
        (SignatureState.INVALID, "certificate_expired")
    ] * 2


def test_a_certificate_not_yet_valid_is_invalid(
    both_pdf: bytes, signers: Signers, pades_trust: TrustStore
) -> None:
    earlier = signers.person.certificate.not_valid_before_utc - timedelta(days=1)

    signatures = verify_pdf(both_pdf, pades_trust, at=earlier)

    assert {s.problem_code for s in signatures} == {"certificate_not_yet_valid"}


def test_a_missing_crl_is_reported(
    both_pdf: bytes, pades_store: KeyStore, pades_now: datetime
) -> None:
    without_crls = TrustStore.from_pem(pades_store.trust_bundle_pem())

    signatures = verify_pdf(both_pdf, without_crls, at=pades_now)

    assert [(s.state, s.problem_code) for s in signatures] == [
        (SignatureState.INVALID, "crl_missing")
    ] * 2
