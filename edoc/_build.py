"""Writing edXML packages shaped like the public samples, unsigned.

Layout: ``edXML:edXML`` → ``edXMLEnvelope`` → ``edXMLHeader`` (MessageHeader,
TraceHeaderList) + ``edXMLBody/edXMLManifest``; ``AttachmentEncoded`` beside the envelope.
`keys` signs by appending an XMLDSig ``Signature`` as the last child of ``edXMLHeader``.
Builders are permissive on purpose (simulators craft faulty packages too): run
`validate` on the parsed result to check a package against the standard.
"""

from __future__ import annotations

import base64
import datetime as _dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from lxml import etree

from ._attachments import wrap
from ._errors import FieldFormatError
from ._formats import format_date, format_timestamp
from ._model import (
    Business,
    Code,
    DocumentHeader,
    DocumentPackage,
    Organization,
    OtherInfo,
    ResponseFor,
    StaffInfo,
    StatusCode,
    StatusHeader,
    TraceHeader,
)
from ._names import NAMESPACE, PREFIX

_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


@dataclass(frozen=True)
class AttachmentFile:
    """A file to attach; ``content_id`` defaults to ``cid:<uuid4>`` (pass one for determinism)."""

    name: str
    content_type: str
    data: bytes = field(repr=False)
    description: str = ""
    content_id: str | uuid.UUID | None = None

    def resolved_content_id(self) -> str:
        """The ``cid:`` ContentId this file gets in the package."""
        if self.content_id is None:
            return f"cid:{uuid.uuid4()}"
        text = str(self.content_id)
        return text if text.startswith("cid:") else f"cid:{text}"


def build_document(
    header: DocumentHeader,
    *,
    attachments: Sequence[AttachmentFile] = (),
    traces: Sequence[TraceHeader] = (),
    business: Business | None = None,
) -> bytes:
    """Write an unsigned document package (UTF-8, with XML declaration)."""
    root = _element(None, "edXML")
    envelope = _element(root, "edXMLEnvelope")
    xml_header = _element(envelope, "edXMLHeader")
    _document_message(_element(xml_header, "MessageHeader"), header)
    trace_list = _element(xml_header, "TraceHeaderList")
    _traces(trace_list, traces)
    if business is not None:
        _business(trace_list, business)
    manifest = _element(_element(envelope, "edXMLBody"), "edXMLManifest")
    manifest.set("version", "1.0")
    files = [(item, item.resolved_content_id()) for item in attachments]
    for item, content_id in files:
        reference = _element(manifest, "Reference")
        _leaf(reference, "ContentId", content_id)
        _leaf(reference, "ContentType", item.content_type)
        _leaf(reference, "Description", item.description)
        _leaf(reference, "AttachmentName", item.name)
    if files:
        encoded = _element(root, "AttachmentEncoded")
        for item, content_id in files:
            attachment = _element(encoded, "Attachment")
            _leaf(attachment, "ContentId", content_id)
            _leaf(attachment, "AttachmentName", item.name)
            _leaf(attachment, "Description", item.description)
            _leaf(attachment, "ContentType", item.content_type)
            # Like the public SDK: base64 of a ZIP holding the file.
            payload = base64.b64encode(wrap(item.name, item.data)).decode("ascii")
            _element(attachment, "ContentTransferEncoded").text = payload
    return _serialize(root)


def build_status(header: StatusHeader, *, traces: Sequence[TraceHeader] = ()) -> bytes:
    """Write an unsigned status package (no body)."""
    root = _element(None, "edXML")
    envelope = _element(root, "edXMLEnvelope")
    xml_header = _element(envelope, "edXMLHeader")
    message = _element(xml_header, "MessageHeader")
    _organization(message, "From", header.from_)
    _response_for(message, header.response_for, always=True)
    _staff(message, header.staff)
    code = header.status_code
    _leaf(message, "StatusCode", code.value if isinstance(code, StatusCode) else code)
    _leaf(message, "Description", header.description)
    if header.timestamp is not None:
        _leaf(message, "Timestamp", format_timestamp(header.timestamp))
    if traces:
        _traces(_element(xml_header, "TraceHeaderList"), traces)
    return _serialize(root)


def reply_header(
    document: DocumentPackage,
    *,
    from_: Organization,
    code: StatusCode,
    description: str,
    at: _dt.datetime,
    staff: StaffInfo | None = None,
) -> StatusHeader:
    """Make the header of a status package answering ``document``."""
    header = document.header
    promulgation = header.promulgation
    return StatusHeader(
        from_=from_,
        response_for=ResponseFor(
            organ_id=header.from_.organ_id or None,
            code=str(header.code) if header.code is not None and str(header.code) else None,
            promulgation_date=promulgation.date if promulgation is not None else None,
            document_id=header.document_id,
        ),
        staff=staff,
        status_code=code,
        description=description,
        timestamp=at,
    )


def compose_document_id(organ_id: str, promulgation_date: _dt.date, code: Code | str) -> str:
    """The usual composite DocumentId: ``000.00.00.G22,2015/09/30,7816/VPCP-TTĐT``."""
    return f"{organ_id},{format_date(promulgation_date)},{code}"


# -- element helpers ------------------------------------------------------------------


def _element(parent: etree._Element | None, name: str) -> etree._Element:
    tag = f"{{{NAMESPACE}}}{name}"
    if parent is None:
        return etree.Element(tag, nsmap={PREFIX: NAMESPACE})
    return etree.SubElement(parent, tag)


def _leaf(parent: etree._Element, name: str, value: str | None) -> None:
    if value is None or value == "":
        return
    element = _element(parent, name)
    try:
        element.text = value
    except ValueError:
        parent.remove(element)
        raise FieldFormatError(
            "invalid_text", f"{name}: the text holds characters XML cannot carry: {value!r}"
        ) from None


def _serialize(root: etree._Element) -> bytes:
    body: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=False, pretty_print=True)
    return _XML_DECLARATION + body


def _number(value: int | None) -> str | None:
    return None if value is None else str(value)


def _organization(parent: etree._Element, name: str, organization: Organization) -> None:
    element = _element(parent, name)
    _leaf(element, "OrganId", organization.organ_id)
    _leaf(element, "OrganizationInCharge", organization.organization_in_charge)
    _leaf(element, "OrganName", organization.organ_name)
    _leaf(element, "OrganAdd", organization.organ_add)
    _leaf(element, "Email", organization.email)
    _leaf(element, "Telephone", organization.telephone)
    _leaf(element, "Fax", organization.fax)
    _leaf(element, "Website", organization.website)


def _response_for(
    parent: etree._Element, response: ResponseFor | None, *, always: bool = False
) -> None:
    if response is None or (response.is_empty and not always):
        return
    element = _element(parent, "ResponseFor")
    _leaf(element, "OrganId", response.organ_id)
    _leaf(element, "Code", response.code)
    if response.promulgation_date is not None:
        _leaf(element, "PromulgationDate", format_date(response.promulgation_date))
    _leaf(element, "DocumentId", response.document_id)


def _staff(parent: etree._Element, staff: StaffInfo | None) -> None:
    if staff is None:
        return
    element = _element(parent, "StaffInfo")
    _leaf(element, "Department", staff.department)
    _leaf(element, "Staff", staff.staff)
    _leaf(element, "Email", staff.email)
    _leaf(element, "Mobile", staff.mobile)


def _document_message(message: etree._Element, header: DocumentHeader) -> None:
    _organization(message, "From", header.from_)
    for organization in header.to:
        _organization(message, "To", organization)
    _leaf(message, "DocumentId", header.document_id)
    if header.code is not None:
        code = _element(message, "Code")
        _leaf(code, "CodeNumber", header.code.number)
        _leaf(code, "CodeNotation", header.code.notation)
    if header.promulgation is not None:
        promulgation = _element(message, "PromulgationInfo")
        _leaf(promulgation, "Place", header.promulgation.place)
        if header.promulgation.date is not None:
            _leaf(promulgation, "PromulgationDate", format_date(header.promulgation.date))
    if header.document_type is not None:
        doc_type = _element(message, "DocumentType")
        _leaf(doc_type, "Type", header.document_type.type)
        _leaf(doc_type, "TypeDetail", header.document_type.type_detail)
        _leaf(doc_type, "TypeName", header.document_type.type_name)
    _leaf(message, "Subject", header.subject)
    _leaf(message, "Content", header.content)
    if header.signer is not None:
        signer = _element(message, "SignerInfo")
        _leaf(signer, "Competence", header.signer.competence)
        _leaf(signer, "Position", header.signer.position)
        _leaf(signer, "FullName", header.signer.full_name)
    if header.due_date is not None:
        _leaf(message, "DueDate", format_date(header.due_date))
    if header.to_places:
        places = _element(message, "ToPlaces")
        for place in header.to_places:
            _leaf(places, "Place", place)
    if header.other is not None:
        _other_info(message, header.other)
    _response_for(message, header.response_for)
    _leaf(message, "SteeringType", header.steering_type)


def _other_info(parent: etree._Element, other: OtherInfo) -> None:
    element = _element(parent, "OtherInfo")
    _leaf(element, "Priority", _number(other.priority))
    _leaf(element, "SphereOfPromulgation", other.sphere_of_promulgation)
    _leaf(element, "TyperNotation", other.typer_notation)
    _leaf(element, "PromulgationAmount", _number(other.promulgation_amount))
    _leaf(element, "PageAmount", _number(other.page_amount))
    if other.direction is not None:
        _leaf(element, "Direction", "true" if other.direction else "false")
    if other.appendixes:
        appendixes = _element(element, "Appendixes")
        for appendix in other.appendixes:
            _leaf(appendixes, "Appendix", appendix)


def _traces(trace_list: etree._Element, traces: Sequence[TraceHeader]) -> None:
    for trace in traces:
        element = _element(trace_list, "TraceHeader")
        _leaf(element, "OrganId", trace.organ_id)
        if trace.timestamp is not None:
            _leaf(element, "Timestamp", format_timestamp(trace.timestamp))


def _business(trace_list: etree._Element, business: Business) -> None:
    element = _element(trace_list, "Bussiness")  # sic: the standard's spelling
    _leaf(element, "DocumentId", business.document_id)
    _leaf(element, "BussinessDocType", str(int(business.doc_type)))
    _leaf(element, "BussinessDocReason", business.reason)
    _leaf(element, "Paper", _number(business.paper))
    if (
        business.document_info is not None
        or business.document_receiver is not None
        or business.receivers
    ):
        info = _element(element, "BussinessDocumentInfo")
        _leaf(info, "DocumentInfo", _number(business.document_info))
        _leaf(info, "DocumentReceiver", _number(business.document_receiver))
        if business.receivers:
            receiver_list = _element(info, "ReceiverList")
            for receiver in business.receivers:
                item = _element(receiver_list, "Receiver")
                _leaf(item, "OrganId", receiver.organ_id)
                _leaf(item, "ReceiverType", _number(receiver.receiver_type))
    if business.replacements:
        replacement_list = _element(element, "ReplacementInfoList")
        for replacement in business.replacements:
            item = _element(replacement_list, "ReplacementInfo")
            _leaf(item, "DocumentId", replacement.document_id)
            organ_list = _element(item, "OrganIdList")
            for organ_id in replacement.organ_ids:
                _leaf(organ_list, "OrganId", organ_id)
    _staff(element, business.staff)
