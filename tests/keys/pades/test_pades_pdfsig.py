"""An independent verifier: poppler's `pdfsig` (NSS) checks the PDFs `keys` signs.

Needs `pdfsig` (poppler-utils) and `certutil` (libnss3-tools) on PATH: the tests fail, never
skip, without them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from pades_support import Signers

from keys import KeyStore, sign_pdf

pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")


def _tool(name: str, package: str) -> str:
    binary = shutil.which(name)
    assert binary is not None, f"the {name} binary is required (Debian package {package})"
    return binary


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=60, check=False
    )


def _nss_database(directory: Path, store: KeyStore, *, with_sub_ca: bool) -> Path:
    certutil = _tool("certutil", "libnss3-tools")
    created = _run(certutil, "-N", "-d", f"sql:{directory}", "--empty-password")
    assert created.returncode == 0, created.stderr
    ca = store.directory / "ca"
    entries = [("root", "CT,C,C")] + ([("state", ",,")] if with_sub_ca else [])
    for nickname, trust in entries:
        added = _run(
            certutil, "-A", "-d", f"sql:{directory}", "-n", nickname, "-t", trust,
            "-i", ca / f"{nickname}.crt.pem",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    return directory


@pytest.fixture(scope="module")
def nss_dir(tmp_path_factory: pytest.TempPathFactory, pades_store: KeyStore) -> Path:
    """An NSS database trusting our root (the sub-CA is known but gets no trust of its own)."""
    return _nss_database(tmp_path_factory.mktemp("nss"), pades_store, with_sub_ca=True)


def _pdfsig(nss_dir: Path, pdf: Path) -> list[str]:
    """pdfsig's report, one block of text per signature."""
    result = _run(_tool("pdfsig", "poppler-utils"), "-nssdir", f"sql:{nss_dir}", pdf)
    assert result.returncode == 0, result.stdout + result.stderr
    return re.split(r"^Signature #\d+:$", result.stdout, flags=re.M)[1:]


def test_pdfsig_finds_both_signatures_valid_and_trusted(
    nss_dir: Path, both_pdf: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "signed.pdf"
    path.write_bytes(both_pdf)

    blocks = _pdfsig(nss_dir, path)

    assert len(blocks) == 2
    assert "Signature Field Name: ChuKyCaNhan" in blocks[0]
    assert "Signer Certificate Common Name: Nguyễn Văn An" in blocks[0]
    assert "Signature Field Name: ChuKyCoQuan" in blocks[1]
    assert "Signer Certificate Common Name: UBND tỉnh Thanh Hóa" in blocks[1]
    for block in blocks:
        assert "Signature Validation: Signature is Valid." in block
        assert "Certificate Validation: Certificate is Trusted." in block
        assert "Signing Hash Algorithm: SHA-256" in block
        assert "ETSI.CAdES.detached" in block
    assert "Total document signed" in blocks[1]


def test_pdfsig_sees_tampering(nss_dir: Path, both_pdf: bytes, tmp_path: Path) -> None:
    tampered = bytearray(both_pdf)
    tampered[both_pdf.index(b"stream", 200) + 40] ^= 0x01
    path = tmp_path / "tampered.pdf"
    path.write_bytes(bytes(tampered))

    blocks = _pdfsig(nss_dir, path)

    assert len(blocks) == 2
    assert not any("Signature is Valid." in block for block in blocks)


def test_pdfsig_does_not_trust_another_ca(
    nss_dir: Path, unsigned_pdf: bytes, signers: Signers, pades_now: datetime, tmp_path: Path
) -> None:
    path = tmp_path / "foreign.pdf"
    path.write_bytes(sign_pdf(unsigned_pdf, signers.foreign_agency, at=pades_now))

    (block,) = _pdfsig(nss_dir, path)

    assert "Signature is Valid." in block  # the maths is right …
    assert "Certificate is Trusted." not in block  # … but the root is not ours


def test_the_embedded_sub_ca_is_enough_for_pdfsig(
    tmp_path_factory: pytest.TempPathFactory, pades_store: KeyStore, both_pdf: bytes, tmp_path: Path
) -> None:
    root_only = _nss_database(tmp_path_factory.mktemp("nss-root"), pades_store, with_sub_ca=False)
    path = tmp_path / "signed.pdf"
    path.write_bytes(both_pdf)

    blocks = _pdfsig(root_only, path)

    assert len(blocks) == 2
    assert all("Certificate is Trusted." in block for block in blocks)
