"""`lgsp-sim edxml inspect | new | status` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from edoc_support import SAMPLES
from typer.testing import CliRunner, Result

import edoc
from sim.cli.edxml import app

runner = CliRunner()


def _run(*args: str, input: bytes | None = None) -> Result:
    return runner.invoke(app, list(args), input=input)


def _json(result: Result) -> Any:
    return json.loads(result.stdout_bytes.decode("utf-8"))


def _new(*extra: str) -> bytes:
    result = _run(
        "new",
        "--from", "000.00.00.H56",
        "--from-name", "UBND tỉnh Thanh Hóa",
        "--to", "000.00.00.G22, 000.00.01.H41",
        "--subject", "V/v triển khai chữ ký số",
        "--code-number", "123",
        "--notation", "UBND-VP",
        "--signer", "Lê Văn A",
        "--position", "Phó Chủ tịch",
        "--due", "2030/12/31",
        *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


def test_inspect_a_status_sample() -> None:
    result = _run("inspect", str(SAMPLES / "status_acceptance_03.edxml"))
    assert result.exit_code == 0, result.output
    summary = _json(result)
    assert summary["kind"] == "status"
    header = summary["header"]
    assert header["status_code"] == "03"
    assert header["status_meaning"]["en"] == "accepted and registered"
    assert header["from"]["organ_name"] == "UBND Tỉnh Nghệ An"
    assert header["response_for"]["document_id"] == "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
    assert header["timestamp"] == "2015/09/20 11:08:36"
    assert "violations" not in summary
    # Vietnamese stays readable (ensure_ascii=False), indented.
    assert "Nghệ An".encode() in result.stdout_bytes
    assert result.stdout_bytes.startswith(b'{\n  "kind"')


def test_inspect_the_update_sample() -> None:
    summary = _json(_run("inspect", str(SAMPLES / "edoc_update.edxml")))
    assert summary["kind"] == "document"
    assert summary["business"]["doc_type"] == 2
    assert summary["business"]["type_name"] == "update"
    assert [r["organ_id"] for r in summary["business"]["receivers"]] == [
        "000.00.00.H41",
        "000.00.00.H14",
    ]
    (attachment,) = summary["attachments"]
    assert attachment["zipped"] is True
    assert attachment["size"] == 388347
    assert len(attachment["sha256"]) == 64
    (signature,) = summary["signatures"]
    assert signature["legacy_sha1"] is True
    assert signature["has_certificate"] is True


def test_inspect_reports_an_undecodable_attachment() -> None:
    summary = _json(_run("inspect", str(SAMPLES / "edoc.edxml")))
    (attachment,) = summary["attachments"]
    assert attachment["error"]["code"] == "attachment_base64"
    assert "size" not in attachment


def test_validate_exit_codes() -> None:
    clean = _run("inspect", "--validate", str(SAMPLES / "status_inbox_01.edxml"))
    assert clean.exit_code == 0
    assert _json(clean)["violations"] == []
    flawed = _run("inspect", "--validate", str(SAMPLES / "edoc.edxml"))
    assert flawed.exit_code == 1
    codes = {(v["field"], v["code"]) for v in _json(flawed)["violations"]}
    assert ("AttachmentEncoded/Attachment[1]/ContentTransferEncoded", "attachment_base64") in codes


def test_inspect_reads_stdin() -> None:
    data = (SAMPLES / "status_finish_06.edxml").read_bytes()
    result = _run("inspect", "-", input=data)
    assert result.exit_code == 0, result.output
    assert _json(result)["header"]["status_code"] == "06"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"<html/>", "not_edxml"),
        (b"<?xml version='1.0'?><!DOCTYPE x []><x/>", "xml_dtd_forbidden"),
        (b"<edXML", "xml_malformed"),
    ],
)
def test_errors_are_one_line_and_exit_2(data: bytes, code: str) -> None:
    result = _run("inspect", "-", input=data)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {code}: ")
    assert "Traceback" not in result.output
    assert result.stdout_bytes == b""


def test_missing_file_is_an_io_error(tmp_path: Path) -> None:
    result = _run("inspect", str(tmp_path / "absent.edxml"))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: io_error: ")


def test_new_then_inspect_round_trip() -> None:
    package = _new()
    assert package.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    result = _run("inspect", "--validate", "-", input=package)
    assert result.exit_code == 0, result.output
    summary = _json(result)
    header = summary["header"]
    assert header["from"] == {
        **header["from"],
        "organ_id": "000.00.00.H56",
        "organ_name": "UBND tỉnh Thanh Hóa",
    }
    assert [t["organ_id"] for t in header["to"]] == ["000.00.00.G22", "000.00.01.H41"]
    assert header["subject"] == "V/v triển khai chữ ký số"
    assert header["code"] == {"number": "123", "notation": "UBND-VP"}
    assert header["document_id"].startswith("000.00.00.H56,")
    assert header["document_id"].endswith(",123/UBND-VP")
    assert header["document_type"]["type_name"] == "Công văn"
    assert header["signer"] == {
        "competence": None,
        "position": "Phó Chủ tịch",
        "full_name": "Lê Văn A",
    }
    assert header["due_date"] == "2030/12/31"
    assert summary["business"] is None
    assert [t["organ_id"] for t in summary["traces"]] == ["000.00.00.H56"]
    (attachment,) = summary["attachments"]
    assert attachment["name"] == "123-UBND-VP.pdf"
    assert attachment["content_type"] == "application/pdf"
    assert summary["violations"] == []
    parsed = edoc.parse(package)
    assert isinstance(parsed, edoc.DocumentPackage)
    assert parsed.attachments[0].decode().startswith(b"%PDF-")


def test_new_with_attachments_business_and_no_pdf(tmp_path: Path) -> None:
    extra = tmp_path / "phụ lục.txt"
    extra.write_bytes("Phụ lục kèm theo".encode())
    package = edoc.parse(
        _new("--no-pdf", "--attach", str(extra), "--business", "1", "--reason", "Sai sót")
    )
    assert isinstance(package, edoc.DocumentPackage)
    (attachment,) = package.attachments
    assert attachment.name == "phụ lục.txt"
    assert attachment.content_type == "text/plain"
    assert attachment.decode() == "Phụ lục kèm theo".encode()
    assert package.business is not None
    assert package.business.doc_type is edoc.BusinessDocType.REVOCATION
    assert package.business.reason == "Sai sót"
    assert package.business.document_id == package.header.document_id
    assert edoc.validate(package) == []


@pytest.mark.parametrize("business", ["2", "3"])
def test_new_update_and_replacement_conform(business: str) -> None:
    package = edoc.parse(_new("--no-pdf", "--business", business))
    assert isinstance(package, edoc.DocumentPackage)
    assert package.business is not None
    assert int(package.business.doc_type) == int(business)
    assert edoc.validate(package) == []


def test_new_refuses_bad_input() -> None:
    bad_from = _run("new", "--from", "H56", "--to", "000.00.00.G22", "--subject", "x")
    assert bad_from.exit_code == 2
    assert bad_from.stderr.startswith("error: bad_organ_id: ")
    bad_due = _run(
        "new",
        "--from",
        "000.00.00.H56",
        "--to",
        "000.00.00.G22",
        "--subject",
        "x",
        "--due",
        "31/12/2030",
    )
    assert bad_due.exit_code == 2
    assert bad_due.stderr.startswith("error: bad_date: ")
    no_to = _run("new", "--from", "000.00.00.H56", "--to", " , ", "--subject", "x")
    assert no_to.exit_code == 2
    assert no_to.stderr.startswith("error: missing_field: ")


def test_status_reply(tmp_path: Path) -> None:
    document = tmp_path / "doc.edxml"
    document.write_bytes(_new("--no-pdf"))
    result = _run("status", "--reply-to", str(document), "--code", "03")
    assert result.exit_code == 0, result.output
    status = edoc.parse(result.stdout_bytes)
    assert isinstance(status, edoc.StatusPackage)
    original = edoc.parse(document.read_bytes())
    assert isinstance(original, edoc.DocumentPackage)
    assert status.header.from_.organ_id == "000.00.00.G22"  # the document's first To
    assert status.header.status_code is edoc.StatusCode.ACCEPTED
    assert status.header.description == edoc.StatusCode.ACCEPTED.meaning_vi
    assert status.header.response_for.document_id == original.header.document_id
    assert status.header.response_for.organ_id == "000.00.00.H56"
    assert status.header.timestamp is not None
    assert edoc.validate(status) == []


def test_status_reply_from_another_recipient_with_description(tmp_path: Path) -> None:
    document = tmp_path / "doc.edxml"
    document.write_bytes(_new("--no-pdf"))
    result = _run(
        "status", "--reply-to", str(document), "--code", "2",
        "--from", "000.00.01.H41", "--description", "Sai địa chỉ",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    status = edoc.parse(result.stdout_bytes)
    assert status.header.from_.organ_id == "000.00.01.H41"
    assert isinstance(status, edoc.StatusPackage)
    assert status.header.status_code is edoc.StatusCode.REJECTED
    assert status.header.description == "Sai địa chỉ"


def test_status_errors(tmp_path: Path) -> None:
    document = tmp_path / "doc.edxml"
    document.write_bytes(_new("--no-pdf"))
    bad_code = _run("status", "--reply-to", str(document), "--code", "07")
    assert bad_code.exit_code == 2
    assert bad_code.stderr.startswith("error: bad_status_code: ")
    to_status = _run("status", "--reply-to", str(SAMPLES / "status_inbox_01.edxml"), "--code", "03")
    assert to_status.exit_code == 2
    assert to_status.stderr.startswith("error: not_a_document: ")
