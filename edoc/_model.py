"""Dataclasses of edXML document and status packages (QCVN 102:2016).

Optional fields are ``None`` (or empty lists) when the package leaves them out or empty.
Field names follow the standard's element names in snake_case.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from functools import cached_property
from typing import Literal, TypeAlias

from ._attachments import MAX_ATTACHMENT_BYTES, decode_base64, unwrap
from ._errors import FieldFormatError


class BusinessDocType(IntEnum):
    """``BussinessDocType``: what a document package does to the document it carries."""

    NEW = 0
    REVOCATION = 1
    UPDATE = 2
    REPLACEMENT = 3

    @property
    def meaning_en(self) -> str:
        """English meaning."""
        return _BUSINESS_MEANINGS[self][0]

    @property
    def meaning_vi(self) -> str:
        """Vietnamese meaning."""
        return _BUSINESS_MEANINGS[self][1]


_BUSINESS_MEANINGS = {
    BusinessDocType.NEW: ("new document", "văn bản mới"),
    BusinessDocType.REVOCATION: ("revocation", "thu hồi văn bản"),
    BusinessDocType.UPDATE: ("update", "cập nhật văn bản"),
    BusinessDocType.REPLACEMENT: ("replacement", "thay thế văn bản"),
}


class StatusCode(StrEnum):
    """``StatusCode`` of a status package (trạng thái xử lý văn bản)."""

    ARRIVED = "01"
    REJECTED = "02"
    ACCEPTED = "03"
    ASSIGNED = "04"
    PROCESSING = "05"
    COMPLETED = "06"
    RECALL_REQUESTED = "13"
    RECALL_AGREED = "15"
    RECALL_REFUSED = "16"

    @property
    def meaning_en(self) -> str:
        """English meaning."""
        return _STATUS_MEANINGS[self][0]

    @property
    def meaning_vi(self) -> str:
        """Vietnamese meaning."""
        return _STATUS_MEANINGS[self][1]

    @classmethod
    def parse(cls, text: str) -> StatusCode:
        """Read a status code ("03", also "3"); raise FieldFormatError ``bad_status_code``."""
        value = text.strip()
        if value.isdigit() and len(value) == 1:
            value = "0" + value
        try:
            return cls(value)
        except ValueError:
            known = ", ".join(code.value for code in cls)
            raise FieldFormatError(
                "bad_status_code", f"{text!r} is not a status code (known: {known})"
            ) from None


_STATUS_MEANINGS = {
    StatusCode.ARRIVED: (
        "arrived, not yet handled by the clerk",
        "đã đến, văn thư chưa xử lý",
    ),
    StatusCode.REJECTED: ("rejected", "từ chối tiếp nhận"),
    StatusCode.ACCEPTED: ("accepted and registered", "đã tiếp nhận, vào sổ"),
    StatusCode.ASSIGNED: ("assigned", "phân công xử lý"),
    StatusCode.PROCESSING: ("being processed", "đang xử lý"),
    StatusCode.COMPLETED: ("completed", "hoàn thành"),
    StatusCode.RECALL_REQUESTED: (
        "sender asks to take the document back (recall)",
        "đề nghị lấy lại văn bản",
    ),
    StatusCode.RECALL_AGREED: (
        "recipient agrees to the recall or update",
        "đồng ý lấy lại / cập nhật",
    ),
    StatusCode.RECALL_REFUSED: (
        "recipient refuses the recall or update",
        "từ chối lấy lại / cập nhật",
    ),
}


@dataclass(frozen=True)
class Violation:
    """One way a package breaks the standard; ``field`` is an element path (``To[1]/OrganId``)."""

    field: str
    code: str
    message: str


@dataclass(frozen=True)
class Organization:
    """``From`` or ``To``: an agency (cơ quan, tổ chức)."""

    organ_id: str
    organization_in_charge: str | None = None
    organ_name: str | None = None
    organ_add: str | None = None
    email: str | None = None
    telephone: str | None = None
    fax: str | None = None
    website: str | None = None


@dataclass(frozen=True)
class Code:
    """``Code``: number and notation (số, ký hiệu), e.g. 7816 and VPCP-TTĐT."""

    number: str | None = None
    notation: str | None = None

    def __str__(self) -> str:
        return "/".join(part for part in (self.number, self.notation) if part)


@dataclass(frozen=True)
class PromulgationInfo:
    """``PromulgationInfo``: place and date of issue (nơi, ngày ban hành)."""

    place: str | None = None
    date: _dt.date | None = None


@dataclass(frozen=True)
class DocumentType:
    """``DocumentType``: codes and name, e.g. TypeName "Công văn"."""

    type: str | None = None
    type_detail: str | None = None
    type_name: str | None = None


@dataclass(frozen=True)
class SignerInfo:
    """``SignerInfo``: who signed (thẩm quyền, chức vụ, họ tên)."""

    competence: str | None = None
    position: str | None = None
    full_name: str | None = None


@dataclass(frozen=True)
class OtherInfo:
    """``OtherInfo``: priority (độ khẩn), circulation, counts, appendixes."""

    priority: int | None = None
    sphere_of_promulgation: str | None = None
    typer_notation: str | None = None
    promulgation_amount: int | None = None
    page_amount: int | None = None
    direction: bool | None = None
    appendixes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ResponseFor:
    """``ResponseFor``: the document this package answers."""

    organ_id: str | None = None
    code: str | None = None
    promulgation_date: _dt.date | None = None
    document_id: str | None = None

    @property
    def is_empty(self) -> bool:
        """True when every field is empty (real packages carry such empty blocks)."""
        return not (self.organ_id or self.code or self.promulgation_date or self.document_id)


@dataclass(frozen=True)
class StaffInfo:
    """``StaffInfo``: the clerk handling the package."""

    department: str | None = None
    staff: str | None = None
    email: str | None = None
    mobile: str | None = None


@dataclass(frozen=True)
class DocumentHeader:
    """``MessageHeader`` of a document package."""

    from_: Organization
    to: list[Organization] = field(default_factory=list)
    document_id: str | None = None
    code: Code | None = None
    promulgation: PromulgationInfo | None = None
    document_type: DocumentType | None = None
    subject: str | None = None
    content: str | None = None
    signer: SignerInfo | None = None
    due_date: _dt.date | None = None
    to_places: list[str] = field(default_factory=list)
    other: OtherInfo | None = None
    response_for: ResponseFor | None = None
    steering_type: str | None = None


@dataclass(frozen=True)
class StatusHeader:
    """``MessageHeader`` of a status package; ``status_code`` is a plain str when unknown."""

    from_: Organization
    response_for: ResponseFor
    staff: StaffInfo | None = None
    status_code: StatusCode | str = ""
    description: str | None = None
    timestamp: _dt.datetime | None = None


@dataclass(frozen=True)
class TraceHeader:
    """``TraceHeader``: one hop (an agency or a system) and when it saw the package."""

    organ_id: str
    timestamp: _dt.datetime | None = None


@dataclass(frozen=True)
class Receiver:
    """``ReceiverList/Receiver`` of an update (BussinessDocType 2)."""

    organ_id: str
    receiver_type: int | None = None


@dataclass(frozen=True)
class Replacement:
    """``ReplacementInfo`` of a replacement (BussinessDocType 3)."""

    document_id: str
    organ_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Business:
    """``Bussiness`` (sic): new, revocation, update or replacement, with its extra blocks."""

    document_id: str | None = None
    doc_type: BusinessDocType = BusinessDocType.NEW
    reason: str | None = None
    paper: int | None = None
    staff: StaffInfo | None = None
    document_info: int | None = None
    document_receiver: int | None = None
    receivers: list[Receiver] = field(default_factory=list)
    replacements: list[Replacement] = field(default_factory=list)


@dataclass(frozen=True)
class ManifestReference:
    """``edXMLManifest/Reference``: what the body announces about one attachment."""

    content_id: str | None = None
    content_type: str | None = None
    description: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Attachment:
    """``AttachmentEncoded/Attachment``; ``encoded`` is the base64 text as received."""

    content_id: str | None
    name: str | None
    content_type: str | None
    description: str | None
    encoded: str = field(repr=False)

    def raw_bytes(self, *, max_bytes: int = MAX_ATTACHMENT_BYTES) -> bytes:
        """Return the base64-decoded bytes (still zipped when the sender zipped them)."""
        return decode_base64(self.encoded, max_bytes=max_bytes)

    def decode(self, *, max_bytes: int = MAX_ATTACHMENT_BYTES) -> bytes:
        """Return the file: base64-decoded, and unzipped when wrapped in a one-file ZIP."""
        if max_bytes == MAX_ATTACHMENT_BYTES:
            return self._decoded
        return unwrap(self.raw_bytes(max_bytes=max_bytes), name=self.name, max_bytes=max_bytes)

    @property
    def size(self) -> int:
        """Size in bytes of the decoded file (raises AttachmentError when undecodable)."""
        return len(self._decoded)

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the decoded file (raises AttachmentError when undecodable)."""
        return hashlib.sha256(self._decoded).hexdigest()

    @cached_property
    def _decoded(self) -> bytes:
        return unwrap(self.raw_bytes(), name=self.name)


@dataclass(frozen=True)
class SignatureInfo:
    """What an XMLDSig ``Signature`` element declares; checking it is the job of `keys`.

    ``location`` is the local name of the element holding the signature ("edXMLHeader" in
    a well-formed package). ``legacy_sha1`` flags SHA-1 in the signature or a digest.
    """

    location: str
    signature_method: str | None
    digest_methods: list[str]
    reference_uris: list[str]
    has_certificate: bool
    certificate_der: bytes | None = field(repr=False)
    legacy_sha1: bool
    in_dsig_namespace: bool = True
    canonicalization_method: str | None = None
    transforms: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DocumentPackage:
    """A document package: header, traces, business block, attachments, signatures.

    ``raw`` is the XML as parsed (bytes before the XML declaration removed). ``issues``
    lists values that `parse` could not read (odd dates, numbers) and left as None.
    """

    header: DocumentHeader
    traces: list[TraceHeader]
    business: Business | None
    attachments: list[Attachment]
    signatures: list[SignatureInfo]
    raw: bytes = field(repr=False)
    manifest: list[ManifestReference] = field(default_factory=list)
    manifest_version: str | None = None
    issues: list[Violation] = field(default_factory=list)

    @property
    def kind(self) -> Literal["document"]:
        """Always "document"."""
        return "document"

    def attachment(self, content_id: str) -> Attachment | None:
        """Return the attachment with this ContentId, if any."""
        return next((a for a in self.attachments if a.content_id == content_id), None)


@dataclass(frozen=True)
class StatusPackage:
    """A status package answering a document (no body, no attachments)."""

    header: StatusHeader
    traces: list[TraceHeader]
    signatures: list[SignatureInfo]
    raw: bytes = field(repr=False)
    issues: list[Violation] = field(default_factory=list)

    @property
    def kind(self) -> Literal["status"]:
        """Always "status"."""
        return "status"


Package: TypeAlias = DocumentPackage | StatusPackage
