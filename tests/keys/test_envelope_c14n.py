"""Canonicalisation with spliced attachment texts gives libxml2's bytes, and the tree back.

`keys._envelope._canonical_document` writes large attachment texts itself (libxml2 escapes
them one character at a time); a digest over different bytes would refuse good packages or,
worse, accept changed ones. These tests compare it with plain C14N on hostile texts and on
shapes it must leave to libxml2, then check the public verifier on a tree it is handed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from lxml import etree

import edoc
from keys import Identity, SignatureError, TrustStore, sign_envelope, verify_envelope
from keys._envelope import _C14N_METHODS, _canonical_document  # the unit under test

ED = edoc.NAMESPACE
BASE64 = (
    "JVBERi0xLjcKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURlY29kZT4+\n" * 60
)

pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")


def _package(content: str, *, attachment_attrs: str = "", prefix: str = "edXML") -> bytes:
    """A package skeleton whose one attachment holds ``content`` (already XML-escaped)."""
    p = f"{prefix}:" if prefix else ""
    declaration = f'xmlns:{prefix}="{ED}"' if prefix else f'xmlns="{ED}"'
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{p}edXML {declaration}>'
        f"<{p}edXMLEnvelope><{p}edXMLHeader><{p}MessageHeader><{p}From>"
        f"<{p}OrganId>000.00.00.H56</{p}OrganId></{p}From></{p}MessageHeader>"
        f"</{p}edXMLHeader></{p}edXMLEnvelope>\n<{p}AttachmentEncoded>\n  <{p}Attachment>"
        f"<{p}ContentId>cid:1</{p}ContentId>\n    <{p}ContentTransferEncoded{attachment_attrs}>"
        f"{content}</{p}ContentTransferEncoded>  <!-- tail -->\n  </{p}Attachment>\n"
        f"</{p}AttachmentEncoded></{p}edXML>"
    ).encode()


HOSTILE = {
    "base64": BASE64,
    "markup characters": BASE64 + "&amp; &lt;tag&gt; a]]&gt;b " + BASE64,
    "carriage returns": BASE64 + "&#13;\r\n&#xD;" + BASE64,
    "non-ASCII": BASE64 + "Văn bản điện tử — 公文 \U0001f4c4" + BASE64,
    "a marker look-alike": BASE64 + "lgsp-c14n-0123456789abcdef01234567" + BASE64,
    "CDATA": BASE64 + "<![CDATA[<not markup> & more]]>" + BASE64,
}
UNSPLICEABLE = {
    "attributes": _package(BASE64, attachment_attrs=' encoding="base64"'),
    "own namespace declaration": _package(BASE64, attachment_attrs=' xmlns:x="urn:x"'),
    "a child comment": _package(BASE64 + "<!-- inside -->" + BASE64),
    "default namespace": _package(BASE64, prefix=""),
}


@pytest.mark.parametrize("method", sorted(_C14N_METHODS))
@pytest.mark.parametrize(
    "data",
    [_package(text) for text in HOSTILE.values()] + list(UNSPLICEABLE.values()),
    ids=[*HOSTILE, *UNSPLICEABLE],
)
def test_spliced_c14n_is_libxml2s_and_leaves_the_tree_as_it_was(data: bytes, method: str) -> None:
    c14n = _C14N_METHODS[method]
    root = edoc.load_xml(data)
    tree = root.getroottree()
    before = etree.tostring(tree)
    expected = c14n.of(tree)
    assert _canonical_document(tree, c14n) == expected
    assert etree.tostring(tree) == before  # texts, tails and positions restored
    assert c14n.of(tree) == expected


def test_a_second_attachment_and_a_short_one_are_spliced_in_order() -> None:
    data = _package(BASE64).replace(
        b"</edXML:AttachmentEncoded>",
        b"<edXML:Attachment><edXML:ContentTransferEncoded>c2hvcnQ=</edXML:ContentTransferEncoded>"
        b"</edXML:Attachment><edXML:Attachment><edXML:ContentTransferEncoded>"
        + BASE64[::-1].encode()
        + b"</edXML:ContentTransferEncoded></edXML:Attachment></edXML:AttachmentEncoded>",
    )
    tree = edoc.load_xml(data).getroottree()
    c14n = _C14N_METHODS["http://www.w3.org/TR/2001/REC-xml-c14n-20010315"]
    assert _canonical_document(tree, c14n) == c14n.of(tree)


def test_verify_takes_the_tree_a_hub_has_parsed(
    make_package: Callable[..., bytes], agency: Identity, trust: TrustStore, now: datetime
) -> None:
    signed = sign_envelope(make_package(), agency)
    root = edoc.load_xml(signed)
    before = etree.tostring(root)
    from_tree = verify_envelope(root, trust, at=now)
    assert from_tree == verify_envelope(signed, trust, at=now)
    assert etree.tostring(root) == before
    # The tree is what is verified: a change made to it after parsing is caught.
    attachment = root.find(f".//{{{ED}}}ContentTransferEncoded")
    assert attachment is not None and attachment.text
    attachment.text = attachment.text.replace("A", "B", 1)
    with pytest.raises(SignatureError) as caught:
        verify_envelope(root, trust, at=now)
    assert caught.value.code == "signature_invalid"


def test_a_changed_hostile_attachment_is_caught(
    third_party_sign: Callable[..., bytes], agency: Identity, trust: TrustStore, now: datetime
) -> None:
    """Signed by signxml (not by us) over markup characters: ours verifies it, then refuses
    the same package with one escaped character changed."""
    data = _package(HOSTILE["markup characters"]).replace(
        b"</edXML:From>",
        b"</edXML:From><edXML:To><edXML:OrganId>000.00.00.G22</edXML:OrganId></edXML:To>",
    )
    signed = third_party_sign(data, agency)
    assert verify_envelope(signed, trust, at=now).organ_id == "000.00.00.H56"
    tampered = signed.replace(b"&lt;tag&gt;", b"&lt;tag&gt;&gt;", 1)
    assert tampered != signed
    with pytest.raises(SignatureError) as caught:
        verify_envelope(tampered, trust, at=now)
    assert caught.value.code == "signature_invalid"
