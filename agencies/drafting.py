"""Drafting documents and status packages the way an agency's DMS does, with real signatures.

A document: the PDF (`edoc.render_pdf`) → the personal PAdES signature of the agency's head
→ the agency PAdES signature → the edXML package (`edoc.build_document`) → the envelope
signature with the agency certificate. Each signature can be left out, and ``tamper`` changes
one byte of what was signed afterwards, to make the packages a hub or a recipient must refuse.

Who signs is derived from the agency, deterministically: a People's Committee is signed by
its Chairman (Chủ tịch), a Party committee by its Secretary (Bí thư), a department by its
Director (Giám đốc)…, with a Vietnamese full name drawn from the OrganId. The same agency
always gets the same person, so `keys.KeyStore` issues each certificate once.

Everything here is synchronous and CPU-bound (a signed document costs ~60 ms): callers run it
in worker threads.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import edoc
import keys
from edoc import (
    Code,
    DocumentHeader,
    DocumentType,
    Organization,
    PromulgationInfo,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    StatusCode,
)

PDF_CONTENT_TYPE = "application/pdf"
DEFAULT_TYPE_NAME = "Công văn"

# Abbreviations of document types in a Code notation (Nghị định 30/2020, phụ lục III);
# a Công văn has none: its notation is issuer-department ("15/UBND-VP").
_TYPE_ABBREVIATIONS = {
    "Nghị quyết": "NQ",
    "Quyết định": "QĐ",
    "Chỉ thị": "CT",
    "Quy chế": "QC",
    "Quy định": "QyĐ",
    "Thông cáo": "TC",
    "Thông báo": "TB",
    "Hướng dẫn": "HD",
    "Chương trình": "CTr",
    "Kế hoạch": "KH",
    "Phương án": "PA",
    "Đề án": "ĐA",
    "Dự án": "DA",
    "Báo cáo": "BC",
    "Biên bản": "BB",
    "Tờ trình": "TTr",
    "Hợp đồng": "HĐ",
    "Công điện": "CĐ",
    "Bản ghi nhớ": "BGN",
    "Bản thỏa thuận": "BTT",
    "Giấy ủy quyền": "GUQ",
    "Giấy mời": "GM",
    "Giấy giới thiệu": "GGT",
    "Giấy nghỉ phép": "GNP",
    "Phiếu gửi": "PG",
    "Phiếu chuyển": "PC",
    "Phiếu báo": "PB",
    "Thông tư": "TT",
    "Nghị định": "NĐ",
}
# Legal normative documents (văn bản quy phạm pháp luật) are DocumentType/Type 2, the
# administrative ones 1.
_LEGAL_TYPES = frozenset({"Nghị định", "Thông tư", "Nghị quyết", "Luật"})

# (name prefix, abbreviation, head's position, competence): the first matching prefix wins,
# so longer prefixes come first.
_BODIES: tuple[tuple[str, str, str, str | None], ...] = (
    ("Văn phòng Ủy ban nhân dân", "VP", "Chánh Văn phòng", None),
    ("Văn phòng Tỉnh ủy", "VPTU", "Chánh Văn phòng", None),
    ("Văn phòng Chính phủ", "VPCP", "Bộ trưởng, Chủ nhiệm", None),
    ("Ủy ban nhân dân", "UBND", "Chủ tịch", "TM. Ủy ban nhân dân"),
    ("Ủy ban Mặt trận Tổ quốc", "MTTQ", "Chủ tịch", "TM. Ban Thường trực"),
    ("Ban Chấp hành Đảng bộ", "HU", "Bí thư", "T/M Ban Thường vụ"),
    ("Tỉnh ủy", "TU", "Bí thư", "T/M Ban Thường vụ"),
    ("Thành ủy", "TU", "Bí thư", "T/M Ban Thường vụ"),
    ("Huyện ủy", "HU", "Bí thư", "T/M Ban Thường vụ"),
    ("Đảng ủy", "ĐU", "Bí thư", "T/M Đảng ủy"),
    ("Liên đoàn Lao động", "LĐLĐ", "Chủ tịch", "TM. Ban Thường vụ"),
    ("Doanh nghiệp", "DN", "Giám đốc", None),
    ("Sở ", "", "Giám đốc", None),
    ("Phòng ", "", "Trưởng phòng", None),
    ("Bộ ", "", "Bộ trưởng", None),
)
_BLOCK_HEADS = {
    "party": "Bí thư",
    "mass": "Chủ tịch",
    "enterprise": "Giám đốc",
    "government": "Thủ trưởng cơ quan",
}
# Words that start the territorial part of a name ("Sở Nội vụ tỉnh Thanh Hóa").
_UNIT_WORDS = frozenset({"tỉnh", "huyện", "xã", "thành", "thị", "quận", "phường", "–", "-"})

_SURNAMES = (
    *("Nguyễn",) * 8,
    *("Trần",) * 3,
    *("Lê",) * 3,
    *("Phạm",) * 2,
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Trịnh",
    "Đinh",
    "Lương",
    "Mai",
)
_MALE = (
    ("Văn", "Hữu", "Đức", "Minh", "Quang", "Công", "Xuân", "Thanh", "Ngọc", "Trọng"),
    (
        *("An", "Bình", "Cường", "Dũng", "Hải", "Hùng", "Khánh", "Long", "Nam", "Phong"),
        *("Quân", "Sơn", "Thắng", "Trung", "Tuấn", "Việt", "Vinh", "Hiếu", "Thành", "Tâm"),
    ),
)
_FEMALE = (
    ("Thị", "Thị", "Ngọc", "Thu", "Minh", "Thanh", "Hồng", "Kim", "Phương", "Bích"),
    (
        *("Anh", "Chi", "Dung", "Hà", "Hạnh", "Hằng", "Hoa", "Hương", "Lan", "Liên"),
        *("Linh", "Mai", "Nga", "Nhung", "Oanh", "Phượng", "Thảo", "Trang", "Vân", "Yến"),
    ),
)


@dataclass(frozen=True)
class Signatory:
    """Who signs for an agency: full name, position (chức vụ), competence (thẩm quyền)."""

    full_name: str
    position: str
    competence: str | None = None

    def signer_info(self) -> SignerInfo:
        """The ``SignerInfo`` block of a document signed by this person."""
        return SignerInfo(
            competence=self.competence, position=self.position, full_name=self.full_name
        )


@dataclass(frozen=True)
class AgencyCard:
    """What the DMS of one agency knows about itself to draft and answer documents."""

    organ_id: str
    name: str
    abbreviation: str
    head: Signatory
    clerk: StaffInfo
    place: str | None = None

    @property
    def organization(self) -> Organization:
        """The agency as ``From``/``To`` of a package."""
        return Organization(
            organ_id=self.organ_id, organization_in_charge=self.name, organ_name=self.name
        )


def agency_card(
    organ_id: str, *, name: str | None = None, block: str | None = None, place: str | None = None
) -> AgencyCard:
    """Derive an agency's card (head, clerk, abbreviation) from its OrganId, name and block."""
    name = name or organ_id
    abbreviation, position, competence = _body_of(name, block)
    return AgencyCard(
        organ_id=organ_id,
        name=name,
        abbreviation=abbreviation,
        head=Signatory(vietnamese_name(f"{organ_id}|head"), position, competence),
        clerk=StaffInfo(department="Văn thư - Lưu trữ", staff=vietnamese_name(f"{organ_id}|clerk")),
        place=place,
    )


def vietnamese_name(seed: str) -> str:
    """A plausible Vietnamese full name, always the same for the same seed."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    surname = _SURNAMES[digest[0] % len(_SURNAMES)]
    middles, givens = _FEMALE if digest[1] % 3 == 0 else _MALE
    return f"{surname} {middles[digest[2] % len(middles)]} {givens[digest[3] % len(givens)]}"


def abbreviation_of(name: str) -> str:
    """The abbreviation of an agency name used in Code notations ("Sở Nội vụ …" → "SNV")."""
    return _body_of(name, None)[0]


def _body_of(name: str, block: str | None) -> tuple[str, str, str | None]:
    for prefix, abbreviation, position, competence in _BODIES:
        if name.startswith(prefix):
            return abbreviation or _initials(name), position, competence
    return _initials(name), _BLOCK_HEADS.get(block or "", "Thủ trưởng cơ quan"), None


def _initials(name: str) -> str:
    letters: list[str] = []
    for word in name.replace(",", " , ").split():
        if word == "," or (letters and word.lower() in _UNIT_WORDS):
            break
        if word.lower() == "và" or not word[0].isalpha():
            continue
        first = word[0].upper()
        if first != "Đ":  # Đ stays (as in "SKHĐT"); other letters lose their marks
            first = unicodedata.normalize("NFD", first)[0]
        letters.append(first)
    return "".join(letters)[:8] or "CQ"


# -- documents -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DocumentSpec:
    """What to draft: sender, recipients, text, and which signatures to apply."""

    sender: AgencyCard
    recipients: Sequence[Organization]
    subject: str
    content: str | None = None
    type_name: str = DEFAULT_TYPE_NAME
    due_days: int | None = None
    response_for: ResponseFor | None = None
    personal_signature: bool = True
    agency_signature: bool = True
    envelope_signature: bool = True
    tamper: bool = False


@dataclass(frozen=True)
class Draft:
    """A drafted document: its DocumentId, header and the package bytes to submit."""

    document_id: str
    header: DocumentHeader
    package: bytes


def notation_of(type_name: str, abbreviation: str) -> str:
    """The Code notation: ``UBND-VP`` for a Công văn, ``QĐ-UBND`` for a Quyết định…"""
    type_abbreviation = _TYPE_ABBREVIATIONS.get(type_name)
    if type_abbreviation is None:
        return f"{abbreviation}-VP"
    return f"{type_abbreviation}-{abbreviation}"


def draft_document(
    spec: DocumentSpec,
    *,
    number: int,
    at: _dt.datetime,
    person: keys.Identity | None,
    agency: keys.Identity | None,
) -> Draft:
    """Render, sign and package a document (`person`/`agency` needed for the signatures asked)."""
    sender = spec.sender
    day = edoc.vietnam_date(at)
    code = Code(number=str(number), notation=notation_of(spec.type_name, sender.abbreviation))
    document_id = edoc.compose_document_id(sender.organ_id, day, code)
    header = DocumentHeader(
        from_=sender.organization,
        to=list(spec.recipients),
        document_id=document_id,
        code=code,
        promulgation=PromulgationInfo(place=sender.place, date=day),
        document_type=DocumentType(
            type="2" if spec.type_name in _LEGAL_TYPES else "1", type_name=spec.type_name
        ),
        subject=spec.subject,
        content=spec.content,
        signer=sender.head.signer_info(),
        due_date=day + _dt.timedelta(days=spec.due_days) if spec.due_days is not None else None,
        response_for=spec.response_for,
        steering_type="1",
    )
    pdf = edoc.render_pdf(
        title=f"{spec.type_name}: {spec.subject}",
        body=_body_text(spec, header),
        issuer=sender.name,
        notation=str(code),
        at=day,
    )
    if spec.personal_signature:
        pdf = keys.sign_pdf(pdf, _need(person, "personal"), at=at, role=keys.SignerRole.PERSONAL)
    if spec.agency_signature:
        pdf = keys.sign_pdf(pdf, _need(agency, "agency"), at=at, role=keys.SignerRole.AGENCY)
    if spec.tamper and not spec.envelope_signature:
        pdf = tamper_pdf(pdf)
    signed = spec.personal_signature or spec.agency_signature
    attachment = edoc.AttachmentFile(
        name=f"{_file_stem(code)}{'.signed' if signed else ''}.pdf",
        content_type=PDF_CONTENT_TYPE,
        data=pdf,
        description=spec.subject,
        content_id=_content_id(document_id),
    )
    package = edoc.build_document(
        header, attachments=[attachment], traces=[edoc.TraceHeader(sender.organ_id, at)]
    )
    if spec.envelope_signature:
        package = keys.sign_envelope(package, _need(agency, "agency"))
        if spec.tamper:
            package = tamper_package(package)
    return Draft(document_id=document_id, header=header, package=package)


def _body_text(spec: DocumentSpec, header: DocumentHeader) -> str:
    addressees = ", ".join(o.organ_name or o.organ_id for o in header.to) or "(không có)"
    lines = [f"Kính gửi: {addressees}.", ""]
    lines.append(spec.content or f"{spec.sender.name} gửi văn bản về việc {spec.subject}.")
    if header.response_for is not None and header.response_for.document_id:
        lines += ["", f"Trả lời văn bản {header.response_for.document_id}."]
    if header.due_date is not None:
        lines += ["", f"Đề nghị hoàn thành trước ngày {header.due_date:%d/%m/%Y}."]
    head = spec.sender.head
    lines.append("")
    if head.competence:
        lines.append(head.competence.upper())
    lines += [head.position.upper(), "", head.full_name]
    return "\n".join(lines)


def _need(identity: keys.Identity | None, what: str) -> keys.Identity:
    if identity is None:
        raise ValueError(f"the {what} signature was asked for but no {what} identity was given")
    return identity


def _file_stem(code: Code) -> str:
    text = unicodedata.normalize("NFD", str(code).replace("Đ", "D").replace("đ", "d"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "vanban"


def _content_id(document_id: str) -> str:
    # Deterministic, so the same draft gives the same package bytes.
    digest = hashlib.sha256(document_id.encode("utf-8")).hexdigest()
    return f"cid:{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


# -- statuses --------------------------------------------------------------------------------

STATUS_DESCRIPTIONS = {
    StatusCode.ARRIVED: "Văn bản điện tử đã đến hệ thống quản lý văn bản của đơn vị",
    StatusCode.REJECTED: "Từ chối tiếp nhận văn bản điện tử",
    StatusCode.ACCEPTED: "Văn thư: tiếp nhận văn bản điện tử, vào sổ văn bản đến của đơn vị",
    StatusCode.ASSIGNED: "Lãnh đạo đơn vị phân công xử lý văn bản",
    StatusCode.PROCESSING: "Văn bản đang được xử lý",
    StatusCode.COMPLETED: "Hoàn thành xử lý văn bản",
}


def draft_status(
    document: edoc.DocumentPackage,
    *,
    recipient: AgencyCard,
    code: StatusCode,
    at: _dt.datetime,
    agency: keys.Identity,
    description: str | None = None,
) -> bytes:
    """Build the status package ``recipient`` answers ``document`` with, envelope signed."""
    header = edoc.reply_header(
        document,
        from_=recipient.organization,
        code=code,
        description=description or STATUS_DESCRIPTIONS.get(code, code.meaning_vi),
        at=at,
        staff=recipient.clerk,
    )
    return keys.sign_envelope(edoc.build_status(header), agency)


# -- tampering -------------------------------------------------------------------------------

_SIGNED_TEXT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(Subject|Content|DocumentId)>([^<]*)<")


def tamper_package(package: bytes) -> bytes:
    """Change one character of the signed header (Subject, else Content or DocumentId)."""
    for match in sorted(_SIGNED_TEXT.finditer(package), key=lambda m: m.group(1) != b"Subject"):
        start = match.start(2)
        for offset, byte in enumerate(match.group(2)):
            flipped = _flip_ascii(byte)
            if flipped is not None:
                data = bytearray(package)
                data[start + offset] = flipped
                return bytes(data)
    raise ValueError("the package has no Subject, Content or DocumentId text to change")


def tamper_pdf(pdf: bytes) -> bytes:
    """Change one byte the signatures cover without breaking the file's structure."""
    data = bytearray(pdf)
    # The binary comment on the second line ("%âãÏÓ") is inside every signature's byte range
    # and means nothing to a reader: the file stays readable, only the digests break.
    newline = pdf.find(b"\n", 0, 32)
    if newline != -1 and pdf[newline + 1 : newline + 2] == b"%" and len(pdf) > newline + 2:
        data[newline + 2] ^= 0x01
    else:
        data[7] = ord("7") if data[7] != ord("7") else ord("6")  # the version digit of %PDF-1.x
    return bytes(data)


def _flip_ascii(byte: int) -> int | None:
    if 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A:  # a letter: swap its case
        return byte ^ 0x20
    if 0x30 <= byte <= 0x39:  # a digit: the next one
        return 0x30 + (byte - 0x30 + 1) % 10
    return None
