"""Fixtures of the PAdES tests: their own CA (they revoke certificates), identities, PDFs.

Everything is session-scoped: RSA key generation costs ~70 ms a key.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from pades_support import CHAIRMAN, H22, H22_NAME, H56, H56_NAME, OTHER_OFFICIAL, Signers

from edoc import render_pdf
from keys import KeyStore, TrustStore, sign_pdf
from simtime import WallClock


@pytest.fixture(scope="session")
def pades_now() -> datetime:
    """Real time: poppler's pdfsig checks certificate dates against the real clock."""
    return WallClock().now().replace(microsecond=0)


@pytest.fixture(scope="session")
def pades_store(tmp_path_factory: pytest.TempPathFactory, pades_now: datetime) -> KeyStore:
    """A CA of our own (these tests revoke certificates in it)."""
    store = KeyStore(tmp_path_factory.mktemp("pades-keystore"))
    store.init(at=pades_now)
    return store


@pytest.fixture(scope="session")
def pades_foreign_store(tmp_path_factory: pytest.TempPathFactory, pades_now: datetime) -> KeyStore:
    """An unrelated CA issuing the same kinds of certificates."""
    store = KeyStore(tmp_path_factory.mktemp("pades-foreign"))
    store.init(at=pades_now)
    return store


@pytest.fixture(scope="session")
def signers(pades_store: KeyStore, pades_foreign_store: KeyStore, pades_now: datetime) -> Signers:
    """Every identity the tests sign with, issued once."""
    at = pades_now
    return Signers(
        person=pades_store.person(CHAIRMAN, organ_id=H56, position="Chủ tịch", at=at),
        agency=pades_store.agency(H56, name=H56_NAME, at=at),
        other_person=pades_store.person(OTHER_OFFICIAL, organ_id=H22, position="Bộ trưởng", at=at),
        other_agency=pades_store.agency(H22, name=H22_NAME, at=at),
        hub=pades_store.hub("lgsp-h56", at=at),
        foreign_person=pades_foreign_store.person(
            CHAIRMAN, organ_id=H56, position="Chủ tịch", at=at
        ),
        foreign_agency=pades_foreign_store.agency(H56, name=H56_NAME, at=at),
    )


@pytest.fixture(scope="session")
def pades_trust(pades_store: KeyStore, pades_now: datetime) -> TrustStore:
    """The trust store of our CA (loaded before any revocation)."""
    return pades_store.trust_store(at=pades_now)


@pytest.fixture(scope="session")
def unsigned_pdf(pades_now: datetime) -> bytes:
    """A real one-page official letter with Vietnamese text."""
    return render_pdf(
        title="Công văn về việc triển khai chữ ký số",
        body="Ủy ban nhân dân tỉnh đề nghị các sở, ban, ngành ký số văn bản điện tử.\n" * 8,
        issuer=H56_NAME,
        notation="123/UBND-VX",
        at=pades_now,
    )


@pytest.fixture(scope="session")
def personal_pdf(unsigned_pdf: bytes, signers: Signers, pades_now: datetime) -> bytes:
    """`unsigned_pdf` with the Chairman's personal signature."""
    return sign_pdf(unsigned_pdf, signers.person, at=pades_now)


@pytest.fixture(scope="session")
def both_pdf(personal_pdf: bytes, signers: Signers, pades_now: datetime) -> bytes:
    """`personal_pdf` followed by the agency signature of 000.00.00.H56."""
    return sign_pdf(personal_pdf, signers.agency, at=pades_now)


@pytest.fixture(scope="session")
def agency_only_pdf(unsigned_pdf: bytes, signers: Signers, pades_now: datetime) -> bytes:
    """`unsigned_pdf` with only the agency signature."""
    return sign_pdf(unsigned_pdf, signers.agency, at=pades_now)
