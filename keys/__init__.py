"""The mock Government CA and everything signed with it.

- `KeyStore`: the CA hierarchy in a directory (root, state and Party sub-CAs, CRLs) and the
  identities it issues, lazily and cached: agencies, officials, hubs.
- `TrustStore`: validates a certificate chain, dates and revocation at a given time.
- Envelope signatures: enveloped XMLDSig in ``edXMLHeader`` (`sign_envelope`, `verify_envelope`).
- PAdES signatures on PDFs, personal then agency as Decree 30/2020 requires (`sign_pdf`,
  `verify_pdf`, `assess_package`).
"""

from __future__ import annotations

from ._ca import KeyAlgorithm
from ._envelope import EnvelopeVerification, sign_envelope, verify_envelope
from ._errors import CertificateError, KeysError, KeyStoreError, SignatureError
from ._pades import (
    PdfSignature,
    SignatureState,
    SignerRole,
    SigningAssessment,
    assess_package,
    assess_pdf,
    sign_pdf,
    verify_pdf,
)
from ._profiles import ROOT_NAME, CaName, CertKind
from ._store import CertificateRecord, Identity, KeyStore
from ._trust import CertificateInfo, TrustStore

__all__ = [
    "ROOT_NAME",
    "CaName",
    "CertKind",
    "CertificateError",
    "CertificateInfo",
    "CertificateRecord",
    "EnvelopeVerification",
    "Identity",
    "KeyAlgorithm",
    "KeyStore",
    "KeyStoreError",
    "KeysError",
    "PdfSignature",
    "SignatureError",
    "SignatureState",
    "SignerRole",
    "SigningAssessment",
    "TrustStore",
    "assess_package",
    "assess_pdf",
    "sign_envelope",
    "sign_pdf",
    "verify_envelope",
    "verify_pdf",
]
