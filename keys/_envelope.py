"""Enveloped XMLDSig on edXML packages: the agency signature over the whole package.

Shape (as in the QCVN 102:2016 samples): one ``ds:Signature`` as the last child of
``edXMLHeader``, one ``Reference URI=""`` (the whole document) with the enveloped-signature
transform only, inclusive C14N 1.0, SHA-256 digest, RSA-SHA256 (ECDSA-SHA256 for P-256 keys),
the signer certificate in ``KeyInfo/X509Data``.

Verification order: hardened parse (edoc) → where the signature sits → what it references and
with which algorithms → the certificate against the trust store (chain, dates, CRL, agency
profile) → the signature itself, pinned to that certificate → the OrganId read from the
*verified* XML. Errors are `SignatureError` (or `CertificateError` from the trust store);
`edoc.EdocError` from the hardened parser propagates unchanged, since bytes that are not
acceptable XML are a format problem, not a signature problem.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from lxml import etree

from edoc import DSIG_NAMESPACE, NAMESPACE, EdocError, load_xml

from ._errors import CertificateError, SignatureError
from ._profiles import CertKind
from ._store import Identity
from ._trust import CertificateInfo, TrustStore

_ED = f"{{{NAMESPACE}}}"
_DS = f"{{{DSIG_NAMESPACE}}}"
_DS_NS = {"ds": DSIG_NAMESPACE}
_SIGNATURE = f"{_DS}Signature"
_SIGNED_INFO = f"{_DS}SignedInfo"
_REFERENCE = f"{_DS}Reference"
_TRANSFORMS = f"{_DS}Transforms"
_TRANSFORM = f"{_DS}Transform"
_KEY_INFO = f"{_DS}KeyInfo"
_X509_DATA = f"{_DS}X509Data"
_X509_CERTIFICATE = f"{_DS}X509Certificate"
_KEY_VALUE = f"{_DS}KeyValue"
_RSA_KEY_VALUE = f"{_DS}RSAKeyValue"
# Attachments are most of a package's bytes, all in these text nodes (base64).
_ATTACHMENT_ENCODED = f"{_ED}AttachmentEncoded"
_ATTACHMENT = f"{_ED}Attachment"
_CONTENT_TRANSFER_ENCODED = f"{_ED}ContentTransferEncoded"
_SPLICE_MIN_CHARS = 2048
_XMLDSIG = "http://www.w3.org/2000/09/xmldsig#"
_XMLDSIG_MORE = "http://www.w3.org/2001/04/xmldsig-more#"
_XMLENC = "http://www.w3.org/2001/04/xmlenc#"
_ENVELOPED = f"{_XMLDSIG}enveloped-signature"
_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'  # as edoc writes it


@dataclass(frozen=True)
class _C14n:
    """A canonicalization lxml performs natively: (exclusive?, with comments?)."""

    exclusive: bool
    with_comments: bool

    def of(self, node: etree._Element | etree._ElementTree) -> bytes:
        """Canonicalize a document or an element in its document's namespace context."""
        out: bytes = etree.tostring(
            node, method="c14n", exclusive=self.exclusive, with_comments=self.with_comments
        )
        return out


_C14N_10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
# What we accept: C14N 1.0 as in the samples, and exclusive C14N; nothing that could select
# or rewrite part of the document (XPath, XSLT, base64) — a small profile is a safe one.
_C14N_METHODS: dict[str, _C14n] = {
    _C14N_10: _C14n(exclusive=False, with_comments=False),
    f"{_C14N_10}#WithComments": _C14n(exclusive=False, with_comments=True),
    "http://www.w3.org/2001/10/xml-exc-c14n#": _C14n(exclusive=True, with_comments=False),
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments": _C14n(
        exclusive=True, with_comments=True
    ),
}
_DEFAULT_C14N = _C14N_METHODS[_C14N_10]

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
# SignatureMethod URI → (key type, hash name). SHA-1 only ever as a flagged legacy case.
_SIGNATURE_METHODS: dict[str, tuple[str, str]] = {
    f"{_XMLDSIG}rsa-sha1": ("rsa", "sha1"),
    f"{_XMLDSIG_MORE}rsa-sha256": ("rsa", "sha256"),
    f"{_XMLDSIG_MORE}rsa-sha384": ("rsa", "sha384"),
    f"{_XMLDSIG_MORE}rsa-sha512": ("rsa", "sha512"),
    f"{_XMLDSIG_MORE}ecdsa-sha256": ("ec", "sha256"),
    f"{_XMLDSIG_MORE}ecdsa-sha384": ("ec", "sha384"),
    f"{_XMLDSIG_MORE}ecdsa-sha512": ("ec", "sha512"),
}
_DIGEST_METHODS: dict[str, str] = {
    f"{_XMLDSIG}sha1": "sha1",
    f"{_XMLENC}sha256": "sha256",
    f"{_XMLDSIG_MORE}sha384": "sha384",
    f"{_XMLENC}sha512": "sha512",
}
_RSA_SHA256 = f"{_XMLDSIG_MORE}rsa-sha256"
_ECDSA_SHA256 = f"{_XMLDSIG_MORE}ecdsa-sha256"
_SHA256 = f"{_XMLENC}sha256"


@dataclass(frozen=True, kw_only=True)
class EnvelopeVerification:
    """The outcome of a successful envelope verification."""

    signer: CertificateInfo
    """The validated agency certificate (chain, dates, CRL and profile checked at ``at``)."""
    certificate: x509.Certificate
    organ_id: str
    """``From/OrganId`` read from the verified XML; equal to the certificate's OrganId."""
    signature_method: str
    """The SignatureMethod algorithm URI."""
    digest_method: str
    """The DigestMethod algorithm URI."""
    legacy_sha1: bool
    """True when SHA-1 was used (signature or digest): accepted only as a legacy case."""
    signed_bytes: bytes
    """Exactly what the signature covers: the package canonicalised (C14N), signature removed."""

    @property
    def algorithm(self) -> str:
        """A short name of the signature algorithm, e.g. ``rsa-sha256``."""
        return self.signature_method.rsplit("#", 1)[-1]


# -- signing ---------------------------------------------------------------------------------


def sign_envelope(package: bytes, identity: Identity, *, check_signer: bool = True) -> bytes:
    """Sign an edXML package's envelope with an agency identity; return the signed package.

    The package must not be signed already (``already_signed``): re-signing a package would
    hide who signed it first, so callers build a fresh package instead. With ``check_signer``
    (the default) the identity must be an agency certificate whose OrganId is the package's
    ``From/OrganId``; turn it off only to craft packages a verifier must refuse.

    The XMLDSig is written by this module (not a generic library): one shape only — the one
    verified below and by xmlsec1 in the tests — so the cost is one canonicalization of the
    package, one of SignedInfo and one private-key operation with the key loaded once.
    """
    try:
        # Strict parsing: a tree edoc had to repair (undeclared prefixes such as xlink:href in
        # old DMS exports) has no canonical form matching its bytes, so it cannot be signed.
        root = load_xml(package, allow_recovery=False)
    except EdocError as exc:
        if exc.code == "xml_malformed" and "prefix" in exc.message:
            raise SignatureError(
                f"the package cannot be signed: it is not namespace-well-formed ({exc.message})",
                code="envelope_malformed",
            ) from None
        raise
    header = _header_of(root)
    if next(root.iter(_SIGNATURE), None) is not None:
        raise SignatureError(
            "the package already carries an XML signature; build a new package to sign it again",
            code="already_signed",
        )
    if check_signer:
        _check_signer(identity, header)
    key = identity.private_key
    method = _ECDSA_SHA256 if isinstance(key, ec.EllipticCurvePrivateKey) else _RSA_SHA256
    signature, signed_info, digest_value, signature_value = _signature_skeleton(
        method, _certificate_b64(identity.certificate)
    )
    _append_indented(header, signature)
    try:
        digest = hashes.Hash(hashes.SHA256())
        digest.update(_document_without(signature, _DEFAULT_C14N))
        digest_value.text = base64.b64encode(digest.finalize()).decode()
        signed_info_c14n = _DEFAULT_C14N.of(signed_info)
    except (etree.LxmlError, ValueError) as exc:
        # lxml serialises undeclared prefixes that edoc forgave on input (xlink:href in old
        # DMS exports); such a tree cannot be canonicalised reproducibly.
        raise SignatureError(
            f"the package cannot be signed: it is not namespace-well-formed ({exc})",
            code="envelope_malformed",
        ) from None
    signature_value.text = base64.b64encode(_raw_sign(key, signed_info_c14n)).decode()
    body: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return _XML_DECLARATION + body


def _signature_skeleton(
    method: str, certificate_b64: str
) -> tuple[etree._Element, etree._Element, etree._Element, etree._Element]:
    """Build ``ds:Signature`` as the samples have it; return it and the parts to fill."""
    signature = etree.Element(_SIGNATURE, nsmap=_DS_NS)
    signed_info = etree.SubElement(signature, f"{_DS}SignedInfo")
    etree.SubElement(signed_info, f"{_DS}CanonicalizationMethod", Algorithm=_C14N_10)
    etree.SubElement(signed_info, f"{_DS}SignatureMethod", Algorithm=method)
    reference = etree.SubElement(signed_info, f"{_DS}Reference", URI="")
    transforms = etree.SubElement(reference, f"{_DS}Transforms")
    etree.SubElement(transforms, f"{_DS}Transform", Algorithm=_ENVELOPED)
    etree.SubElement(reference, f"{_DS}DigestMethod", Algorithm=_SHA256)
    digest_value = etree.SubElement(reference, f"{_DS}DigestValue")
    signature_value = etree.SubElement(signature, f"{_DS}SignatureValue")
    key_info = etree.SubElement(signature, f"{_DS}KeyInfo")
    x509_data = etree.SubElement(key_info, f"{_DS}X509Data")
    etree.SubElement(x509_data, f"{_DS}X509Certificate").text = certificate_b64
    return signature, signed_info, digest_value, signature_value


@functools.lru_cache(maxsize=4096)
def _certificate_b64_cached(der: bytes) -> str:
    return base64.b64encode(der).decode()


def _certificate_b64(certificate: x509.Certificate) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding

    return _certificate_b64_cached(certificate.public_bytes(Encoding.DER))


def _raw_sign(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        # XMLDSig writes ECDSA values as r || s, not as DER (RFC 4050 / RFC 6931).
        r, s_value = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s_value.to_bytes(size, "big")
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _append_indented(header: etree._Element, signature: etree._Element) -> None:
    """Append the signature last in the header, keeping the header's pretty-printing."""
    siblings = list(header)
    header.append(signature)
    if siblings:
        # The signature takes the previous last child's closing whitespace, and that child
        # gets the indentation of its siblings.
        previous = siblings[-1]
        signature.tail = previous.tail
        previous.tail = header.text if header.text and not header.text.strip() else "\n"


def _document_without(signature: etree._Element, c14n: _C14n) -> bytes:
    """Canonicalize the whole document minus ``signature`` (the enveloped transform).

    The signature element goes, its tail text stays (it is a sibling text node, not part of
    the element); the tree is restored afterwards.
    """
    parent = signature.getparent()
    if parent is None:
        raise SignatureError("the signature has no parent element", code="signature_misplaced")
    index = parent.index(signature)
    previous = signature.getprevious()
    tail = signature.tail
    saved = previous.tail if previous is not None else parent.text
    merged = (saved or "") + (tail or "")
    if previous is not None:
        previous.tail = merged or None
    else:
        parent.text = merged or None
    signature.tail = None
    parent.remove(signature)
    try:
        return _canonical_document(parent.getroottree(), c14n)
    finally:
        parent.insert(index, signature)
        signature.tail = tail
        if previous is not None:
            previous.tail = saved
        else:
            parent.text = saved


def _canonical_document(tree: etree._ElementTree, c14n: _C14n) -> bytes:
    """``c14n.of(tree)``, with the large attachment texts written by us rather than libxml2.

    C14N writes a text node as its characters with ``& < > CR`` escaped; libxml2 does that
    one character at a time, which makes base64 attachments most of the cost of
    canonicalising a package. Each large ``ContentTransferEncoded`` element is swapped for an
    empty twin holding a marker (moving elements leaves their text untouched: setting a 1 MB
    text would re-validate it), the rest is canonicalised, the escaped texts are spliced in
    where the markers came out, and the elements are put back. Same bytes as libxml2's (the
    tests compare both on hostile text); an element the twin could not render identically
    (attributes, namespace declarations of its own, another prefix) is left to libxml2.
    """
    swaps: list[tuple[etree._Element, etree._Element, str]] = []
    marker = f"lgsp-c14n-{secrets.token_hex(12)}"
    try:
        for node in _attachment_texts(tree.getroot()):
            text = node.text
            if text is None or len(text) < _SPLICE_MIN_CHARS or len(node) or node.attrib:
                continue
            parent = node.getparent()
            if parent is None:
                continue
            twin = etree.SubElement(parent, node.tag)
            if twin.prefix != node.prefix or twin.nsmap != node.nsmap:
                parent.remove(twin)
                continue
            twin.text = marker
            twin.tail = node.tail
            parent.replace(node, twin)
            swaps.append((node, twin, text))
        if not swaps:
            return c14n.of(tree)
        parts = c14n.of(tree).split(marker.encode())
    finally:
        for node, twin, _ in swaps:
            parent = twin.getparent()
            if parent is not None:
                parent.replace(twin, node)
    if len(parts) != len(swaps) + 1:  # the marker met elsewhere: never in practice
        return c14n.of(tree)
    out = [parts[0]]
    for (_, _, text), part in zip(swaps, parts[1:], strict=True):
        out.append(_c14n_text(text))
        out.append(part)
    return b"".join(out)


def _attachment_texts(root: etree._Element) -> list[etree._Element]:
    """edXML/AttachmentEncoded/Attachment/ContentTransferEncoded elements, in order."""
    return [
        node
        for holder in _children(root, _ATTACHMENT_ENCODED)
        for attachment in _children(holder, _ATTACHMENT)
        for node in _children(attachment, _CONTENT_TRANSFER_ENCODED)
    ]


def _c14n_text(text: str) -> bytes:
    """A text node as C14N 1.0 writes it (and exclusive C14N: the same rule)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#xD;")
    return text.encode()


def _header_of(root: etree._Element) -> etree._Element:
    """Return the package's one ``edXMLEnvelope/edXMLHeader`` (else ``envelope_malformed``)."""
    if root.tag != f"{_ED}edXML":
        raise SignatureError(
            f"the root element is {_describe_tag(root.tag)}, not edXML in {NAMESPACE}",
            code="envelope_malformed",
        )
    envelopes = _children(root, f"{_ED}edXMLEnvelope")
    if len(envelopes) != 1:
        raise SignatureError(
            f"an edXML package has exactly one edXMLEnvelope; this one has {len(envelopes)}",
            code="envelope_malformed",
        )
    headers = _children(envelopes[0], f"{_ED}edXMLHeader")
    if len(headers) != 1:
        raise SignatureError(
            f"an edXMLEnvelope has exactly one edXMLHeader; this one has {len(headers)}",
            code="envelope_malformed",
        )
    return headers[0]


def _check_signer(identity: Identity, header: etree._Element) -> None:
    if identity.kind is not CertKind.AGENCY:
        raise CertificateError(
            f"{identity.name!r} holds a {identity.kind.value} certificate; only an agency "
            "certificate may sign an envelope",
            code="wrong_certificate_kind",
        )
    organ_ids = header.findall(f"{_ED}MessageHeader/{_ED}From/{_ED}OrganId")
    from_id = _text(organ_ids[0]) if len(organ_ids) == 1 else None
    if from_id != identity.organ_id:
        raise SignatureError(
            f"the package is from {from_id or '(no From/OrganId)'} but the signing certificate "
            f"belongs to {identity.organ_id}",
            code="organ_mismatch",
        )


# -- verifying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SignedInfoPolicy:
    signed_info: etree._Element
    c14n: _C14n  # of SignedInfo
    signature_method: str
    key_type: str  # "rsa" or "ec"
    signature_hash: str
    reference_c14n: _C14n
    digest_method: str
    digest_hash: str
    digest_value: bytes
    legacy: bool


def verify_envelope(
    package: bytes | etree._Element,
    trust: TrustStore,
    *,
    at: datetime,
    allow_legacy_sha1: bool = True,
    expected_organ_id: str | None = None,
) -> EnvelopeVerification:
    """Verify an edXML package's envelope signature at time ``at``; raise on any failure.

    Checks, in order: exactly one signature, in ``edXMLHeader``; one ``Reference URI=""``
    with the enveloped transform; accepted algorithms (SHA-1 only when ``allow_legacy_sha1``,
    flagged ``legacy_sha1``); the KeyInfo certificate is a valid agency certificate of
    ``trust`` at ``at``; the signature verifies with that certificate; the verified
    ``From/OrganId`` is the certificate's (and ``expected_organ_id`` when given).

    ``package`` is the bytes, or the root element `edoc.load_xml` made of them when the
    caller has parsed them already (a hub reads the package too: one parse, not two). The
    tree is what is verified; it is left as it was found.
    """
    root = load_xml(package) if isinstance(package, bytes) else package
    signature, header = _locate_signature(root)
    parts = _kids(signature)
    policy = _read_signed_info(parts, allow_legacy_sha1=allow_legacy_sha1)
    certificate = _signer_certificate(parts)
    _check_key_values(parts, certificate)
    signer = _validate_signer(trust, certificate, at=at)
    signed_bytes = _check_signature(signature, parts, certificate, policy)
    # The reference is the whole document (URI=""), so every element of this tree is covered
    # by the digest just checked: reading From/OrganId from it cannot be wrapped.
    organ_id = _verified_organ_id(header)
    if signer.organ_id != organ_id:
        raise SignatureError(
            f"the package is from {organ_id} but it is signed by {signer.common_name!r} "
            f"({signer.organ_id or 'no OrganId'})",
            code="organ_mismatch",
        )
    if expected_organ_id is not None and organ_id != expected_organ_id:
        raise SignatureError(
            f"the package is signed by {organ_id}, expected a package from {expected_organ_id}",
            code="organ_mismatch",
        )
    return EnvelopeVerification(
        signer=signer,
        certificate=certificate,
        organ_id=organ_id,
        signature_method=policy.signature_method,
        digest_method=policy.digest_method,
        legacy_sha1=policy.legacy,
        signed_bytes=signed_bytes,
    )


def _validate_signer(
    trust: TrustStore, certificate: x509.Certificate, *, at: datetime
) -> CertificateInfo:
    """Chain, dates and CRL first, then the profile: a foreign certificate is reported as
    ``untrusted_issuer`` (the useful news), one of ours of the wrong kind as
    ``wrong_certificate_kind`` (only an agency signs an envelope; never a person or a hub)."""
    try:
        signer = trust.validate(certificate, at=at)
    except ValueError as exc:  # a certificate field cryptography could not decode
        raise SignatureError(
            f"the signing certificate is not readable: {exc}", code="certificate_malformed"
        ) from None
    if signer.kind is not CertKind.AGENCY:
        raise CertificateError(
            f"the envelope is signed with the {signer.kind or 'unknown'} certificate of "
            f"{signer.common_name!r}; only an agency certificate may sign an envelope",
            code="wrong_certificate_kind",
        )
    return signer


def _locate_signature(root: etree._Element) -> tuple[etree._Element, etree._Element]:
    """The one signature and the header it must sit in."""
    signatures = list(root.iter(_SIGNATURE))
    if not signatures:
        raise SignatureError("the package carries no XML signature", code="signature_missing")
    if len(signatures) > 1:
        raise SignatureError(
            f"the package carries {len(signatures)} XML signatures; an envelope has exactly one",
            code="signature_duplicated",
        )
    signature = signatures[0]
    header = _header_of(root)
    if signature.getparent() is not header:
        parent = signature.getparent()
        where = _describe_tag(parent.tag) if parent is not None else "the document root"
        raise SignatureError(
            f"the signature sits in {where}; it must be a child of edXMLEnvelope/edXMLHeader",
            code="signature_misplaced",
        )
    return signature, header


def _read_signed_info(parts: _Kids, *, allow_legacy_sha1: bool) -> _SignedInfoPolicy:
    """Check what the signature references and with which algorithms (before any crypto)."""
    signed_infos = parts.get(_SIGNED_INFO, [])
    if len(signed_infos) != 1:
        raise SignatureError("the signature has no single SignedInfo", code="signature_malformed")
    signed_info = signed_infos[0]
    info_parts = _kids(signed_info)
    c14n_uri = _algorithm(info_parts, "CanonicalizationMethod")
    c14n = _C14N_METHODS.get(c14n_uri or "")
    if c14n is None:
        raise SignatureError(
            f"unsupported canonicalization method {c14n_uri or '(none)'}",
            code="signature_algorithm_unsupported",
        )
    method_uri = _algorithm(info_parts, "SignatureMethod") or ""
    method = _SIGNATURE_METHODS.get(method_uri)
    if method is None:
        raise SignatureError(
            f"unsupported signature method {method_uri or '(none)'}",
            code="signature_algorithm_unsupported",
        )
    references = info_parts.get(_REFERENCE, [])
    if len(references) != 1:
        raise SignatureError(
            f"an envelope signature has exactly one Reference; this one has {len(references)}",
            code="signature_bad_reference",
        )
    reference = references[0]
    uri = reference.get("URI")
    if uri != "":
        raise SignatureError(
            f"the signature references {'no URI' if uri is None else repr(uri)}; an envelope "
            'signature covers the whole package (URI="")',
            code="signature_bad_reference",
        )
    reference_parts = _kids(reference)
    transform_lists = reference_parts.get(_TRANSFORMS, [])
    if len(transform_lists) > 1:
        raise SignatureError(
            "the reference has several Transforms lists", code="signature_bad_reference"
        )
    transforms = [t.get("Algorithm") for tl in transform_lists for t in tl if t.tag == _TRANSFORM]
    # Enveloped first, then at most one canonicalization: nothing that could select or
    # rewrite part of the document (XPath, XSLT, base64) is acceptable.
    if not transforms or transforms[0] != _ENVELOPED or transforms.count(_ENVELOPED) != 1:
        raise SignatureError(
            "the reference must use the enveloped-signature transform (and only once)",
            code="signature_bad_reference",
        )
    extra = transforms[1:]
    if len(extra) > 1 or any(t not in _C14N_METHODS for t in extra):
        raise SignatureError(
            f"unsupported reference transforms: {', '.join(str(t) for t in extra)}",
            code="signature_bad_reference",
        )
    # XMLDSig: a same-document reference with no C14N transform is canonicalised with
    # C14N 1.0 without comments.
    reference_c14n = _C14N_METHODS[extra[0]] if extra and extra[0] else _DEFAULT_C14N
    digest_uri = _algorithm(reference_parts, "DigestMethod") or ""
    digest_hash = _DIGEST_METHODS.get(digest_uri)
    if digest_hash is None:
        raise SignatureError(
            f"unsupported digest method {digest_uri or '(none)'}",
            code="signature_algorithm_unsupported",
        )
    digest_value = _base64_child(reference_parts, "DigestValue", what="DigestValue")
    key_type, signature_hash = method
    legacy = "sha1" in (signature_hash, digest_hash)
    if legacy and not allow_legacy_sha1:
        raise SignatureError(
            f"the signature uses SHA-1 ({key_type}-{signature_hash}, digest {digest_hash}), "
            "refused in strict mode",
            code="legacy_algorithm_refused",
        )
    return _SignedInfoPolicy(
        signed_info=signed_info,
        c14n=c14n,
        signature_method=method_uri,
        key_type=key_type,
        signature_hash=signature_hash,
        reference_c14n=reference_c14n,
        digest_method=digest_uri,
        digest_hash=digest_hash,
        digest_value=digest_value,
        legacy=legacy,
    )


_Kids = dict[object, list[etree._Element]]


def _kids(parent: etree._Element) -> _Kids:
    """A parent's children by tag: one pass over them, then look-ups (no path parsing)."""
    out: _Kids = {}
    for child in parent:
        out.setdefault(child.tag, []).append(child)
    return out


def _children(parent: etree._Element, tag: str) -> list[etree._Element]:
    """The direct children with this (Clark notation) tag."""
    return [child for child in parent if child.tag == tag]


def _algorithm(parts: _Kids, name: str) -> str | None:
    elements = parts.get(f"{_DS}{name}", [])
    return elements[0].get("Algorithm") if len(elements) == 1 else None


def _base64_child(parts: _Kids, name: str, *, what: str) -> bytes:
    elements = parts.get(f"{_DS}{name}", [])
    if len(elements) != 1:
        raise SignatureError(f"the signature has no single {what}", code="signature_malformed")
    text = "".join((elements[0].text or "").split())
    try:
        value = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{what} is not base64", code="signature_malformed") from None
    if not value:
        raise SignatureError(f"{what} is empty", code="signature_malformed")
    return value


def _check_key_values(parts: _Kids, certificate: x509.Certificate) -> None:
    """Refuse a ``KeyInfo/KeyValue`` that names another key than the certificate's.

    KeyInfo is not signed; we verify with the certificate alone, but a package whose KeyInfo
    contradicts itself is malformed, and saying so beats silently ignoring half of it.
    """
    key_values = [v for info in parts.get(_KEY_INFO, []) for v in _children(info, _KEY_VALUE)]
    for key_value in key_values:
        public_key = certificate.public_key()
        rsa_values = _children(key_value, _RSA_KEY_VALUE)
        if (
            len(key_value) == 1
            and len(rsa_values) == 1
            and isinstance(public_key, rsa.RSAPublicKey)
        ):
            numbers = public_key.public_numbers()
            values = _kids(rsa_values[0])
            modulus = _base64_child(values, "Modulus", what="RSAKeyValue/Modulus")
            exponent = _base64_child(values, "Exponent", what="RSAKeyValue/Exponent")
            if (int.from_bytes(modulus, "big"), int.from_bytes(exponent, "big")) == (
                numbers.n,
                numbers.e,
            ):
                continue
        raise SignatureError(
            "KeyInfo/KeyValue does not match the certificate in KeyInfo/X509Data",
            code="signature_malformed",
        )


def _signer_certificate(parts: _Kids) -> x509.Certificate:
    """Return the end-entity certificate of ``KeyInfo/X509Data`` (CA certificates are ignored)."""
    texts = [
        e.text or ""
        for info in parts.get(_KEY_INFO, [])
        for data in _children(info, _X509_DATA)
        for e in _children(data, _X509_CERTIFICATE)
    ]
    if not texts:
        raise SignatureError(
            "the signature carries no X509Certificate in KeyInfo/X509Data",
            code="certificate_missing",
        )
    end_entities: dict[bytes, x509.Certificate] = {}
    for text in texts:
        certificate, fingerprint, is_ca = _load_certificate(text)
        if not is_ca:
            end_entities.setdefault(fingerprint, certificate)
    if not end_entities:
        raise SignatureError(
            "KeyInfo holds only CA certificates, not the signer's", code="certificate_missing"
        )
    if len(end_entities) > 1:
        raise SignatureError(
            "KeyInfo holds several end-entity certificates: the signer is ambiguous",
            code="certificate_ambiguous",
        )
    return next(iter(end_entities.values()))


@functools.lru_cache(maxsize=4096)
def _load_certificate(text: str) -> tuple[x509.Certificate, bytes, bool]:
    # Keyed by the text as found (line breaks included): an agency's packages repeat it.
    text = "".join(text.split())
    """Decode a KeyInfo certificate once: a hub sees the same agencies' certificates all day.

    Returns the certificate, its SHA-256 fingerprint and whether it is a CA. Failures raise
    (and are not cached).
    """
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(text, validate=True))
        # cryptography decodes fields lazily: touch every one the checks read, so a corrupt
        # name or extension is reported here rather than deep in the trust store.
        _ = (certificate.subject, certificate.issuer, certificate.extensions)
        _ = (certificate.not_valid_before_utc, certificate.not_valid_after_utc)
        certificate.public_key()
        return certificate, certificate.fingerprint(hashes.SHA256()), _is_ca(certificate)
    except (
        ValueError,
        binascii.Error,
        UnsupportedAlgorithm,
        x509.DuplicateExtension,
        x509.UnsupportedGeneralNameType,
    ):
        raise SignatureError(
            "an X509Certificate in the signature is not a readable certificate",
            code="certificate_malformed",
        ) from None


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return bool(constraints.value.ca)


def _check_signature(
    signature: etree._Element,
    parts: _Kids,
    certificate: x509.Certificate,
    policy: _SignedInfoPolicy,
) -> bytes:
    """Check the signature value over SignedInfo, then the digest of the package.

    Returns the canonical bytes the digest covers. The signature value is checked first: an
    attacker-made SignedInfo is refused before any canonicalization of the whole package.
    """
    signature_value = _base64_child(parts, "SignatureValue", what="SignatureValue")
    try:
        signed_info = policy.c14n.of(policy.signed_info)
    except (etree.LxmlError, ValueError) as exc:
        raise SignatureError(
            f"the signature cannot be canonicalised: {exc}", code="signature_malformed"
        ) from None
    _raw_verify(certificate, policy, signature_value, signed_info)
    try:
        signed_bytes = _document_without(signature, policy.reference_c14n)
    except (etree.LxmlError, ValueError) as exc:
        raise SignatureError(
            f"the package cannot be canonicalised (not namespace-well-formed: {exc})",
            code="signature_malformed",
        ) from None
    digest = hashes.Hash(_HASHES[policy.digest_hash]())
    digest.update(signed_bytes)
    if not hmac.compare_digest(digest.finalize(), policy.digest_value):
        raise SignatureError(
            "the package was changed after it was signed (digest mismatch)",
            code="signature_invalid",
        )
    return signed_bytes


def _raw_verify(
    certificate: x509.Certificate, policy: _SignedInfoPolicy, value: bytes, data: bytes
) -> None:
    public_key = certificate.public_key()
    algorithm = _HASHES[policy.signature_hash]()
    try:
        if policy.key_type == "rsa" and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(value, data, padding.PKCS1v15(), algorithm)
            return
        if policy.key_type == "ec" and isinstance(public_key, ec.EllipticCurvePublicKey):
            size = (public_key.curve.key_size + 7) // 8
            if len(value) != 2 * size:
                raise CryptoInvalidSignature
            r = int.from_bytes(value[:size], "big")
            s_value = int.from_bytes(value[size:], "big")
            public_key.verify(encode_dss_signature(r, s_value), data, ec.ECDSA(algorithm))
            return
    except CryptoInvalidSignature:
        raise SignatureError(
            "the signature value does not match the signed information and the certificate",
            code="signature_invalid",
        ) from None
    raise SignatureError(
        f"the certificate's key does not fit the signature method {policy.signature_method}",
        code="signature_invalid",
    )


def _verified_organ_id(header: etree._Element) -> str:
    """Read ``From/OrganId`` from the verified XML, insisting the path is unambiguous.

    ``header`` is the one edXMLEnvelope/edXMLHeader (`_locate_signature` made sure)."""
    node = header
    for name in ("MessageHeader", "From", "OrganId"):
        found = _kids(node).get(f"{_ED}{name}", [])
        if len(found) != 1:
            raise SignatureError(
                f"the signed package has {len(found)} {name} elements where exactly one is "
                "expected (edXMLEnvelope/edXMLHeader/MessageHeader/From/OrganId)",
                code="envelope_malformed",
            )
        node = found[0]
    return _text(node)


def _text(element: etree._Element) -> str:
    """All the text of an element: ``.text`` alone stops at the first comment."""
    if not len(element):  # no child, comment or PI: .text is all of it
        return (element.text or "").strip()
    return "".join(str(text) for text in element.itertext()).strip()


def _describe_tag(tag: object) -> str:
    if not isinstance(tag, str):
        return "a non-element node"
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return local if namespace in (NAMESPACE, DSIG_NAMESPACE) else f"{local} ({namespace})"
    return tag
