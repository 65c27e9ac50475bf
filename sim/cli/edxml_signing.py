"""`lgsp-sim edxml sign` and `lgsp-sim edxml verify`: the agency's envelope signature.

Registered on the `edxml` group (``sim/cli/edxml.py`` belongs to the edoc layer); importing
this module is what adds the two commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

import edoc
from keys import CertKind, EnvelopeVerification, KeyStore, sign_envelope, verify_envelope
from simtime import WallClock

from ._common import console, err_console, reported_errors
from .edxml import app

# `verify` separates "the package is not valid" (1) from "could not check it" (2: no key
# store, unreadable file), so scripts can tell a bad package from a broken setup.
EXIT_INVALID = 1

FileArgument = Annotated[
    Path,
    typer.Argument(
        help="The edXML package; '-' reads standard input.", allow_dash=True, show_default=False
    ),
]
KeysOption = Annotated[
    Path,
    typer.Option(
        "--keys",
        help="Key-store directory of the mock CA (created by `lgsp-sim keys init`).",
        file_okay=False,
        show_default=False,
    ),
]


def _read(file: Path) -> bytes:
    if str(file) == "-":
        return typer.get_binary_stream("stdin").read()
    return file.read_bytes()


def _from_name(package: bytes, organ_id: str) -> str | None:
    """The package's From/OrganName, when it is the agency about to be issued a certificate."""
    try:
        parsed = edoc.parse(package)
    except edoc.EdocError:
        return None  # signing reports the problem, if there is one
    sender = parsed.header.from_
    return sender.organ_name if sender.organ_id == organ_id else None


@app.command()
def sign(
    file: FileArgument,
    organ_id: Annotated[
        str,
        typer.Option(
            "--as",
            help="OrganId of the signing agency, e.g. 000.00.00.H56; it must be the package's "
            "From/OrganId.",
            show_default=False,
        ),
    ],
    keys_dir: KeysOption,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="Agency name for a certificate issued now (default: the package's "
            "From/OrganName, else the OrganId). Ignored when the agency has a certificate.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the signed package here, not to stdout."),
    ] = None,
) -> None:
    """Sign a package's envelope (XMLDSig, RSA-SHA256) with an agency certificate.

    The signature goes last in edXMLHeader and covers the whole package.
    The agency's certificate is issued on first use (said on stderr).
    The signed package goes to stdout.
    """
    with reported_errors():
        package = _read(file)
        store = KeyStore(keys_dir)
        now = WallClock().now()
        issuing = store.initialised and store.find(kind=CertKind.AGENCY, organ_id=organ_id) is None
        agency_name = name or _from_name(package, organ_id) or organ_id
        identity = store.agency(organ_id, name=agency_name, at=now)
        if issuing:
            err_console.print(
                f"issued a new agency certificate for {organ_id} ({identity.name}), "
                f"serial {identity.serial:x}",
                soft_wrap=True,
                highlight=False,
            )
        signed = sign_envelope(package, identity)
        if output is not None:
            output.write_bytes(signed)
            return
    stdout = typer.get_binary_stream("stdout")
    stdout.write(signed)
    stdout.flush()


@app.command()
def verify(
    file: FileArgument,
    keys_dir: KeysOption,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Refuse legacy SHA-1 signatures instead of flagging them."),
    ] = False,
    expect: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Also require the package to come from (and be signed by) this OrganId.",
        ),
    ] = None,
) -> None:
    """Verify a package's envelope signature: chain to the CA, CRL, validity dates, OrganId.

    Exit 0 when valid.
    Exit 1 when the package is not, with one `error: <code>: <message>` line on stderr.
    Exit 2 when it could not be checked (no key store, unreadable file).
    """
    with reported_errors():
        package = _read(file)
        now = WallClock().now()
        trust = KeyStore(keys_dir).trust_store(at=now)
    with reported_errors(exit_code=EXIT_INVALID):
        result = verify_envelope(
            package, trust, at=now, allow_legacy_sha1=not strict, expected_organ_id=expect
        )
    _print_result(result)


def _print_result(result: EnvelopeVerification) -> None:
    signer = result.signer
    table = Table(title="Envelope signature: valid", show_header=False, title_justify="left")
    table.add_column("Field", style="bold")
    table.add_column("Value", overflow="fold")
    table.add_row("Signer", signer.common_name)
    table.add_row("OrganId", result.organ_id)
    table.add_row("Certificate", f"{signer.kind or 'unknown'}, serial {signer.serial:x}")
    table.add_row("Issued by", signer.issuer)
    table.add_row("Valid until", f"{signer.not_after:%Y-%m-%d %H:%M} UTC")
    table.add_row("Algorithm", f"{result.algorithm}, digest {result.digest_method.rsplit('#')[-1]}")
    legacy = "[yellow]yes: legacy SHA-1, accepted[/yellow]" if result.legacy_sha1 else "no"
    table.add_row("Legacy SHA-1", legacy)
    console.print(table)
    if result.legacy_sha1:
        err_console.print(
            "warning: legacy SHA-1 signature (use --strict to refuse it)", style="yellow"
        )
