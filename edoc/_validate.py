"""Checking a parsed package against QCVN 102:2016, field by field.

`parse` is lenient; `validate` says what is wrong. Signatures are only described here
(location, namespace, certificate encoding); verifying them is the job of `keys`, and an
unsigned package is not a violation of the format.
"""

from __future__ import annotations

from collections import Counter

from ._errors import AttachmentError, FieldFormatError
from ._formats import parse_date
from ._model import (
    BusinessDocType,
    DocumentPackage,
    Organization,
    Package,
    ResponseFor,
    SignatureInfo,
    StatusCode,
    StatusPackage,
    TraceHeader,
    Violation,
)
from ._organ import is_valid_organ_id


def validate(package: Package) -> list[Violation]:
    """List every way ``package`` breaks the standard (empty when it conforms)."""
    checker = _Checker(package.issues)
    if isinstance(package, DocumentPackage):
        checker.document(package)
    else:
        checker.status(package)
    checker.traces(package.traces)
    checker.signatures(package.signatures)
    return checker.violations


class _Checker:
    def __init__(self, issues: list[Violation]) -> None:
        self.violations: list[Violation] = list(issues)

    def add(self, field: str, code: str, message: str) -> None:
        self.violations.append(Violation(field, code, message))

    def require(self, field: str, value: object) -> bool:
        """Report a missing value, unless parse already reported it as unreadable."""
        if value not in (None, "", []):
            return True
        if not any(v.field == field for v in self.violations):
            self.add(field, "missing_field", f"{field} is required")
        return False

    def organ_id(self, field: str, value: str | None) -> None:
        if self.require(field, value) and value is not None and not is_valid_organ_id(value):
            self.add(field, "bad_organ_id", f"{value!r} is not an agency code like 000.00.00.H56")

    def organization(self, path: str, organization: Organization) -> None:
        self.organ_id(f"{path}/OrganId", organization.organ_id)

    def document_id(self, field: str, value: str | None) -> None:
        """Check the usual composite form ``OrganId,yyyy/MM/dd,Number/Notation`` when used
        (UUIDs and other opaque ids are accepted as they are)."""
        if not self.require(field, value) or value is None or "," not in value:
            return
        parts = value.split(",")
        if len(parts) != 3 or not all(part.strip() for part in parts):
            self.add(
                field, "bad_document_id", f"{value!r} is not OrganId,yyyy/MM/dd,Number/Notation"
            )
            return
        organ, day, _ = parts
        if not is_valid_organ_id(organ):
            self.add(field, "bad_document_id", f"{value!r}: {organ!r} is not an agency code")
        try:
            parse_date(day)
        except FieldFormatError as exc:
            self.add(field, "bad_document_id", f"{value!r}: {exc.message}")

    def response_for(self, response: ResponseFor) -> None:
        self.organ_id("ResponseFor/OrganId", response.organ_id)
        self.document_id("ResponseFor/DocumentId", response.document_id)

    # -- packages ---------------------------------------------------------------------

    def document(self, package: DocumentPackage) -> None:
        header = package.header
        self.organization("From", header.from_)
        if not header.to:
            self.add("To", "missing_field", "a document package needs at least one To")
        for i, organization in enumerate(header.to, 1):
            self.organization(f"To[{i}]", organization)
        self.document_id("DocumentId", header.document_id)
        code = header.code
        self.require("Code/CodeNumber", code.number if code else None)
        self.require("Code/CodeNotation", code.notation if code else None)
        promulgation = header.promulgation
        self.require(
            "PromulgationInfo/PromulgationDate", promulgation.date if promulgation else None
        )
        doc_type = header.document_type
        self.require("DocumentType/TypeName", doc_type.type_name if doc_type else None)
        self.require("Subject", header.subject)
        self.require("SignerInfo/FullName", header.signer.full_name if header.signer else None)
        if header.response_for is not None:
            self.response_for(header.response_for)
        self.business(package)
        self.manifest_and_attachments(package)

    def status(self, package: StatusPackage) -> None:
        header = package.header
        self.organization("From", header.from_)
        self.response_for(header.response_for)
        code = header.status_code
        if self.require("StatusCode", code) and not isinstance(code, StatusCode):
            known = ", ".join(c.value for c in StatusCode)
            self.add("StatusCode", "bad_status_code", f"{code!r} is not a status code ({known})")
        self.require("Timestamp", header.timestamp)

    def business(self, package: DocumentPackage) -> None:
        business = package.business
        if business is None:
            return
        if business.doc_type != BusinessDocType.NEW or business.document_id:
            # Revocations, updates and replacements must say which document they concern.
            self.document_id("Bussiness/DocumentId", business.document_id)
        if business.doc_type == BusinessDocType.UPDATE:
            if (
                business.document_info is None
                and business.document_receiver is None
                and not business.receivers
            ):
                self.add(
                    "Bussiness/BussinessDocumentInfo",
                    "missing_field",
                    "an update (BussinessDocType 2) needs BussinessDocumentInfo",
                )
            for i, receiver in enumerate(business.receivers, 1):
                self.organ_id(
                    f"Bussiness/BussinessDocumentInfo/ReceiverList/Receiver[{i}]/OrganId",
                    receiver.organ_id,
                )
        if business.doc_type == BusinessDocType.REPLACEMENT:
            if not business.replacements:
                self.add(
                    "Bussiness/ReplacementInfoList",
                    "missing_field",
                    "a replacement (BussinessDocType 3) needs ReplacementInfoList",
                )
            for i, replacement in enumerate(business.replacements, 1):
                path = f"Bussiness/ReplacementInfoList/ReplacementInfo[{i}]"
                self.document_id(f"{path}/DocumentId", replacement.document_id)
                for j, organ_id in enumerate(replacement.organ_ids, 1):
                    self.organ_id(f"{path}/OrganIdList/OrganId[{j}]", organ_id)

    def manifest_and_attachments(self, package: DocumentPackage) -> None:
        if package.manifest_version != "1.0":
            self.add(
                "edXMLManifest",
                "manifest_version",
                f"edXMLManifest version is {package.manifest_version!r}; expected '1.0'",
            )
        attached = Counter(a.content_id for a in package.attachments if a.content_id)
        listed = {r.content_id for r in package.manifest if r.content_id}
        for i, reference in enumerate(package.manifest, 1):
            path = f"edXMLManifest/Reference[{i}]"
            self.content_id(f"{path}/ContentId", reference.content_id)
            if reference.content_id and reference.content_id not in attached:
                self.add(
                    f"{path}/ContentId",
                    "manifest_unmatched",
                    f"no attachment has ContentId {reference.content_id!r}",
                )
            self.require(f"{path}/AttachmentName", reference.name)
            self.require(f"{path}/ContentType", reference.content_type)
        for i, attachment in enumerate(package.attachments, 1):
            path = f"AttachmentEncoded/Attachment[{i}]"
            self.content_id(f"{path}/ContentId", attachment.content_id)
            if attachment.content_id:
                if attached[attachment.content_id] > 1:
                    self.add(
                        f"{path}/ContentId",
                        "duplicate_content_id",
                        f"several attachments have ContentId {attachment.content_id!r}",
                    )
                if attachment.content_id not in listed:
                    self.add(
                        f"{path}/ContentId",
                        "attachment_unlisted",
                        f"the manifest has no Reference for {attachment.content_id!r}",
                    )
            self.require(f"{path}/AttachmentName", attachment.name)
            self.require(f"{path}/ContentType", attachment.content_type)
            try:
                attachment.decode()
            except AttachmentError as exc:
                self.add(f"{path}/ContentTransferEncoded", exc.code, exc.message)

    def content_id(self, field: str, value: str | None) -> None:
        if self.require(field, value) and value is not None and not value.startswith("cid:"):
            self.add(field, "bad_content_id", f"ContentId {value!r} must start with 'cid:'")

    def traces(self, traces: list[TraceHeader]) -> None:
        # Trace OrganIds may be system ids (e.g. 01.02.G22): only their presence is checked.
        for i, trace in enumerate(traces, 1):
            path = f"TraceHeaderList/TraceHeader[{i}]"
            self.require(f"{path}/OrganId", trace.organ_id)
            self.require(f"{path}/Timestamp", trace.timestamp)

    def signatures(self, signatures: list[SignatureInfo]) -> None:
        for i, signature in enumerate(signatures, 1):
            field = f"Signature[{i}]"
            if signature.location != "edXMLHeader":
                self.add(
                    field,
                    "signature_location",
                    f"the Signature sits in {signature.location!r}; it belongs in edXMLHeader",
                )
            if not signature.in_dsig_namespace:
                self.add(
                    field,
                    "signature_namespace",
                    "the Signature is not in the XMLDSig namespace "
                    "http://www.w3.org/2000/09/xmldsig#",
                )
            if signature.has_certificate and signature.certificate_der is None:
                self.add(
                    f"{field}/KeyInfo/X509Data/X509Certificate",
                    "certificate_base64",
                    "the X509Certificate is not valid base64",
                )
