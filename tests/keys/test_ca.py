"""The CA hierarchy on disk, the certificate profiles, and lazily issued, cached identities."""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

import keys._store
from keys import ROOT_NAME, CaName, CertKind, KeyAlgorithm, KeyStore, KeyStoreError
from keys._ca import END_ENTITY_LIFETIME, PrivateKey
from keys._profiles import POLICY_OIDS, SUB_CA_NAMES, kind_of, organ_id_of

# Parsing the root's 69-byte Vietnamese CN makes `cryptography` warn; `keys` silences it at import,
# pytest re-enables warnings per test.
pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")

NOW = datetime.now(UTC).replace(microsecond=0)
H56 = "000.00.00.H56"
H56_NAME = "Ủy ban nhân dân tỉnh Thanh Hóa"
OFFICIAL = "Nguyễn Thị Hồng Đào"
POSITION = "Phó Chủ tịch"
HUB = "LGSP tỉnh Thanh Hóa"


def _ca(directory: Path, slug: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((directory / "ca" / f"{slug}.crt.pem").read_bytes())


def _crl(directory: Path, slug: str) -> x509.CertificateRevocationList:
    return x509.load_pem_x509_crl((directory / "ca" / f"{slug}.crl.pem").read_bytes())


def _issued(store: KeyStore, serial: str) -> x509.Certificate:
    (record,) = [r for r in store.records() if r.serial == serial]
    return x509.load_pem_x509_certificate((store.directory / f"{record.file}.crt.pem").read_bytes())


@pytest.fixture(scope="module")
def rsa_store(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    store = KeyStore(tmp_path_factory.mktemp("rsa-ca"))
    store.init(at=NOW)
    return store


@pytest.fixture(scope="module")
def issued(rsa_store: KeyStore) -> dict[CertKind, x509.Certificate]:
    """One certificate of each end-entity kind, read back from disk."""
    agency = rsa_store.issue_agency(organ_id=H56, name=H56_NAME, at=NOW)
    person = rsa_store.issue_person(
        full_name=OFFICIAL, organ_id=H56, position=POSITION, agency_name=H56_NAME, at=NOW
    )
    hub = rsa_store.issue_hub(name=HUB, at=NOW)
    return {
        CertKind.AGENCY: _issued(rsa_store, agency.serial),
        CertKind.PERSON: _issued(rsa_store, person.serial),
        CertKind.HUB: _issued(rsa_store, hub.serial),
    }


def _p256_store(directory: Path) -> KeyStore:
    store = KeyStore(directory)
    store.init(at=NOW, algorithm=KeyAlgorithm.P256)
    return store


# -- the hierarchy ---------------------------------------------------------------------------


def test_root_is_self_signed_with_the_government_ca_name(rsa_store: KeyStore) -> None:
    root = _ca(rsa_store.directory, "root")
    assert root.issuer == root.subject
    root.verify_directly_issued_by(root)
    cn = root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == ROOT_NAME == "Cơ quan chứng thực số chuyên dùng Chính phủ (mô phỏng)"
    constraints = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    assert kind_of(root) is CertKind.ROOT
    assert isinstance(root.public_key(), rsa.RSAPublicKey)
    assert root.public_key().key_size == 2048


@pytest.mark.parametrize("ca", list(CaName))
def test_sub_cas_are_issued_by_the_root_with_pathlen_zero(rsa_store: KeyStore, ca: CaName) -> None:
    root = _ca(rsa_store.directory, "root")
    sub = _ca(rsa_store.directory, ca.value)
    assert sub.issuer == root.subject
    sub.verify_directly_issued_by(root)
    assert sub.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == SUB_CA_NAMES[ca]
    constraints = sub.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca and constraints.value.path_length == 0
    usage = sub.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert kind_of(sub) is CertKind.SUB_CA
    assert sub.not_valid_after_utc <= root.not_valid_after_utc


@pytest.mark.parametrize("slug", ["root", *[ca.value for ca in CaName]])
def test_every_ca_publishes_a_crl_signed_by_itself(rsa_store: KeyStore, slug: str) -> None:
    ca = _ca(rsa_store.directory, slug)
    crl = _crl(rsa_store.directory, slug)
    assert crl.issuer == ca.subject
    assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    assert crl.next_update_utc is not None and crl.next_update_utc > NOW
    assert crl.last_update_utc <= NOW
    other = _ca(rsa_store.directory, "party" if slug != "party" else "state")
    assert not crl.is_signature_valid(other.public_key())  # type: ignore[arg-type]


def test_crl_paths_and_trust_bundle(rsa_store: KeyStore) -> None:
    assert [p.name for p in rsa_store.crl_paths()] == [
        "party.crl.pem",
        "root.crl.pem",
        "state.crl.pem",
    ]
    ca_dir = rsa_store.directory / "ca"
    files = [(ca_dir / f"{slug}.crt.pem").read_bytes() for slug in ("root", "state", "party")]
    assert rsa_store.trust_bundle_pem() == b"".join(files)


def test_private_keys_are_readable_by_the_owner_only(rsa_store: KeyStore) -> None:
    for path in (rsa_store.directory / "ca").glob("*.key.pem"):
        assert path.stat().st_mode & 0o077 == 0, path


def test_init_twice_is_refused(rsa_store: KeyStore) -> None:
    before = (rsa_store.directory / "ca" / "root.crt.pem").read_bytes()
    with pytest.raises(KeyStoreError) as caught:
        KeyStore(rsa_store.directory).init(at=NOW)
    assert caught.value.code == "keystore_exists"
    assert (rsa_store.directory / "ca" / "root.crt.pem").read_bytes() == before


def test_an_uninitialised_directory_says_so(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "empty")
    for action in (
        lambda: store.records(),
        lambda: store.trust_bundle_pem(),
        lambda: store.issue_hub(name=HUB, at=NOW),
        lambda: store.agency(H56, at=NOW),
    ):
        with pytest.raises(KeyStoreError) as caught:
            action()
        assert caught.value.code == "keystore_missing"
        assert "lgsp-sim keys init" in caught.value.message


# -- end-entity profiles -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", [CertKind.AGENCY, CertKind.PERSON, CertKind.HUB])
def test_end_entity_profile(
    rsa_store: KeyStore, issued: dict[CertKind, x509.Certificate], kind: CertKind
) -> None:
    cert = issued[kind]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature and usage.value.content_commitment  # nonRepudiation
    assert not usage.value.key_cert_sign and not usage.value.crl_sign
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert not constraints.ca
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier for p in policies] == [POLICY_OIDS[kind]]
    assert kind_of(cert) is kind
    # three years from issue; notBefore is back-dated a little for slow clocks
    assert cert.not_valid_after_utc - NOW == END_ENTITY_LIFETIME == timedelta(days=3 * 365)
    assert cert.not_valid_before_utc <= NOW
    state = _ca(rsa_store.directory, "state")
    assert cert.issuer == state.subject
    cert.verify_directly_issued_by(state)


def test_agency_certificate_carries_the_organ_id_and_vietnamese_name(
    issued: dict[CertKind, x509.Certificate],
) -> None:
    cert = issued[CertKind.AGENCY]
    assert organ_id_of(cert) == H56
    assert cert.subject.get_attributes_for_oid(NameOID.USER_ID)[0].value == H56
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == H56_NAME
    assert cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "VN"


def test_personal_certificate_names_the_official_position_and_agency(
    issued: dict[CertKind, x509.Certificate],
) -> None:
    cert = issued[CertKind.PERSON]
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == OFFICIAL
    assert cert.subject.get_attributes_for_oid(NameOID.TITLE)[0].value == POSITION
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == H56_NAME
    assert organ_id_of(cert) == H56


def test_hub_certificate_names_the_hub(issued: dict[CertKind, x509.Certificate]) -> None:
    cert = issued[CertKind.HUB]
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == HUB
    assert organ_id_of(cert) == HUB


def test_index_remembers_what_was_issued(
    rsa_store: KeyStore, issued: dict[CertKind, x509.Certificate]
) -> None:
    records = {
        r.kind: r
        for r in rsa_store.records()
        if r.serial in {f"{c.serial_number:x}" for c in issued.values()}
    }
    assert set(records) == {CertKind.AGENCY, CertKind.PERSON, CertKind.HUB}
    person = records[CertKind.PERSON]
    assert (person.name, person.organ_id, person.position, person.ca) == (
        OFFICIAL,
        H56,
        POSITION,
        CaName.STATE,
    )
    assert not person.revoked
    assert datetime.fromisoformat(person.not_after) == issued[CertKind.PERSON].not_valid_after_utc
    # Vietnamese survives the JSON index as text, not escapes
    raw = (rsa_store.directory / "index.json").read_text(encoding="utf-8")
    assert OFFICIAL in raw and H56_NAME in raw
    assert json.loads(raw)["algorithm"] == "rsa2048"
    assert rsa_store.find(kind=CertKind.PERSON, organ_id=H56, name=OFFICIAL) == person


def test_agencies_sharing_an_organ_id_prefix_keep_their_own_files(rsa_store: KeyStore) -> None:
    # OrganIds are dotted (000.00.00.H56): file names must not lose the part after a dot.
    first = rsa_store.issue_agency(organ_id="000.00.00.H14", name="UBND tỉnh Cao Bằng", at=NOW)
    second = rsa_store.issue_agency(organ_id="000.00.00.H20", name="UBND tỉnh Đồng Tháp", at=NOW)
    assert organ_id_of(_issued(rsa_store, first.serial)) == "000.00.00.H14"
    assert organ_id_of(_issued(rsa_store, second.serial)) == "000.00.00.H20"
    assert KeyStore(rsa_store.directory).load_identity(first).organ_id == "000.00.00.H14"
    key_files = list((rsa_store.directory / "issued" / "agency").glob("*.key.pem"))
    assert len(key_files) == len({p.name for p in key_files}) >= 2


def test_party_sub_ca_issues_party_agencies(rsa_store: KeyStore) -> None:
    record = rsa_store.issue_agency(
        organ_id="000.00.00.H41", name="Tỉnh ủy Nghệ An", at=NOW, ca=CaName.PARTY
    )
    assert record.ca is CaName.PARTY
    cert = _issued(rsa_store, record.serial)
    cert.verify_directly_issued_by(_ca(rsa_store.directory, "party"))


def test_p256_option_makes_ec_keys_everywhere(tmp_path: Path) -> None:
    store = _p256_store(tmp_path)
    assert store.algorithm is KeyAlgorithm.P256
    for slug in ("root", "state", "party"):
        key = _ca(tmp_path, slug).public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    identity = store.agency(H56, name=H56_NAME, at=NOW)
    assert isinstance(identity.private_key, ec.EllipticCurvePrivateKey)
    assert isinstance(identity.certificate.public_key(), ec.EllipticCurvePublicKey)
    identity.certificate.verify_directly_issued_by(_ca(tmp_path, "state"))


# -- lazy, cached identities --------------------------------------------------------------------


def test_identities_are_issued_once_and_cached(tmp_path: Path) -> None:
    store = _p256_store(tmp_path)
    agency = store.agency(H56, name=H56_NAME, at=NOW)
    assert store.agency(H56, at=NOW) is agency
    person = store.person(OFFICIAL, organ_id=H56, position=POSITION, at=NOW)
    assert store.person(OFFICIAL, organ_id=H56, position=POSITION, at=NOW) is person
    hub = store.hub(HUB, at=NOW)
    assert store.hub(HUB, at=NOW) is hub
    assert len(store.records()) == 3
    # a second store on the same directory (another process) reuses them from disk
    again = KeyStore(tmp_path)
    assert again.agency(H56, at=NOW).serial == agency.serial
    assert again.person(OFFICIAL, organ_id=H56, position=POSITION, at=NOW).serial == person.serial
    assert again.hub(HUB, at=NOW).serial == hub.serial
    assert len(again.records()) == 3
    # the identity is usable: key matches certificate, chain goes up to the root
    assert agency.certificate.public_key() == agency.private_key.public_key()
    assert agency.organ_id == H56 and agency.name == H56_NAME
    assert [c.subject for c in agency.chain] == [
        _ca(tmp_path, "state").subject,
        _ca(tmp_path, "root").subject,
    ]
    assert agency.certificate_pem.startswith(b"-----BEGIN CERTIFICATE-----")


def test_a_revoked_identity_is_replaced_on_next_use(tmp_path: Path) -> None:
    store = _p256_store(tmp_path)
    first = store.agency(H56, at=NOW)
    store.revoke(f"{first.serial:x}", at=NOW)
    second = store.agency(H56, at=NOW)
    assert second.serial != first.serial


def test_racing_stores_issue_one_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two stores on one directory both miss the index, both generate a key: one certificate."""
    store = _p256_store(tmp_path)
    both_generating = threading.Barrier(2, timeout=10)
    real_generate: Callable[[KeyAlgorithm], PrivateKey] = keys._store.generate_key

    def generate_in_step(algorithm: KeyAlgorithm) -> PrivateKey:
        both_generating.wait()  # both threads have looked in the index and found nothing
        return real_generate(algorithm)

    monkeypatch.setattr(keys._store, "generate_key", generate_in_step)
    stores = [store, KeyStore(tmp_path)]
    with ThreadPoolExecutor(2) as pool:
        identities = list(pool.map(lambda s: s.agency(H56, name=H56_NAME, at=NOW), stores))
    assert identities[0].serial == identities[1].serial
    assert [r.kind for r in store.records()] == [CertKind.AGENCY]
    assert len(list((tmp_path / "issued" / "agency").glob("*.crt.pem"))) == 1


def _agency_serial_in_new_process(directory: str) -> int:
    return KeyStore(directory).agency(H56, name=H56_NAME, at=NOW).serial


def test_racing_processes_issue_one_identity(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.init(at=NOW)  # RSA: key generation is slow enough for the processes to overlap
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(4, mp_context=context) as pool:
        serials = list(pool.map(_agency_serial_in_new_process, [str(tmp_path)] * 4))
    assert len(set(serials)) == 1
    assert [f"{serials[0]:x}"] == [r.serial for r in store.records()]


# -- revocation bookkeeping ----------------------------------------------------------------------


def test_revoke_updates_index_and_crl(tmp_path: Path) -> None:
    store = _p256_store(tmp_path)
    record = store.issue_agency(organ_id=H56, name=H56_NAME, at=NOW)
    crl_before = _crl(tmp_path, "state")
    later = NOW + timedelta(minutes=5)
    revoked = store.revoke(record.serial.upper(), at=later, reason="keyCompromise")
    assert revoked.revoked and revoked.reason == "keyCompromise"
    assert datetime.fromisoformat(revoked.revoked_at or "") == later
    crl = _crl(tmp_path, "state")
    entry = crl.get_revoked_certificate_by_serial_number(int(record.serial, 16))
    assert entry is not None and entry.revocation_date_utc == later
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    before = crl_before.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number == before + 1
    assert store.find(kind=CertKind.AGENCY, organ_id=H56) is None
    # revoking twice changes nothing
    assert store.revoke(record.serial, at=later + timedelta(hours=1)) == revoked
    # the other CAs' CRLs stay empty
    assert list(_crl(tmp_path, "party")) == []


@pytest.mark.parametrize(
    ("serial", "code"), [("0xdeadbeef", "unknown_serial"), ("not-hex", "bad_serial")]
)
def test_revoke_unknown_or_malformed_serial(tmp_path: Path, serial: str, code: str) -> None:
    store = _p256_store(tmp_path)
    with pytest.raises(KeyStoreError) as caught:
        store.revoke(serial, at=NOW)
    assert caught.value.code == code
