"""Hostile input: every attack gets a typed EdocError with the right code, never lxml's."""

from __future__ import annotations

import base64
import io
import random
import zipfile
from pathlib import Path

import pytest
from edoc_support import full_header, sample

import edoc

NS = edoc.NAMESPACE


def _code(data: bytes, **kwargs: int) -> str:
    with pytest.raises(edoc.EdocError) as caught:
        edoc.parse(data, **kwargs)
    return caught.value.code


def _package(header: str, *, around: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader>{header}</edXMLHeader></edXMLEnvelope>{around}
</edXML>""".encode()


MESSAGE = "<MessageHeader><From><OrganId>000.00.00.H56</OrganId></From></MessageHeader>"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE edXML [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">&lol9;</edXML>"""


def _xxe(target: Path) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE edXML [<!ENTITY xxe SYSTEM "file://{target}">]>
<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader><From>
<OrganId>&xxe;</OrganId></From><StatusCode>01</StatusCode></MessageHeader></edXMLHeader>
</edXMLEnvelope></edXML>"""


def test_billion_laughs_is_refused() -> None:
    assert _code(BILLION_LAUGHS) == "xml_dtd_forbidden"


def test_external_entity_to_etc_passwd_is_refused() -> None:
    with pytest.raises(edoc.XmlSecurityError) as caught:
        edoc.parse(_xxe(Path("/etc/passwd")).encode())
    assert caught.value.code == "xml_dtd_forbidden"
    assert "root:" not in str(caught.value)


def test_external_entity_in_utf16_is_refused_without_reading_the_file(tmp_path: Path) -> None:
    # UTF-16 hides "<!DOCTYPE" from the byte scan: the parser itself must not resolve the
    # entity, and the tree check refuses the DOCTYPE.
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    data = _xxe(secret).replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    with pytest.raises(edoc.EdocError) as caught:
        edoc.parse(data)
    assert caught.value.code == "xml_dtd_forbidden"
    assert "TOP-SECRET-MARKER" not in str(caught.value)


def test_utf16_billion_laughs_is_refused() -> None:
    text = BILLION_LAUGHS.decode().replace(
        '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>'
    )
    assert _code(text.encode("utf-16")) == "xml_dtd_forbidden"


@pytest.mark.parametrize(
    "doctype",
    [
        b"<!DOCTYPE edXML>",
        b'<!DOCTYPE edXML SYSTEM "http://example.invalid/edxml.dtd">',
        b'<!DOCTYPE edXML [<!ENTITY % p SYSTEM "http://example.invalid/p.dtd"> %p;]>',
    ],
    ids=["bare", "external-dtd", "parameter-entity"],
)
def test_any_doctype_is_refused(doctype: bytes) -> None:
    data = sample("status_inbox_01.edxml").replace(b"?>", b"?>" + doctype, 1)
    assert _code(data) == "xml_dtd_forbidden"


def test_undefined_entity_is_malformed() -> None:
    assert _code(_package(MESSAGE.replace("H56", "&x;"))) == "xml_malformed"


@pytest.mark.parametrize("depth", [150, 2000])
def test_deep_nesting_is_refused(depth: int) -> None:
    data = _package(MESSAGE + "<a>" * depth + "</a>" * depth)
    with pytest.raises(edoc.XmlSecurityError) as caught:
        edoc.parse(data)
    assert caught.value.code == "xml_too_deep"


def test_nesting_within_the_limit_is_fine() -> None:
    depth = edoc.MAX_DEPTH - 10
    data = _package(MESSAGE + "<a>" * depth + "</a>" * depth)
    assert edoc.parse(data).kind == "document"


def test_oversized_input_is_refused_before_parsing() -> None:
    data = sample("edoc_update.edxml")
    assert _code(data, max_bytes=100_000) == "xml_too_large"
    assert _code(b"<" * 51 * 1024 * 1024) == "xml_too_large"  # the 50 MiB default


def test_text_node_above_libxml2_limit_is_read() -> None:
    # libxml2 caps text nodes at 10 MB without XML_PARSE_HUGE; a 12 MB attachment is normal.
    payload = base64.b64encode(b"\x00" * 9_000_000).decode()
    data = _package(
        MESSAGE,
        around=f"<AttachmentEncoded><Attachment><ContentId>cid:1</ContentId>"
        f"<ContentTransferEncoded>{payload}</ContentTransferEncoded></Attachment>"
        "</AttachmentEncoded>",
    )
    assert len(payload) > 10_000_000
    package = edoc.parse(data)
    assert isinstance(package, edoc.DocumentPackage)
    assert package.attachments[0].size == 9_000_000


def test_wrong_namespace_is_refused() -> None:
    data = sample("status_inbox_01.edxml").replace(b"QCVN_102_2016", b"QCVN_102_2099")
    with pytest.raises(edoc.PackageStructureError) as caught:
        edoc.parse(data)
    assert caught.value.code == "wrong_namespace"
    assert _code(b"<edXML><edXMLEnvelope/></edXML>") == "wrong_namespace"


def test_a_root_that_is_not_edxml_is_refused() -> None:
    assert _code(f'<Envelope xmlns="{NS}"/>'.encode()) == "not_edxml"
    assert _code(b"<html><body>hi</body></html>") == "not_edxml"


@pytest.mark.parametrize(
    ("name", "header", "around"),
    [
        ("MessageHeader", MESSAGE + MESSAGE, ""),
        ("From", MESSAGE.replace("</From>", "</From><From><OrganId>x</OrganId></From>"), ""),
        (
            "DocumentId",
            MESSAGE.replace(
                "</From>", "</From><DocumentId>a</DocumentId><DocumentId>b</DocumentId>"
            ),
            "",
        ),
        (
            "OrganId",
            MESSAGE.replace("</OrganId>", "</OrganId><OrganId>000.00.00.G22</OrganId>"),
            "",
        ),
        ("TraceHeaderList", MESSAGE + "<TraceHeaderList/><TraceHeaderList/>", ""),
        (
            "AttachmentEncoded",
            MESSAGE,
            "<AttachmentEncoded/><AttachmentEncoded/>",
        ),
    ],
)
def test_duplicated_single_elements_are_refused(name: str, header: str, around: str) -> None:
    with pytest.raises(edoc.PackageStructureError) as caught:
        edoc.parse(_package(header, around=around))
    assert caught.value.code == "duplicate_element"
    assert name in caught.value.message


def test_duplicated_header_and_envelope_are_refused() -> None:
    twice = f"""<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader>{MESSAGE}</edXMLHeader>
<edXMLHeader>{MESSAGE}</edXMLHeader></edXMLEnvelope></edXML>""".encode()
    assert _code(twice) == "duplicate_element"
    envelopes = f"""<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader>{MESSAGE}</edXMLHeader>
</edXMLEnvelope><edXMLEnvelope/></edXML>""".encode()
    assert _code(envelopes) == "duplicate_element"


def test_signature_wrapping_with_a_second_signature_is_refused() -> None:
    # Classic wrapping: the genuine signed content moved under an Object of a second
    # Signature, a forged header in its place. Any second Signature anywhere is refused.
    data = sample("edoc.edxml")
    signature = data[
        data.index(b"<Signature ") : data.index(b"</Signature>") + len(b"</Signature>")
    ]
    wrapped = data.replace(b"</edXML:edXMLBody>", b"</edXML:edXMLBody>" + signature)
    assert _code(wrapped) == "duplicate_element"
    nested = signature.replace(b"</Signature>", b"<Object>" + signature + b"</Object></Signature>")
    assert _code(data.replace(signature, nested)) == "duplicate_element"


def test_missing_structure_is_a_typed_error() -> None:
    assert _code(f'<edXML xmlns="{NS}"/>'.encode()) == "missing_element"
    assert _code(_package("")) == "missing_element"


@pytest.mark.parametrize(
    "data",
    [b"", b"   ", b"not xml at all", b"<edXML", b"<?xml version='1.0'?><a><b></a>"],
    ids=["empty", "blank", "text", "truncated", "mismatched"],
)
def test_malformed_xml(data: bytes) -> None:
    with pytest.raises(edoc.XmlError) as caught:
        edoc.parse(data)
    assert caught.value.code == "xml_malformed"


def test_namespace_errors_mixed_with_real_errors_are_not_recovered() -> None:
    data = _package(MESSAGE + "<x:a>oops</x:b>")
    assert _code(data) == "xml_malformed"


def test_truncations_of_a_sample_only_raise_edoc_errors() -> None:
    data = sample("edoc.edxml")
    rng = random.Random(1022016)
    for cut in sorted(rng.sample(range(1, len(data)), 150)):
        try:
            edoc.parse(data[:cut])
        except edoc.EdocError:
            continue
        pytest.fail(f"a package cut at byte {cut} parsed without error")  # pragma: no cover


def test_random_byte_flips_only_raise_edoc_errors() -> None:
    data = bytearray(sample("status_acceptance_03.edxml"))
    rng = random.Random(7)
    for _ in range(300):
        mutated = bytearray(data)
        for _ in range(3):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        try:
            edoc.parse(bytes(mutated))
        except edoc.EdocError:
            continue  # the only acceptable failure: anything else fails the test


def _attachment_package(encoded: str, name: str = "a.pdf") -> edoc.DocumentPackage:
    data = _package(
        MESSAGE,
        around=f"<AttachmentEncoded><Attachment><ContentId>cid:1</ContentId>"
        f"<AttachmentName>{name}</AttachmentName>"
        f"<ContentTransferEncoded>{encoded}</ContentTransferEncoded></Attachment>"
        "</AttachmentEncoded>",
    )
    package = edoc.parse(data)
    assert isinstance(package, edoc.DocumentPackage)
    return package


def _decode_error(attachment: edoc.Attachment, **kwargs: int) -> str:
    with pytest.raises(edoc.AttachmentError) as caught:
        attachment.decode(**kwargs)
    return caught.value.code


@pytest.mark.parametrize("encoded", ["not base64!", "QUJD=RA==", "QUJ", "ÀÉÎ"])
def test_attachment_that_is_not_base64(encoded: str) -> None:
    (attachment,) = _attachment_package(encoded).attachments
    assert _decode_error(attachment) == "attachment_base64"
    with pytest.raises(edoc.AttachmentError):
        _ = attachment.size


def _zip(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


def _zip_bomb(size: int) -> bytes:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("bomb.pdf", "w") as member,
    ):
        chunk = b"\x00" * (1 << 20)
        for _ in range(size >> 20):
            member.write(chunk)
    return buffer.getvalue()


def test_zip_bomb_is_refused_by_the_default_cap() -> None:
    bomb = _zip_bomb(edoc.MAX_ATTACHMENT_BYTES + (1 << 20))
    assert len(bomb) < 200_000  # tiny on the wire
    (attachment,) = _attachment_package(base64.b64encode(bomb).decode()).attachments
    assert _decode_error(attachment) == "attachment_too_large"


def test_zip_bomb_lying_about_its_size_is_stopped_while_inflating() -> None:
    bomb = bytearray(_zip_bomb(8 << 20))
    # Patch the declared uncompressed size (local header and central directory) to 1 KiB.
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = bomb.index(signature)
        bomb[at + offset : at + offset + 4] = (1024).to_bytes(4, "little")
    (attachment,) = _attachment_package(base64.b64encode(bytes(bomb)).decode()).attachments
    code = _decode_error(attachment, max_bytes=4 << 20)
    assert code in {"attachment_too_large", "attachment_zip"}


def test_zip_with_several_members_is_refused_clearly() -> None:
    archive = _zip(("a.pdf", b"one"), ("b.pdf", b"two"))
    (attachment,) = _attachment_package(base64.b64encode(archive).decode()).attachments
    with pytest.raises(edoc.AttachmentError) as caught:
        attachment.decode()
    assert caught.value.code == "attachment_zip"
    assert "2 entries" in caught.value.message
    assert attachment.raw_bytes() == archive  # the archive itself stays available


def test_zip_holding_a_directory_or_broken_data_is_refused() -> None:
    directory = _zip(("folder/", b""))
    (attachment,) = _attachment_package(base64.b64encode(directory).decode()).attachments
    assert _decode_error(attachment) == "attachment_zip"
    broken = b"PK\x03\x04" + b"\x00" * 40
    (attachment,) = _attachment_package(base64.b64encode(broken).decode()).attachments
    assert _decode_error(attachment) == "attachment_zip"


def test_a_zip_file_sent_as_such_is_not_unwrapped() -> None:
    archive = _zip(("a.pdf", b"one"), ("b.pdf", b"two"))
    (attachment,) = _attachment_package(
        base64.b64encode(archive).decode(), name="hồ sơ.zip"
    ).attachments
    assert attachment.decode() == archive
    wrapped = _zip(("hồ sơ.zip", archive))
    (attachment,) = _attachment_package(
        base64.b64encode(wrapped).decode(), name="hồ sơ.zip"
    ).attachments
    assert attachment.decode() == archive


def test_oversized_base64_is_refused_before_decoding() -> None:
    (attachment,) = _attachment_package("QUJD" * 1000).attachments
    assert _decode_error(attachment, max_bytes=100) == "attachment_too_large"
    assert attachment.decode(max_bytes=3000) == b"ABC" * 1000


def test_invalid_text_cannot_be_built() -> None:
    header = full_header()
    bad = edoc.DocumentHeader(from_=header.from_, to=header.to, subject="bell \x07 char")
    with pytest.raises(edoc.FieldFormatError) as caught:
        edoc.build_document(bad)
    assert caught.value.code == "invalid_text"
