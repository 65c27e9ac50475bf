"""A JSON-ready summary of a package (what ``lgsp-sim edxml inspect`` prints)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as _dt
import enum
from typing import Any

from ._attachments import is_zip
from ._errors import AttachmentError
from ._formats import format_date, format_timestamp
from ._model import (
    Attachment,
    Business,
    DocumentPackage,
    Package,
    SignatureInfo,
    StatusCode,
)
from ._validate import validate


def summarize(package: Package, *, with_violations: bool = False) -> dict[str, Any]:
    """Describe a package as plain JSON types (dates as ``yyyy/MM/dd``, times in Vietnam time)."""
    summary: dict[str, Any] = {"kind": package.kind}
    if isinstance(package, DocumentPackage):
        summary["header"] = _plain(package.header)
        summary["traces"] = _plain(package.traces)
        summary["business"] = _business(package.business)
        summary["manifest"] = {
            "version": package.manifest_version,
            "references": _plain(package.manifest),
        }
        summary["attachments"] = [_attachment(a) for a in package.attachments]
    else:
        header = _plain(package.header)
        code = package.header.status_code
        header["status_meaning"] = (
            {"en": code.meaning_en, "vi": code.meaning_vi} if isinstance(code, StatusCode) else None
        )
        summary["header"] = header
        summary["traces"] = _plain(package.traces)
    summary["signatures"] = [_signature(s) for s in package.signatures]
    if with_violations:
        summary["violations"] = _plain(validate(package))
    return summary


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, _dt.datetime):
        return format_timestamp(value) if value.tzinfo else value.isoformat()
    if isinstance(value, _dt.date):
        return format_date(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            ("from" if f.name == "from_" else f.name): _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
        }
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _business(business: Business | None) -> dict[str, Any] | None:
    if business is None:
        return None
    plain: dict[str, Any] = _plain(business)
    plain["type_name"] = business.doc_type.meaning_en
    return plain


def _attachment(attachment: Attachment) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "content_id": attachment.content_id,
        "name": attachment.name,
        "content_type": attachment.content_type,
        "description": attachment.description,
        "zipped": _zipped(attachment.encoded),
    }
    try:
        entry["size"] = attachment.size
        entry["sha256"] = attachment.sha256
    except AttachmentError as exc:
        entry["error"] = {"code": exc.code, "message": exc.message}
    return entry


def _zipped(encoded: str) -> bool:
    head = "".join(encoded[:64].split())[:8]
    try:
        return is_zip(base64.b64decode(head, validate=True))
    except (binascii.Error, ValueError):
        return False


def _signature(signature: SignatureInfo) -> dict[str, Any]:
    return {
        "location": signature.location,
        "signature_method": signature.signature_method,
        "digest_methods": signature.digest_methods,
        "reference_uris": signature.reference_uris,
        "canonicalization_method": signature.canonicalization_method,
        "transforms": signature.transforms,
        "legacy_sha1": signature.legacy_sha1,
        "in_dsig_namespace": signature.in_dsig_namespace,
        "has_certificate": signature.has_certificate,
        "certificate_bytes": len(signature.certificate_der) if signature.certificate_der else None,
    }
