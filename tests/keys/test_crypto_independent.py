"""Independent verifiers: Debian's `xmlsec1` (libxmlsec1) checks our envelope signatures.

xmlsec1 1.2.x needs one certificate per ``--trusted-pem`` (a bundle file yields only its
first certificate) and the sub-CA as ``--untrusted-pem``, since KeyInfo carries only the
signer's certificate. ``--enabled-reference-uris empty`` limits it to ``URI=""`` as we do.
It checks dates against the real clock: the session key store is issued at the real time.
These tests need `xmlsec1` and `openssl` on PATH and fail, never skip, without them.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from keys import (
    Identity,
    KeyAlgorithm,
    KeyStore,
    SignatureError,
    TrustStore,
    sign_envelope,
    verify_envelope,
)

H56 = "000.00.00.H56"
PackageFactory = Callable[..., bytes]
SignFunction = Callable[..., bytes]

pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")


def _tool(name: str) -> str:
    binary = shutil.which(name)
    assert binary is not None, f"the {name} binary is required (Debian package {name})"
    return binary


def xmlsec1(
    package: bytes, tmp_path: Path, *, root: Path, untrusted: list[Path]
) -> subprocess.CompletedProcess[str]:
    """Run ``xmlsec1 --verify`` on ``package``; exit 0 means valid."""
    path = tmp_path / "package.edxml"
    path.write_bytes(package)
    args = [_tool("xmlsec1"), "--verify", "--enabled-reference-uris", "empty"]
    args += ["--trusted-pem", str(root)]
    for certificate in untrusted:
        args += ["--untrusted-pem", str(certificate)]
    args.append(str(path))
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)


def ca_files(directory: Path) -> tuple[Path, list[Path]]:
    """The root and the sub-CAs of a split trust bundle (see the ``bundle_dir`` fixture)."""
    files = sorted(directory.glob("ca-*.pem"))
    assert len(files) == 3, files  # root, state sub-CA, Party sub-CA
    return files[0], files[1:]


@pytest.fixture(scope="module")
def signed(make_package: PackageFactory, agency: Identity) -> bytes:
    return sign_envelope(make_package(), agency)


def test_xmlsec1_accepts_our_signature(signed: bytes, bundle_dir: Path, tmp_path: Path) -> None:
    root, sub_cas = ca_files(bundle_dir)
    result = xmlsec1(signed, tmp_path, root=root, untrusted=sub_cas)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stderr
    assert "SignedInfo References (ok/all): 1/1" in result.stderr


def test_one_byte_change_is_rejected_by_xmlsec1_and_by_us(
    signed: bytes, bundle_dir: Path, tmp_path: Path, trust: TrustStore, now: datetime
) -> None:
    marker = b"<edXML:CodeNumber>123</edXML:CodeNumber>"
    position = signed.index(marker) + len(b"<edXML:CodeNumber>12")
    tampered = bytearray(signed)
    tampered[position] = ord("4")  # 123 -> 124
    assert sum(a != b for a, b in zip(signed, tampered, strict=True)) == 1

    root, sub_cas = ca_files(bundle_dir)
    result = xmlsec1(bytes(tampered), tmp_path, root=root, untrusted=sub_cas)
    assert result.returncode != 0
    assert "FAIL" in result.stderr or "failed" in result.stderr
    with pytest.raises(SignatureError) as caught:
        verify_envelope(bytes(tampered), trust, at=now)
    assert caught.value.code == "signature_invalid"


def test_xmlsec1_needs_the_sub_ca_since_keyinfo_holds_only_the_signer(
    signed: bytes, bundle_dir: Path, tmp_path: Path
) -> None:
    root, _ = ca_files(bundle_dir)
    result = xmlsec1(signed, tmp_path, root=root, untrusted=[])
    assert result.returncode != 0
    assert "unable to get local issuer certificate" in result.stderr


def test_xmlsec1_rejects_a_foreign_ca_signature(
    make_package: PackageFactory,
    foreign_keystore: KeyStore,
    bundle_dir: Path,
    tmp_path: Path,
    now: datetime,
) -> None:
    impostor = foreign_keystore.agency(H56, name="UBND tỉnh Thanh Hóa", at=now)
    forged = sign_envelope(make_package(), impostor)
    root, sub_cas = ca_files(bundle_dir)
    assert xmlsec1(forged, tmp_path, root=root, untrusted=sub_cas).returncode != 0


def test_xmlsec1_accepts_ecdsa_p256(
    make_package: PackageFactory,
    tmp_path_factory: pytest.TempPathFactory,
    now: datetime,
    tmp_path: Path,
) -> None:
    store = KeyStore(tmp_path_factory.mktemp("p256-xmlsec"))
    store.init(at=now, algorithm=KeyAlgorithm.P256)
    signed = sign_envelope(make_package(), store.agency(H56, name="UBND tỉnh Thanh Hóa", at=now))
    assert b"xmldsig-more#ecdsa-sha256" in signed
    ca = store.directory / "ca"
    result = xmlsec1(signed, tmp_path, root=ca / "root.crt.pem", untrusted=[ca / "state.crt.pem"])
    assert result.returncode == 0, result.stderr


def test_our_legacy_sha1_fixture_is_real_xmldsig(
    make_package: PackageFactory,
    agency: Identity,
    third_party_sign: SignFunction,
    bundle_dir: Path,
    tmp_path: Path,
) -> None:
    # The SHA-1 package the legacy tests rely on is one xmlsec1 accepts: the flag we test is
    # about a genuine RSA-SHA1 signature, not an artefact of how we made it.
    legacy = third_party_sign(make_package(), agency, sha1=True)
    assert b"xmldsig#rsa-sha1" in legacy
    root, sub_cas = ca_files(bundle_dir)
    result = xmlsec1(legacy, tmp_path, root=root, untrusted=sub_cas)
    assert result.returncode == 0, result.stderr


def test_openssl_chains_the_keyinfo_certificate(
    signed: bytes,
    agency: Identity,
    bundle_dir: Path,
    tmp_path: Path,
    trust: TrustStore,
    now: datetime,
) -> None:
    # The certificate a verifier finds in KeyInfo chains to our root for OpenSSL too.
    result = verify_envelope(signed, trust, at=now)
    certificate = tmp_path / "signer.pem"
    certificate.write_bytes(result.certificate.public_bytes(Encoding.PEM))
    root, sub_cas = ca_files(bundle_dir)
    args = [_tool("openssl"), "verify", "-CAfile", str(root)]
    for sub_ca in sub_cas:
        args += ["-untrusted", str(sub_ca)]
    completed = subprocess.run(
        [*args, str(certificate)], capture_output=True, text=True, timeout=30, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().endswith(": OK")
    assert result.certificate == agency.certificate


# -- signxml, a second independent implementation ----------------------------------------------


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.RSA2048, KeyAlgorithm.P256])
def test_signxml_verifies_our_signature_and_rejects_a_changed_byte(
    algorithm: KeyAlgorithm,
    tmp_path_factory: pytest.TempPathFactory,
    make_package: PackageFactory,
    now: datetime,
) -> None:
    # Our XMLDSig code is our own (profile-restricted, for speed); signxml, a generic
    # implementation, must agree with it both ways.
    from signxml.algorithms import SignatureMethod
    from signxml.exceptions import InvalidSignature
    from signxml.verifier import SignatureConfiguration, XMLVerifier

    store = KeyStore(tmp_path_factory.mktemp(f"signxml-{algorithm.value}"))
    store.init(at=now, algorithm=algorithm)
    agency = store.agency(H56, name="UBND tỉnh Thanh Hóa", at=now)
    signed = sign_envelope(make_package(), agency)
    method = (
        SignatureMethod.ECDSA_SHA256
        if algorithm is KeyAlgorithm.P256
        else SignatureMethod.RSA_SHA256
    )
    config = SignatureConfiguration(expect_references=1, signature_methods=frozenset({method}))
    certificate = agency.certificate_pem.decode()
    result = XMLVerifier().verify(signed, x509_cert=certificate, expect_config=config)
    assert not isinstance(result, list)
    assert result.signed_xml is not None
    assert "Thanh Hóa" in signed.decode()

    tampered = signed.replace("Thanh Hóa".encode(), b"Thanh Hoa", 1)
    with pytest.raises(InvalidSignature):
        XMLVerifier().verify(tampered, x509_cert=certificate, expect_config=config)
    with pytest.raises(SignatureError) as caught:
        verify_envelope(tampered, store.trust_store(), at=now)
    assert caught.value.code == "signature_invalid"
