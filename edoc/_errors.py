"""Typed errors of the edXML layer: a stable snake_case ``code`` and a human ``message``."""

from __future__ import annotations


class EdocError(Exception):
    """Base of every error `edoc` raises on bad input; never wraps a raw lxml exception."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[EdocError], tuple[str, str]]:
        # Keep errors picklable (process pools, multiprocessing) despite the two-arg init.
        return (type(self), (self.code, self.message))


class XmlError(EdocError):
    """The bytes are not well-formed XML (``xml_malformed``)."""


class XmlSecurityError(XmlError):
    """Hostile or oversized XML: ``xml_dtd_forbidden``, ``xml_too_large``, ``xml_too_deep``."""


class PackageStructureError(EdocError):
    """Well-formed XML that is not a usable edXML package.

    Codes: ``wrong_namespace``, ``not_edxml``, ``duplicate_element``, ``missing_element``.
    """


class AttachmentError(EdocError):
    """An attachment cannot be decoded.

    Codes: ``attachment_base64``, ``attachment_too_large``, ``attachment_zip``.
    """


class FieldFormatError(EdocError):
    """A single value has the wrong format.

    Codes: ``bad_date``, ``bad_timestamp``, ``bad_organ_id``, ``bad_status_code``,
    ``invalid_text``, ``missing_field``.
    """
