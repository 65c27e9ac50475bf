"""Certificate profiles of the mock Government CA: kinds, policy OIDs, subject layout."""

from __future__ import annotations

import warnings
from enum import StrEnum

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

# X.520 bounds names at 64 *characters*; `cryptography` counts UTF-8 *bytes* and warns on every
# parse of a certificate whose Vietnamese name is longer than 64 bytes (the root's is).
warnings.filterwarnings("ignore", message="Attribute's length must be", category=UserWarning)

# A self-allocated UUID arc (ITU-T X.667, "2.25.<uuid>"): clearly ours, never a real CA's policy.
_ARC = "2.25.157816027190202210563436164098729907"


class CertKind(StrEnum):
    """What a certificate is for; written into the certificate as a policy OID."""

    ROOT = "root"
    SUB_CA = "sub-ca"
    AGENCY = "agency"  # chữ ký số của cơ quan, tổ chức (agency / organisation signature)
    PERSON = "person"  # chữ ký số cá nhân (signature of the official with signing authority)
    HUB = "hub"  # an LGSP / NDXP axis


POLICY_OIDS: dict[CertKind, ObjectIdentifier] = {
    CertKind.ROOT: ObjectIdentifier(f"{_ARC}.1"),
    CertKind.SUB_CA: ObjectIdentifier(f"{_ARC}.2"),
    CertKind.AGENCY: ObjectIdentifier(f"{_ARC}.3"),
    CertKind.PERSON: ObjectIdentifier(f"{_ARC}.4"),
    CertKind.HUB: ObjectIdentifier(f"{_ARC}.5"),
}
_KIND_BY_OID = {oid: kind for kind, oid in POLICY_OIDS.items()}


class CaName(StrEnum):
    """The sub-CAs under the root: one for state bodies, one for Party bodies."""

    STATE = "state"
    PARTY = "party"


ROOT_NAME = "Cơ quan chứng thực số chuyên dùng Chính phủ (mô phỏng)"
SUB_CA_NAMES: dict[CaName, str] = {
    CaName.STATE: "CA phục vụ các cơ quan Nhà nước (mô phỏng)",
    CaName.PARTY: "CA phục vụ các cơ quan Đảng (mô phỏng)",
}
CA_ORGANIZATION = "Ban Cơ yếu Chính phủ (mô phỏng)"


def kind_of(certificate: x509.Certificate) -> CertKind | None:
    """Return the profile a certificate was issued under, read from its policy OIDs."""
    try:
        policies = certificate.extensions.get_extension_for_class(x509.CertificatePolicies)
    except x509.ExtensionNotFound:
        return None
    for policy in policies.value:
        kind = _KIND_BY_OID.get(policy.policy_identifier)
        if kind is not None:
            return kind
    return None


def _attribute(name: x509.Name, oid: ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode()


def organ_id_of(certificate: x509.Certificate) -> str | None:
    """Return the OrganId (mã định danh, QĐ 20/2020) carried in the subject's UID attribute."""
    return _attribute(certificate.subject, NameOID.USER_ID)


def common_name_of(certificate: x509.Certificate) -> str:
    """Return the subject common name (agency name, official's full name or hub name)."""
    return (
        _attribute(certificate.subject, NameOID.COMMON_NAME) or certificate.subject.rfc4514_string()
    )


def title_of(certificate: x509.Certificate) -> str | None:
    """Return the position (chức vụ) written into a personal certificate."""
    return _attribute(certificate.subject, NameOID.TITLE)
