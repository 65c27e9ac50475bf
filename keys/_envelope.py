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
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree
from signxml.algorithms import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
)
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, SignXMLException
from signxml.signer import XMLSigner
from signxml.verifier import SignatureConfiguration, XMLVerifier

from edoc import DSIG_NAMESPACE, NAMESPACE
from edoc._xml import load_xml

from ._errors import CertificateError, SignatureError
from ._profiles import CertKind
from ._store import Identity
from ._trust import CertificateInfo, TrustStore

_ED = f"{{{NAMESPACE}}}"
_DS = f"{{{DSIG_NAMESPACE}}}"
_DS_NS = {"ds": DSIG_NAMESPACE}
_SIGNATURE = f"{_DS}Signature"
_ENVELOPED = SignatureConstructionMethod.enveloped.value
_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'  # as edoc writes it

# What we accept on input. SHA-1 only ever as a flagged legacy case (the 2016-era samples).
_MODERN_METHODS = frozenset(
    {
        SignatureMethod.RSA_SHA256,
        SignatureMethod.RSA_SHA384,
        SignatureMethod.RSA_SHA512,
        SignatureMethod.ECDSA_SHA256,
        SignatureMethod.ECDSA_SHA384,
        SignatureMethod.ECDSA_SHA512,
    }
)
_LEGACY_METHODS = frozenset({SignatureMethod.RSA_SHA1})
_MODERN_DIGESTS = frozenset(
    {DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512}
)
_LEGACY_DIGESTS = frozenset({DigestAlgorithm.SHA1})
_C14N_METHODS = frozenset(m.value for m in CanonicalizationMethod)

# The signature must sit here; signxml looks for it at exactly this path.
_SIGNATURE_LOCATION = f"./{_ED}edXMLEnvelope/{_ED}edXMLHeader/"


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


class _EnvelopeSigner(XMLSigner):
    """signxml's signer, with a parser for its internal tree copies that accepts big packages.

    signxml re-parses the document it signs with a default libxml2 parser, which refuses text
    nodes over 10 MB (the base64 of a ~7 MB scanned PDF). The copy it parses is lxml's own
    serialisation of a tree `edoc` has already loaded safely, so allowing huge text is sound.
    """

    def __init__(self, method: SignatureMethod) -> None:
        super().__init__(
            method=SignatureConstructionMethod.enveloped,
            signature_algorithm=method,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_0,
        )
        self._copy_parser = _copy_parser()

    @property
    def parser(self) -> etree.XMLParser:
        """The parser signxml uses for its internal copies of the document."""
        return self._copy_parser


def _copy_parser() -> etree.XMLParser:
    # Parses only lxml's own output (trusted); entities and network stay off all the same.
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def _signer_for(identity: Identity) -> _EnvelopeSigner:
    # A fresh signer per call (~10 µs): signxml objects keep per-call state, and lxml parsers
    # must not be shared between threads, which fleet processes use for signing.
    if isinstance(identity.private_key, ec.EllipticCurvePrivateKey):
        return _EnvelopeSigner(SignatureMethod.ECDSA_SHA256)
    return _EnvelopeSigner(SignatureMethod.RSA_SHA256)


def sign_envelope(package: bytes, identity: Identity, *, check_signer: bool = True) -> bytes:
    """Sign an edXML package's envelope with an agency identity; return the signed package.

    The package must not be signed already (``already_signed``): re-signing a package would
    hide who signed it first, so callers build a fresh package instead. With ``check_signer``
    (the default) the identity must be an agency certificate whose OrganId is the package's
    ``From/OrganId``; turn it off only to craft packages a verifier must refuse.
    """
    root = load_xml(package)
    header = _header_of(root)
    if next(root.iter(_SIGNATURE), None) is not None:
        raise SignatureError(
            "the package already carries an XML signature; build a new package to sign it again",
            code="already_signed",
        )
    if check_signer:
        _check_signer(identity, header)
    _insert_placeholder(header)
    signer = _signer_for(identity)
    try:
        signed = signer.sign(
            root,
            key=identity.private_key,
            cert=[identity.certificate],
            # Samples list only the enveloped transform; C14N 1.0 is then the default anyway.
            exclude_c14n_transform_element=True,
        )
    except etree.XMLSyntaxError as exc:
        # lxml serialises undeclared prefixes that edoc forgave on input (xlink:href in old
        # DMS exports); such a tree cannot be canonicalised reproducibly.
        raise SignatureError(
            f"the package cannot be signed: it is not namespace-well-formed ({exc})",
            code="envelope_malformed",
        ) from None
    except (SignXMLException, ValueError, TypeError) as exc:
        raise SignatureError(f"signing failed: {exc}", code="signing_failed") from None
    body: bytes = etree.tostring(signed, encoding="UTF-8", xml_declaration=False)
    return _XML_DECLARATION + body


def _header_of(root: etree._Element) -> etree._Element:
    """Return the package's one ``edXMLEnvelope/edXMLHeader`` (else ``envelope_malformed``)."""
    if root.tag != f"{_ED}edXML":
        raise SignatureError(
            f"the root element is {_describe_tag(root.tag)}, not edXML in {NAMESPACE}",
            code="envelope_malformed",
        )
    envelopes = root.findall(f"{_ED}edXMLEnvelope")
    if len(envelopes) != 1:
        raise SignatureError(
            f"an edXML package has exactly one edXMLEnvelope; this one has {len(envelopes)}",
            code="envelope_malformed",
        )
    headers = envelopes[0].findall(f"{_ED}edXMLHeader")
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
    from_id = (organ_ids[0].text or "").strip() if len(organ_ids) == 1 else None
    if from_id != identity.organ_id:
        raise SignatureError(
            f"the package is from {from_id or '(no From/OrganId)'} but the signing certificate "
            f"belongs to {identity.organ_id}",
            code="organ_mismatch",
        )


def _insert_placeholder(header: etree._Element) -> None:
    """Put signxml's ``<ds:Signature Id="placeholder"/>`` last in the header, indented."""
    placeholder = etree.SubElement(header, _SIGNATURE, nsmap=_DS_NS)
    placeholder.set("Id", "placeholder")
    siblings = list(header)
    if len(siblings) > 1:
        # Keep the pretty-printing of the header: the signature takes the previous last
        # child's closing whitespace, and that child gets the indentation of its siblings.
        previous = siblings[-2]
        placeholder.tail = previous.tail
        previous.tail = header.text if header.text and not header.text.strip() else "\n"


# -- verifying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SignedInfoPolicy:
    signature_method: SignatureMethod
    digest_method: DigestAlgorithm
    legacy: bool


def verify_envelope(
    package: bytes,
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
    """
    root = load_xml(package)
    signature = _locate_signature(root)
    policy = _read_signed_info(signature, allow_legacy_sha1=allow_legacy_sha1)
    certificate = _signer_certificate(signature)
    signer = _validate_signer(trust, certificate, at=at)
    signed_bytes, signed_root = _check_signature(root, certificate, policy, at=at)
    organ_id = _verified_organ_id(signed_root)
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
        signature_method=policy.signature_method.value,
        digest_method=policy.digest_method.value,
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


def _locate_signature(root: etree._Element) -> etree._Element:
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
    return signature


def _read_signed_info(signature: etree._Element, *, allow_legacy_sha1: bool) -> _SignedInfoPolicy:
    """Check what the signature references and with which algorithms (before any crypto)."""
    signed_infos = signature.findall("ds:SignedInfo", _DS_NS)
    if len(signed_infos) != 1:
        raise SignatureError("the signature has no single SignedInfo", code="signature_malformed")
    signed_info = signed_infos[0]
    c14n = _algorithm(signed_info, "ds:CanonicalizationMethod")
    if c14n not in _C14N_METHODS:
        raise SignatureError(
            f"unsupported canonicalization method {c14n or '(none)'}",
            code="signature_algorithm_unsupported",
        )
    method_uri = _algorithm(signed_info, "ds:SignatureMethod")
    method = _enum(SignatureMethod, method_uri)
    if not isinstance(method, SignatureMethod) or method not in _MODERN_METHODS | _LEGACY_METHODS:
        raise SignatureError(
            f"unsupported signature method {method_uri or '(none)'}",
            code="signature_algorithm_unsupported",
        )
    references = signed_info.findall("ds:Reference", _DS_NS)
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
    transforms = [
        t.get("Algorithm") for t in reference.findall("ds:Transforms/ds:Transform", _DS_NS)
    ]
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
    digest_uri = _algorithm(reference, "ds:DigestMethod")
    digest = _enum(DigestAlgorithm, digest_uri)
    if not isinstance(digest, DigestAlgorithm) or digest not in _MODERN_DIGESTS | _LEGACY_DIGESTS:
        raise SignatureError(
            f"unsupported digest method {digest_uri or '(none)'}",
            code="signature_algorithm_unsupported",
        )
    legacy = method in _LEGACY_METHODS or digest in _LEGACY_DIGESTS
    if legacy and not allow_legacy_sha1:
        raise SignatureError(
            f"the signature uses SHA-1 ({method.name.lower().replace('_', '-')}, digest "
            f"{digest.name.lower()}), refused in strict mode",
            code="legacy_algorithm_refused",
        )
    return _SignedInfoPolicy(signature_method=method, digest_method=digest, legacy=legacy)


def _algorithm(parent: etree._Element, path: str) -> str | None:
    elements = parent.findall(path, _DS_NS)
    return elements[0].get("Algorithm") if len(elements) == 1 else None


def _enum(kind: type[SignatureMethod] | type[DigestAlgorithm], uri: str | None) -> object:
    if uri is None:
        return None
    try:
        return kind(uri)
    except (ValueError, InvalidInput):  # signxml's enums raise InvalidInput on unknown URIs
        return None


def _signer_certificate(signature: etree._Element) -> x509.Certificate:
    """Return the end-entity certificate of ``KeyInfo/X509Data`` (CA certificates are ignored)."""
    texts = [
        e.text or "" for e in signature.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", _DS_NS)
    ]
    if not texts:
        raise SignatureError(
            "the signature carries no X509Certificate in KeyInfo/X509Data",
            code="certificate_missing",
        )
    end_entities: dict[bytes, x509.Certificate] = {}
    for text in texts:
        certificate, fingerprint, is_ca = _load_certificate("".join(text.split()))
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
    root: etree._Element,
    certificate: x509.Certificate,
    policy: _SignedInfoPolicy,
    *,
    at: datetime,
) -> tuple[bytes, etree._Element]:
    """Verify the signature value and the digest with signxml, pinned to ``certificate``."""
    methods = _MODERN_METHODS | (_LEGACY_METHODS if policy.legacy else frozenset())
    digests = _MODERN_DIGESTS | (_LEGACY_DIGESTS if policy.legacy else frozenset())
    config = SignatureConfiguration(
        require_x509=True,
        location=_SIGNATURE_LOCATION,
        expect_references=1,
        signature_methods=methods,
        digest_algorithms=digests,
        verification_time=at,
        # XMLDSig: a reference without a C14N transform is canonicalised with C14N 1.0.
        default_reference_c14n_method=CanonicalizationMethod.CANONICAL_XML_1_0,
    )
    try:
        result = XMLVerifier().verify(
            root, x509_cert=certificate, expect_config=config, parser=_copy_parser()
        )
    except InvalidDigest:
        raise SignatureError(
            "the package was changed after it was signed (digest mismatch)",
            code="signature_invalid",
        ) from None
    except InvalidCertificate as exc:
        # The trust store already checked dates at ``at``; this is a belt-and-braces path.
        raise CertificateError(
            f"signing certificate refused: {exc}", code="certificate_invalid"
        ) from None
    except CryptoInvalidSignature:
        raise SignatureError(
            "the signature value does not match the signed information and the certificate",
            code="signature_invalid",
        ) from None
    except etree.XMLSyntaxError as exc:
        raise SignatureError(
            f"the package cannot be canonicalised (not namespace-well-formed: {exc})",
            code="signature_malformed",
        ) from None
    except (SignXMLException, etree.LxmlError, ValueError, TypeError, KeyError) as exc:
        raise SignatureError(
            f"the signature is malformed: {exc}", code="signature_malformed"
        ) from None
    if isinstance(result, list) or result.signed_xml is None:
        raise SignatureError("the signed data is not an XML document", code="signature_malformed")
    return result.signed_data, result.signed_xml


def _verified_organ_id(signed_root: etree._Element) -> str:
    """Read ``From/OrganId`` from the verified XML, insisting the path is unambiguous."""
    path = ("edXMLEnvelope", "edXMLHeader", "MessageHeader", "From", "OrganId")
    node = signed_root
    for name in path:
        found = node.findall(f"{_ED}{name}")
        if len(found) != 1:
            raise SignatureError(
                f"the signed package has {len(found)} {name} elements where exactly one is "
                "expected (edXMLEnvelope/edXMLHeader/MessageHeader/From/OrganId)",
                code="envelope_malformed",
            )
        node = found[0]
    # The verified tree is re-parsed C14N output: comments are gone, so text is not split.
    return "".join(str(text) for text in node.itertext()).strip()


def _describe_tag(tag: object) -> str:
    if not isinstance(tag, str):
        return "a non-element node"
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return local if namespace in (NAMESPACE, DSIG_NAMESPACE) else f"{local} ({namespace})"
    return tag
