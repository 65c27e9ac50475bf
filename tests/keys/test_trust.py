"""TrustStore: chain, dates, revocation (including CRL files changing under a running store)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

import keys._trust
from keys import CaName, CertificateError, CertKind, KeyAlgorithm, KeyStore, TrustStore

# Parsing the root's 69-byte Vietnamese CN makes `cryptography` warn; `keys` silences it at import,
# pytest re-enables warnings per test.
pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")

NOW = datetime.now(UTC).replace(microsecond=0)
H56 = "000.00.00.H56"
H56_NAME = "Ủy ban nhân dân tỉnh Thanh Hóa"


def _store(directory: Path, algorithm: KeyAlgorithm = KeyAlgorithm.P256) -> KeyStore:
    store = KeyStore(directory)
    store.init(at=NOW, algorithm=algorithm)
    return store


def _code(
    trust: TrustStore, cert: x509.Certificate, *, at: datetime, expect: CertKind | None = None
) -> str:
    with pytest.raises(CertificateError) as caught:
        trust.validate(cert, at=at, expect=expect)
    assert caught.value.message
    return caught.value.code


@pytest.fixture(scope="module")
def rsa_store(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    """A read-only RSA store: tests that revoke or refresh make their own."""
    return _store(tmp_path_factory.mktemp("trust"), KeyAlgorithm.RSA2048)


@pytest.fixture(scope="module")
def rsa_trust(rsa_store: KeyStore) -> TrustStore:
    return rsa_store.trust_store()


def test_valid_agency_chain(rsa_store: KeyStore, rsa_trust: TrustStore) -> None:
    agency = rsa_store.agency(H56, name=H56_NAME, at=NOW)
    info = rsa_trust.validate(agency.certificate, at=NOW, expect=CertKind.AGENCY)
    assert info.kind is CertKind.AGENCY
    assert info.organ_id == H56
    assert info.common_name == H56_NAME
    assert info.issuer == "CA phục vụ các cơ quan Nhà nước (mô phỏng)"
    assert info.serial == agency.serial
    assert info.not_after == agency.certificate.not_valid_after_utc


def test_valid_person_and_hub_and_several_expected_kinds(
    rsa_store: KeyStore, rsa_trust: TrustStore
) -> None:
    person = rsa_store.person("Lê Văn Bình", organ_id=H56, position="Chủ tịch", at=NOW)
    info = rsa_trust.validate(person.certificate, at=NOW, expect=[CertKind.PERSON, CertKind.AGENCY])
    assert (info.kind, info.common_name, info.title) == (CertKind.PERSON, "Lê Văn Bình", "Chủ tịch")
    hub = rsa_store.hub("NDXP", at=NOW)
    assert rsa_trust.validate(hub.certificate, at=NOW, expect=CertKind.HUB).kind is CertKind.HUB
    assert rsa_trust.validate(hub.certificate, at=NOW).common_name == "NDXP"


def test_trust_store_from_a_pem_bundle_and_crls(rsa_store: KeyStore) -> None:
    trust = TrustStore.from_pem(
        rsa_store.trust_bundle_pem(), [p.read_bytes() for p in rsa_store.crl_paths()]
    )
    assert len(trust.roots) == 1 and len(trust.intermediates) == 2
    assert len(trust.crls()) == 3
    agency = rsa_store.agency(H56, name=H56_NAME, at=NOW)
    assert trust.validate(agency.certificate, at=NOW).organ_id == H56
    assert trust.bundle_pem() == rsa_store.trust_bundle_pem()


def test_certificate_of_a_foreign_ca_is_untrusted(
    rsa_store: KeyStore, rsa_trust: TrustStore, tmp_path: Path
) -> None:
    # Same CA names, different keys: only the signatures tell them apart.
    foreign = _store(tmp_path).agency(H56, name=H56_NAME, at=NOW)
    assert foreign.certificate.issuer == rsa_store.agency(H56, at=NOW).certificate.issuer
    assert _code(rsa_trust, foreign.certificate, at=NOW) == "untrusted_issuer"


def test_crl_signed_by_a_foreign_ca_is_ignored(rsa_store: KeyStore, tmp_path: Path) -> None:
    foreign = _store(tmp_path)
    trust = TrustStore.from_pem(
        rsa_store.trust_bundle_pem(), [p.read_bytes() for p in foreign.crl_paths()]
    )
    assert trust.crls() == []
    agency = rsa_store.agency(H56, name=H56_NAME, at=NOW)
    assert _code(trust, agency.certificate, at=NOW) == "crl_missing"


def test_missing_crl_file(tmp_path: Path) -> None:
    store = _store(tmp_path)
    agency = store.agency(H56, at=NOW)
    (tmp_path / "ca" / "state.crl.pem").unlink()
    assert _code(TrustStore.load(tmp_path), agency.certificate, at=NOW) == "crl_missing"


def test_expired_and_not_yet_valid(rsa_store: KeyStore, rsa_trust: TrustStore) -> None:
    cert = rsa_store.agency(H56, at=NOW).certificate
    assert rsa_trust.validate(cert, at=cert.not_valid_before_utc).organ_id == H56
    after = cert.not_valid_after_utc + timedelta(seconds=1)
    assert _code(rsa_trust, cert, at=after) == "certificate_expired"
    before = cert.not_valid_before_utc - timedelta(seconds=1)
    assert _code(rsa_trust, cert, at=before) == "certificate_not_yet_valid"


def test_wrong_certificate_kind(rsa_store: KeyStore, rsa_trust: TrustStore) -> None:
    hub = rsa_store.hub("LGSP tỉnh Thanh Hóa", at=NOW)
    assert (
        _code(rsa_trust, hub.certificate, at=NOW, expect=CertKind.AGENCY)
        == "wrong_certificate_kind"
    )
    person = rsa_store.person("Lê Văn Bình", organ_id=H56, position="Chủ tịch", at=NOW)
    assert (
        _code(rsa_trust, person.certificate, at=NOW, expect=CertKind.AGENCY)
        == "wrong_certificate_kind"
    )


def test_a_ca_certificate_may_not_sign_documents(
    rsa_store: KeyStore, rsa_trust: TrustStore
) -> None:
    state_ca = x509.load_pem_x509_certificates(rsa_store.trust_bundle_pem())[1]
    assert _code(rsa_trust, state_ca, at=NOW) == "bad_key_usage"


def test_missing_key_store_directory(tmp_path: Path) -> None:
    with pytest.raises(CertificateError) as caught:
        TrustStore.load(tmp_path / "nothing-here")
    assert caught.value.code == "trust_store_missing"


# -- revocation ---------------------------------------------------------------------------------


def test_revocation_reaches_a_running_trust_store(tmp_path: Path) -> None:
    """A hub loaded its trust store before `keys revoke` ran: it sees the new CRL within ~1 s."""
    store = _store(tmp_path)
    agency = store.agency(H56, at=NOW)
    trust = TrustStore.load(tmp_path)
    trust.validate(agency.certificate, at=NOW)
    KeyStore(tmp_path).revoke(f"{agency.serial:x}", at=NOW, reason="keyCompromise")
    time.sleep(1.1)
    assert _code(trust, agency.certificate, at=NOW) == "certificate_revoked"
    # before the revocation date the certificate was good (validating an old signature)
    assert trust.validate(agency.certificate, at=NOW - timedelta(minutes=1)).organ_id == H56
    # other certificates of the same CA are unaffected
    other = store.agency("000.00.00.H14", at=NOW)
    assert trust.validate(other.certificate, at=NOW).organ_id == "000.00.00.H14"


def test_crl_files_are_rechecked_at_most_once_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(tmp_path)
    agency = store.agency(H56, at=NOW)
    monkeypatch.setattr(keys._trust, "_CRL_RECHECK_SECONDS", 3600.0)
    trust = TrustStore.load(tmp_path)
    store.revoke(f"{agency.serial:x}", at=NOW)
    crl_file = tmp_path / "ca" / "state.crl.pem"
    stamp = (
        crl_file.stat().st_mtime_ns + 1_000_000_000
    )  # a coarse file system could hide the change
    os.utime(crl_file, ns=(stamp, stamp))
    assert trust.validate(agency.certificate, at=NOW).organ_id == H56  # throttled: not re-read yet
    monkeypatch.setattr(keys._trust, "_CRL_RECHECK_SECONDS", 0.0)
    assert _code(trust, agency.certificate, at=NOW) == "certificate_revoked"


def test_revocation_is_per_issuing_ca(tmp_path: Path) -> None:
    store = _store(tmp_path)
    party = store.issue_agency(
        organ_id="000.00.00.H41", name="Tỉnh ủy Nghệ An", at=NOW, ca=CaName.PARTY
    )
    state = store.agency(H56, at=NOW)
    store.revoke(party.serial, at=NOW)
    trust = TrustStore.load(tmp_path)
    assert trust.validate(state.certificate, at=NOW).organ_id == H56
    party_cert = store.load_identity(party).certificate
    assert _code(trust, party_cert, at=NOW) == "certificate_revoked"


# -- CRL freshness ---------------------------------------------------------------------------


def test_stale_crl_then_refresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(tmp_path)
    agency = store.agency(H56, at=NOW)
    state_crl = x509.load_pem_x509_crl((tmp_path / "ca" / "state.crl.pem").read_bytes())
    assert state_crl.next_update_utc is not None
    later = state_crl.next_update_utc + timedelta(days=1)
    trust = TrustStore.load(tmp_path)
    assert _code(trust, agency.certificate, at=later) == "crl_stale"

    store.refresh_crls(at=later)
    refreshed = x509.load_pem_x509_crl((tmp_path / "ca" / "state.crl.pem").read_bytes())
    assert refreshed.next_update_utc is not None and refreshed.next_update_utc > later
    assert TrustStore.load(tmp_path).validate(agency.certificate, at=later).organ_id == H56
    monkeypatch.setattr(keys._trust, "_CRL_RECHECK_SECONDS", 0.0)
    assert trust.validate(agency.certificate, at=later).organ_id == H56  # the running store too


def test_refresh_leaves_fresh_crls_alone_and_trust_store_at_refreshes(tmp_path: Path) -> None:
    store = _store(tmp_path)
    agency = store.agency(H56, at=NOW)
    before = {p.name: p.read_bytes() for p in store.crl_paths()}
    store.refresh_crls(at=NOW + timedelta(days=1))
    assert {p.name: p.read_bytes() for p in store.crl_paths()} == before
    later = NOW + timedelta(days=45)
    assert store.trust_store(at=later).validate(agency.certificate, at=later).organ_id == H56
