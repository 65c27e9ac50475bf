"""`lgsp-sim edxml`: inspect, create and answer edXML packages (QCVN 102:2016).

`inspect` prints a JSON summary of any package (``--validate`` adds the violations and
exits 1 when there are some); `new` writes a document package, `status` a status package
answering one. Packages go to stdout as bytes. `edxml sign` and `edxml verify` are added to
this group by ``edxml_signing.py``.
"""

from __future__ import annotations

import json
import mimetypes
import re
from pathlib import Path
from typing import Annotated

import typer

import edoc
from simtime import WallClock

from ._common import fail, reported_errors

app = typer.Typer(
    help="edXML packages (QCVN 102:2016): inspect, create, answer with a status.",
    no_args_is_help=True,
)

EXIT_VIOLATIONS = 1

FileArgument = Annotated[
    Path,
    typer.Argument(
        help="The edXML package; '-' reads standard input.", allow_dash=True, show_default=False
    ),
]


def _read(file: Path) -> bytes:
    if str(file) == "-":
        return typer.get_binary_stream("stdin").read()
    return file.read_bytes()


def _write(data: bytes) -> None:
    stdout = typer.get_binary_stream("stdout")
    stdout.write(data)
    stdout.flush()


def _organ_id(text: str) -> str:
    """Canonical agency code, or edoc's ``bad_organ_id`` error."""
    return str(edoc.parse_organ_id(text))


@app.command()
def inspect(
    file: FileArgument,
    validate: Annotated[
        bool,
        typer.Option("--validate", help="Add the violations of the standard; exit 1 if any."),
    ] = False,
) -> None:
    """Print a JSON summary of a document or status package.

    Header fields, business type, status code and meaning, attachments (name, type, size,
    SHA-256, or why they cannot be decoded), signatures found (not verified: see `verify`).
    """
    with reported_errors():
        package = edoc.parse(_read(file))
        summary = edoc.summarize(package, with_violations=validate)
    _write(json.dumps(summary, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
    if validate and summary["violations"]:
        raise typer.Exit(EXIT_VIOLATIONS)


@app.command()
def new(
    from_: Annotated[
        str, typer.Option("--from", help="OrganId of the sender, e.g. 000.00.00.H56.")
    ],
    to: Annotated[str, typer.Option("--to", help="OrganId(s) of the recipients, comma-separated.")],
    subject: Annotated[str, typer.Option("--subject", help="Subject (trích yếu).")],
    from_name: Annotated[
        str | None, typer.Option("--from-name", help="Sender name, e.g. 'UBND tỉnh Thanh Hóa'.")
    ] = None,
    code_number: Annotated[str, typer.Option("--code-number", help="Number (số).")] = "1",
    notation: Annotated[
        str, typer.Option("--notation", help="Notation (ký hiệu), e.g. UBND-VP.")
    ] = "VP",
    type_name: Annotated[
        str, typer.Option("--type-name", help="Document type name (tên loại văn bản).")
    ] = "Công văn",
    signer: Annotated[str | None, typer.Option("--signer", help="Signer's full name.")] = None,
    position: Annotated[str | None, typer.Option("--position", help="Signer's position.")] = None,
    due: Annotated[
        str | None, typer.Option("--due", help="Due date, yyyy/MM/dd (hạn xử lý).")
    ] = None,
    business: Annotated[
        int | None,
        typer.Option(
            "--business",
            min=0,
            max=3,
            help="Add a Bussiness block: 0 new, 1 revocation, 2 update, 3 replacement.",
        ),
    ] = None,
    business_doc_id: Annotated[
        str | None,
        typer.Option(
            "--business-doc-id",
            help="DocumentId the revocation/update/replacement concerns (default: this one).",
        ),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Reason of the business action.")
    ] = None,
    attach: Annotated[
        list[Path] | None,
        typer.Option("--attach", help="Attach a file (repeatable).", exists=True, dir_okay=False),
    ] = None,
    no_pdf: Annotated[
        bool, typer.Option("--no-pdf", help="Do not attach a rendered PDF of the document.")
    ] = False,
    content: Annotated[
        str | None, typer.Option("--content", help="Content (body text); default: the subject.")
    ] = None,
) -> None:
    """Write a new (unsigned) document package to stdout.

    By default it carries one attachment: the document rendered as a PDF. Sign it with
    `lgsp-sim edxml sign`.
    """
    with reported_errors():
        now = WallClock().now()
        today = edoc.vietnam_date(now)
        sender = edoc.Organization(organ_id=_organ_id(from_), organ_name=from_name)
        recipients = [
            edoc.Organization(organ_id=_organ_id(part)) for part in to.split(",") if part.strip()
        ]
        if not recipients:
            fail("missing_field", "--to needs at least one OrganId")
        code = edoc.Code(number=code_number, notation=notation)
        document_id = edoc.compose_document_id(sender.organ_id, today, code)
        header = edoc.DocumentHeader(
            from_=sender,
            to=recipients,
            document_id=document_id,
            code=code,
            promulgation=edoc.PromulgationInfo(date=today),
            document_type=edoc.DocumentType(type_name=type_name),
            subject=subject,
            content=content,
            signer=edoc.SignerInfo(position=position, full_name=signer)
            if signer or position
            else None,
            due_date=edoc.parse_date(due) if due else None,
        )
        files = []
        if not no_pdf:
            pdf = edoc.render_pdf(
                title=subject,
                body=content or subject,
                issuer=from_name or sender.organ_id,
                notation=str(code),
                at=today,
            )
            files.append(
                edoc.AttachmentFile(name=_pdf_name(code), content_type="application/pdf", data=pdf)
            )
        for path in attach or []:
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            files.append(
                edoc.AttachmentFile(name=path.name, content_type=kind, data=path.read_bytes())
            )
        block = (
            _business(
                edoc.BusinessDocType(business), business_doc_id or document_id, reason, recipients
            )
            if business is not None
            else None
        )
        package = edoc.build_document(
            header,
            attachments=files,
            traces=[edoc.TraceHeader(organ_id=sender.organ_id, timestamp=now)],
            business=block,
        )
    _write(package)


@app.command()
def status(
    reply_to: Annotated[
        Path,
        typer.Option(
            "--reply-to",
            help="The document package to answer ('-' for stdin).",
            allow_dash=True,
            dir_okay=False,
        ),
    ],
    code: Annotated[
        str,
        typer.Option(
            "--code",
            help="01 arrived, 02 rejected, 03 accepted, 04 assigned, 05 processing, "
            "06 completed, 13 recall asked, 15 recall agreed, 16 recall refused.",
        ),
    ],
    from_: Annotated[
        str | None,
        typer.Option("--from", help="OrganId answering (default: the document's first To)."),
    ] = None,
    description: Annotated[
        str | None,
        typer.Option("--description", help="Description (default: the code's meaning)."),
    ] = None,
) -> None:
    """Write a status package answering a document package to stdout."""
    with reported_errors():
        status_code = edoc.StatusCode.parse(code)
        document = edoc.parse(_read(reply_to))
        if not isinstance(document, edoc.DocumentPackage):
            fail("not_a_document", "--reply-to must be a document package, not a status package")
        sender = _responder(document, from_)
        header = edoc.reply_header(
            document,
            from_=sender,
            code=status_code,
            description=description or status_code.meaning_vi,
            at=WallClock().now(),
        )
        package = edoc.build_status(header)
    _write(package)


def _responder(document: edoc.DocumentPackage, organ_id: str | None) -> edoc.Organization:
    """The answering agency: a recipient of the document (its full block when listed)."""
    if organ_id is None:
        if not document.header.to:
            fail("missing_field", "the document has no To: say who answers with --from")
        return document.header.to[0]
    wanted = _organ_id(organ_id)
    for recipient in document.header.to:
        if recipient.organ_id == wanted:
            return recipient
    return edoc.Organization(organ_id=wanted)


def _business(
    doc_type: edoc.BusinessDocType,
    document_id: str,
    reason: str | None,
    recipients: list[edoc.Organization],
) -> edoc.Business:
    organ_ids = [r.organ_id for r in recipients]
    if doc_type == edoc.BusinessDocType.UPDATE:
        return edoc.Business(
            document_id=document_id,
            doc_type=doc_type,
            reason=reason,
            paper=0,
            document_info=1,
            document_receiver=1,
            receivers=[edoc.Receiver(organ_id=o, receiver_type=0) for o in organ_ids],
        )
    if doc_type == edoc.BusinessDocType.REPLACEMENT:
        return edoc.Business(
            document_id=document_id,
            doc_type=doc_type,
            reason=reason,
            paper=0,
            replacements=[edoc.Replacement(document_id=document_id, organ_ids=organ_ids)],
        )
    return edoc.Business(document_id=document_id, doc_type=doc_type, reason=reason, paper=0)


def _pdf_name(code: edoc.Code) -> str:
    # "7816/VPCP-TTĐT" → "7816-VPCP-TTĐT.pdf": no path separators in attachment names.
    stem = re.sub(r"[\\/:*?\"<>|\s]+", "-", str(code)).strip("-") or "document"
    return f"{stem}.pdf"
