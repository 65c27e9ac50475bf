"""An independent verifier: the Debian `openssl` binary reads what `keys` wrote to disk.

Needs `openssl` on PATH (`make debs` installs it): the tests fail, never skip, without it.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keys import CertificateRecord, KeyAlgorithm, KeyStore

pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")

# openssl checks validity against the real clock: issue at the real time.
NOW = datetime.now(UTC).replace(microsecond=0)
H56 = "000.00.00.H56"
H56_NAME = "Ủy ban nhân dân tỉnh Thanh Hóa"


def _openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("openssl")
    assert binary is not None, (
        "the openssl binary is required (Debian package openssl, `make debs`)"
    )
    return subprocess.run(
        [binary, *map(str, args)], capture_output=True, text=True, timeout=30, check=False
    )


def _crt(store: KeyStore, record: CertificateRecord) -> Path:
    path = store.directory / f"{record.file}.crt.pem"
    assert path.is_file(), path
    return path


def _ca(store: KeyStore, name: str) -> Path:
    return store.directory / "ca" / name


def _verify(store: KeyStore, cert: Path, *extra: str | Path) -> subprocess.CompletedProcess[str]:
    return _openssl(
        "verify",
        "-CAfile",
        _ca(store, "root.crt.pem"),
        "-untrusted",
        _ca(store, "state.crt.pem"),
        *extra,
        cert,
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    store = KeyStore(tmp_path_factory.mktemp("openssl"))
    store.init(at=NOW)
    return store


@pytest.fixture(scope="module")
def agency(store: KeyStore) -> CertificateRecord:
    return store.issue_agency(organ_id=H56, name=H56_NAME, at=NOW)


def test_openssl_is_installed() -> None:
    assert _openssl("version").returncode == 0


def test_chain_verifies(store: KeyStore, agency: CertificateRecord) -> None:
    person = store.issue_person(
        full_name="Nguyễn Văn An", organ_id=H56, position="Chủ tịch", at=NOW
    )
    hub = store.issue_hub(name="LGSP tỉnh Thanh Hóa", at=NOW)
    for record in (agency, person, hub):
        result = _verify(store, _crt(store, record))
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip().endswith(": OK")


def test_chain_and_crls_verify(store: KeyStore, agency: CertificateRecord) -> None:
    leaf = _verify(
        store, _crt(store, agency), "-crl_check", "-CRLfile", _ca(store, "state.crl.pem")
    )
    assert leaf.returncode == 0, leaf.stdout + leaf.stderr
    whole = _verify(
        store,
        _crt(store, agency),
        "-crl_check_all",
        "-CRLfile",
        _ca(store, "state.crl.pem"),
        "-CRLfile",
        _ca(store, "root.crl.pem"),
    )
    assert whole.returncode == 0, whole.stdout + whole.stderr


def test_sub_cas_verify_against_the_root(store: KeyStore) -> None:
    for name in ("state.crt.pem", "party.crt.pem"):
        result = _openssl("verify", "-CAfile", _ca(store, "root.crt.pem"), _ca(store, name))
        assert result.returncode == 0, result.stdout + result.stderr


def test_a_foreign_root_does_not_verify(
    store: KeyStore, agency: CertificateRecord, tmp_path: Path
) -> None:
    foreign = KeyStore(tmp_path)
    foreign.init(at=NOW, algorithm=KeyAlgorithm.P256)
    root, state = _ca(foreign, "root.crt.pem"), _ca(foreign, "state.crt.pem")
    result = _openssl("verify", "-CAfile", root, "-untrusted", state, _crt(store, agency))
    assert result.returncode != 0


def test_certificate_text_shows_usages_and_subject(
    store: KeyStore, agency: CertificateRecord
) -> None:
    result = _openssl("x509", "-in", _crt(store, agency), "-noout", "-text", "-nameopt", "utf8")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "X509v3 Key Usage: critical" in text
    assert "Digital Signature, Non Repudiation" in text
    assert "CA:FALSE" in text
    assert f"UID={H56}" in text
    assert f"CN={H56_NAME}" in text  # Vietnamese, intact
    assert (
        "Issuer: C=VN, O=Ban Cơ yếu Chính phủ (mô phỏng), CN=CA phục vụ các cơ quan Nhà nước"
        in text
    )
    assert "Public-Key: (2048 bit)" in text


def test_key_file_matches_certificate(store: KeyStore, agency: CertificateRecord) -> None:
    from_cert = _openssl("x509", "-in", _crt(store, agency), "-noout", "-pubkey")
    from_key = _openssl("pkey", "-in", store.directory / f"{agency.file}.key.pem", "-pubout")
    assert from_cert.returncode == from_key.returncode == 0
    assert from_cert.stdout == from_key.stdout


def test_revocation_is_seen_by_openssl(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.init(at=NOW, algorithm=KeyAlgorithm.P256)
    record = store.issue_agency(organ_id=H56, name=H56_NAME, at=NOW)
    kept = store.issue_agency(organ_id="000.00.00.H14", name="UBND tỉnh Cao Bằng", at=NOW)
    crl = _ca(store, "state.crl.pem")
    before = _verify(store, _crt(store, record), "-crl_check", "-CRLfile", crl)
    assert before.returncode == 0, before.stdout + before.stderr

    store.revoke(record.serial, at=NOW, reason="keyCompromise")

    after = _verify(store, _crt(store, record), "-crl_check", "-CRLfile", crl)
    assert after.returncode != 0
    assert "certificate revoked" in after.stdout + after.stderr
    still = _verify(store, _crt(store, kept), "-crl_check", "-CRLfile", crl)
    assert still.returncode == 0, still.stdout + still.stderr

    listing = _openssl("crl", "-in", crl, "-noout", "-text")
    assert listing.returncode == 0, listing.stderr
    listed = [
        int(line.split(":", 1)[1], 16)
        for line in listing.stdout.splitlines()
        if line.strip().startswith("Serial Number:")
    ]
    assert listed == [int(record.serial, 16)]
    signed = _openssl("crl", "-in", crl, "-noout", "-CAfile", _ca(store, "state.crt.pem"))
    assert signed.returncode == 0 and "verify OK" in signed.stdout + signed.stderr
