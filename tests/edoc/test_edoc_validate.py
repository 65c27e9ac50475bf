"""validate(): field-by-field violations of QCVN 102:2016."""

from __future__ import annotations

import base64
import dataclasses
from datetime import date

import pytest
from edoc_support import AT, STATUS_SAMPLES, full_header, pdf_file, sample

import edoc

NS = edoc.NAMESPACE


def _found(package: edoc.Package) -> set[tuple[str, str]]:
    return {(v.field, v.code) for v in edoc.validate(package)}


def _document(header: edoc.DocumentHeader, **kwargs: object) -> edoc.DocumentPackage:
    package = edoc.parse(edoc.build_document(header, **kwargs))  # type: ignore[arg-type]
    assert isinstance(package, edoc.DocumentPackage)
    return package


@pytest.mark.parametrize("name", sorted(STATUS_SAMPLES))
def test_status_samples_conform(name: str) -> None:
    assert edoc.validate(edoc.parse(sample(name))) == []


def test_edoc_sample_violations() -> None:
    assert _found(edoc.parse(sample("edoc.edxml"))) == {
        ("edXML", "xml_namespace_recovered"),
        ("edXMLManifest/Reference[1]/ContentType", "missing_field"),
        ("AttachmentEncoded/Attachment[1]/ContentTransferEncoded", "attachment_base64"),
    }


def test_update_sample_violations() -> None:
    violations = edoc.validate(edoc.parse(sample("edoc_update.edxml")))
    assert {(v.field, v.code) for v in violations} == {
        ("Bussiness/DocumentId", "bad_document_id"),  # 2014/02/30 does not exist
        ("Signature[1]", "signature_namespace"),
        ("Signature[1]/KeyInfo/X509Data/X509Certificate", "certificate_base64"),
    }
    message = next(v.message for v in violations if v.code == "bad_document_id")
    assert "2014/02/30" in message


def test_a_complete_built_document_conforms() -> None:
    package = _document(
        full_header(), attachments=[pdf_file()], traces=[edoc.TraceHeader("000.00.00.H56", AT)]
    )
    assert edoc.validate(package) == []


def test_missing_fields_of_a_document() -> None:
    package = _document(edoc.DocumentHeader(from_=edoc.Organization("")))
    assert _found(package) == {
        ("From/OrganId", "missing_field"),
        ("To", "missing_field"),
        ("DocumentId", "missing_field"),
        ("Code/CodeNumber", "missing_field"),
        ("Code/CodeNotation", "missing_field"),
        ("PromulgationInfo/PromulgationDate", "missing_field"),
        ("DocumentType/TypeName", "missing_field"),
        ("Subject", "missing_field"),
        ("SignerInfo/FullName", "missing_field"),
    }


def test_bad_organ_ids_are_reported_per_field() -> None:
    header = dataclasses.replace(
        full_header(),
        from_=edoc.Organization("H56"),
        to=[
            edoc.Organization("000.00.00.G22"),
            edoc.Organization("01.02.G22"),
            edoc.Organization(""),
        ],
    )
    assert _found(_document(header)) == {
        ("From/OrganId", "bad_organ_id"),
        ("To[2]/OrganId", "bad_organ_id"),
        ("To[3]/OrganId", "missing_field"),
    }


def test_bad_dates_are_reported_once() -> None:
    data = edoc.build_document(full_header()).replace(b"2024/06/30", b"30/06/2024")
    package = edoc.parse(data)
    assert isinstance(package, edoc.DocumentPackage)
    assert package.header.due_date is None
    violations = edoc.validate(package)
    assert [(v.field, v.code) for v in violations] == [("DueDate", "bad_date")]
    assert "30/06/2024" in violations[0].message
    promulgation = edoc.parse(
        edoc.build_document(full_header()).replace(
            b"<edXML:PromulgationDate>2024/05/02", b"<edXML:PromulgationDate>2024/13/02"
        )
    )
    assert _found(promulgation) == {("PromulgationInfo/PromulgationDate", "bad_date")}


def test_composite_document_ids_are_checked() -> None:
    for document_id, ok in [
        ("000.00.00.G22,2015/09/30,7816/VPCP-TTĐT", True),
        ("9fbfbad2-f1f8-4256-a2eb-50fb1061cddb", True),
        ("000.00.00.G22,2015/02/30,7816/VPCP", False),
        ("G22,2015/09/30,7816/VPCP", False),
        ("000.00.00.G22,2015/09/30", False),
        ("000.00.00.G22,,7816/VPCP", False),
    ]:
        header = dataclasses.replace(full_header(), document_id=document_id)
        assert (("DocumentId", "bad_document_id") not in _found(_document(header))) is ok, (
            document_id
        )


def test_status_violations() -> None:
    header = edoc.StatusHeader(
        from_=edoc.Organization("bad"),
        response_for=edoc.ResponseFor(),
        status_code="07",
    )
    package = edoc.parse(edoc.build_status(header))
    assert _found(package) == {
        ("From/OrganId", "bad_organ_id"),
        ("ResponseFor/OrganId", "missing_field"),
        ("ResponseFor/DocumentId", "missing_field"),
        ("StatusCode", "bad_status_code"),
        ("Timestamp", "missing_field"),
    }


def test_missing_status_code_text() -> None:
    data = sample("status_inbox_01.edxml").replace(b"<edXML:StatusCode>01", b"<edXML:StatusCode>")
    package = edoc.parse(data)
    assert package.kind == "status"
    assert _found(package) == {("StatusCode", "missing_field")}


def _with_attachments(body: str, attachments: str) -> edoc.Package:
    data = edoc.build_document(full_header())
    data = data.replace(
        b'<edXML:edXMLManifest version="1.0"/>',
        f'<edXML:edXMLManifest version="1.0">{body}</edXML:edXMLManifest>'.encode(),
    )
    data = data.replace(
        b"</edXML:edXML>",
        f"<edXML:AttachmentEncoded>{attachments}</edXML:AttachmentEncoded></edXML:edXML>".encode(),
    )
    return edoc.parse(data)


def _reference(content_id: str) -> str:
    return (
        f"<edXML:Reference><edXML:ContentId>{content_id}</edXML:ContentId>"
        "<edXML:ContentType>application/pdf</edXML:ContentType>"
        "<edXML:AttachmentName>a.pdf</edXML:AttachmentName></edXML:Reference>"
    )


def _attachment(content_id: str, encoded: str = base64.b64encode(b"%PDF").decode()) -> str:
    return (
        f"<edXML:Attachment><edXML:ContentId>{content_id}</edXML:ContentId>"
        "<edXML:AttachmentName>a.pdf</edXML:AttachmentName>"
        "<edXML:ContentType>application/pdf</edXML:ContentType>"
        f"<edXML:ContentTransferEncoded>{encoded}</edXML:ContentTransferEncoded></edXML:Attachment>"
    )


def test_manifest_and_attachments_must_match() -> None:
    package = _with_attachments(
        _reference("cid:a") + _reference("cid:listed-only"),
        _attachment("cid:a") + _attachment("cid:attached-only"),
    )
    assert _found(package) == {
        ("edXMLManifest/Reference[2]/ContentId", "manifest_unmatched"),
        ("AttachmentEncoded/Attachment[2]/ContentId", "attachment_unlisted"),
    }


def test_content_ids_must_be_cid_and_unique() -> None:
    package = _with_attachments(
        _reference("a") + _reference("cid:b"),
        _attachment("a") + _attachment("cid:b") + _attachment("cid:b"),
    )
    assert _found(package) == {
        ("edXMLManifest/Reference[1]/ContentId", "bad_content_id"),
        ("AttachmentEncoded/Attachment[1]/ContentId", "bad_content_id"),
        ("AttachmentEncoded/Attachment[2]/ContentId", "duplicate_content_id"),
        ("AttachmentEncoded/Attachment[3]/ContentId", "duplicate_content_id"),
    }


def test_undecodable_attachment_is_a_violation() -> None:
    package = _with_attachments(_reference("cid:a"), _attachment("cid:a", "%%% not base64 %%%"))
    assert _found(package) == {
        ("AttachmentEncoded/Attachment[1]/ContentTransferEncoded", "attachment_base64"),
    }


def test_manifest_version_is_checked() -> None:
    data = edoc.build_document(full_header()).replace(
        b'edXMLManifest version="1.0"', b'edXMLManifest version="2.0"'
    )
    assert _found(edoc.parse(data)) == {("edXMLManifest", "manifest_version")}


def test_business_blocks_need_their_extra_information() -> None:
    for doc_type, expected in [
        (edoc.BusinessDocType.REVOCATION, {("Bussiness/DocumentId", "missing_field")}),
        (
            edoc.BusinessDocType.UPDATE,
            {
                ("Bussiness/DocumentId", "missing_field"),
                ("Bussiness/BussinessDocumentInfo", "missing_field"),
            },
        ),
        (
            edoc.BusinessDocType.REPLACEMENT,
            {
                ("Bussiness/DocumentId", "missing_field"),
                ("Bussiness/ReplacementInfoList", "missing_field"),
            },
        ),
        (edoc.BusinessDocType.NEW, set()),
    ]:
        package = _document(full_header(), business=edoc.Business(doc_type=doc_type))
        assert _found(package) == expected, doc_type


def test_update_receivers_are_checked() -> None:
    business = edoc.Business(
        document_id="000.00.00.H56,2024/04/01,1/UBND-VP",
        doc_type=edoc.BusinessDocType.UPDATE,
        document_info=1,
        receivers=[edoc.Receiver("000.00.00.H41", 0), edoc.Receiver("nope", 1)],
    )
    assert _found(_document(full_header(), business=business)) == {
        ("Bussiness/BussinessDocumentInfo/ReceiverList/Receiver[2]/OrganId", "bad_organ_id")
    }


def test_trace_headers_need_organ_and_time_but_may_use_system_ids() -> None:
    traces = [edoc.TraceHeader("01.02.G22", AT), edoc.TraceHeader("", None)]
    assert _found(_document(full_header(), traces=traces)) == {
        ("TraceHeaderList/TraceHeader[2]/OrganId", "missing_field"),
        ("TraceHeaderList/TraceHeader[2]/Timestamp", "missing_field"),
    }


def test_signature_outside_the_header_is_a_violation() -> None:
    data = edoc.build_document(full_header()).replace(
        b"</edXML:edXMLBody>",
        f'<Signature xmlns="{edoc.DSIG_NAMESPACE}"><SignedInfo/></Signature>'
        "</edXML:edXMLBody>".encode(),
    )
    assert _found(edoc.parse(data)) == {("Signature[1]", "signature_location")}


def test_violations_are_plain_values() -> None:
    violation = edoc.Violation("DueDate", "bad_date", "x")
    assert violation == edoc.Violation("DueDate", "bad_date", "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        violation.code = "other"  # type: ignore[misc]
    assert date(2024, 1, 1)  # keep `date` import meaningful for readers of the data above
