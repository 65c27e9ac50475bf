"""`lgsp-sim pdf`: PAdES signatures on PDFs, personal then agency (Decree 30/2020)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from keys import (
    Identity,
    KeyStore,
    PdfSignature,
    SignatureState,
    SigningAssessment,
    sign_pdf,
    verify_pdf,
)
from simtime import WallClock

from ._common import console, fail, reported_errors

app = typer.Typer(
    name="pdf",
    help=(
        "Sign PDFs with PAdES signatures and verify them. Decree 30/2020 asks for two: the "
        "[bold]personal[/bold] signature of the official with signing authority, then the "
        "[bold]agency[/bold] signature of the issuing body."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)

DEFAULT_POSITION = "Thủ trưởng cơ quan"
EXIT_NOT_FULLY_SIGNED = 1

KeysOption = Annotated[
    Path,
    typer.Option(
        "--keys", help="Key-store directory (made by `lgsp-sim keys init`).", show_default=False
    ),
]
AtOption = Annotated[
    datetime | None,
    typer.Option(
        "--at",
        help="Time to sign / verify at (ISO 8601, UTC when no offset is given). Default: now.",
        metavar="DATETIME",
        formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
    ),
]


def _moment(at: datetime | None) -> datetime:
    now = WallClock().now()
    if at is None:
        return now
    return at.replace(tzinfo=now.tzinfo) if at.tzinfo is None else at


@app.command("sign")
def sign(
    file: Annotated[
        Path, typer.Argument(help="The PDF to sign (unsigned or signed).", show_default=False)
    ],
    keys_dir: KeysOption,
    agency: Annotated[
        str,
        typer.Option(
            "--agency",
            help="OrganId of the issuing agency (e.g. 000.00.00.H56). Alone: sign with the "
            "agency's certificate; with --person: the official belongs to this agency.",
            show_default=False,
        ),
    ],
    person: Annotated[
        str | None,
        typer.Option("--person", help="Full name of the official: makes the personal signature."),
    ] = None,
    position: Annotated[
        str,
        typer.Option(
            "--position", help="The official's position, used when issuing the certificate."
        ),
    ] = DEFAULT_POSITION,
    agency_name: Annotated[
        str | None,
        typer.Option("--agency-name", help="The agency's name, used when issuing its certificate."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Where to write the signed PDF. Default: FILE.signed.pdf."
        ),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Reason written into the signature.")
    ] = None,
    location: Annotated[str | None, typer.Option("--location", help="Place of signing.")] = None,
    at: AtOption = None,
) -> None:
    """Append a personal (--person) or an agency signature; certificates are issued on first use.

    Sign twice for a complete document, first the official, then the agency:

    [cyan]lgsp-sim pdf sign cv.pdf --keys ks --agency 000.00.00.H56 --person "Lê An" -o 1.pdf[/cyan]

    [cyan]lgsp-sim pdf sign 1.pdf --keys ks --agency 000.00.00.H56 -o 2.pdf[/cyan]
    """
    moment = _moment(at)
    if person is not None and not person.strip():
        fail("invalid_name", "--person needs the official's full name")
    store = KeyStore(keys_dir)
    with reported_errors():
        signer: Identity
        if person is not None:
            signer = store.person(person, organ_id=agency, position=position, at=moment)
        else:
            signer = store.agency(agency, name=agency_name, at=moment)
        signed = sign_pdf(file.read_bytes(), signer, at=moment, reason=reason, location=location)
        target = out or file.with_name(f"{file.stem}.signed.pdf")
        target.write_bytes(signed)
    role = "personal" if person is not None else "agency"
    line = Text.assemble(
        ("signed", "green"), f" ({role}) by ", (signer.name, "bold"),
        f" ({signer.organ_id}) → {target}",
    )  # fmt: skip
    console.print(line)


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="The signed PDF.", show_default=False)],
    keys_dir: KeysOption,
    organ: Annotated[
        str | None,
        typer.Option(
            "--organ",
            help="OrganId of the issuing agency: a personal or agency signature counts only when "
            "its certificate belongs to it. Without it, any agency's certificates count.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    at: AtOption = None,
) -> None:
    """List the PDF's signatures and say whether the personal and agency signatures are valid.

    Exit code 0 when both are valid, 1 when not, 2 on an error (no key store, not a PDF).
    """
    moment = _moment(at)
    with reported_errors():
        # CRLs about to lapse are re-published as of the real clock (what the mock CA does);
        # the signatures are judged as of --at.
        trust = KeyStore(keys_dir).trust_store(at=WallClock().now())
        # verify_pdf rather than assess_pdf: an unreadable file is an error here, not a verdict.
        signatures = verify_pdf(file.read_bytes(), trust, at=moment)
    assessment = SigningAssessment.of(signatures, organ_id=organ)
    if as_json:
        typer.echo(json.dumps(_assessment_json(assessment), ensure_ascii=False, indent=2))
    else:
        _print_assessment(assessment)
    raise typer.Exit(0 if assessment.fully_signed else EXIT_NOT_FULLY_SIGNED)


_STATE_STYLE = {
    SignatureState.VALID: "green",
    SignatureState.INVALID: "red",
    SignatureState.ABSENT: "yellow",
}


def _state(state: SignatureState) -> Text:
    return Text(state.value, style=_STATE_STYLE[state])


def _print_assessment(assessment: SigningAssessment) -> None:
    wide = console.width >= 110  # the signing time only fits on a wide terminal
    table = Table(title="PDF signatures")
    headers = ["field", "role", "signer", "OrganId", *(["signed at (UTC)"] if wide else [])]
    for header in [*headers, "state"]:
        table.add_column(header, no_wrap=header != "signer")
    table.add_column("problem", overflow="fold", min_width=10)
    for s in assessment.signatures:
        signer = s.signer.common_name if s.signer is not None else "?"
        if s.signer is not None and s.signer.title:
            signer = f"{signer} ({s.signer.title})"
        signed_at = f"{s.signing_time:%Y-%m-%d %H:%M}" if s.signing_time else "-"
        table.add_row(
            Text(s.field_name),
            s.role.value if s.role is not None else "-",
            Text(signer),
            Text(s.organ_id or "-"),
            *([signed_at] if wide else []),
            _state(s.state),
            s.problem_code or "",
        )
    if assessment.signatures:
        console.print(table)
    else:
        console.print("no signatures in this PDF")
    for problem in assessment.problems:
        console.print(Text.assemble(("problem: ", "red"), problem))
    console.print(
        Text.assemble(
            "personal: ", _state(assessment.personal), ", agency: ", _state(assessment.agency)
        )
    )


def _signature_json(s: PdfSignature) -> dict[str, Any]:
    info = s.signer
    return {
        "field": s.field_name,
        "role": s.role.value if s.role is not None else None,
        "state": s.state.value,
        "signer": info.common_name if info is not None else None,
        "title": info.title if info is not None else None,
        "kind": info.kind.value if info is not None and info.kind is not None else None,
        "serial": f"{info.serial:x}" if info is not None else None,
        "organ_id": s.organ_id,
        "signing_time": s.signing_time.isoformat() if s.signing_time else None,
        "intact": s.intact,
        "trusted": s.trusted,
        "coverage": s.coverage.value,
        "problem_code": s.problem_code,
        "problem": s.problem,
    }


def _assessment_json(assessment: SigningAssessment) -> dict[str, Any]:
    return {
        "personal": assessment.personal.value,
        "agency": assessment.agency.value,
        "signatures": [_signature_json(s) for s in assessment.signatures],
        "problems": list(assessment.problems),
    }
