"""Hardened XML loading: no DTD, no entities, no network, bounded size and depth.

Everything that reaches lxml goes through `load_xml`; no lxml exception leaves this module.
"""

from __future__ import annotations

import threading

from lxml import etree

from ._errors import XmlError, XmlSecurityError

MAX_DEPTH = 100
"""Deepest element nesting accepted; real packages stay below 15."""

DEFAULT_MAX_BYTES = 50 * 1024 * 1024

# How far into the input a late XML declaration is still looked for: stray bytes before the
# declaration are real (DMS exports with garbage or a BOM), a declaration deep inside is not.
_DECLARATION_WINDOW = 4096

_NS_ERROR = "NS_ERR_UNDEFINED_NAMESPACE"
_RESOURCE_LIMIT = "ERR_RESOURCE_LIMIT"
# libxml2's own entity defences: "entity amplification factor exceeded", "entity reference loop".
_ENTITY_ABUSE = ("amplification", "reference loop")


def strip_preamble(data: bytes) -> bytes:
    """Drop anything before the XML declaration (or the first ``<``): BOM, whitespace, junk."""
    declaration = data.find(b"<?xml", 0, _DECLARATION_WINDOW)
    if declaration >= 0:
        return data[declaration:]
    first = data.find(b"<")
    return data[first:] if first >= 0 else b""


def _declares_doctype(xml: bytes) -> bool:
    """Whether the prolog holds a DOCTYPE (where entities are declared, if anywhere).

    XML allows a DOCTYPE only before the root element, after the declaration, comments and
    processing instructions: scanning that short prolog, not the whole package, keeps this
    check off a verification's bill.
    """
    position = 0
    while True:
        start = xml.find(b"<", position)
        if start < 0:
            return False
        if xml.startswith(b"<?", start):
            end, close = xml.find(b"?>", start + 2), 2
        elif xml.startswith(b"<!--", start):
            end, close = xml.find(b"-->", start + 4), 3
        else:
            return xml.startswith(b"<!DOCTYPE", start)  # anything else: libxml2 judges
        if end < 0:
            return False  # unterminated: libxml2 reports it
        position = end + close


def load_xml(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, allow_recovery: bool = True
) -> etree._Element:
    """Parse untrusted bytes into an element tree, refusing DTDs, huge or deep documents.

    With ``allow_recovery`` (the default) undeclared namespace prefixes are forgiven (see
    `load_xml_checked`); a signature verifier may prefer False: such bytes are then
    ``xml_malformed``.
    """
    return load_xml_checked(data, max_bytes=max_bytes, allow_recovery=allow_recovery)[0]


def load_xml_checked(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, allow_recovery: bool = True
) -> tuple[etree._Element, bool]:
    """Like `load_xml`, also telling whether namespace recovery was needed.

    Recovery happens only when every parse error is an undeclared prefix (``xlink:href``
    in the samples, an ``edXML:`` prefix used outside the element declaring it). Elements
    with such a prefix get the namespace the same prefix is bound to elsewhere in the
    document, if that binding is unique: the tree then differs from the bytes.
    """
    if not isinstance(data, bytes):
        data = bytes(data)  # bytearray, memoryview
    if len(data) > max_bytes:
        raise XmlSecurityError(
            "xml_too_large", f"the package is {len(data)} bytes; the limit is {max_bytes} bytes"
        )
    xml = strip_preamble(data)
    if not xml.strip():
        raise XmlError("xml_malformed", "the input holds no XML")
    # Refuse DTDs before libxml2 sees them (billion laughs, XXE); the tree is checked again
    # below for encodings this byte scan cannot see (UTF-16).
    if _declares_doctype(xml):
        raise XmlSecurityError(
            "xml_dtd_forbidden", "DOCTYPE and entity declarations are not allowed in edXML"
        )
    root, recovered = _parse(xml, allow_recovery=allow_recovery)
    _check_tree(root)
    return root, recovered


class _Parsers(threading.local):
    """One strict parser per thread: building a parser context costs more than a small parse,
    and an lxml parser must not be shared between threads."""

    def __init__(self) -> None:
        self.strict = _parser()


def _parser(*, recover: bool = False, huge: bool = False) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=huge,
        recover=recover,
        collect_ids=False,
        remove_blank_text=False,
    )


_PARSERS = _Parsers()


def _parse(xml: bytes, *, allow_recovery: bool) -> tuple[etree._Element, bool]:
    root, errors = _attempt(xml, _PARSERS.strict)
    if root is not None:
        return root, False
    huge = False
    if any(_is_size_limit(e) for e in errors) and all(
        _is_size_limit(e) or e.type_name == _NS_ERROR for e in errors
    ):
        # libxml2 caps a text node at 10 MB without XML_PARSE_HUGE, below our size limit
        # (a 20 MB scanned PDF is a normal attachment). The input is already bounded by
        # max_bytes, DTDs are refused and depth is checked on the tree, so relaxing is safe.
        huge = True
        root, errors = _attempt(xml, _parser(huge=True))
        if root is not None:
            return root, False
    if allow_recovery and errors and all(e.type_name == _NS_ERROR for e in errors):
        # Real packages use prefixes they never declare (xlink:href, an edXML: prefix declared
        # only on a sibling). Undeclared prefixes are the only errors we forgive.
        parser = _parser(recover=True, huge=huge)
        root, _ = _attempt(xml, parser)
        recovered = list(parser.error_log)
        if root is not None and all(e.type_name == _NS_ERROR for e in recovered):
            _resolve_undeclared_prefixes(root)
            return root, True
        errors = recovered or errors
    raise XmlError("xml_malformed", _describe(errors))


def _attempt(
    xml: bytes, parser: etree.XMLParser
) -> tuple[etree._Element | None, list[etree._LogEntry]]:
    """Parse once; return the root, or None and the parser's own errors."""
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError:
        errors = list(parser.error_log)
        if any("Excessive depth" in e.message for e in errors):
            raise XmlSecurityError(
                "xml_too_deep", f"elements are nested deeper than {MAX_DEPTH}"
            ) from None
        if any(marker in e.message for e in errors for marker in _ENTITY_ABUSE):
            # Entity declarations that got past the byte scan (e.g. UTF-16 input).
            raise XmlSecurityError(
                "xml_dtd_forbidden", "DOCTYPE and entity declarations are not allowed in edXML"
            ) from None
        return None, errors
    except (etree.LxmlError, ValueError) as exc:
        raise XmlError("xml_malformed", f"unreadable XML: {exc}") from None
    if root is None:  # recover mode can give up without raising
        return None, list(parser.error_log)
    return root, []


def _is_size_limit(error: etree._LogEntry) -> bool:
    """libxml2's text/buffer size caps (lifted by XML_PARSE_HUGE), not its entity limits."""
    message = error.message
    return (
        error.type_name == _RESOURCE_LIMIT
        and "XML_PARSE_HUGE" in message
        and "depth" not in message
        and "entity" not in message.lower()
    )


def _describe(errors: list[etree._LogEntry]) -> str:
    if not errors:
        return "the XML is not well-formed"
    first = errors[0]
    return f"line {first.line}, column {first.column}: {first.message.strip()}"


def _resolve_undeclared_prefixes(root: etree._Element) -> None:
    """Give ``edXML:Foo`` elements whose prefix was never declared in scope the namespace
    the same prefix is bound to elsewhere in the document (when that binding is unique)."""
    bindings: dict[str, set[str]] = {}
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for prefix, uri in element.nsmap.items():
            if prefix:
                bindings.setdefault(prefix, set()).add(uri)
    for element in root.iter():
        tag = element.tag
        if not isinstance(tag, str) or tag.startswith("{") or ":" not in tag:
            continue
        prefix, local = tag.split(":", 1)
        uris = bindings.get(prefix, set())
        if len(uris) == 1:
            element.tag = f"{{{next(iter(uris))}}}{local}"


def _check_tree(root: etree._Element) -> None:
    docinfo = root.getroottree().docinfo
    doctype = getattr(docinfo, "doctype", "")  # missing from lxml-stubs
    if doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlSecurityError(
            "xml_dtd_forbidden", "DOCTYPE and entity declarations are not allowed in edXML"
        )
    # Both checks run inside libxml2: a path of MAX_DEPTH + 1 steps selects level by level
    # (linear in the tree), and iter(Entity) filters in C. A Python walk cost 0.1 ms a package.
    if _TOO_DEEP(root):
        raise XmlSecurityError("xml_too_deep", f"elements are nested deeper than {MAX_DEPTH}")
    if next(root.iter(etree.Entity), None) is not None:
        raise XmlSecurityError("xml_dtd_forbidden", "entity references are not allowed")


_TOO_DEEP = etree.XPath("boolean(" + "/*" * (MAX_DEPTH + 1) + ")")
