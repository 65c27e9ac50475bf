"""`lgsp-sim keys`: init, issue, list, revoke, trust-bundle, and errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from cryptography import x509
from typer.testing import CliRunner

from keys import KeyStore
from sim.cli import app

pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")

H56 = "000.00.00.H56"
H56_NAME = "Ủy ban nhân dân tỉnh Thanh Hóa"
OFFICIAL = "Nguyễn Thị Hồng Đào"
POSITION = "Phó Chủ tịch"
HUB = "LGSP tỉnh Thanh Hóa"
ROOT_NAME = "Cơ quan chứng thực số chuyên dùng Chính phủ (mô phỏng)"


def keys(*args: str | Path) -> Result:
    """Run `lgsp-sim keys ARGS` with a wide terminal, so table cells are not wrapped."""
    runner = CliRunner(env={"COLUMNS": "250"})
    return runner.invoke(app, ["keys", *map(str, args)], catch_exceptions=False)


def ok(*args: str | Path) -> Result:
    result = keys(*args)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result


def fails(*args: str | Path, code: str) -> Result:
    """Assert the command fails the documented way: exit 2, one `error: CODE: ...` line."""
    result = keys(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {code}: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output
    return result


def listing(directory: Path) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(ok("list", "--dir", directory, "--json").stdout)
    return data


@pytest.fixture(scope="module")
def rsa_init(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    directory = tmp_path_factory.mktemp("cli") / "keys"
    return directory, ok("init", "--dir", directory)


def _p256(directory: Path) -> Path:
    ok("init", "--dir", directory, "--algorithm", "p256")
    return directory


# -- init -------------------------------------------------------------------------------------


def test_init_creates_the_hierarchy_and_prints_it(rsa_init: tuple[Path, Result]) -> None:
    directory, result = rsa_init
    assert KeyStore(directory).initialised
    for name in ("root", "state", "party"):
        assert (directory / "ca" / f"{name}.crt.pem").is_file()
        assert (directory / "ca" / f"{name}.crl.pem").is_file()
    out = result.stdout
    assert ROOT_NAME in out
    assert "CA phục vụ các cơ quan Nhà nước (mô phỏng)" in out
    assert "CA phục vụ các cơ quan Đảng (mô phỏng)" in out
    assert out.count("RSA-2048") == 3
    # the fingerprints printed are those of the files
    for name in ("root", "state", "party"):
        cert = x509.load_pem_x509_certificate((directory / "ca" / f"{name}.crt.pem").read_bytes())
        assert cert.fingerprint(cert.signature_hash_algorithm).hex(":").upper() in out  # type: ignore[arg-type]
        assert f"{cert.not_valid_after_utc:%Y-%m-%d}" in out


def test_init_twice_is_refused_clearly(rsa_init: tuple[Path, Result]) -> None:
    directory, _ = rsa_init
    root = (directory / "ca" / "root.crt.pem").read_bytes()
    result = fails("init", "--dir", directory, code="keystore_exists")
    assert "--force" in result.stderr
    assert (directory / "ca" / "root.crt.pem").read_bytes() == root


def test_init_p256(tmp_path: Path) -> None:
    result = ok("init", "--dir", tmp_path, "--algorithm", "p256")
    assert result.stdout.count("ECDSA P-256") == 3
    assert json.loads((tmp_path / "index.json").read_text())["algorithm"] == "p256"


def test_init_rejects_an_unknown_algorithm(tmp_path: Path) -> None:
    result = keys("init", "--dir", tmp_path, "--algorithm", "dsa")
    assert result.exit_code == 2
    assert not (tmp_path / "index.json").exists()


def test_init_force_recreates_and_deletes_only_its_own_files(tmp_path: Path) -> None:
    directory = _p256(tmp_path / "keys")
    ok("issue", "--dir", directory, "--hub", HUB)
    old_root = (directory / "ca" / "root.crt.pem").read_bytes()
    (directory / "notes.txt").write_text("giữ lại")
    (directory / "hub.db").mkdir()
    (directory / "hub.db" / "data").write_text("x")

    ok("init", "--dir", directory, "--algorithm", "p256", "--force")

    assert (directory / "ca" / "root.crt.pem").read_bytes() != old_root
    assert listing(directory) == []
    assert not list((directory / "issued").rglob("*.pem"))
    assert (directory / "notes.txt").read_text() == "giữ lại"
    assert (directory / "hub.db" / "data").read_text() == "x"


# -- the whole life of a certificate ----------------------------------------------------------


def test_issue_list_revoke_trust_bundle(tmp_path: Path) -> None:
    directory = _p256(tmp_path / "keys")

    agency = ok("issue", "--dir", directory, "--agency", H56, "--name", H56_NAME).stdout
    person = ok(
        "issue", "--dir", directory, "--person", OFFICIAL, "--agency", H56, "--position", POSITION
    ).stdout
    hub = ok("issue", "--dir", directory, "--hub", HUB).stdout
    party = ok(
        "issue",
        "--dir",
        directory,
        "--agency",
        "000.00.00.H41",
        "--name",
        "Tỉnh ủy Nghệ An",
        "--ca",
        "party",
    ).stdout

    records = listing(directory)
    assert [(r["kind"], r["name"], r["organ_id"], r["ca"]) for r in records] == [
        ("agency", H56_NAME, H56, "state"),
        ("person", OFFICIAL, H56, "state"),
        ("hub", HUB, HUB, "state"),
        ("agency", "Tỉnh ủy Nghệ An", "000.00.00.H41", "party"),
    ]
    assert records[1]["position"] == POSITION
    assert not any(r["revoked"] for r in records)
    # what `issue` printed: serial, subject, validity
    for output, record in zip((agency, person, hub, party), records, strict=True):
        assert record["serial"] in output
        assert f"CN={record['name']}" in output
        assert record["not_after"][:10] in output
    assert f"UID={H56}" in agency
    assert f"title={POSITION}" in person
    assert f"O={H56_NAME}" in person  # the agency's name, looked up from its certificate
    assert "Đảng" in party

    table = ok("list", "--dir", directory).stdout
    for record in records:
        assert record["serial"] in table
        assert record["name"] in table

    revoked = ok("revoke", "--dir", directory, "--agency", H56, "--reason", "keyCompromise").stdout
    assert records[0]["serial"] in revoked and "keyCompromise" in revoked
    assert records[1]["serial"] not in revoked  # the official's certificate is not the agency's
    assert "state.crl.pem" in revoked

    after = listing(directory)
    assert [r["revoked"] for r in after] == [True, False, False, False]
    assert after[0]["reason"] == "keyCompromise"
    crl = x509.load_pem_x509_crl((directory / "ca" / "state.crl.pem").read_bytes())
    assert [r.serial_number for r in crl] == [int(records[0]["serial"], 16)]
    table = ok("list", "--dir", directory).stdout
    (agency_row,) = [line for line in table.splitlines() if records[0]["serial"] in line]
    assert after[0]["revoked_at"][:10] in agency_row

    bundle = ok("trust-bundle", "--dir", directory).stdout
    assert bundle.count("-----BEGIN CERTIFICATE-----") == 3
    certs = x509.load_pem_x509_certificates(bundle.encode())
    assert certs[0].subject == certs[0].issuer  # root first
    assert bundle.encode() == KeyStore(directory).trust_bundle_pem()


def test_revoke_selectors(tmp_path: Path) -> None:
    directory = _p256(tmp_path / "keys")
    ok("issue", "--dir", directory, "--agency", H56, "--name", H56_NAME)
    ok("issue", "--dir", directory, "--person", OFFICIAL, "--agency", H56, "--position", POSITION)
    ok(
        "issue",
        "--dir",
        directory,
        "--person",
        "Lê Văn Bình",
        "--agency",
        H56,
        "--position",
        "Chủ tịch",
    )
    ok("issue", "--dir", directory, "--hub", HUB)
    serials = [r["serial"] for r in listing(directory)]

    ok("revoke", "--dir", directory, "--person", OFFICIAL, "--agency", H56.lower())
    assert [r["revoked"] for r in listing(directory)] == [False, True, False, False]
    ok("revoke", "--dir", directory, "--hub", HUB)
    assert [r["revoked"] for r in listing(directory)] == [False, True, False, True]
    out = ok("revoke", "--dir", directory, "--serial", serials[0].upper()).stdout
    assert serials[0] in out
    assert [r["revoked"] for r in listing(directory)] == [True, True, False, True]
    # revoking again by serial is harmless and says so
    again = ok("revoke", "--dir", directory, "--serial", serials[0]).stdout
    assert "earlier" in again
    # nothing valid left to revoke for the hub
    fails("revoke", "--dir", directory, "--hub", HUB, code="not_found")


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["issue", "--agency", H56, "--name", H56_NAME],
        ["revoke", "--serial", "abcd"],
        ["list"],
        ["list", "--json"],
        ["trust-bundle"],
    ],
)
def test_commands_without_a_ca_fail_clearly(tmp_path: Path, args: list[str]) -> None:
    directory = tmp_path / "nothing"
    result = fails(*args, "--dir", directory, code="keystore_missing")
    assert f"lgsp-sim keys init --dir {directory}" in result.stderr
    assert not (directory / "index.json").exists()


@pytest.mark.parametrize(
    "organ_id", ["", "   ", "H56", "000.00.00", "000.00.00.56", "000.00.00.H56.1", "xyz"]
)
def test_issue_rejects_a_malformed_organ_id(rsa_init: tuple[Path, Result], organ_id: str) -> None:
    directory, _ = rsa_init
    before = listing(directory)
    result = fails(
        "issue",
        "--dir",
        directory,
        "--agency",
        organ_id,
        "--name",
        H56_NAME,
        code="bad_organ_id",
    )
    assert "000.00.00.H56" in result.stderr  # shows the expected shape
    fails(
        "issue",
        "--dir",
        directory,
        *("--person", OFFICIAL, "--agency", organ_id, "--position", POSITION),
        code="bad_organ_id",
    )
    assert listing(directory) == before  # a rejected input leaves nothing behind


def test_issue_normalises_a_lower_case_organ_id(tmp_path: Path) -> None:
    directory = _p256(tmp_path / "keys")
    ok("issue", "--dir", directory, "--agency", " 000.00.00.h56 ", "--name", H56_NAME)
    assert listing(directory)[0]["organ_id"] == H56


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ([], "bad_arguments"),
        (["--agency", H56], "bad_arguments"),
        (["--name", H56_NAME], "bad_arguments"),
        (["--person", OFFICIAL, "--agency", H56], "bad_arguments"),
        (["--person", OFFICIAL, "--position", POSITION], "bad_arguments"),
        (["--agency", H56, "--name", H56_NAME, "--position", POSITION], "bad_arguments"),
        (["--hub", HUB, "--agency", H56], "bad_arguments"),
        (["--hub", HUB, "--ca", "party"], "bad_arguments"),
        (["--agency", H56, "--name", "   "], "invalid_name"),
        (["--agency", H56, "--name", "Ủ" * 65], "invalid_name"),
        (["--person", "", "--agency", H56, "--position", POSITION], "invalid_name"),
    ],
)
def test_issue_rejects_bad_arguments(
    rsa_init: tuple[Path, Result], args: list[str], code: str
) -> None:
    directory, _ = rsa_init
    before = listing(directory)
    fails("issue", "--dir", directory, *args, code=code)
    assert listing(directory) == before


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ([], "bad_arguments"),
        (["--serial", "not-hex"], "bad_serial"),
        (["--serial", "0123abcd"], "unknown_serial"),
        (["--serial", "0123abcd", "--hub", HUB], "bad_arguments"),
        (["--person", OFFICIAL], "bad_arguments"),
        (["--agency", "000.00.00.H99"], "not_found"),
    ],
)
def test_revoke_rejects_bad_arguments(
    rsa_init: tuple[Path, Result], args: list[str], code: str
) -> None:
    directory, _ = rsa_init
    fails("revoke", "--dir", directory, *args, code=code)


def test_a_vietnamese_name_of_64_characters_fits(tmp_path: Path) -> None:
    directory = _p256(tmp_path / "keys")
    name = ("Ủy ban nhân dân xã Đồng Tiến, huyện Triệu Sơn, tỉnh Thanh Hóa " * 2)[:64]
    ok("issue", "--dir", directory, "--agency", "000.01.02.H56", "--name", name)
    assert listing(directory)[0]["name"] == name.strip()


def test_names_are_printed_verbatim_never_as_markup_or_emoji(tmp_path: Path) -> None:
    directory = _p256(tmp_path / "keys")
    name = "Phòng [bold]Hành chính[/bold] :ab: :ok:"
    issued = ok("issue", "--dir", directory, "--agency", H56, "--name", name).stdout
    assert f"CN={name}" in issued
    assert name in ok("list", "--dir", directory).stdout
    assert name in ok("revoke", "--dir", directory, "--agency", H56, "--reason", "[x] :ab:").stdout


def test_help_texts() -> None:
    result = ok("--help")
    for command in ("init", "issue", "revoke", "list", "trust-bundle"):
        assert command in result.stdout
    assert "QĐ 20/2020" in ok("issue", "--help").stdout
