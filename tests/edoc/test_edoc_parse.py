"""parse(): the public samples and the real-world quirks the parser must accept."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import date, datetime

import pytest
from edoc_support import SAMPLE_NAMES, STATUS_SAMPLES, sample

import edoc
from simtime import VIETNAM_TZ

NS = edoc.NAMESPACE


def _document(data: bytes) -> edoc.DocumentPackage:
    package = edoc.parse(data)
    assert isinstance(package, edoc.DocumentPackage)
    return package


def _status(data: bytes) -> edoc.StatusPackage:
    package = edoc.parse(data)
    assert isinstance(package, edoc.StatusPackage)
    return package


def test_all_eight_samples_are_present() -> None:
    assert len(SAMPLE_NAMES) == 8


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_sample_parses_to_the_right_kind(name: str) -> None:
    package = edoc.parse(sample(name))
    expected = "status" if name.startswith("status_") else "document"
    assert package.kind == expected
    assert package.header.from_.organ_id


@pytest.mark.parametrize(("name", "code"), sorted(STATUS_SAMPLES.items()))
def test_status_samples(name: str, code: str) -> None:
    package = _status(sample(name))
    header = package.header
    assert header.status_code == edoc.StatusCode(code)
    assert isinstance(header.status_code, edoc.StatusCode)
    assert header.from_.organ_id == "000.00.00.H41"
    assert header.from_.organ_name == "UBND Tỉnh Nghệ An"
    assert header.response_for == edoc.ResponseFor(
        organ_id="000.00.00.G22",
        code="7816/VPCP-TTĐT",
        promulgation_date=date(2015, 9, 30),
        document_id="000.00.00.G22,2015/09/30,7816/VPCP-TTĐT",
    )
    assert header.staff == edoc.StaffInfo(
        department="Phong hanh chinh",
        staff="Nguyen thi ngoc tram",
        email="ngoctram@nghean.vn",
        mobile="84912000001",
    )
    assert header.timestamp == datetime(2015, 9, 20, 11, 8, 36, tzinfo=VIETNAM_TZ)
    assert package.traces == []
    assert package.signatures == []
    assert package.issues == []


def test_acceptance_sample_description_and_meaning() -> None:
    header = _status(sample("status_acceptance_03.edxml")).header
    assert header.description is not None
    assert header.description.startswith("Văn thư cơ - Phòng Văn thư")
    assert header.status_code == edoc.StatusCode.ACCEPTED
    assert edoc.StatusCode.ACCEPTED.meaning_en == "accepted and registered"
    assert "tiếp nhận" in edoc.StatusCode.ACCEPTED.meaning_vi


def test_update_sample_header() -> None:
    package = _document(sample("edoc_update.edxml"))
    header = package.header
    assert header.from_.organ_id == "000.00.00.G22"
    assert header.from_.organ_name == "Văn phòng Chính phủ"
    assert [o.organ_id for o in header.to] == ["000.00.00.H41", "000.00.00.H14", "000.00.00.G17"]
    assert header.document_id == "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
    assert header.code == edoc.Code(number="7816", notation="VPCP-TTĐT")
    assert str(header.code) == "7816/VPCP-TTĐT"
    assert header.promulgation == edoc.PromulgationInfo(place="Hà Nội", date=date(2018, 9, 28))
    assert header.document_type == edoc.DocumentType(
        type="1", type_detail="0", type_name="Công văn"
    )
    assert header.subject == "V/v kết nối, liên thông phần mềm quản lý văn bản"
    assert header.signer == edoc.SignerInfo(
        competence="TL. BO TRUONG",
        position="Cuc truong cuc ung dung cong nghe thong tin",
        full_name="Nguyen Thanh Phuc",
    )
    assert header.due_date == date(2018, 9, 28)
    assert header.to_places == ["Cac bo va co quan ngang bo", "Uy ban nhan dan cac tinh, TP"]
    assert header.other is not None
    assert header.other.priority == 0
    assert header.other.page_amount == 22
    assert header.other.direction is False
    assert header.other.appendixes == [
        "Công văn về việc kết nối, liên thông phần mềm quản lý văn bản"
    ]
    assert header.steering_type == "1"
    assert header.response_for is None
    assert package.traces == [
        edoc.TraceHeader("000.00.00.G22", datetime(2018, 9, 28, 0, 0, tzinfo=VIETNAM_TZ))
    ]


def test_update_sample_business_block() -> None:
    business = _document(sample("edoc_update.edxml")).business
    assert business is not None
    assert business.doc_type is edoc.BusinessDocType.UPDATE
    assert int(business.doc_type) == 2
    assert business.document_id == "000.00.00.G22,2014/02/30,7806/VPCP-TTĐT"
    assert business.reason == "Cập nhật văn bản điện tử"
    assert business.paper == 0
    assert business.document_info == 1
    assert business.document_receiver == 1
    assert business.receivers == [
        edoc.Receiver("000.00.00.H41", 0),
        edoc.Receiver("000.00.00.H14", 1),
    ]
    assert business.replacements == []
    assert business.staff is not None
    assert business.staff.staff == "Nguyễn Thị Ngọc Trâm"


def test_update_sample_attachment_is_a_zip_holding_a_file() -> None:
    package = _document(sample("edoc_update.edxml"))
    assert package.manifest_version == "1.0"
    assert package.manifest == [
        edoc.ManifestReference(
            content_id="cid:209",
            content_type="application/zip",
            description="1896_QD-TTg_m_294779.doc",
            name="1896_QD-TTg_m_294779.doc",
        )
    ]
    (attachment,) = package.attachments
    assert attachment.content_id == "cid:209"
    assert attachment.name == "1896_QD-TTg_m_294779.doc"
    raw = attachment.raw_bytes()
    assert raw[:4] == b"PK\x03\x04"
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        (member,) = archive.infolist()
        inner = archive.read(member)
    content = attachment.decode()
    assert content == inner
    assert content.startswith(b"<?xml")
    assert attachment.size == len(inner) == 388347
    assert attachment.sha256 == hashlib.sha256(inner).hexdigest()
    assert package.attachment("cid:209") is attachment
    assert package.attachment("cid:nope") is None


def test_update_sample_signature_is_described() -> None:
    (signature,) = _document(sample("edoc_update.edxml")).signatures
    assert signature.location == "edXMLHeader"
    assert signature.signature_method == "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
    assert signature.digest_methods == ["http://www.w3.org/2000/09/xmldsig#sha1"]
    assert signature.reference_uris == [""]
    assert signature.legacy_sha1 is True
    # This sample's Signature has no xmlns: it falls into the edXML default namespace.
    assert signature.in_dsig_namespace is False
    # Its X509Certificate is truncated ("MIIFqTCCBJG"): present, but not decodable.
    assert signature.has_certificate is True
    assert signature.certificate_der is None


def test_edoc_sample_with_undeclared_prefixes() -> None:
    # xlink:href is never declared and AttachmentEncoded uses an edXML: prefix declared only
    # on the envelope: libxml2 refuses the file in strict mode.
    package = _document(sample("edoc.edxml"))
    header = package.header
    assert header.from_.organ_id == "002.00.20.H13"
    assert [o.organ_id for o in header.to] == ["000.00.15.H51"]
    assert header.to[0].organization_in_charge is None  # absent in the sample
    assert header.document_id == "9fbfbad2-f1f8-4256-a2eb-50fb1061cddb"  # a UUID DocumentId
    assert header.document_type == edoc.DocumentType(type="1", type_name="Thông tư")
    assert header.response_for is None  # present but all empty in the sample
    assert header.other is not None and header.other.direction is None
    assert package.traces == [
        edoc.TraceHeader("01.02.G22", datetime(2018, 6, 20, 16, 35, 56, tzinfo=VIETNAM_TZ))
    ]
    assert package.business is None
    (reference,) = package.manifest
    assert reference.content_type is None  # commented out in the sample
    (attachment,) = package.attachments
    assert attachment.content_id == reference.content_id
    assert attachment.name == "GUIDE_INSTALL OPENVPN.SIGNED.PDF"
    assert attachment.content_type == "application/pdf"
    assert attachment.encoded == "${__StringFromFile(test.txt,,,)}"
    with pytest.raises(edoc.AttachmentError) as caught:
        attachment.decode()
    assert caught.value.code == "attachment_base64"
    assert [i.code for i in package.issues] == ["xml_namespace_recovered"]


def test_edoc_sample_signature_has_a_certificate() -> None:
    (signature,) = _document(sample("edoc.edxml")).signatures
    assert signature.in_dsig_namespace is True
    assert signature.has_certificate is True
    assert signature.certificate_der is not None
    assert signature.certificate_der[:2] == b"\x30\x82"  # DER SEQUENCE
    assert signature.canonicalization_method == "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    assert signature.transforms == ["http://www.w3.org/2000/09/xmldsig#enveloped-signature"]


def test_raw_keeps_the_xml_bytes() -> None:
    data = sample("status_inbox_01.edxml")
    assert edoc.parse(data).raw == data


@pytest.mark.parametrize(
    "preamble",
    [b"\xef\xbb\xbf", b"\r\n  \t", b"garbage\x00\x01 before", b"\xef\xbb\xbf\n\n"],
    ids=["bom", "whitespace", "junk", "bom-newlines"],
)
def test_stray_bytes_before_the_declaration_are_ignored(preamble: bytes) -> None:
    data = sample("status_acceptance_03.edxml")
    package = edoc.parse(preamble + data)
    assert package.kind == "status"
    assert package.raw == data


def test_stray_bytes_before_a_root_without_declaration() -> None:
    data = sample("status_acceptance_03.edxml")
    body = data[data.index(b"<edXML ") :]
    assert edoc.parse(b"\xef\xbb\xbfxx " + body).kind == "status"


def _status_xml(message: str, *, root_ns: str = f'xmlns="{NS}"') -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<edXML {root_ns}><edXMLEnvelope><edXMLHeader><MessageHeader>
{message}
</MessageHeader></edXMLHeader></edXMLEnvelope></edXML>""".encode()


def test_prefixed_children_under_a_default_namespace_root_and_other_prefixes() -> None:
    data = f"""<?xml version="1.0" encoding="UTF-8"?>
<edXML xmlns="{NS}" xmlns:q="{NS}">
 <q:edXMLEnvelope><q:edXMLHeader><edXML:MessageHeader xmlns:edXML="{NS}">
  <q:From><OrganId>000.00.00.H56</OrganId></q:From>
  <ResponseFor><q:DocumentId>abc</q:DocumentId></ResponseFor>
  <q:StatusCode>5</q:StatusCode>
 </edXML:MessageHeader></q:edXMLHeader></q:edXMLEnvelope></edXML>""".encode()
    package = _status(data)
    assert package.header.from_.organ_id == "000.00.00.H56"
    assert package.header.response_for.document_id == "abc"
    assert package.header.status_code == edoc.StatusCode.PROCESSING  # "5" read as "05"


def test_a_prefix_bound_to_another_namespace_is_not_matched() -> None:
    data = _status_xml(
        '<x:From xmlns:x="urn:other"><x:OrganId>000.00.00.H01</x:OrganId></x:From>'
        "<From><OrganId>000.00.00.H56</OrganId></From><StatusCode>01</StatusCode>"
    )
    assert _status(data).header.from_.organ_id == "000.00.00.H56"


def test_children_without_namespace_are_accepted() -> None:
    data = f"""<e:edXML xmlns:e="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader>
<From><OrganId>000.00.00.H56</OrganId></From><StatusCode>03</StatusCode>
</MessageHeader></edXMLHeader></edXMLEnvelope></e:edXML>""".encode()
    assert _status(data).header.status_code == edoc.StatusCode.ACCEPTED


def test_missing_optional_fields_are_none() -> None:
    package = _status(
        _status_xml("<From><OrganId>000.00.00.H56</OrganId></From><StatusCode>06</StatusCode>")
    )
    header = package.header
    assert header.from_ == edoc.Organization("000.00.00.H56")
    assert header.staff is None
    assert header.description is None
    assert header.timestamp is None
    assert header.response_for == edoc.ResponseFor()


def test_odd_values_become_none_with_an_issue() -> None:
    data = f"""<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader>
<From><OrganId>01.02.G22</OrganId></From><To><OrganId>000.00.00.H56</OrganId></To>
<PromulgationInfo><PromulgationDate>2019-01-17</PromulgationDate></PromulgationInfo>
<DueDate>2018/02/30</DueDate><OtherInfo><PageAmount>two</PageAmount><Direction>maybe</Direction>
</OtherInfo></MessageHeader><TraceHeaderList><TraceHeader><OrganId>x</OrganId>
<Timestamp>yesterday</Timestamp></TraceHeader></TraceHeaderList></edXMLHeader></edXMLEnvelope>
</edXML>""".encode()
    package = _document(data)
    header = package.header
    assert header.from_.organ_id == "01.02.G22"  # a system id, kept as is
    assert header.promulgation is None  # its only field could not be read
    assert header.due_date is None
    assert header.other is None
    assert package.traces == [edoc.TraceHeader("x", None)]
    assert {(i.field, i.code) for i in package.issues} == {
        ("PromulgationInfo/PromulgationDate", "bad_date"),
        ("DueDate", "bad_date"),
        ("OtherInfo/PageAmount", "bad_number"),
        ("OtherInfo/Direction", "bad_boolean"),
        ("TraceHeaderList/TraceHeader[1]/Timestamp", "bad_timestamp"),
    }


def test_unknown_status_code_is_kept_as_text() -> None:
    header = _status(
        _status_xml("<From><OrganId>000.00.00.H56</OrganId></From><StatusCode>99</StatusCode>")
    ).header
    assert header.status_code == "99"
    assert not isinstance(header.status_code, edoc.StatusCode)


def test_element_order_does_not_matter() -> None:
    data = _status_xml(
        "<Timestamp>2024/05/02 09:30:15</Timestamp><StatusCode>04</StatusCode>"
        "<From><Website>w</Website><OrganId>000.00.00.H56</OrganId></From>"
    )
    header = _status(data).header
    assert header.from_ == edoc.Organization("000.00.00.H56", website="w")
    assert header.timestamp == datetime(2024, 5, 2, 9, 30, 15, tzinfo=VIETNAM_TZ)


def test_comments_inside_values_are_ignored() -> None:
    data = _status_xml(
        "<From><OrganId>000.00<!-- x -->.00.H56</OrganId></From><StatusCode>01</StatusCode>"
    )
    assert _status(data).header.from_.organ_id == "000.00.00.H56"


def test_business_invalid_type_reads_as_new_with_an_issue() -> None:
    data = f"""<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader>
<From><OrganId>000.00.00.H56</OrganId></From></MessageHeader><TraceHeaderList>
<Bussiness><BussinessDocType>9</BussinessDocType></Bussiness></TraceHeaderList>
</edXMLHeader></edXMLEnvelope></edXML>""".encode()
    package = _document(data)
    assert package.business is not None
    assert package.business.doc_type is edoc.BusinessDocType.NEW
    assert [(i.field, i.code) for i in package.issues] == [
        ("Bussiness/BussinessDocType", "bad_business_type")
    ]


def test_replacement_block() -> None:
    data = f"""<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader>
<From><OrganId>000.00.00.H56</OrganId></From></MessageHeader><TraceHeaderList>
<Bussiness><DocumentId>d-new</DocumentId><BussinessDocType>3</BussinessDocType>
<ReplacementInfoList><ReplacementInfo><DocumentId>d-old</DocumentId><OrganIdList>
<OrganId>000.00.00.H41</OrganId><OrganId>000.00.00.H14</OrganId></OrganIdList>
</ReplacementInfo></ReplacementInfoList></Bussiness></TraceHeaderList>
</edXMLHeader></edXMLEnvelope></edXML>""".encode()
    business = _document(data).business
    assert business is not None
    assert business.doc_type is edoc.BusinessDocType.REPLACEMENT
    assert business.replacements == [edoc.Replacement("d-old", ["000.00.00.H41", "000.00.00.H14"])]


def test_signature_outside_the_header_is_reported_with_its_location() -> None:
    data = f"""<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader>
<From><OrganId>000.00.00.H56</OrganId></From></MessageHeader></edXMLHeader>
<edXMLBody><ds:Signature xmlns:ds="{edoc.DSIG_NAMESPACE}"><ds:SignedInfo>
<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
<ds:Reference URI="#x"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
</ds:Reference></ds:SignedInfo></ds:Signature></edXMLBody></edXMLEnvelope></edXML>""".encode()
    (signature,) = _document(data).signatures
    assert signature.location == "edXMLBody"
    assert signature.reference_uris == ["#x"]
    assert signature.legacy_sha1 is False
    assert signature.has_certificate is False
    assert signature.certificate_der is None


def test_attachment_encoded_inside_the_envelope_is_accepted() -> None:
    data = f"""<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader>
<From><OrganId>000.00.00.H56</OrganId></From></MessageHeader></edXMLHeader>
<AttachmentEncoded><Attachment><ContentId>cid:1</ContentId>
<ContentTransferEncoded>aGVs
bG8=</ContentTransferEncoded></Attachment></AttachmentEncoded></edXMLEnvelope></edXML>""".encode()
    (attachment,) = _document(data).attachments
    assert attachment.decode() == b"hello"  # base64 with a line break, not zipped
    assert attachment.size == 5


def test_load_xml_is_the_hardened_loader_and_can_refuse_recovery() -> None:
    root = edoc.load_xml(sample("edoc.edxml"))
    assert root.tag == f"{{{NS}}}edXML"
    # The undeclared edXML: prefix was resolved from the envelope's declaration.
    assert root[1].tag == f"{{{NS}}}AttachmentEncoded"
    with pytest.raises(edoc.XmlError) as caught:
        edoc.load_xml(sample("edoc.edxml"), allow_recovery=False)
    assert caught.value.code == "xml_malformed"
    assert "xlink" in caught.value.message
    with pytest.raises(edoc.XmlSecurityError):
        edoc.load_xml(b"<!DOCTYPE a><a/>")


def test_bytes_like_input_is_accepted() -> None:
    data = sample("status_inbox_01.edxml")
    for value in (bytearray(data), memoryview(data)):
        package = edoc.parse(value)  # type: ignore[arg-type]
        assert package.raw == data
        assert isinstance(package.raw, bytes)
