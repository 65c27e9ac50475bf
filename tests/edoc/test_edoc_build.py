"""Builders: sample-shaped output, and parse(build(x)) gives x back."""

from __future__ import annotations

import base64
import io
import uuid
import zipfile
from datetime import UTC, date, datetime

import pytest
from edoc_support import AT, full_header, pdf_file
from lxml import etree

import edoc
from simtime import VIETNAM_TZ

NS = edoc.NAMESPACE
E = f"{{{NS}}}"


def _document(data: bytes) -> edoc.DocumentPackage:
    package = edoc.parse(data)
    assert isinstance(package, edoc.DocumentPackage)
    return package


def test_document_round_trip_keeps_every_header_field() -> None:
    header = full_header()
    package = _document(edoc.build_document(header))
    assert package.header == header
    assert package.issues == []


def test_document_round_trip_with_traces_business_and_attachments() -> None:
    header = full_header()
    traces = [edoc.TraceHeader("000.00.00.H56", AT), edoc.TraceHeader("01.02.G22", None)]
    business = edoc.Business(
        document_id="000.00.00.H56,2024/04/01,999/UBND-VP",
        doc_type=edoc.BusinessDocType.UPDATE,
        reason="Cập nhật nơi nhận",
        paper=0,
        staff=edoc.StaffInfo(
            department="Văn thư", staff="Trần Thị B", email="b@x.vn", mobile="0912"
        ),
        document_info=1,
        document_receiver=1,
        receivers=[edoc.Receiver("000.00.00.G22", 0), edoc.Receiver("000.00.00.H41", 1)],
    )
    files = [pdf_file(), edoc.AttachmentFile("phụ lục.docx", "application/msword", b"docx bytes")]
    package = _document(
        edoc.build_document(header, attachments=files, traces=traces, business=business)
    )
    assert package.header == header
    assert package.traces == traces
    assert package.business == business
    assert [a.decode() for a in package.attachments] == [f.data for f in files]
    assert [a.name for a in package.attachments] == ["1234-UBND-VP.pdf", "phụ lục.docx"]
    assert package.attachments[0].content_id == "cid:5a1c2e7e-0000-4000-8000-000000000001"
    assert package.attachments[0].description == "Văn bản chính"
    assert [r.content_id for r in package.manifest] == [a.content_id for a in package.attachments]
    # The only flaw is the trace written without a time.
    assert [(v.field, v.code) for v in edoc.validate(package)] == [
        ("TraceHeaderList/TraceHeader[2]/Timestamp", "missing_field")
    ]


@pytest.mark.parametrize("doc_type", list(edoc.BusinessDocType))
def test_business_round_trip_for_each_type(doc_type: edoc.BusinessDocType) -> None:
    business = edoc.Business(
        document_id="000.00.00.H56,2024/04/01,999/UBND-VP",
        doc_type=doc_type,
        reason="lý do",
        paper=1,
        replacements=[edoc.Replacement("000.00.00.H56,2024/03/01,1/UBND-VP", ["000.00.00.G22"])]
        if doc_type is edoc.BusinessDocType.REPLACEMENT
        else [],
        document_info=1 if doc_type is edoc.BusinessDocType.UPDATE else None,
    )
    package = _document(edoc.build_document(full_header(), business=business))
    assert package.business == business
    assert edoc.validate(package) == []


def test_status_round_trip() -> None:
    header = edoc.StatusHeader(
        from_=edoc.Organization("000.00.00.G22", organ_name="Văn phòng Chính phủ"),
        response_for=edoc.ResponseFor(
            organ_id="000.00.00.H56",
            code="1234/UBND-VP",
            promulgation_date=date(2024, 5, 2),
            document_id="000.00.00.H56,2024/05/02,1234/UBND-VP",
        ),
        staff=edoc.StaffInfo(department="Phòng Hành chính", staff="Nguyễn C"),
        status_code=edoc.StatusCode.ACCEPTED,
        description="Đã tiếp nhận",
        timestamp=AT,
    )
    package = edoc.parse(edoc.build_status(header))
    assert isinstance(package, edoc.StatusPackage)
    assert package.header == header
    assert package.traces == []
    assert edoc.validate(package) == []
    traced = edoc.parse(edoc.build_status(header, traces=[edoc.TraceHeader("000.00.00.G22", AT)]))
    assert traced.traces == [edoc.TraceHeader("000.00.00.G22", AT)]


def test_document_has_the_shape_of_the_samples() -> None:
    data = edoc.build_document(full_header(), attachments=[pdf_file()])
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<edXML:edXML ')
    root = etree.fromstring(data)
    assert root.tag == f"{E}edXML"
    assert root.prefix == "edXML"
    assert [child.tag for child in root] == [f"{E}edXMLEnvelope", f"{E}AttachmentEncoded"]
    envelope = root[0]
    assert [child.tag for child in envelope] == [f"{E}edXMLHeader", f"{E}edXMLBody"]
    assert [child.tag for child in envelope[0]] == [f"{E}MessageHeader", f"{E}TraceHeaderList"]
    manifest = envelope[1][0]
    assert manifest.tag == f"{E}edXMLManifest"
    assert manifest.get("version") == "1.0"
    (reference,) = manifest
    assert reference.findtext(f"{E}ContentId") == "cid:5a1c2e7e-0000-4000-8000-000000000001"
    attachment = root[1][0]
    encoded = attachment.findtext(f"{E}ContentTransferEncoded")
    assert encoded is not None
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(encoded))) as archive:
        (member,) = archive.infolist()
        assert member.filename == "1234-UBND-VP.pdf"
        assert archive.read(member) == pdf_file().data
    # No signature: `keys` appends one as the last child of edXMLHeader.
    assert not root.findall(f".//{{{edoc.DSIG_NAMESPACE}}}Signature")


def test_status_has_no_body() -> None:
    header = edoc.StatusHeader(
        from_=edoc.Organization("000.00.00.G22"),
        response_for=edoc.ResponseFor(document_id="x"),
        status_code=edoc.StatusCode.ARRIVED,
        timestamp=AT,
    )
    root = etree.fromstring(edoc.build_status(header))
    assert [child.tag for child in root[0]] == [f"{E}edXMLHeader"]
    message = root[0][0][0]
    assert [child.tag.split("}")[1] for child in message] == [
        "From",
        "ResponseFor",
        "StatusCode",
        "Timestamp",
    ]


def test_timestamps_are_written_in_vietnam_time() -> None:
    utc_moment = datetime(2024, 5, 1, 20, 0, 0, tzinfo=UTC)  # 03:00 on 2 May in Hà Nội
    header = edoc.StatusHeader(
        from_=edoc.Organization("000.00.00.G22"),
        response_for=edoc.ResponseFor(document_id="x"),
        status_code="01",
        timestamp=utc_moment,
    )
    data = edoc.build_status(header)
    assert b"<edXML:Timestamp>2024/05/02 03:00:00</edXML:Timestamp>" in data
    parsed = edoc.parse(data)
    assert isinstance(parsed, edoc.StatusPackage)
    assert parsed.header.timestamp == utc_moment
    assert parsed.header.timestamp is not None
    assert parsed.header.timestamp.tzinfo == VIETNAM_TZ


def test_builds_are_deterministic_with_given_content_ids() -> None:
    header = full_header()
    first = edoc.build_document(header, attachments=[pdf_file()])
    assert edoc.build_document(header, attachments=[pdf_file()]) == first


def test_content_ids_default_to_fresh_uuids_and_accept_uuid_objects() -> None:
    fixed = uuid.UUID("12345678-1234-5678-1234-567812345678")
    files = [
        edoc.AttachmentFile("a.txt", "text/plain", b"a"),
        edoc.AttachmentFile("b.txt", "text/plain", b"b", content_id=fixed),
        edoc.AttachmentFile("c.txt", "text/plain", b"c", content_id="plain-id"),
    ]
    ids = [
        a.content_id
        for a in _document(edoc.build_document(full_header(), attachments=files)).attachments
    ]
    assert ids[0] is not None and ids[0].startswith("cid:")
    uuid.UUID(ids[0][4:])  # a real UUID
    assert ids[1:] == [f"cid:{fixed}", "cid:plain-id"]


def test_empty_document_still_has_a_manifest() -> None:
    header = edoc.DocumentHeader(from_=edoc.Organization("000.00.00.H56"))
    package = _document(edoc.build_document(header))
    assert package.manifest_version == "1.0"
    assert package.manifest == []
    assert package.attachments == []
    assert package.header == header


def test_reply_header_answers_the_document() -> None:
    document = _document(edoc.build_document(full_header()))
    recipient = document.header.to[0]
    reply = edoc.reply_header(
        document,
        from_=recipient,
        code=edoc.StatusCode.COMPLETED,
        description="Hoàn thành",
        at=AT,
    )
    assert reply.from_ == recipient
    assert reply.response_for == edoc.ResponseFor(
        organ_id="000.00.00.H56",
        code="1234/UBND-VP",
        promulgation_date=date(2024, 5, 2),
        document_id="000.00.00.H56,2024/05/02,1234/UBND-VP",
    )
    assert reply.status_code is edoc.StatusCode.COMPLETED
    assert reply.timestamp == AT
    status = edoc.parse(edoc.build_status(reply))
    assert status.header == reply


def test_compose_document_id() -> None:
    code = edoc.Code("7816", "VPCP-TTĐT")
    assert (
        edoc.compose_document_id("000.00.00.G22", date(2015, 9, 30), code)
        == "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
    )


def test_naive_timestamps_are_refused() -> None:
    header = edoc.StatusHeader(
        from_=edoc.Organization("000.00.00.G22"),
        response_for=edoc.ResponseFor(),
        status_code="01",
        timestamp=datetime(2024, 5, 2, 9, 0),  # naive: the point of the test
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        edoc.build_status(header)
