"""Envelope signatures under attack: every refusal comes with its own typed error code."""

from __future__ import annotations

import base64
import copy
import random
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

import edoc
from keys import (
    CertificateError,
    Identity,
    KeysError,
    KeyStore,
    SignatureError,
    TrustStore,
    sign_envelope,
    verify_envelope,
)

H56 = "000.00.00.H56"
ED = f"{{{edoc.NAMESPACE}}}"
DS = f"{{{edoc.DSIG_NAMESPACE}}}"
NS = {"ed": edoc.NAMESPACE, "ds": edoc.DSIG_NAMESPACE}

PackageFactory = Callable[..., bytes]
Edit = Callable[[etree._Element], None]

pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")


@pytest.fixture(scope="module")
def package(make_package: PackageFactory) -> bytes:
    return make_package()


@pytest.fixture(scope="module")
def signed(package: bytes, agency: Identity) -> bytes:
    return sign_envelope(package, agency)


def edited(signed: bytes, edit: Edit) -> bytes:
    """Apply ``edit`` to the parsed package and serialise it again."""
    root = etree.fromstring(signed)
    edit(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def one(root: etree._Element, path: str) -> etree._Element:
    found = root.find(path, NS)
    assert found is not None, path
    return found


def signature_of(root: etree._Element) -> etree._Element:
    return one(root, "ed:edXMLEnvelope/ed:edXMLHeader/ds:Signature")


def refused(
    package: bytes,
    trust: TrustStore,
    at: datetime,
    code: str,
    kind: type[KeysError] = SignatureError,
    **options: object,
) -> KeysError:
    with pytest.raises(kind) as caught:
        verify_envelope(package, trust, at=at, **options)  # type: ignore[arg-type]
    assert caught.value.code == code, caught.value.message
    assert caught.value.message  # a sentence for a human, never empty
    return caught.value


def test_the_unmodified_package_verifies(signed: bytes, trust: TrustStore, now: datetime) -> None:
    # Re-serialising without change keeps the signature valid: the edits below are the cause.
    assert verify_envelope(edited(signed, lambda root: None), trust, at=now).organ_id == H56


# -- tampering -------------------------------------------------------------------------------


def test_tampered_subject(signed: bytes, trust: TrustStore, now: datetime) -> None:
    tampered = signed.replace("Về việc gửi".encode(), "Về việc hủy".encode(), 1)
    assert tampered != signed
    error = refused(tampered, trust, now, "signature_invalid")
    assert "changed after it was signed" in error.message


def test_tampered_attachment_content(signed: bytes, trust: TrustStore, now: datetime) -> None:
    def flip_base64(root: etree._Element) -> None:
        node = one(root, "ed:AttachmentEncoded/ed:Attachment/ed:ContentTransferEncoded")
        text = node.text or ""
        middle = len(text) // 2
        node.text = text[:middle] + ("A" if text[middle] != "A" else "B") + text[middle + 1 :]

    refused(edited(signed, flip_base64), trust, now, "signature_invalid")


def test_tampered_signature_value(signed: bytes, trust: TrustStore, now: datetime) -> None:
    def flip(root: etree._Element) -> None:
        value = one(signature_of(root), "ds:SignatureValue")
        text = value.text or ""
        value.text = ("B" if text[0] != "B" else "C") + text[1:]

    error = refused(edited(signed, flip), trust, now, "signature_invalid")
    assert "signature value" in error.message


def test_every_single_byte_corruption_gives_a_typed_error(
    signed: bytes, trust: TrustStore, now: datetime
) -> None:
    rng = random.Random(102)  # deterministic: QCVN 102
    outcomes: set[str] = set()
    for position in rng.sample(range(len(signed)), 250):
        corrupted = bytearray(signed)
        corrupted[position] = rng.choice(b"<>&\"' =/Az09\x00\xff")
        try:
            verify_envelope(bytes(corrupted), trust, at=now)
            outcomes.add("valid")
        except (KeysError, edoc.EdocError) as exc:
            outcomes.add(exc.code)
    # Almost every byte is signed; what still verifies changed nothing C14N sees.
    assert "signature_invalid" in outcomes
    assert "xml_malformed" in outcomes


# -- certificates ----------------------------------------------------------------------------


def test_certificate_from_another_ca(
    package: bytes, foreign_keystore: KeyStore, trust: TrustStore, now: datetime
) -> None:
    impostor = foreign_keystore.agency(H56, name="UBND tỉnh Thanh Hóa", at=now)
    forged = sign_envelope(package, impostor)  # same OrganId, same name, other CA
    refused(forged, trust, now, "untrusted_issuer", CertificateError)


def test_revoked_certificate(
    make_package: PackageFactory, keystore: KeyStore, now: datetime
) -> None:
    organ = "000.00.01.H56"  # its own agency: the shared H56 identity stays valid
    record = keystore.issue_agency(organ_id=organ, name="Văn phòng UBND tỉnh", at=now)
    identity = keystore.load_identity(record)
    signed = sign_envelope(make_package(organ), identity)
    assert verify_envelope(signed, TrustStore.load(keystore.directory), at=now).organ_id == organ

    keystore.revoke(record.serial, at=now, reason="keyCompromise")
    after = TrustStore.load(keystore.directory)
    error = refused(
        signed, after, now + timedelta(minutes=1), "certificate_revoked", CertificateError
    )
    assert record.serial in error.message


def test_expired_and_not_yet_valid_certificate(
    signed: bytes, agency: Identity, trust: TrustStore
) -> None:
    certificate = agency.certificate
    later = certificate.not_valid_after_utc + timedelta(days=1)
    refused(signed, trust, later, "certificate_expired", CertificateError)
    earlier = certificate.not_valid_before_utc - timedelta(days=1)
    refused(signed, trust, earlier, "certificate_not_yet_valid", CertificateError)


def test_personal_certificate_may_not_sign_an_envelope(
    package: bytes, person: Identity, trust: TrustStore, now: datetime
) -> None:
    forged = sign_envelope(package, person, check_signer=False)
    error = refused(forged, trust, now, "wrong_certificate_kind", CertificateError)
    assert "Nguyễn Văn An" in error.message


def test_hub_certificate_may_not_sign_an_envelope(
    package: bytes, keystore: KeyStore, trust: TrustStore, now: datetime
) -> None:
    hub = keystore.hub("LGSP tỉnh Thanh Hóa", at=now)
    forged = sign_envelope(package, hub, check_signer=False)
    refused(forged, trust, now, "wrong_certificate_kind", CertificateError)


def test_another_agency_signing_for_h56(
    package: bytes, keystore: KeyStore, trust: TrustStore, now: datetime
) -> None:
    nghe_an = keystore.agency("000.00.00.H41", name="UBND tỉnh Nghệ An", at=now)
    forged = sign_envelope(package, nghe_an, check_signer=False)
    error = refused(forged, trust, now, "organ_mismatch")
    assert H56 in error.message and "000.00.00.H41" in error.message


def test_certificate_swapped_for_another_trusted_one(
    signed: bytes, keystore: KeyStore, trust: TrustStore, now: datetime
) -> None:
    other = keystore.agency("000.00.00.H41", name="UBND tỉnh Nghệ An", at=now)

    def swap(root: etree._Element) -> None:
        node = one(signature_of(root), "ds:KeyInfo/ds:X509Data/ds:X509Certificate")
        node.text = _base64_der(other)

    refused(edited(signed, swap), trust, now, "signature_invalid")


def _base64_der(identity: Identity) -> str:
    return base64.b64encode(identity.certificate.public_bytes(Encoding.DER)).decode()


@pytest.mark.parametrize(
    ("edit_name", "code"),
    [
        ("no_key_info", "certificate_missing"),
        ("garbage_certificate", "certificate_malformed"),
        ("only_a_ca_certificate", "certificate_missing"),
        ("two_end_entities", "certificate_ambiguous"),
    ],
)
def test_keyinfo_problems(
    edit_name: str,
    code: str,
    signed: bytes,
    agency: Identity,
    keystore: KeyStore,
    trust: TrustStore,
    now: datetime,
) -> None:
    other = keystore.agency("000.00.00.H41", name="UBND tỉnh Nghệ An", at=now)

    def edit(root: etree._Element) -> None:
        signature = signature_of(root)
        certificate = one(signature, "ds:KeyInfo/ds:X509Data/ds:X509Certificate")
        if edit_name == "no_key_info":
            signature.remove(one(signature, "ds:KeyInfo"))
        elif edit_name == "garbage_certificate":
            certificate.text = "TUlJQ2dhcmJhZ2U="
        elif edit_name == "only_a_ca_certificate":
            certificate.text = base64.b64encode(agency.chain[0].public_bytes(Encoding.DER)).decode()
        else:
            extra = copy.deepcopy(certificate)
            extra.text = _base64_der(other)
            certificate.addnext(extra)

    refused(edited(signed, edit), trust, now, code)


# -- where the signature is, how many there are ----------------------------------------------


def test_package_without_signature(package: bytes, trust: TrustStore, now: datetime) -> None:
    refused(package, trust, now, "signature_missing")


def test_signature_in_the_edxml_namespace_is_no_signature(
    signed: bytes, trust: TrustStore, now: datetime
) -> None:
    def rename(root: etree._Element) -> None:
        for element in signature_of(root).iter():
            if isinstance(element.tag, str):
                element.tag = ED + etree.QName(element).localname

    refused(edited(signed, rename), trust, now, "signature_missing")


@pytest.mark.parametrize(
    "destination",
    [
        "ed:edXMLEnvelope/ed:edXMLHeader/ed:MessageHeader",
        "ed:edXMLEnvelope/ed:edXMLBody",
        "ed:edXMLEnvelope",
        ".",
        "ed:AttachmentEncoded",
    ],
)
def test_signature_moved_out_of_the_header(
    destination: str, signed: bytes, trust: TrustStore, now: datetime
) -> None:
    def move(root: etree._Element) -> None:
        signature = signature_of(root)
        target = root if destination == "." else one(root, destination)
        target.append(signature)  # lxml moves the element

    error = refused(edited(signed, move), trust, now, "signature_misplaced")
    assert "edXMLHeader" in error.message


@pytest.mark.parametrize("where", ["header", "body"])
def test_signature_duplicated(where: str, signed: bytes, trust: TrustStore, now: datetime) -> None:
    def duplicate(root: etree._Element) -> None:
        signature = signature_of(root)
        if where == "header":
            signature.addnext(copy.deepcopy(signature))
        else:
            one(root, "ed:edXMLEnvelope/ed:edXMLBody").append(copy.deepcopy(signature))

    error = refused(edited(signed, duplicate), trust, now, "signature_duplicated")
    assert "2" in error.message


# -- signature wrapping ----------------------------------------------------------------------


def _forge_from(message_header: etree._Element, organ_id: str) -> None:
    one(message_header, "ed:From/ed:OrganId").text = organ_id


def test_wrapping_a_forged_message_header(signed: bytes, trust: TrustStore, now: datetime) -> None:
    def wrap(root: etree._Element) -> None:
        original = one(root, "ed:edXMLEnvelope/ed:edXMLHeader/ed:MessageHeader")
        forged = copy.deepcopy(original)
        _forge_from(forged, "000.00.00.G22")
        original.addprevious(forged)

    refused(edited(signed, wrap), trust, now, "signature_invalid")


def test_wrapping_a_second_envelope(signed: bytes, trust: TrustStore, now: datetime) -> None:
    def wrap(root: etree._Element) -> None:
        original = one(root, "ed:edXMLEnvelope")
        forged = copy.deepcopy(original)
        forged_header = one(forged, "ed:edXMLHeader")
        forged_header.remove(one(forged_header, "ds:Signature"))
        _forge_from(one(forged_header, "ed:MessageHeader"), "000.00.00.G22")
        original.addprevious(forged)

    error = refused(edited(signed, wrap), trust, now, "envelope_malformed")
    assert "edXMLEnvelope" in error.message


def test_wrapping_the_signed_envelope_inside_the_signature(
    signed: bytes, trust: TrustStore, now: datetime
) -> None:
    # The classic attack: the signed original hides in ds:Object, a forged envelope takes its
    # place and carries the signature. URI="" covers the whole document, so it cannot work.
    def wrap(root: etree._Element) -> None:
        original = one(root, "ed:edXMLEnvelope")
        forged = copy.deepcopy(original)
        _forge_from(one(forged, "ed:edXMLHeader/ed:MessageHeader"), "000.00.00.G22")
        signature = one(forged, "ed:edXMLHeader/ds:Signature")
        hiding = etree.SubElement(signature, f"{DS}Object")
        original.addprevious(forged)
        hiding.append(original)
        one(hiding, "ed:edXMLEnvelope/ed:edXMLHeader").remove(
            one(hiding, "ed:edXMLEnvelope/ed:edXMLHeader/ds:Signature")
        )

    refused(edited(signed, wrap), trust, now, "signature_invalid")


def test_a_comment_cannot_truncate_the_organ_id(
    signed: bytes, trust: TrustStore, now: datetime
) -> None:
    # Comments are outside C14N, so inserting one keeps the signature valid; a reader that
    # took `.text` would see "000.00.00.H5". The OrganId comes from the verified XML.
    def inject(root: etree._Element) -> None:
        organ = one(root, "ed:edXMLEnvelope/ed:edXMLHeader/ed:MessageHeader/ed:From/ed:OrganId")
        organ.text = "000.00.00.H5"
        comment = etree.Comment(" injected ")
        comment.tail = "6"
        organ.append(comment)

    injected = edited(signed, inject)
    assert b"000.00.00.H5<!-- injected -->6" in injected
    result = verify_envelope(injected, trust, at=now)
    assert result.organ_id == H56
    assert verify_envelope(injected, trust, at=now, expected_organ_id=H56).organ_id == H56


# -- what the signature references and how ---------------------------------------------------


def _reference(root: etree._Element) -> etree._Element:
    return one(signature_of(root), "ds:SignedInfo/ds:Reference")


def _set_uri(root: etree._Element) -> None:
    _reference(root).set("URI", "#MessageHeader")


def _second_reference(root: etree._Element) -> None:
    reference = _reference(root)
    reference.addnext(copy.deepcopy(reference))


def _no_transform(root: etree._Element) -> None:
    reference = _reference(root)
    reference.remove(one(reference, "ds:Transforms"))


def _xpath_transform(root: etree._Element) -> None:
    transforms = one(_reference(root), "ds:Transforms")
    extra = etree.SubElement(transforms, f"{DS}Transform")
    extra.set("Algorithm", "http://www.w3.org/TR/1999/REC-xpath-19991116")


def _base64_transform(root: etree._Element) -> None:
    transforms = one(_reference(root), "ds:Transforms")
    extra = etree.SubElement(transforms, f"{DS}Transform")
    extra.set("Algorithm", "http://www.w3.org/2000/09/xmldsig#base64")


def _no_uri(root: etree._Element) -> None:
    del _reference(root).attrib["URI"]


@pytest.mark.parametrize(
    "edit",
    [_set_uri, _second_reference, _no_transform, _xpath_transform, _base64_transform, _no_uri],
)
def test_bad_references(edit: Edit, signed: bytes, trust: TrustStore, now: datetime) -> None:
    refused(edited(signed, edit), trust, now, "signature_bad_reference")


@pytest.mark.parametrize(
    ("element", "algorithm"),
    [
        ("ds:SignedInfo/ds:SignatureMethod", "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"),
        ("ds:SignedInfo/ds:SignatureMethod", "http://www.w3.org/2001/04/xmldsig-more#rsa-md5"),
        (
            "ds:SignedInfo/ds:Reference/ds:DigestMethod",
            "http://www.w3.org/2001/04/xmldsig-more#md5",
        ),
        ("ds:SignedInfo/ds:CanonicalizationMethod", "http://example.invalid/c14n"),
    ],
)
def test_unsupported_algorithms(
    element: str, algorithm: str, signed: bytes, trust: TrustStore, now: datetime
) -> None:
    def edit(root: etree._Element) -> None:
        one(signature_of(root), element).set("Algorithm", algorithm)

    refused(edited(signed, edit), trust, now, "signature_algorithm_unsupported")


def test_empty_signature_value(signed: bytes, trust: TrustStore, now: datetime) -> None:
    def empty(root: etree._Element) -> None:
        one(signature_of(root), "ds:SignatureValue").text = None

    refused(edited(signed, empty), trust, now, "signature_malformed")


def test_key_value_contradicting_the_certificate(
    signed: bytes, keystore: KeyStore, trust: TrustStore, now: datetime
) -> None:
    other = keystore.agency("000.00.00.H41", name="UBND tỉnh Nghệ An", at=now)
    public_key = other.certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    numbers = public_key.public_numbers()

    def add_key_value(root: etree._Element) -> None:
        key_info = one(signature_of(root), "ds:KeyInfo")
        rsa = etree.SubElement(etree.SubElement(key_info, f"{DS}KeyValue"), f"{DS}RSAKeyValue")
        for name, value in (("Modulus", numbers.n), ("Exponent", numbers.e)):
            raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
            etree.SubElement(rsa, f"{DS}{name}").text = base64.b64encode(raw).decode()

    refused(edited(signed, add_key_value), trust, now, "signature_malformed")


# -- not even XML we accept: edoc's errors propagate -----------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "xml_malformed"),
        (b"\x89PNG\r\n\x1a\n", "xml_malformed"),
        (
            b'<?xml version="1.0"?><!DOCTYPE edXML [<!ENTITY x "y">]><edXML>&x;</edXML>',
            "xml_dtd_forbidden",
        ),
    ],
)
def test_unacceptable_xml_raises_edoc_errors(
    data: bytes, code: str, trust: TrustStore, now: datetime
) -> None:
    with pytest.raises(edoc.EdocError) as caught:
        verify_envelope(data, trust, at=now)
    assert caught.value.code == code


def test_foreign_root_element(trust: TrustStore, now: datetime) -> None:
    data = b'<Invoice xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:Signature/></Invoice>'
    refused(data, trust, now, "envelope_malformed")
