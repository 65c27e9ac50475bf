"""`lgsp-sim pdf sign` and `lgsp-sim pdf verify`, errors without tracebacks."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pades_support import H22, H56
from typer.testing import CliRunner, Result

from keys import CertKind, KeyStore, SignatureState, TrustStore, verify_pdf
from sim.cli import app

pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")

OFFICIAL = "Hoàng Thị Dung"


def pdf_cli(*args: str | Path) -> Result:
    """Run `lgsp-sim pdf ARGS` with a wide terminal, so table cells are not wrapped."""
    runner = CliRunner(env={"COLUMNS": "200"})
    return runner.invoke(app, ["pdf", *map(str, args)], catch_exceptions=False)


def fails(result: Result, code: str) -> None:
    """The documented failure: exit 2 and one `error: CODE: ...` line on stderr."""
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {code}: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def signed_twice(
    tmp_path_factory: pytest.TempPathFactory, pades_store: KeyStore, unsigned_pdf: bytes
) -> Path:
    directory = tmp_path_factory.mktemp("cli-pdf")
    source = directory / "cv.pdf"
    source.write_bytes(unsigned_pdf)
    first = pdf_cli(
        "sign", source, "--keys", pades_store.directory, "--agency", H56,
        "--person", OFFICIAL, "--position", "Phó Chủ tịch", "--out", directory / "cv1.pdf",
    )  # fmt: skip
    assert first.exit_code == 0, first.output
    assert f"signed (personal) by {OFFICIAL} ({H56})" in first.stdout
    second = pdf_cli(
        "sign", directory / "cv1.pdf", "--keys", pades_store.directory, "--agency", H56
    )
    assert second.exit_code == 0, second.output
    assert "signed (agency)" in second.stdout
    return directory / "cv1.signed.pdf"  # the default output name


def test_sign_twice_gives_a_fully_signed_pdf(
    signed_twice: Path, pades_store: KeyStore, pades_trust: TrustStore, pades_now: datetime
) -> None:
    signatures = verify_pdf(
        signed_twice.read_bytes(), pades_trust, at=pades_now + timedelta(seconds=5)
    )

    assert [(s.field_name, s.state) for s in signatures] == [
        ("ChuKyCaNhan", SignatureState.VALID),
        ("ChuKyCoQuan", SignatureState.VALID),
    ]
    assert signatures[0].signer is not None
    assert (signatures[0].signer.common_name, signatures[0].signer.title) == (
        OFFICIAL,
        "Phó Chủ tịch",
    )
    # The official's certificate was issued on first use, into the key store.
    assert pades_store.find(kind=CertKind.PERSON, organ_id=H56, name=OFFICIAL) is not None


def test_verify_prints_the_table_and_the_verdict(signed_twice: Path, pades_store: KeyStore) -> None:
    result = pdf_cli("verify", signed_twice, "--keys", pades_store.directory, "--organ", H56)

    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if "ChuKy" in line]
    assert len(rows) == 2
    assert "ChuKyCaNhan" in rows[0] and "personal" in rows[0] and OFFICIAL in rows[0]
    assert "ChuKyCoQuan" in rows[1] and "agency" in rows[1] and H56 in rows[1]
    assert all("valid" in row and "invalid" not in row for row in rows)
    assert result.stdout.rstrip().endswith("personal: valid, agency: valid")


def test_verify_for_another_issuer_exits_1(signed_twice: Path, pades_store: KeyStore) -> None:
    result = pdf_cli("verify", signed_twice, "--keys", pades_store.directory, "--organ", H22)

    assert result.exit_code == 1, result.output
    assert "organ_mismatch" in result.stdout
    assert "personal: invalid, agency: invalid" in result.stdout


def test_verify_json(signed_twice: Path, pades_store: KeyStore) -> None:
    result = pdf_cli("verify", signed_twice, "--keys", pades_store.directory, "--json")

    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    assert (data["personal"], data["agency"]) == ("valid", "valid")
    assert [(s["field"], s["role"], s["kind"]) for s in data["signatures"]] == [
        ("ChuKyCaNhan", "personal", "person"),
        ("ChuKyCoQuan", "agency", "agency"),
    ]
    assert all(s["intact"] and s["trusted"] for s in data["signatures"])
    assert data["signatures"][1]["coverage"] == "entire_file"
    assert data["problems"] == []


def test_verify_years_later_finds_expired_certificates(
    signed_twice: Path, pades_store: KeyStore
) -> None:
    result = pdf_cli(
        "verify", signed_twice, "--keys", pades_store.directory, "--json", "--at", "2045-01-01"
    )

    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert {s["problem_code"] for s in data["signatures"]} == {"certificate_expired"}


def test_an_unsigned_pdf_exits_1(
    tmp_path: Path, unsigned_pdf: bytes, pades_store: KeyStore
) -> None:
    path = tmp_path / "plain.pdf"
    path.write_bytes(unsigned_pdf)

    result = pdf_cli("verify", path, "--keys", pades_store.directory)

    assert result.exit_code == 1
    assert "no signatures in this PDF" in result.stdout
    assert "personal: absent, agency: absent" in result.stdout


def test_verify_a_file_that_is_not_a_pdf(tmp_path: Path, pades_store: KeyStore) -> None:
    path = tmp_path / "not.pdf"
    path.write_text("<edXML/>")

    fails(pdf_cli("verify", path, "--keys", pades_store.directory), "pdf_malformed")


def test_sign_a_file_that_is_not_a_pdf(tmp_path: Path, pades_store: KeyStore) -> None:
    path = tmp_path / "not.pdf"
    path.write_text("<edXML/>")

    fails(pdf_cli("sign", path, "--keys", pades_store.directory, "--agency", H56), "pdf_malformed")
    assert not (tmp_path / "not.signed.pdf").exists()


def test_missing_key_store(tmp_path: Path, signed_twice: Path) -> None:
    fails(pdf_cli("verify", signed_twice, "--keys", tmp_path / "none"), "keystore_missing")
    fails(
        pdf_cli("sign", signed_twice, "--keys", tmp_path / "none", "--agency", H56),
        "keystore_missing",
    )


def test_missing_file(tmp_path: Path, pades_store: KeyStore) -> None:
    fails(pdf_cli("verify", tmp_path / "absent.pdf", "--keys", pades_store.directory), "io_error")


def test_empty_person_name(signed_twice: Path, pades_store: KeyStore) -> None:
    result = pdf_cli(
        "sign", signed_twice, "--keys", pades_store.directory, "--agency", H56, "--person", " "
    )
    fails(result, "invalid_name")


def test_help_explains_the_two_signatures() -> None:
    result = pdf_cli("--help")

    assert result.exit_code == 0
    assert "personal" in result.stdout and "agency" in result.stdout
    assert "sign" in result.stdout and "verify" in result.stdout
