"""The edXML format layer (QCVN 102:2016): parse, build and validate packages.

Document packages carry an official document (văn bản điện tử) and its attachments;
status packages answer one (01 arrived … 06 completed). Also agency codes
(QĐ 20/2020/QĐ-TTg) and a PDF renderer for document bodies. Pure functions on bytes and
dataclasses: no network, no clock (times are parameters), no files but the PDF font.

Typical use::

    package = edoc.parse(data)           # DocumentPackage | StatusPackage, or EdocError
    problems = edoc.validate(package)    # list[Violation], field by field
    data = edoc.build_document(header, attachments=[edoc.AttachmentFile(...)])
"""

from __future__ import annotations

from ._attachments import MAX_ATTACHMENT_BYTES
from ._build import (
    AttachmentFile,
    build_document,
    build_status,
    compose_document_id,
    reply_header,
)
from ._errors import (
    AttachmentError,
    EdocError,
    FieldFormatError,
    PackageStructureError,
    XmlError,
    XmlSecurityError,
)
from ._formats import (
    due_end,
    format_date,
    format_timestamp,
    parse_date,
    parse_timestamp,
    vietnam_date,
)
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
from ._organ import (
    Level1Info,
    OrganId,
    is_valid_organ_id,
    level1_codes,
    level1_info,
    parse_organ_id,
)
from ._parse import parse, parse_with_tree
from ._pdf import render_pdf
from ._summary import summarize
from ._validate import validate
from ._xml import DEFAULT_MAX_BYTES, MAX_DEPTH, load_xml

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DSIG_NAMESPACE",
    "MAX_ATTACHMENT_BYTES",
    "MAX_DEPTH",
    "NAMESPACE",
    "Attachment",
    "AttachmentError",
    "AttachmentFile",
    "Business",
    "BusinessDocType",
    "Code",
    "DocumentHeader",
    "DocumentPackage",
    "DocumentType",
    "EdocError",
    "FieldFormatError",
    "Level1Info",
    "ManifestReference",
    "OrganId",
    "Organization",
    "OtherInfo",
    "Package",
    "PackageStructureError",
    "PromulgationInfo",
    "Receiver",
    "Replacement",
    "ResponseFor",
    "SignatureInfo",
    "SignerInfo",
    "StaffInfo",
    "StatusCode",
    "StatusHeader",
    "StatusPackage",
    "TraceHeader",
    "Violation",
    "XmlError",
    "XmlSecurityError",
    "build_document",
    "build_status",
    "compose_document_id",
    "due_end",
    "format_date",
    "format_timestamp",
    "is_valid_organ_id",
    "level1_codes",
    "level1_info",
    "load_xml",
    "parse",
    "parse_date",
    "parse_organ_id",
    "parse_timestamp",
    "parse_with_tree",
    "render_pdf",
    "reply_header",
    "summarize",
    "validate",
    "vietnam_date",
]
