"""The ErrorCodes of the SDK front: short numeric strings grouped by family (docs/sdk-errors.md).

Every refusal is an :class:`SdkError`: a stable ``ErrorCode`` for the SDK, a snake_case
``reason`` (the intake's own code when intake refused the package, e.g. ``signature_invalid``)
and a message. The answer's ``ErrorDesc`` is ``"<reason>: <message>"``, so a client that wants
the precise cause reads it from the front of ``ErrorDesc``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from lgsp.delivery import InboxError
from lgsp.intake import IntakeError


class ErrorCode(StrEnum):
    """``ErrorCode`` values; the first digit is the family, "0" is success."""

    OK = "0"
    # 1xx authentication
    MISSING_AUTH = "101"
    UNKNOWN_SYSTEM = "102"
    BAD_SIGNATURE = "103"
    SIGNED_HEADERS_MISMATCH = "104"
    BAD_TIMESTAMP = "105"
    STALE_TIMESTAMP = "106"
    REPLAYED_REQUEST = "107"
    # 2xx the request's parameters and body
    MISSING_PARAMETER = "201"
    BAD_PARAMETER = "202"
    HASH_FILE_MISMATCH = "203"
    BAD_BODY = "204"
    BODY_TOO_LARGE = "205"
    FROM_MISMATCH = "206"
    MESSAGETYPE_MISMATCH = "207"
    TO_MISMATCH = "208"
    # 3xx the package, as intake judged it
    UNREADABLE_PACKAGE = "301"
    NOT_HOSTED = "302"
    SIGNATURE_REFUSED = "303"
    INCOMPLETE_PACKAGE = "304"
    UNROUTABLE = "305"
    PACKAGE_REFUSED = "306"
    # 4xx documents by docId
    UNKNOWN_DOC = "401"
    NOT_ALLOWED = "402"
    # 5xx agencies (registerAgency, deleteAgency)
    BAD_AGENCY = "501"
    AGENCY_WRONG_HUB = "502"
    AGENCY_TAKEN = "503"
    UNKNOWN_AGENCY = "504"
    AGENCY_NOT_REGISTERED = "505"
    # 9xx the hub itself
    INTERNAL = "900"


HTTP_EQUIVALENT: Final[dict[ErrorCode, int]] = {
    ErrorCode.MISSING_AUTH: 401,
    ErrorCode.UNKNOWN_SYSTEM: 401,
    ErrorCode.BAD_SIGNATURE: 401,
    ErrorCode.SIGNED_HEADERS_MISMATCH: 401,
    ErrorCode.BAD_TIMESTAMP: 401,
    ErrorCode.STALE_TIMESTAMP: 401,
    ErrorCode.REPLAYED_REQUEST: 401,
    ErrorCode.BODY_TOO_LARGE: 413,
    ErrorCode.NOT_HOSTED: 403,
    ErrorCode.SIGNATURE_REFUSED: 422,
    ErrorCode.INCOMPLETE_PACKAGE: 422,
    ErrorCode.UNROUTABLE: 422,
    ErrorCode.PACKAGE_REFUSED: 422,
    ErrorCode.UNKNOWN_DOC: 404,
    ErrorCode.NOT_ALLOWED: 403,
    ErrorCode.AGENCY_TAKEN: 409,
    ErrorCode.UNKNOWN_AGENCY: 404,
    ErrorCode.AGENCY_NOT_REGISTERED: 409,
    ErrorCode.INTERNAL: 500,
}
"""What the native API would have answered (for the rejection log; everything else is 400)."""

_INCOMPLETE: Final = frozenset({"missing_sender", "no_recipient", "missing_document_id"})
_UNROUTABLE: Final = frozenset({"unknown_recipient", "routing_loop"})


class SdkError(Exception):
    """A call refused: its ``ErrorCode``, the precise ``reason`` and a clear message."""

    def __init__(
        self,
        error_code: ErrorCode,
        reason: str,
        message: str,
        *,
        sender: str | None = None,
        size: int | None = None,
    ) -> None:
        super().__init__(f"{error_code.value} {reason}: {message}")
        self.error_code = error_code
        self.reason = reason
        self.message = message
        self.sender = sender
        self.size = size

    @property
    def desc(self) -> str:
        """The answer's ``ErrorDesc``."""
        return f"{self.reason}: {self.message}"

    @property
    def http_status(self) -> int:
        """The native API's equivalent HTTP status (the SDK answer itself is always 200)."""
        return HTTP_EQUIVALENT.get(self.error_code, 400)


def from_intake(error: IntakeError) -> SdkError:
    """The SDK refusal for a package intake refused (its code becomes the reason)."""
    code = error.code
    if code in _INCOMPLETE:
        family = ErrorCode.INCOMPLETE_PACKAGE
    elif code in _UNROUTABLE:
        family = ErrorCode.UNROUTABLE
    elif code == "organ_not_hosted":
        family = ErrorCode.NOT_HOSTED
    elif code == "body_too_large":
        family = ErrorCode.BODY_TOO_LARGE
    elif code == "empty_body":
        family = ErrorCode.BAD_BODY
    elif error.http_status == 400:
        family = ErrorCode.UNREADABLE_PACKAGE
    elif error.http_status == 422:
        family = ErrorCode.SIGNATURE_REFUSED  # what is left of 422: keys' verification codes
    else:
        family = ErrorCode.PACKAGE_REFUSED
    return SdkError(family, code, error.message, sender=error.sender, size=error.size)


def from_inbox(error: InboxError) -> SdkError:
    """The SDK refusal for a docId the caller may not have."""
    if error.http_status == 404:
        return SdkError(ErrorCode.UNKNOWN_DOC, "unknown_doc", error.message)
    if error.code == "organ_not_hosted":
        return SdkError(ErrorCode.NOT_HOSTED, error.code, error.message)
    return SdkError(ErrorCode.NOT_ALLOWED, error.code, error.message)
