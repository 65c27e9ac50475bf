"""Reading edXML packages into dataclasses.

Lenient about what real packages get wrong (order, empty blocks, odd dates, missing
optional fields), strict about what enables attacks: the XML itself (see `_xml`) and
duplicated single elements, which is how signature-wrapping smuggles a second header in.
Elements are matched on namespace URI and local name, never on prefix.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
from collections.abc import Callable
from typing import TypeVar

from lxml import etree

from ._errors import EdocError, FieldFormatError, PackageStructureError
from ._formats import parse_date, parse_timestamp
from ._model import (
    Attachment,
    Business,
    BusinessDocType,
    Code,
    DocumentHeader,
    DocumentPackage,
    DocumentType,
    ManifestReference,
    Organization,
    OtherInfo,
    Package,
    PromulgationInfo,
    Receiver,
    Replacement,
    ResponseFor,
    SignatureInfo,
    SignerInfo,
    StaffInfo,
    StatusCode,
    StatusHeader,
    StatusPackage,
    TraceHeader,
    Violation,
)
from ._names import DSIG_NAMESPACE, NAMESPACE
from ._xml import DEFAULT_MAX_BYTES, load_xml_checked, strip_preamble

_T = TypeVar("_T")
# Children of edXML elements may be in the QCVN namespace or (sloppy writers) in none.
_EDXML_NAMESPACES = (NAMESPACE, None)
_SIGNATURE_NAMESPACES = (DSIG_NAMESPACE, NAMESPACE, None)
_SIGNATURE_TAGS = tuple(f"{{{ns}}}Signature" if ns else "Signature" for ns in _SIGNATURE_NAMESPACES)


def parse(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Package:
    """Parse an edXML document or status package; raise EdocError on unusable input."""
    return parse_with_tree(data, max_bytes=max_bytes)[0]


def parse_with_tree(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[Package, etree._Element]:
    """Like `parse`, also returning the XML tree, for `keys.verify_envelope` to reuse.

    A hub reads a package and verifies its signature: one hardened parse serves both. The
    tree is the package's; whoever holds it must not change it.
    """
    data = bytes(data) if not isinstance(data, bytes) else data
    root, recovered = load_xml_checked(data, max_bytes=max_bytes)
    return _read(root, strip_preamble(data), recovered=recovered), root


def _read(root: etree._Element, raw: bytes, *, recovered: bool) -> Package:
    _check_root(root)
    reader = _Reader()
    if recovered:
        reader.issues.append(
            Violation(
                "edXML",
                "xml_namespace_recovered",
                "the XML uses namespace prefixes it never declares (read leniently); strict "
                "XML tools, signature verifiers among them, refuse it",
            )
        )
    signatures = reader.signatures(root)
    envelope = reader.required(root, "edXMLEnvelope", "edXML")
    header = reader.required(envelope, "edXMLHeader", "edXMLEnvelope")
    message = reader.required(header, "MessageHeader", "edXMLHeader")
    trace_list = reader.one(header, "TraceHeaderList", "edXMLHeader")
    traces = reader.traces(trace_list)
    if reader.one(message, "StatusCode", "MessageHeader") is not None:
        return StatusPackage(
            header=reader.status_header(message),
            traces=traces,
            signatures=signatures,
            raw=raw,
            issues=reader.issues,
        )
    manifest_version, manifest = reader.manifest(envelope)
    return DocumentPackage(
        header=reader.document_header(message),
        traces=traces,
        business=reader.business(trace_list),
        attachments=reader.attachments(root, envelope),
        signatures=signatures,
        raw=raw,
        manifest=manifest,
        manifest_version=manifest_version,
        issues=reader.issues,
    )


def _qname(element: etree._Element) -> tuple[str | None, str | None]:
    """(namespace, local name) of an element; (None, None) for comments and PIs."""
    tag = element.tag
    if not isinstance(tag, str):
        return None, None
    if tag.startswith("{"):
        namespace, local = tag[1:].split("}", 1)
        return namespace, local
    return None, tag


def _check_root(root: etree._Element) -> None:
    namespace, local = _qname(root)
    if local != "edXML":
        raise PackageStructureError(
            "not_edxml", f"the root element is {local!r}, not edXML: this is not an edXML package"
        )
    if namespace != NAMESPACE:
        raise PackageStructureError(
            "wrong_namespace",
            f"the edXML root is in namespace {namespace or '(none)'!r}; expected {NAMESPACE!r}",
        )


class _Reader:
    """Walks one package, collecting the values it had to leave out as issues."""

    def __init__(self) -> None:
        self.issues: list[Violation] = []
        # parent → local name → [(namespace, child)]: a header is asked for some forty
        # fields, and scanning its children for each one made parsing quadratic.
        self._index: dict[etree._Element, dict[str, list[tuple[str | None, etree._Element]]]] = {}

    # -- element access ---------------------------------------------------------------

    def children(
        self,
        parent: etree._Element | None,
        name: str,
        namespaces: tuple[str | None, ...] = _EDXML_NAMESPACES,
    ) -> list[etree._Element]:
        if parent is None:
            return []
        index = self._index.get(parent)
        if index is None:
            index = {}
            for child in parent:
                namespace, local = _qname(child)
                if local is not None:
                    index.setdefault(local, []).append((namespace, child))
            self._index[parent] = index
        return [child for namespace, child in index.get(name, ()) if namespace in namespaces]

    def one(
        self,
        parent: etree._Element | None,
        name: str,
        path: str,
        namespaces: tuple[str | None, ...] = _EDXML_NAMESPACES,
    ) -> etree._Element | None:
        found = self.children(parent, name, namespaces)
        if len(found) > 1:
            raise PackageStructureError(
                "duplicate_element",
                f"{path}/{name} appears {len(found)} times; it may appear only once",
            )
        return found[0] if found else None

    def required(self, parent: etree._Element, name: str, path: str) -> etree._Element:
        element = self.one(parent, name, path)
        if element is None:
            raise PackageStructureError("missing_element", f"{path} has no {name} element")
        return element

    def text(self, parent: etree._Element | None, name: str, path: str) -> str | None:
        element = self.one(parent, name, path)
        return _text(element) if element is not None else None

    def texts(self, parent: etree._Element | None, name: str) -> list[str]:
        return [t for t in (_text(e) for e in self.children(parent, name)) if t]

    # -- lenient scalar readers -------------------------------------------------------

    def _convert(
        self,
        parent: etree._Element | None,
        name: str,
        path: str,
        convert: Callable[[str], _T],
    ) -> _T | None:
        value = self.text(parent, name, path)
        if value is None:
            return None
        try:
            return convert(value)
        except EdocError as exc:
            # Message-level fields are named bare ("DueDate"), others by path ("From/OrganId").
            where = name if path == "MessageHeader" else f"{path}/{name}"
            self.issues.append(Violation(where, exc.code, exc.message))
            return None

    def date(self, parent: etree._Element | None, name: str, path: str) -> _dt.date | None:
        return self._convert(parent, name, path, parse_date)

    def timestamp(self, parent: etree._Element | None, name: str, path: str) -> _dt.datetime | None:
        return self._convert(parent, name, path, parse_timestamp)

    def integer(self, parent: etree._Element | None, name: str, path: str) -> int | None:
        return self._convert(parent, name, path, _integer)

    def boolean(self, parent: etree._Element | None, name: str, path: str) -> bool | None:
        return self._convert(parent, name, path, _boolean)

    # -- blocks -----------------------------------------------------------------------

    def organization(self, element: etree._Element | None, path: str) -> Organization:
        return Organization(
            organ_id=self.text(element, "OrganId", path) or "",
            organization_in_charge=self.text(element, "OrganizationInCharge", path),
            organ_name=self.text(element, "OrganName", path),
            organ_add=self.text(element, "OrganAdd", path),
            email=self.text(element, "Email", path),
            telephone=self.text(element, "Telephone", path),
            fax=self.text(element, "Fax", path),
            website=self.text(element, "Website", path),
        )

    def staff(self, parent: etree._Element, path: str) -> StaffInfo | None:
        element = self.one(parent, "StaffInfo", path)
        if element is None:
            return None
        p = f"{path}/StaffInfo"
        return _none_if_empty(
            StaffInfo(
                department=self.text(element, "Department", p),
                staff=self.text(element, "Staff", p),
                email=self.text(element, "Email", p),
                mobile=self.text(element, "Mobile", p),
            )
        )

    def response_for(self, parent: etree._Element) -> ResponseFor:
        element = self.one(parent, "ResponseFor", "MessageHeader")
        p = "ResponseFor"
        return ResponseFor(
            organ_id=self.text(element, "OrganId", p),
            code=self.text(element, "Code", p),
            promulgation_date=self.date(element, "PromulgationDate", p),
            document_id=self.text(element, "DocumentId", p),
        )

    def document_header(self, message: etree._Element) -> DocumentHeader:
        m = "MessageHeader"
        code = self.one(message, "Code", m)
        promulgation = self.one(message, "PromulgationInfo", m)
        doc_type = self.one(message, "DocumentType", m)
        signer = self.one(message, "SignerInfo", m)
        other = self.one(message, "OtherInfo", m)
        response_for = self.response_for(message)
        return DocumentHeader(
            from_=self.organization(self.one(message, "From", m), "From"),
            to=[
                self.organization(element, f"To[{i}]")
                for i, element in enumerate(self.children(message, "To"), 1)
            ],
            document_id=self.text(message, "DocumentId", m),
            code=_none_if_empty(
                Code(
                    number=self.text(code, "CodeNumber", "Code"),
                    notation=self.text(code, "CodeNotation", "Code"),
                )
            ),
            promulgation=_none_if_empty(
                PromulgationInfo(
                    place=self.text(promulgation, "Place", "PromulgationInfo"),
                    date=self.date(promulgation, "PromulgationDate", "PromulgationInfo"),
                )
            ),
            document_type=_none_if_empty(
                DocumentType(
                    type=self.text(doc_type, "Type", "DocumentType"),
                    type_detail=self.text(doc_type, "TypeDetail", "DocumentType"),
                    type_name=self.text(doc_type, "TypeName", "DocumentType"),
                )
            ),
            subject=self.text(message, "Subject", m),
            content=self.text(message, "Content", m),
            signer=_none_if_empty(
                SignerInfo(
                    competence=self.text(signer, "Competence", "SignerInfo"),
                    position=self.text(signer, "Position", "SignerInfo"),
                    full_name=self.text(signer, "FullName", "SignerInfo"),
                )
            ),
            due_date=self.date(message, "DueDate", m),
            to_places=self.texts(self.one(message, "ToPlaces", m), "Place"),
            other=self.other_info(other),
            response_for=None if response_for.is_empty else response_for,
            steering_type=self.text(message, "SteeringType", m),
        )

    def other_info(self, element: etree._Element | None) -> OtherInfo | None:
        if element is None:
            return None
        p = "OtherInfo"
        return _none_if_empty(
            OtherInfo(
                priority=self.integer(element, "Priority", p),
                sphere_of_promulgation=self.text(element, "SphereOfPromulgation", p),
                typer_notation=self.text(element, "TyperNotation", p),
                promulgation_amount=self.integer(element, "PromulgationAmount", p),
                page_amount=self.integer(element, "PageAmount", p),
                direction=self.boolean(element, "Direction", p),
                appendixes=self.texts(self.one(element, "Appendixes", p), "Appendix"),
            )
        )

    def status_header(self, message: etree._Element) -> StatusHeader:
        m = "MessageHeader"
        raw_code = self.text(message, "StatusCode", m) or ""
        status_code: StatusCode | str
        try:
            status_code = StatusCode.parse(raw_code)
        except FieldFormatError:
            status_code = raw_code  # validate() reports codes outside the table
        return StatusHeader(
            from_=self.organization(self.one(message, "From", m), "From"),
            response_for=self.response_for(message),
            staff=self.staff(message, m),
            status_code=status_code,
            description=self.text(message, "Description", m),
            timestamp=self.timestamp(message, "Timestamp", m),
        )

    def traces(self, trace_list: etree._Element | None) -> list[TraceHeader]:
        traces = []
        for i, element in enumerate(self.children(trace_list, "TraceHeader"), 1):
            p = f"TraceHeaderList/TraceHeader[{i}]"
            traces.append(
                TraceHeader(
                    organ_id=self.text(element, "OrganId", p) or "",
                    timestamp=self.timestamp(element, "Timestamp", p),
                )
            )
        return traces

    def business(self, trace_list: etree._Element | None) -> Business | None:
        element = self.one(trace_list, "Bussiness", "TraceHeaderList")
        if element is None:
            return None
        p = "Bussiness"
        doc_type = BusinessDocType.NEW
        raw_type = self.text(element, "BussinessDocType", p)
        if raw_type is None:
            self.issues.append(
                Violation(f"{p}/BussinessDocType", "missing_field", "BussinessDocType is missing")
            )
        else:
            try:
                doc_type = BusinessDocType(int(raw_type))
            except ValueError:
                self.issues.append(
                    Violation(
                        f"{p}/BussinessDocType",
                        "bad_business_type",
                        f"{raw_type!r} is not 0 (new), 1 (revocation), 2 (update) "
                        "or 3 (replacement); read as 0",
                    )
                )
        info = self.one(element, "BussinessDocumentInfo", p)
        ip = f"{p}/BussinessDocumentInfo"
        receivers = []
        receiver_list = self.one(info, "ReceiverList", ip)
        for i, receiver in enumerate(self.children(receiver_list, "Receiver"), 1):
            rp = f"{ip}/ReceiverList/Receiver[{i}]"
            receivers.append(
                Receiver(
                    organ_id=self.text(receiver, "OrganId", rp) or "",
                    receiver_type=self.integer(receiver, "ReceiverType", rp),
                )
            )
        replacements = []
        replacement_list = self.one(element, "ReplacementInfoList", p)
        for i, replacement in enumerate(self.children(replacement_list, "ReplacementInfo"), 1):
            rp = f"{p}/ReplacementInfoList/ReplacementInfo[{i}]"
            replacements.append(
                Replacement(
                    document_id=self.text(replacement, "DocumentId", rp) or "",
                    organ_ids=self.texts(self.one(replacement, "OrganIdList", rp), "OrganId"),
                )
            )
        return Business(
            document_id=self.text(element, "DocumentId", p),
            doc_type=doc_type,
            reason=self.text(element, "BussinessDocReason", p),
            paper=self.integer(element, "Paper", p),
            staff=self.staff(element, p),
            document_info=self.integer(info, "DocumentInfo", ip),
            document_receiver=self.integer(info, "DocumentReceiver", ip),
            receivers=receivers,
            replacements=replacements,
        )

    def manifest(self, envelope: etree._Element) -> tuple[str | None, list[ManifestReference]]:
        body = self.one(envelope, "edXMLBody", "edXMLEnvelope")
        manifest = self.one(body, "edXMLManifest", "edXMLBody")
        if manifest is None:
            return None, []
        references = []
        for i, element in enumerate(self.children(manifest, "Reference"), 1):
            p = f"edXMLManifest/Reference[{i}]"
            references.append(
                ManifestReference(
                    content_id=self.text(element, "ContentId", p),
                    content_type=self.text(element, "ContentType", p),
                    description=self.text(element, "Description", p),
                    name=self.text(element, "AttachmentName", p),
                )
            )
        return manifest.get("version"), references

    def attachments(self, root: etree._Element, envelope: etree._Element) -> list[Attachment]:
        # The standard puts AttachmentEncoded beside the envelope; accept it inside too,
        # but never both (that would be two competing sets of attachments).
        holders = self.children(root, "AttachmentEncoded") + self.children(
            envelope, "AttachmentEncoded"
        )
        if len(holders) > 1:
            raise PackageStructureError(
                "duplicate_element", "AttachmentEncoded appears more than once"
            )
        attachments = []
        for i, element in enumerate(
            self.children(holders[0] if holders else None, "Attachment"), 1
        ):
            p = f"AttachmentEncoded/Attachment[{i}]"
            encoded = self.one(element, "ContentTransferEncoded", p)
            attachments.append(
                Attachment(
                    content_id=self.text(element, "ContentId", p),
                    name=self.text(element, "AttachmentName", p),
                    content_type=self.text(element, "ContentType", p),
                    description=self.text(element, "Description", p),
                    encoded=_all_text(encoded) if encoded is not None else "",
                )
            )
        return attachments

    # -- signatures -------------------------------------------------------------------

    def signatures(self, root: etree._Element) -> list[SignatureInfo]:
        found = list(root.iter(*_SIGNATURE_TAGS))
        if len(found) > 1:
            # One envelope signature per package; a second one anywhere is how
            # signature-wrapping attacks hide the signed content next to forged content.
            raise PackageStructureError(
                "duplicate_element",
                f"the package holds {len(found)} Signature elements; only one is allowed",
            )
        return [self.signature(element) for element in found]

    def signature(self, element: etree._Element) -> SignatureInfo:
        namespace = _qname(element)[0]
        ns = (namespace,)
        parent = element.getparent()
        location = (_qname(parent)[1] or "") if parent is not None else ""
        signed_info = self.one(element, "SignedInfo", "Signature", ns)
        c14n = self.one(signed_info, "CanonicalizationMethod", "Signature/SignedInfo", ns)
        method = self.one(signed_info, "SignatureMethod", "Signature/SignedInfo", ns)
        self.one(element, "SignatureValue", "Signature", ns)
        digests: list[str] = []
        uris: list[str] = []
        transforms: list[str] = []
        for reference in self.children(signed_info, "Reference", ns):
            uris.append(reference.get("URI", ""))
            digest = self.one(reference, "DigestMethod", "Signature/SignedInfo/Reference", ns)
            if digest is not None and digest.get("Algorithm"):
                digests.append(digest.get("Algorithm", ""))
            transform_list = self.one(reference, "Transforms", "Signature/SignedInfo/Reference", ns)
            transforms.extend(
                t.get("Algorithm", "") for t in self.children(transform_list, "Transform", ns)
            )
        key_info = self.one(element, "KeyInfo", "Signature", ns)
        certificates = [
            text
            for data in self.children(key_info, "X509Data", ns)
            for text in (_text(c) for c in self.children(data, "X509Certificate", ns))
            if text
        ]
        signature_method = method.get("Algorithm") if method is not None else None
        return SignatureInfo(
            location=location,
            signature_method=signature_method,
            digest_methods=digests,
            reference_uris=uris,
            has_certificate=bool(certificates),
            certificate_der=_der(certificates[0]) if certificates else None,
            legacy_sha1=_is_sha1(signature_method) or any(_is_sha1(d) for d in digests),
            in_dsig_namespace=namespace == DSIG_NAMESPACE,
            canonicalization_method=c14n.get("Algorithm") if c14n is not None else None,
            transforms=transforms,
        )


def _all_text(element: etree._Element) -> str:
    if not len(element):  # no child, comment or PI: .text is all of it (the common case)
        return element.text or ""
    # itertext() skips comments and processing instructions, keeps nested text.
    return "".join(str(part) for part in element.itertext())


def _text(element: etree._Element) -> str | None:
    text = _all_text(element).strip()
    return text or None


def _none_if_empty(value: _T) -> _T | None:
    """None for a block whose fields are all empty (real packages carry such blocks)."""
    fields = vars(value).values()
    return value if any(v not in (None, "", []) for v in fields) else None


def _integer(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise FieldFormatError("bad_number", f"{text!r} is not a whole number") from None


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise FieldFormatError("bad_boolean", f"{text!r} is not true/false")


def _is_sha1(algorithm: str | None) -> bool:
    return bool(algorithm) and str(algorithm).lower().endswith("sha1")


def _der(text: str) -> bytes | None:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
