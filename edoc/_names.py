"""Namespaces of edXML packages."""

from __future__ import annotations

NAMESPACE = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
"""QCVN 102:2016 namespace; its conventional prefix is ``edXML``."""

DSIG_NAMESPACE = "http://www.w3.org/2000/09/xmldsig#"
"""XML Signature namespace of the ``Signature`` in ``edXMLHeader``."""

PREFIX = "edXML"
