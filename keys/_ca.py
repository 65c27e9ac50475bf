"""Building keys, certificates and CRLs with `cryptography` (no disk I/O here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ._errors import KeyStoreError
from ._profiles import CA_ORGANIZATION, POLICY_OIDS, CertKind

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class KeyAlgorithm(StrEnum):
    """Key types the CA issues: RSA-2048 as the Vietnamese CAs do, ECDSA P-256 as an option."""

    RSA2048 = "rsa2048"
    P256 = "p256"


# Realistic lifetimes: the root 20 years, sub-CAs 10, end-entity certificates 3 (token lifetime).
ROOT_LIFETIME = timedelta(days=20 * 365)
SUB_CA_LIFETIME = timedelta(days=10 * 365)
END_ENTITY_LIFETIME = timedelta(days=3 * 365)
# CRLs are re-published on every revocation and refreshed when they come within a day of expiry.
CRL_LIFETIME = timedelta(days=30)
# Back-date notBefore a little so a freshly issued certificate is valid on a slightly slow clock.
_BACKDATE = timedelta(hours=1)
CRL_BASE_URL = "http://ca.lgsp-sim.invalid/crl"


def generate_key(algorithm: KeyAlgorithm) -> PrivateKey:
    """Generate a private key of the given algorithm."""
    if algorithm is KeyAlgorithm.P256:
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def algorithm_of(key: PrivateKey) -> KeyAlgorithm:
    """Return which of our algorithms a key uses."""
    return (
        KeyAlgorithm.P256 if isinstance(key, ec.EllipticCurvePrivateKey) else KeyAlgorithm.RSA2048
    )


@dataclass(frozen=True, kw_only=True)
class SubjectSpec:
    """What goes into an end-entity subject."""

    kind: CertKind
    common_name: str
    organ_id: str | None = None
    organization: str | None = None
    title: str | None = None
    email: str | None = None


def _bounded(text: str) -> str:
    # X.520 bounds commonName and organizationName at 64 characters; full Vietnamese names
    # (a commune People's Committee with its district and province) can be longer, and real
    # CAs shorten them rather than refuse: so do we.
    text = " ".join(text.split())
    if not text:
        raise KeyStoreError("a certificate name may not be empty", code="invalid_name")
    return text if len(text) <= 64 else text[:63] + "…"


def _cn(text: str) -> x509.NameAttribute[str]:
    # `cryptography` counts UTF-8 bytes, not characters, and would refuse ordinary
    # Vietnamese names: the bound is checked by `_bounded` instead.
    return x509.NameAttribute(NameOID.COMMON_NAME, _bounded(text), _validate=False)


def _name(spec: SubjectSpec) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    if spec.organization:
        attrs.append(
            x509.NameAttribute(
                NameOID.ORGANIZATION_NAME, _bounded(spec.organization), _validate=False
            )
        )
    if spec.title:
        attrs.append(x509.NameAttribute(NameOID.TITLE, spec.title))
    if spec.organ_id:
        attrs.append(x509.NameAttribute(NameOID.USER_ID, spec.organ_id))
    attrs.append(_cn(spec.common_name))
    return x509.Name(attrs)


def _policies(kind: CertKind) -> x509.CertificatePolicies:
    return x509.CertificatePolicies([x509.PolicyInformation(POLICY_OIDS[kind], None)])


def _ca_name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, CA_ORGANIZATION),
            _cn(common_name),
        ]
    )


def _crl_point(issuer_slug: str) -> x509.CRLDistributionPoints:
    uri = x509.UniformResourceIdentifier(f"{CRL_BASE_URL}/{issuer_slug}.crl")
    return x509.CRLDistributionPoints([x509.DistributionPoint([uri], None, None, None)])


def make_root(*, key: PrivateKey, common_name: str, at: datetime) -> x509.Certificate:
    """Self-sign the root certificate."""
    name = _ca_name(common_name)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(at - _BACKDATE)
        .not_valid_after(at + ROOT_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_policies(CertKind.ROOT), critical=False)
        .sign(key, hashes.SHA256())
    )


def make_sub_ca(
    *,
    key: PrivateKey,
    common_name: str,
    issuer_key: PrivateKey,
    issuer: x509.Certificate,
    issuer_slug: str,
    at: datetime,
) -> x509.Certificate:
    """Issue a sub-CA certificate under the root."""
    return (
        x509.CertificateBuilder()
        .subject_name(_ca_name(common_name))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(at - _BACKDATE)
        .not_valid_after(min(at + SUB_CA_LIFETIME, issuer.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_aki(issuer), critical=False)
        .add_extension(_policies(CertKind.SUB_CA), critical=False)
        .add_extension(_crl_point(issuer_slug), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def make_end_entity(
    *,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    spec: SubjectSpec,
    issuer_key: PrivateKey,
    issuer: x509.Certificate,
    issuer_slug: str,
    at: datetime,
    lifetime: timedelta = END_ENTITY_LIFETIME,
) -> x509.Certificate:
    """Issue an agency, personal or hub certificate (digitalSignature + nonRepudiation)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(spec))
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(at - _BACKDATE)
        .not_valid_after(min(at + lifetime, issuer.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # nonRepudiation
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_aki(issuer), critical=False)
        .add_extension(_policies(spec.kind), critical=False)
        .add_extension(_crl_point(issuer_slug), critical=False)
    )
    if spec.email:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(spec.email)]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def make_crl(
    *,
    issuer_key: PrivateKey,
    issuer: x509.Certificate,
    revoked: Sequence[tuple[int, datetime]],
    number: int,
    at: datetime,
) -> x509.CertificateRevocationList:
    """Publish a CRL listing ``revoked`` (serial, revocation time)."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(at - _BACKDATE)
        .next_update(at + CRL_LIFETIME)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(_aki(issuer), critical=False)
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _aki(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
