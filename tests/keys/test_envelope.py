"""Envelope signatures: signing, verifying, the legacy SHA-1 case and the CLI."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from lxml import etree
from typer.testing import CliRunner

import edoc
from keys import (
    CertificateError,
    CertKind,
    Identity,
    KeyAlgorithm,
    KeyStore,
    SignatureError,
    TrustStore,
    sign_envelope,
    verify_envelope,
)
from sim.cli import app

H56 = "000.00.00.H56"
ED = f"{{{edoc.NAMESPACE}}}"
DS = f"{{{edoc.DSIG_NAMESPACE}}}"
NS = {"ed": edoc.NAMESPACE, "ds": edoc.DSIG_NAMESPACE}
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
C14N_2001 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

PackageFactory = Callable[..., bytes]
SignFunction = Callable[..., bytes]

# Our CA's names are longer than X.520's 64 "characters" in UTF-8 bytes; cryptography warns.
pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")


def tree(data: bytes) -> etree._Element:
    return etree.fromstring(data)


@pytest.fixture(scope="module")
def package(make_package: PackageFactory) -> bytes:
    return make_package()


@pytest.fixture(scope="module")
def signed(package: bytes, agency: Identity) -> bytes:
    return sign_envelope(package, agency)


# -- signing ---------------------------------------------------------------------------------


def test_signature_has_the_sample_shape(signed: bytes, agency: Identity) -> None:
    root = tree(signed)
    header = root.find("ed:edXMLEnvelope/ed:edXMLHeader", NS)
    assert header is not None
    signature = header[-1]
    assert signature.tag == f"{DS}Signature"  # last child of edXMLHeader
    assert len(root.findall(".//ds:Signature", NS)) == 1
    info = signature.find("ds:SignedInfo", NS)
    assert info is not None
    assert info.find("ds:CanonicalizationMethod", NS).get("Algorithm") == C14N_2001  # type: ignore[union-attr]
    assert info.find("ds:SignatureMethod", NS).get("Algorithm") == RSA_SHA256  # type: ignore[union-attr]
    references = info.findall("ds:Reference", NS)
    assert [r.get("URI") for r in references] == [""]
    transforms = references[0].findall("ds:Transforms/ds:Transform", NS)
    assert [t.get("Algorithm") for t in transforms] == [ENVELOPED]
    assert references[0].find("ds:DigestMethod", NS).get("Algorithm") == SHA256  # type: ignore[union-attr]
    certificates = signature.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)
    assert len(certificates) == 1
    assert certificates[0].text is not None
    der = x509.load_der_x509_certificate(base64.b64decode(certificates[0].text))
    assert der == agency.certificate


def test_output_is_a_full_package_with_declaration_and_untouched_attachments(
    package: bytes, signed: bytes, sample_pdf: bytes
) -> None:
    assert signed.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<')
    before = edoc.parse(package)
    after = edoc.parse(signed)
    assert isinstance(after, edoc.DocumentPackage) and isinstance(before, edoc.DocumentPackage)
    assert [a.encoded for a in after.attachments] == [a.encoded for a in before.attachments]
    assert after.attachments[0].decode() == sample_pdf
    assert after.header == before.header
    assert len(after.signatures) == 1 and after.signatures[0].location == "edXMLHeader"
    assert edoc.validate(after) == []


def test_signing_keeps_the_header_indented(signed: bytes) -> None:
    # The signature starts on its own line, indented like its siblings.
    assert re.search(rb"\n\s+<ds:Signature xmlns:ds=", signed)
    assert re.search(rb"</ds:Signature>\n\s+</edXML:edXMLHeader>", signed)


def test_round_trip(signed: bytes, trust: TrustStore, now: datetime, agency: Identity) -> None:
    result = verify_envelope(signed, trust, at=now)
    assert result.organ_id == H56
    assert result.signer.organ_id == H56
    assert result.signer.kind is CertKind.AGENCY
    assert result.signer.common_name == "UBND tỉnh Thanh Hóa"
    assert result.signer.serial == agency.serial
    assert result.certificate == agency.certificate
    assert result.signature_method == RSA_SHA256 and result.algorithm == "rsa-sha256"
    assert result.digest_method == SHA256
    assert result.legacy_sha1 is False
    # What was signed is the package itself, canonicalised, without the signature.
    assert b"Signature" not in result.signed_bytes
    assert b"123/Q\xc4\x90-UBND" in result.signed_bytes


def test_expected_organ_id(signed: bytes, trust: TrustStore, now: datetime) -> None:
    assert verify_envelope(signed, trust, at=now, expected_organ_id=H56).organ_id == H56
    with pytest.raises(SignatureError) as caught:
        verify_envelope(signed, trust, at=now, expected_organ_id="000.00.00.H41")
    assert caught.value.code == "organ_mismatch"
    assert "000.00.00.H41" in caught.value.message


def test_a_signed_package_is_refused(signed: bytes, agency: Identity) -> None:
    with pytest.raises(SignatureError) as caught:
        sign_envelope(signed, agency)
    assert caught.value.code == "already_signed"


def test_signing_refuses_a_personal_identity(package: bytes, person: Identity) -> None:
    with pytest.raises(CertificateError) as caught:
        sign_envelope(package, person)
    assert caught.value.code == "wrong_certificate_kind"


def test_signing_refuses_another_agency(package: bytes, keystore: KeyStore, now: datetime) -> None:
    nghe_an = keystore.agency("000.00.00.H41", name="UBND tỉnh Nghệ An", at=now)
    with pytest.raises(SignatureError) as caught:
        sign_envelope(package, nghe_an)
    assert caught.value.code == "organ_mismatch"
    assert "000.00.00.H41" in caught.value.message and H56 in caught.value.message


def test_signing_refuses_what_is_not_an_edxml_package(agency: Identity) -> None:
    with pytest.raises(SignatureError) as caught:
        sign_envelope(b"<invoice><total>3</total></invoice>", agency)
    assert caught.value.code == "envelope_malformed"
    with pytest.raises(edoc.EdocError) as malformed:
        sign_envelope(b"<edXML", agency)
    assert malformed.value.code == "xml_malformed"


def test_signing_a_package_with_undeclared_prefixes_is_refused(agency: Identity) -> None:
    # The public sample uses xlink:href without declaring xlink: edoc reads it, but no
    # canonical form exists, so it cannot be signed.
    sample = (Path(__file__).parents[1] / "edoc" / "samples" / "edoc.edxml").read_bytes()
    unsigned = re.sub(rb"<Signature .*?</Signature>", b"", sample, flags=re.S)
    unsigned = unsigned.replace(b"002.00.20.H13", H56.encode())
    with pytest.raises(SignatureError) as caught:
        sign_envelope(unsigned, agency)
    assert caught.value.code == "envelope_malformed"
    assert "xlink" in caught.value.message


def test_a_scanned_attachment_over_libxml2s_10_mb_text_limit(
    agency: Identity, trust: TrustStore, now: datetime
) -> None:
    scan = b"%PDF-1.7\n" + os.urandom(8_000_000)  # base64 text of ~10.7 MB
    header = edoc.DocumentHeader(
        from_=edoc.Organization(H56, organ_name="UBND tỉnh Thanh Hóa"),
        to=[edoc.Organization("000.00.00.G22")],
        subject="Hồ sơ quét",
    )
    package = edoc.build_document(
        header, attachments=[edoc.AttachmentFile("scan.pdf", "application/pdf", scan)]
    )
    assert len(package) > 10_000_000
    signed = sign_envelope(package, agency)
    assert verify_envelope(signed, trust, at=now).organ_id == H56


def test_status_package_round_trip(agency: Identity, trust: TrustStore, now: datetime) -> None:
    status = edoc.build_status(
        edoc.StatusHeader(
            from_=edoc.Organization(H56, organ_name="UBND tỉnh Thanh Hóa"),
            response_for=edoc.ResponseFor(
                organ_id="000.00.00.G22", code="7816/VPCP-TTĐT", document_id="x"
            ),
            status_code=edoc.StatusCode.ACCEPTED,
            description="Đã tiếp nhận",
            timestamp=now,
        )
    )
    signed = sign_envelope(status, agency)
    header = tree(signed).find("ed:edXMLEnvelope/ed:edXMLHeader", NS)
    assert header is not None and header[-1].tag == f"{DS}Signature"
    assert verify_envelope(signed, trust, at=now).organ_id == H56


@pytest.fixture(scope="module")
def p256_store(tmp_path_factory: pytest.TempPathFactory, now: datetime) -> KeyStore:
    store = KeyStore(tmp_path_factory.mktemp("p256"))
    store.init(at=now, algorithm=KeyAlgorithm.P256)
    return store


def test_p256_keys_sign_with_ecdsa_sha256(
    p256_store: KeyStore, package: bytes, now: datetime
) -> None:
    identity = p256_store.agency(H56, name="UBND tỉnh Thanh Hóa", at=now)
    signed = sign_envelope(package, identity)
    result = verify_envelope(signed, p256_store.trust_store(at=now), at=now)
    assert result.signature_method == ECDSA_SHA256
    assert result.organ_id == H56


def test_an_explicit_c14n_transform_is_accepted(
    package: bytes,
    agency: Identity,
    trust: TrustStore,
    now: datetime,
    third_party_sign: SignFunction,
) -> None:
    # Other DMS list the canonicalization among the transforms; it means the same thing.
    signed = third_party_sign(package, agency, explicit_c14n=True)
    transforms = tree(signed).findall(".//ds:Reference/ds:Transforms/ds:Transform", NS)
    assert [t.get("Algorithm") for t in transforms] == [ENVELOPED, C14N_2001]
    assert verify_envelope(signed, trust, at=now).organ_id == H56


# -- legacy SHA-1 ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sha1_signed(package: bytes, agency: Identity, third_party_sign: SignFunction) -> bytes:
    return third_party_sign(package, agency, sha1=True)


def test_sha1_verifies_only_as_flagged_legacy(
    sha1_signed: bytes, trust: TrustStore, now: datetime
) -> None:
    assert b"xmldsig#rsa-sha1" in sha1_signed and b"xmldsig#sha1" in sha1_signed
    result = verify_envelope(sha1_signed, trust, at=now)
    assert result.legacy_sha1 is True
    assert result.algorithm == "rsa-sha1"
    assert result.organ_id == H56


def test_sha1_is_refused_in_strict_mode(
    sha1_signed: bytes, trust: TrustStore, now: datetime
) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_envelope(sha1_signed, trust, at=now, allow_legacy_sha1=False)
    assert caught.value.code == "legacy_algorithm_refused"


def test_tampered_sha1_package_is_still_caught(
    sha1_signed: bytes, trust: TrustStore, now: datetime
) -> None:
    tampered = sha1_signed.replace("gửi, nhận".encode(), "gửi, nhạn".encode(), 1)
    assert tampered != sha1_signed
    with pytest.raises(SignatureError) as caught:
        verify_envelope(tampered, trust, at=now)
    assert caught.value.code == "signature_invalid"


def test_public_sample_fails_cleanly(trust: TrustStore, now: datetime) -> None:
    # Signed with SHA-1 by a VNPT certificate: not of our CA, whatever else is wrong with it.
    sample = (Path(__file__).parents[1] / "edoc" / "samples" / "edoc.edxml").read_bytes()
    signing_time = datetime(2018, 5, 15, 7, 19, 17, tzinfo=UTC)  # its SigningTime
    with pytest.raises(CertificateError) as caught:
        verify_envelope(sample, trust, at=signing_time)
    assert caught.value.code == "untrusted_issuer"
    assert "VNPT" in caught.value.message
    # Today its certificate has also expired (2018-10-19): the trust store says so first.
    with pytest.raises(CertificateError) as today:
        verify_envelope(sample, trust, at=now)
    assert today.value.code == "certificate_expired"
    with pytest.raises(SignatureError) as strict:
        verify_envelope(sample, trust, at=now, allow_legacy_sha1=False)
    assert strict.value.code == "legacy_algorithm_refused"


# -- CLI -------------------------------------------------------------------------------------


def cli(*args: str | Path, stdin: bytes | None = None) -> tuple[int, bytes, str]:
    runner = CliRunner(env={"COLUMNS": "200"})
    result = runner.invoke(app, ["edxml", *map(str, args)], input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout_bytes, result.stderr


def test_cli_sign_then_verify(
    tmp_path: Path, package: bytes, keystore: KeyStore, trust: TrustStore, now: datetime
) -> None:
    unsigned = tmp_path / "unsigned.edxml"
    unsigned.write_bytes(package)
    code, out, err = cli("sign", unsigned, "--as", H56, "--keys", keystore.directory)
    assert code == 0, err
    assert err == ""  # the agency already had a certificate: nothing issued
    assert verify_envelope(out, trust, at=now).organ_id == H56
    signed = tmp_path / "signed.edxml"
    signed.write_bytes(out)

    code, out, err = cli("verify", signed, "--keys", keystore.directory)
    assert code == 0, err
    text = out.decode()
    assert "valid" in text and "UBND tỉnh Thanh Hóa" in text and H56 in text
    assert "rsa-sha256" in text
    assert re.search(r"Legacy SHA-1\s+│?\s*no", text)


def test_cli_sign_reads_stdin_and_issues_a_missing_agency(
    tmp_path: Path, make_package: PackageFactory, keystore: KeyStore
) -> None:
    organ = "000.00.02.H56"
    code, out, err = cli(
        "sign", "-", "--as", organ, "--keys", keystore.directory, stdin=make_package(organ)
    )
    assert code == 0, err
    assert f"issued a new agency certificate for {organ}" in err
    assert keystore.find(kind=CertKind.AGENCY, organ_id=organ) is not None
    signed = tmp_path / "signed.edxml"
    signed.write_bytes(out)
    code, out, err = cli("verify", signed, "--keys", keystore.directory, "--from", organ)
    assert code == 0, err


def test_cli_verify_reports_an_invalid_package(
    tmp_path: Path, signed: bytes, keystore: KeyStore
) -> None:
    tampered = tmp_path / "tampered.edxml"
    tampered.write_bytes(signed.replace("gửi, nhận".encode(), "gửi, nhạn".encode(), 1))
    code, out, err = cli("verify", tampered, "--keys", keystore.directory)
    assert code == 1
    assert err.startswith("error: signature_invalid: ") and err.count("\n") == 1
    assert out == b""


def test_cli_verify_strict_refuses_sha1(
    tmp_path: Path, sha1_signed: bytes, keystore: KeyStore
) -> None:
    path = tmp_path / "sha1.edxml"
    path.write_bytes(sha1_signed)
    code, out, err = cli("verify", path, "--keys", keystore.directory)
    assert code == 0, err
    assert re.search(r"Legacy SHA-1\s+│?\s*yes", out.decode())
    assert "warning: legacy SHA-1" in err
    code, _, err = cli("verify", path, "--keys", keystore.directory, "--strict")
    assert code == 1
    assert err.startswith("error: legacy_algorithm_refused: ")


def test_cli_errors_without_traceback(tmp_path: Path, package: bytes) -> None:
    unsigned = tmp_path / "unsigned.edxml"
    unsigned.write_bytes(package)
    missing = tmp_path / "no-keys"
    code, out, err = cli("sign", unsigned, "--as", H56, "--keys", missing)
    assert code == 2 and out == b""
    assert err.startswith("error: keystore_missing: ")
    code, out, err = cli("verify", unsigned, "--keys", missing)
    assert code == 2 and err.startswith("error: keystore_missing: ")
    code, _, err = cli("verify", tmp_path / "nope.edxml", "--keys", missing)
    assert code == 2 and err.startswith("error: io_error: ")


def test_cli_verify_unsigned_and_garbage(
    tmp_path: Path, package: bytes, keystore: KeyStore
) -> None:
    unsigned = tmp_path / "unsigned.edxml"
    unsigned.write_bytes(package)
    code, _, err = cli("verify", unsigned, "--keys", keystore.directory)
    assert code == 1 and err.startswith("error: signature_missing: ")
    garbage = tmp_path / "garbage.edxml"
    garbage.write_bytes(b"\x00\x01 not xml")
    code, _, err = cli("verify", garbage, "--keys", keystore.directory)
    assert code == 1 and err.startswith("error: xml_malformed: ")
