"""Shared key stores for the `keys` tests: generated once per session (RSA keys are slow)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree
from signxml.algorithms import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
)
from signxml.signer import XMLSigner

import edoc
from keys import Identity, KeyStore, TrustStore
from simtime import WallClock

H56 = "000.00.00.H56"
H56_NAME = "UBND tỉnh Thanh Hóa"
PERSON_NAME = "Nguyễn Văn An"
PERSON_POSITION = "Chủ tịch"
G22 = "000.00.00.G22"
ATTACHMENT_ID = "cid:6f1c2a44-5b0e-4c1d-9a57-1f2e3d4c5b6a"

PackageFactory = Callable[..., bytes]


@pytest.fixture(scope="session")
def now() -> datetime:
    """The session's reference time: real time (so Debian tools checking dates agree)."""
    return WallClock().now().replace(microsecond=0)


@pytest.fixture(scope="session")
def keystore(tmp_path_factory: pytest.TempPathFactory, now: datetime) -> KeyStore:
    """A CA with the agency 000.00.00.H56 (UBND tỉnh Thanh Hóa) and its Chairman already issued."""
    store = KeyStore(tmp_path_factory.mktemp("keystore"))
    store.init(at=now)
    store.agency(H56, name=H56_NAME, at=now)
    store.person(PERSON_NAME, organ_id=H56, position=PERSON_POSITION, at=now)
    return store


@pytest.fixture(scope="session")
def trust(keystore: KeyStore, now: datetime) -> TrustStore:
    """The trust store of `keystore` (root, sub-CAs, CRLs)."""
    return keystore.trust_store(at=now)


@pytest.fixture(scope="session")
def foreign_keystore(tmp_path_factory: pytest.TempPathFactory, now: datetime) -> KeyStore:
    """A second, unrelated CA that also issued an agency certificate for 000.00.00.H56."""
    store = KeyStore(tmp_path_factory.mktemp("foreign-keystore"))
    store.init(at=now)
    store.agency(H56, name=H56_NAME, at=now)
    return store


@pytest.fixture(scope="session")
def agency(keystore: KeyStore, now: datetime) -> Identity:
    """The agency identity of UBND tỉnh Thanh Hóa (000.00.00.H56)."""
    return keystore.agency(H56, name=H56_NAME, at=now)


@pytest.fixture(scope="session")
def person(keystore: KeyStore, now: datetime) -> Identity:
    """The personal identity of Nguyễn Văn An, Chủ tịch of 000.00.00.H56."""
    return keystore.person(PERSON_NAME, organ_id=H56, position=PERSON_POSITION, at=now)


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory, keystore: KeyStore) -> Path:
    """The CA certificates of `keystore`, one PEM file each (``ca-0.pem`` is the root)."""
    directory = tmp_path_factory.mktemp("bundle")
    pem = keystore.trust_bundle_pem().decode()
    marker = "-----BEGIN CERTIFICATE-----"
    for index, body in enumerate(part for part in pem.split(marker) if part.strip()):
        (directory / f"ca-{index}.pem").write_text(marker + body)
    return directory


@pytest.fixture(scope="session")
def sample_pdf() -> bytes:
    """A rendered decision of about 35 KB (Vietnamese text, embedded font)."""
    body = "Triển khai thực hiện văn bản điện tử liên thông giữa các cơ quan. " * 1500
    return edoc.render_pdf(
        title="Quyết định về việc gửi, nhận văn bản điện tử",
        body=body,
        issuer=H56_NAME,
        notation="123/QĐ-UBND",
        at=dt.date(2025, 3, 14),
    )


@pytest.fixture(scope="session")
def make_package(sample_pdf: bytes) -> PackageFactory:
    """Build an unsigned document package: ``make_package(organ_id=H56, subject=..., pdf=True)``."""

    def build(
        organ_id: str = H56, *, subject: str = "Về việc gửi, nhận văn bản điện tử", pdf: bool = True
    ) -> bytes:
        header = edoc.DocumentHeader(
            from_=edoc.Organization(organ_id, organ_name=H56_NAME if organ_id == H56 else organ_id),
            to=[edoc.Organization(G22, organ_name="Văn phòng Chính phủ")],
            document_id=f"{organ_id},2025/03/14,123/QĐ-UBND",
            code=edoc.Code(number="123", notation="QĐ-UBND"),
            promulgation=edoc.PromulgationInfo(place="Thanh Hóa", date=dt.date(2025, 3, 14)),
            document_type=edoc.DocumentType(type="1", type_name="Quyết định"),
            subject=subject,
            signer=edoc.SignerInfo(
                competence="TM. UBND", position=PERSON_POSITION, full_name=PERSON_NAME
            ),
        )
        files = (
            [
                edoc.AttachmentFile(
                    name="123-QD-UBND.SIGNED.PDF",
                    content_type="application/pdf",
                    data=sample_pdf,
                    description="Quyết định",
                    content_id=ATTACHMENT_ID,
                )
            ]
            if pdf
            else []
        )
        return edoc.build_document(header, attachments=files)

    return build


class _Sha1Signer(XMLSigner):
    """signxml refuses to make SHA-1 signatures; the legacy samples are exactly that."""

    def check_deprecated_methods(self) -> None:
        return None


def _third_party_sign(
    package: bytes, identity: Identity, *, sha1: bool = False, explicit_c14n: bool = False
) -> bytes:
    root = etree.fromstring(package)
    header = root.find(f"{{{edoc.NAMESPACE}}}edXMLEnvelope/{{{edoc.NAMESPACE}}}edXMLHeader")
    assert header is not None
    placeholder = etree.SubElement(
        header, f"{{{edoc.DSIG_NAMESPACE}}}Signature", nsmap={"ds": edoc.DSIG_NAMESPACE}
    )
    placeholder.set("Id", "placeholder")
    signer = (_Sha1Signer if sha1 else XMLSigner)(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=SignatureMethod.RSA_SHA1 if sha1 else SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA1 if sha1 else DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_0,
    )
    signed = signer.sign(
        root,
        key=identity.private_key,
        cert=[identity.certificate],
        exclude_c14n_transform_element=not explicit_c14n,
    )
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


@pytest.fixture(scope="session")
def third_party_sign() -> Callable[..., bytes]:
    """Sign like another DMS would, with signxml directly: ``(package, identity, *, sha1=False,
    explicit_c14n=False)``; ``sha1=True`` makes the legacy RSA-SHA1 / SHA-1 signature."""
    return _third_party_sign
