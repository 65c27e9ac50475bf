"""The VXP wire protocol, server side: pure functions on headers, bodies and answers.

A client sends every parameter as a header ``XroadVnpt-<name>``, lists the names in
``XroadVnpt-sign-header-key`` (joined by ``;``), puts the ``XroadVnpt-<name>`` → value pairs
in the JSON object ``XroadVnpt-sign-header`` and signs that JSON string's UTF-8 bytes with
HMAC-SHA256 keyed with its secret (``XroadVnpt-hash-header``, lowercase hex). The JSON comes
from a hash map, so its key order is arbitrary: the HMAC is checked over the header bytes
exactly as received, never over a re-serialisation. See shared/reference/vxp-protocol.md.

Parameters are read from the signed set only (an unsigned ``XroadVnpt-*`` header is ignored),
by case-insensitive name: HTTP header names are case-insensitive and proxies lower-case them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO
from typing import Any, Final

from lxml import etree

from .errors import ErrorCode, SdkError

HEADER_PREFIX: Final = "xroadvnpt-"
SIGN_HEADER: Final = "xroadvnpt-sign-header"
SIGN_HEADER_KEY: Final = "xroadvnpt-sign-header-key"
HASH_HEADER: Final = "xroadvnpt-hash-header"
VERSION_HEADER: Final = "xroadvnpt-version"
SDK_VERSION: Final = "3.0.201608"
SERVICE_TYPE: Final = "eDoc"
MESSAGE_TYPES: Final = ("edoc", "status")

_TIMESTAMP: Final = re.compile(r"(\d{2})(\d{2})(\d{4})T(\d{2})(\d{2})(\d{2})\+(\d{3,4})")
_EDXML_NS: Final = "http://www.mic.gov.vn/TBT/QCVN_102_2016"


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a request's headers say, once their signed set is consistent (HMAC not checked)."""

    system_id: str
    timestamp: str
    params: Mapping[str, str]  # lower-cased parameter name → value, from the signed set
    sign_header: bytes  # the JSON exactly as received: what the HMAC covers
    hash_header: str  # the HMAC the client sent (lowercase hex)

    def param(self, name: str) -> str | None:
        """A signed parameter (``from``, ``docId``, ...), None when absent."""
        return self.params.get(name.lower())

    def require(self, name: str) -> str:
        """A signed parameter the call needs; SdkError 201 when absent or empty."""
        value = self.param(name)
        if value is None or not value.strip():
            raise SdkError(
                ErrorCode.MISSING_PARAMETER,
                "missing_parameter",
                f"this call needs the parameter {name!r} (header XroadVnpt-{name}, signed)",
            )
        return value.strip()


def _decode(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _refuse(code: ErrorCode, reason: str, message: str) -> SdkError:
    return SdkError(code, reason, message)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key.lower() in (k.lower() for k in result):
            raise ValueError(f"the name {key!r} is signed twice")
        result[key] = value
    return result


def read_signed_request(raw_headers: Iterable[tuple[bytes, bytes]]) -> SignedRequest:
    """Check that the signed JSON agrees with the headers actually sent; HMAC not checked.

    SdkError 101 when an authentication header is missing, 104 when the signed set is not a
    JSON object of strings, a signed pair differs from (or lacks) its header, a name of
    ``sign-header-key`` is not signed, or ``systemid`` / ``timestamp`` is not signed.
    """
    headers: dict[str, list[bytes]] = {}
    for name, value in raw_headers:
        headers.setdefault(_decode(name).lower(), []).append(value)

    def single(name: str) -> bytes:
        values = headers.get(name)
        if not values:
            raise _refuse(
                ErrorCode.MISSING_AUTH,
                "missing_header",
                f"the header {name} is missing: every call is signed (XroadVnpt-sign-header, "
                "XroadVnpt-sign-header-key, XroadVnpt-hash-header)",
            )
        if len(values) > 1:
            raise _refuse(
                ErrorCode.SIGNED_HEADERS_MISMATCH,
                "sign_header_mismatch",
                f"the header {name} is sent {len(values)} times",
            )
        return values[0]

    sign_header = single(SIGN_HEADER)
    keys = _decode(single(SIGN_HEADER_KEY))
    hash_header = _decode(single(HASH_HEADER)).strip().lower()
    try:
        signed = json.loads(sign_header.decode("utf-8"), object_pairs_hook=_unique_pairs)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _refuse(
            ErrorCode.SIGNED_HEADERS_MISMATCH,
            "sign_header_mismatch",
            f"XroadVnpt-sign-header is not a JSON object: {exc}",
        ) from None
    if not isinstance(signed, dict) or not all(isinstance(v, str) for v in signed.values()):
        raise _refuse(
            ErrorCode.SIGNED_HEADERS_MISMATCH,
            "sign_header_mismatch",
            "XroadVnpt-sign-header must be a JSON object of header names to string values",
        )
    params: dict[str, str] = {}
    for name, value in signed.items():
        header = name.lower()
        if not header.startswith(HEADER_PREFIX) or header in (SIGN_HEADER, HASH_HEADER):
            raise _refuse(
                ErrorCode.SIGNED_HEADERS_MISMATCH,
                "sign_header_mismatch",
                f"the signed name {name!r} is not a parameter header (XroadVnpt-<name>)",
            )
        sent = headers.get(header)
        if sent is None or len(sent) != 1 or _decode(sent[0]) != value:
            raise _refuse(
                ErrorCode.SIGNED_HEADERS_MISMATCH,
                "sign_header_mismatch",
                f"the signed value of {name} differs from the header sent (or it was not sent)",
            )
        params[header.removeprefix(HEADER_PREFIX)] = value
    for key in (part.strip() for part in keys.split(";")):
        if key and key.lower() not in params:
            raise _refuse(
                ErrorCode.SIGNED_HEADERS_MISMATCH,
                "sign_header_mismatch",
                f"XroadVnpt-sign-header-key names {key!r}, which XroadVnpt-sign-header does not sign",
            )
    for needed in ("systemid", "timestamp"):
        if not params.get(needed):
            raise _refuse(
                ErrorCode.SIGNED_HEADERS_MISMATCH,
                "sign_header_mismatch",
                f"XroadVnpt-{needed} must be sent and signed",
            )
    return SignedRequest(
        system_id=params["systemid"],
        timestamp=params["timestamp"],
        params=params,
        sign_header=sign_header,
        hash_header=hash_header,
    )


def signature(sign_header: bytes, secret: str) -> str:
    """The HMAC-SHA256 of the signed JSON's bytes keyed with the secret, lowercase hex."""
    return hmac.new(secret.encode("utf-8"), sign_header, hashlib.sha256).hexdigest()


def signature_matches(request: SignedRequest, secret: str) -> bool:
    """Whether ``XroadVnpt-hash-header`` is the HMAC of the signed JSON under ``secret``."""
    return hmac.compare_digest(signature(request.sign_header, secret), request.hash_header)


def parse_timestamp(text: str) -> datetime:
    """Read ``ddMMyyyy'T'HHmmss+SSSS`` (naive client local time; ``+SSSS`` is milliseconds)."""
    match = _TIMESTAMP.fullmatch(text.strip())
    if match is None:
        raise _refuse(
            ErrorCode.BAD_TIMESTAMP,
            "bad_timestamp",
            f"timestamp {text!r} is not ddMMyyyy'T'HHmmss+SSSS (e.g. 22112026T033447+0462)",
        )
    day, month, year, hour, minute, second, millis = (int(g) for g in match.groups())
    try:
        if millis > 999:
            raise ValueError("milliseconds above 999")
        return datetime(year, month, day, hour, minute, second, millis * 1000)
    except ValueError as exc:
        raise _refuse(
            ErrorCode.BAD_TIMESTAMP, "bad_timestamp", f"timestamp {text!r} is no date: {exc}"
        ) from None


def format_timestamp(moment: datetime) -> str:
    """Write a naive local time as the SDK does: ``ddMMyyyy'T'HHmmss+SSSS``."""
    return moment.strftime("%d%m%YT%H%M%S") + f"+{moment.microsecond // 1000:04d}"


def timestamp_age(text: str, *, now: datetime, utc_offset_minutes: int) -> float:
    """Seconds between the client's timestamp (read in its zone) and ``now``; negative if ahead."""
    zone = timezone(timedelta(minutes=utc_offset_minutes))
    sent = parse_timestamp(text).replace(tzinfo=zone)
    return (now - sent.astimezone(UTC)).total_seconds()


def java_hex(digest: bytes) -> str:
    """Hex the way the SDK writes it: ``Integer.toHexString(b & 0xff)`` per byte, no padding."""
    return "".join(f"{byte:x}" for byte in digest)


def hash_file(body: bytes) -> str:
    """The ``hash-file`` parameter of a body: its SHA-256 in Java hex."""
    return java_hex(hashlib.sha256(body).digest())


def hash_file_matches(body: bytes, given: str) -> bool:
    """Whether ``given`` is the body's Java-hex SHA-256 (compared the Java way, never padded)."""
    return hmac.compare_digest(hash_file(body), given.strip().lower())


def parse_to(text: str) -> list[str]:
    """The ``to`` parameter: a JSON array of OrganIds inside a string."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _refuse(
            ErrorCode.BAD_PARAMETER,
            "bad_parameter",
            f'to must be a JSON array of OrganIds in a string (e.g. ["000.00.00.H56"]), '
            f"not {text[:100]!r}",
        )
    return list(dict.fromkeys(value))


@dataclass(frozen=True, slots=True)
class HeaderFacts:
    """What the edXML header says, read without parsing the rest (for parameter checks)."""

    kind: str  # "edoc" or "status"
    sender: str
    recipients: tuple[str, ...]


def peek_header(body: bytes) -> HeaderFacts | None:
    """The package's message type, sender and recipients; None when unreadable (intake
    then refuses it with its own code). Stops at the end of ``MessageHeader``."""
    ns = f"{{{_EDXML_NS}}}"
    try:
        for _, element in etree.iterparse(
            BytesIO(body),
            events=("end",),
            tag=f"{ns}MessageHeader",
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        ):
            sender = element.findtext(f"{ns}From/{ns}OrganId") or ""
            status = element.find(f"{ns}StatusCode") is not None
            if status:
                response = element.findtext(f"{ns}ResponseFor/{ns}OrganId") or ""
                recipients: tuple[str, ...] = (response.strip(),) if response.strip() else ()
            else:
                found = (o.text or "" for o in element.iterfind(f"{ns}To/{ns}OrganId"))
                recipients = tuple(dict.fromkeys(r.strip() for r in found if r.strip()))
            return HeaderFacts(
                kind="status" if status else "edoc", sender=sender.strip(), recipients=recipients
            )
    except etree.LxmlError:
        return None
    return None


def answer(fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A success answer: ``status`` OK, ``ErrorCode`` "0", empty ``ErrorDesc``, then ``fields``."""
    return {"status": "OK", "ErrorCode": ErrorCode.OK.value, "ErrorDesc": "", **(fields or {})}


def failure(error: SdkError, empty: Mapping[str, Any]) -> dict[str, Any]:
    """A refusal: ``status`` FAIL, the ErrorCode and ErrorDesc, and the call's fields empty."""
    return {
        "status": "FAIL",
        "ErrorCode": error.error_code.value,
        "ErrorDesc": error.desc,
        **empty,
    }
