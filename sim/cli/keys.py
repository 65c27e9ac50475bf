"""`lgsp-sim keys`: the mock Government CA on disk — create it, issue, revoke, list, export."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from rich.table import Table
from rich.text import Text

import edoc
from keys import CaName, CertificateInfo, CertificateRecord, CertKind, KeyAlgorithm, KeyStore
from simtime import WallClock

from ._common import console, fail, reported_errors

app = typer.Typer(
    help=(
        "The mock Government CA: a root, a state and a Party sub-CA with their CRLs, and the "
        "agency, personal and hub certificates they issue."
    ),
    no_args_is_help=True,
)

DirOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        help="Key-store directory (holds ca/, issued/ and index.json).",
        file_okay=False,
        show_default=False,
    ),
]

# X.520 upper bound of a commonName or title, in characters.
_NAME_MAX = 64
_CA_LABELS = ("root", *(ca.value for ca in CaName))  # the order of `KeyStore.trust_bundle_pem`


@app.command()
def init(
    directory: DirOption,
    algorithm: Annotated[
        KeyAlgorithm, typer.Option(help="Key algorithm of the CAs and of every certificate issued.")
    ] = KeyAlgorithm.RSA2048,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace an existing CA: deletes ca/, issued/ and index.json in the directory.",
        ),
    ] = False,
) -> None:
    """Create the CA hierarchy: the root, the state and Party sub-CAs, each publishing a CRL."""
    store = KeyStore(directory)
    with reported_errors():
        if store.initialised and not force:
            fail(
                "keystore_exists",
                f"a CA already exists in {directory}; use --force to replace it "
                "(every certificate it issued becomes untrusted)",
            )
        if force:
            _wipe(directory)
        store.init(at=WallClock().now(), algorithm=algorithm)
        certificates = x509.load_pem_x509_certificates(store.trust_bundle_pem())

    table = Table(title=Text(f"Certificate authorities in {directory}"))
    table.add_column("CA")
    table.add_column("Name")
    table.add_column("Algorithm", no_wrap=True)
    table.add_column("Valid until", no_wrap=True)
    table.add_column("SHA-256 fingerprint", overflow="fold")
    for label, cert in zip(_CA_LABELS, certificates, strict=True):
        info = CertificateInfo.of(cert)
        _row(
            table,
            label,
            info.common_name,
            _algorithm(cert),
            f"{info.not_after:%Y-%m-%d}",
            bytes.fromhex(info.fingerprint_sha256).hex(":").upper(),
        )
    console.print(table)


@app.command()
def issue(
    directory: DirOption,
    agency: Annotated[
        str | None,
        typer.Option(
            metavar="ORGANID",
            help="Agency code (QĐ 20/2020, e.g. 000.00.00.H56): the agency to certify, "
            "or the agency a --person works for.",
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Agency name, with --agency (at most 64 characters)."),
    ] = None,
    person: Annotated[
        str | None,
        typer.Option(metavar="FULL_NAME", help="Issue a personal certificate for this official."),
    ] = None,
    position: Annotated[
        str | None, typer.Option(metavar="TITLE", help="The official's position, with --person.")
    ] = None,
    hub: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Issue a certificate for an axis (LGSP / NDXP)."),
    ] = None,
    ca: Annotated[
        CaName, typer.Option(help="Issuing sub-CA of an agency or official certificate.")
    ] = CaName.STATE,
) -> None:
    """Issue one certificate: --agency ORGANID --name NAME, --person NAME --agency ORGANID
    --position TITLE, or --hub NAME."""
    store = KeyStore(directory)
    at = WallClock().now()
    with reported_errors():
        if hub is not None:
            _refuse_with("--hub", agency=agency, name=name, person=person, position=position)
            if ca is CaName.PARTY:
                fail("bad_arguments", "hub certificates are issued by the state sub-CA only")
            record = store.issue_hub(name=_name(hub, "hub name"), at=at)
        elif person is not None:
            _refuse_with("--person", name=name)
            if agency is None or position is None:
                fail("bad_arguments", "--person needs --agency ORGANID and --position TITLE")
            organ_id = _organ_id(agency)
            employer = store.find(kind=CertKind.AGENCY, organ_id=organ_id)
            record = store.issue_person(
                full_name=_name(person, "full name"),
                organ_id=organ_id,
                position=_name(position, "position"),
                agency_name=employer.name if employer else None,
                at=at,
                ca=ca,
            )
        elif agency is not None:
            _refuse_with("--agency without --person", position=position)
            if name is None:
                fail(
                    "bad_arguments",
                    "--agency needs --name NAME (or --person to certify an official)",
                )
            record = store.issue_agency(
                organ_id=_organ_id(agency),
                name=_name(name, "agency name"),
                at=at,
                ca=ca,
            )
        else:
            fail(
                "bad_arguments",
                "say what to issue: --agency ORGANID --name NAME, "
                "--person NAME --agency ORGANID --position TITLE, or --hub NAME",
            )
        certificate = store.load_identity(record).certificate
    info = CertificateInfo.of(certificate)

    details = Table.grid(padding=(0, 2))
    details.add_column(style="bold")
    details.add_column(overflow="fold")
    _row(details, "Serial", record.serial)
    _row(details, "Kind", record.kind.value)
    _row(details, "Issuer", f"{info.issuer} ({record.ca.value})")
    _row(details, "Subject", certificate.subject.rfc4514_string({NameOID.TITLE: "title"}))
    _row(details, "Valid from", f"{info.not_before:%Y-%m-%d %H:%M} UTC")
    _row(details, "Valid until", f"{info.not_after:%Y-%m-%d %H:%M} UTC")
    _row(details, "Files", str(directory / f"{record.file}.{{crt,key}}.pem"))
    console.print(f"New {record.kind.value} certificate:")
    console.print(details)


@app.command()
def revoke(
    directory: DirOption,
    serial: Annotated[str | None, typer.Option(metavar="HEX", help="Serial number (hex).")] = None,
    agency: Annotated[
        str | None,
        typer.Option(
            metavar="ORGANID",
            help="Revoke this agency's certificates, or with --person, that official's.",
        ),
    ] = None,
    person: Annotated[
        str | None, typer.Option(metavar="FULL_NAME", help="Official's full name, with --agency.")
    ] = None,
    hub: Annotated[
        str | None, typer.Option(metavar="NAME", help="Revoke this hub's certificates.")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why, kept in the index.")] = "unspecified",
) -> None:
    """Revoke certificates and re-publish the CRL of their CA.

    Select one certificate with --serial, or every valid certificate of an agency (--agency),
    an official (--person with --agency) or a hub (--hub).
    """
    store = KeyStore(directory)
    at = WallClock().now()
    with reported_errors():
        if serial is not None:
            _refuse_with("--serial", agency=agency, person=person, hub=hub)
            serials = [serial]
        else:
            serials = _valid_serials(store, agency=agency, person=person, hub=hub)
        revoked = [store.revoke(s, at=at, reason=reason) for s in serials]

    table = Table(title="Revoked")
    for column in ("Serial", "Kind", "CA", "Name", "OrganId", "Revoked at", "Reason"):
        table.add_column(column, overflow="fold")
    for record in revoked:
        already = record.revoked_at != at.isoformat()
        _row(
            table,
            record.serial,
            record.kind.value,
            record.ca.value,
            record.name,
            record.organ_id or "",
            _when(record.revoked_at, "%Y-%m-%d %H:%M:%S UTC") + (" (earlier)" if already else ""),
            record.reason or "",
        )
    console.print(table)
    crls = sorted({str(directory / "ca" / f"{record.ca.value}.crl.pem") for record in revoked})
    console.print(Text("CRL re-published: " + ", ".join(crls)))


@app.command("list")
def list_(
    directory: DirOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the certificates issued so far, oldest first."""
    with reported_errors():
        records = KeyStore(directory).records()
    if as_json:
        typer.echo(json.dumps([_as_json(r) for r in records], ensure_ascii=False, indent=2))
        return
    if not records:
        console.print(Text(f"No certificate issued yet in {directory}."))
        return
    table = Table(title=Text(f"Certificates issued in {directory}"))
    table.add_column("Serial", overflow="fold")
    table.add_column("Kind", no_wrap=True)
    table.add_column("CA", no_wrap=True)
    table.add_column("Name")
    table.add_column("OrganId", overflow="fold")
    table.add_column("Position")
    table.add_column("Valid until", no_wrap=True)
    table.add_column("Revoked", no_wrap=True)
    for record in records:
        _row(
            table,
            record.serial,
            record.kind.value,
            record.ca.value,
            record.name,
            record.organ_id or "",
            record.position or "",
            _when(record.not_after, "%Y-%m-%d"),
            _when(record.revoked_at, "%Y-%m-%d"),
            style="red" if record.revoked else None,
        )
    console.print(table)


@app.command("trust-bundle")
def trust_bundle(directory: DirOption) -> None:
    """Print the root and sub-CA certificates as PEM (root first), e.g. for a DMS trust store."""
    with reported_errors():
        pem = KeyStore(directory).trust_bundle_pem()
    typer.echo(pem.decode("ascii"), nl=False)


# -- helpers ---------------------------------------------------------------------------------


def _wipe(directory: Path) -> None:
    """Delete what `init` creates, and nothing else (index first: no half-CA stays usable)."""
    (directory / "index.json").unlink(missing_ok=True)
    for name in ("ca", "issued"):
        path = directory / name
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)


def _valid_serials(
    store: KeyStore, *, agency: str | None, person: str | None, hub: str | None
) -> list[str]:
    """Serials of the unrevoked certificates a --agency / --person / --hub selector names."""
    kind: CertKind
    organ_id: str | None = None
    name: str | None = None
    if agency is not None and edoc.is_valid_organ_id(agency):
        agency = _organ_id(agency)  # as `issue` wrote it
    if hub is not None:
        _refuse_with("--hub", agency=agency, person=person)
        kind, name, what = CertKind.HUB, hub, repr(hub)
    elif person is not None:
        if agency is None:
            fail("bad_arguments", "--person needs --agency ORGANID")
        kind, organ_id, name, what = CertKind.PERSON, agency, person, f"{person!r} of {agency}"
    elif agency is not None:
        kind, organ_id, what = CertKind.AGENCY, agency, agency
    else:
        fail("bad_arguments", "say what to revoke: --serial, --agency, --person or --hub")
    serials = [
        record.serial
        for record in store.records()
        if not record.revoked
        and record.kind == kind
        and (organ_id is None or record.organ_id == organ_id)
        and (name is None or record.name == name)
    ]
    if not serials:
        fail("not_found", f"no valid {kind.value} certificate of {what} in {store.directory}")
    return serials


def _refuse_with(mode: str, **others: str | None) -> None:
    given = [f"--{option}" for option, value in others.items() if value is not None]
    if given:
        fail("bad_arguments", f"{mode} does not go with {', '.join(given)}")


def _organ_id(value: str) -> str:
    """The canonical agency code (QĐ 20/2020), or `edoc`'s ``bad_organ_id`` error."""
    return str(edoc.parse_organ_id(value))


def _name(value: str, what: str) -> str:
    text = " ".join(value.split())
    if not text:
        fail("invalid_name", f"the {what} is empty")
    if len(text) > _NAME_MAX:
        fail(
            "invalid_name",
            f"the {what} has {len(text)} characters; a certificate holds at most {_NAME_MAX}",
        )
    return text


def _row(table: Table, *cells: str, style: str | None = None) -> None:
    """Add a row of data: shown as is, never read as Rich markup."""
    table.add_row(*(Text(cell) for cell in cells), style=style)


def _when(iso: str | None, fmt: str) -> str:
    return datetime.fromisoformat(iso).strftime(fmt) if iso else ""


def _algorithm(certificate: x509.Certificate) -> str:
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ECDSA P-256" if key.curve.name == "secp256r1" else f"ECDSA {key.curve.name}"
    return type(key).__name__


def _as_json(record: CertificateRecord) -> dict[str, Any]:
    return {
        **asdict(record),
        "kind": record.kind.value,
        "ca": record.ca.value,
        "revoked": record.revoked,
    }
