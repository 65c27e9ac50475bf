"""The foundation showcase run by `lgsp-sim demo` until the exchange exists.

It walks one document through everything a real one carries: the PDF, the personal and the
agency PAdES signatures (Decree 30/2020), the edXML package, the envelope XMLDSig, the
recipient's checks, and a status package 03 back — then shows what the checks refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import edoc
import keys

SENDER = edoc.Organization(
    organ_id="000.00.00.H56",
    organ_name="UBND tỉnh Thanh Hóa",
    organization_in_charge="Ủy ban nhân dân tỉnh Thanh Hóa",
    organ_add="35 Đại lộ Lê Lợi, TP Thanh Hóa",
)
RECIPIENT = edoc.Organization(organ_id="000.00.00.G22", organ_name="Văn phòng Chính phủ")
SIGNER = ("Nguyễn Văn An", "Chủ tịch")
REVOKED_SIGNER = ("Lê Thị Bình", "Phó Chủ tịch")


@dataclass(frozen=True)
class Step:
    """One line of the showcase: what was done and what came out."""

    action: str
    outcome: str
    ok: bool


def run_showcase(data_dir: Path, *, at: datetime, report: Callable[[Step], None]) -> list[Step]:
    """Run the foundation showcase in ``data_dir`` and report each step as it completes."""
    steps: list[Step] = []

    def record(action: str, outcome: str, *, ok: bool = True) -> None:
        step = Step(action, outcome, ok)
        steps.append(step)
        report(step)

    store = keys.KeyStore(data_dir / "keys")
    if not store.initialised:
        store.init(at=at)
        record("create the mock Government CA", f"root and 2 sub-CAs in {store.directory}")
    else:
        record("reuse the mock Government CA", str(store.directory))
    agency = store.agency(SENDER.organ_id, name=SENDER.organ_name, at=at)
    person = store.person(SIGNER[0], organ_id=SENDER.organ_id, position=SIGNER[1], at=at)
    ministry = store.agency(RECIPIENT.organ_id, name=RECIPIENT.organ_name, at=at)
    record(
        "identities (issued on first use, then cached)",
        f"{agency.name}, {person.name}, {ministry.name}",
    )

    notation = "1234/UBND-VP"
    pdf = edoc.render_pdf(
        title="Về việc triển khai Kế hoạch chuyển đổi số năm 2022",
        body=(
            "Thực hiện Quyết định số 06/QĐ-TTg của Thủ tướng Chính phủ, Ủy ban nhân dân tỉnh "
            "Thanh Hóa báo cáo kết quả trao đổi văn bản điện tử giữa các cơ quan Đảng, chính "
            "quyền và đoàn thể ở ba cấp tỉnh, huyện, xã qua trục liên thông văn bản."
        ),
        issuer=SENDER.organ_name or SENDER.organ_id,
        notation=notation,
        at=at.date(),
    )
    pdf = keys.sign_pdf(pdf, person, at=at)
    pdf = keys.sign_pdf(pdf, agency, at=at)
    record("render the PDF, sign it: personal then agency (PAdES)", f"{len(pdf):,} bytes")

    package = edoc.build_document(
        edoc.DocumentHeader(
            from_=SENDER,
            to=[RECIPIENT],
            document_id=edoc.compose_document_id(SENDER.organ_id, at.date(), notation),
            code=edoc.Code(number="1234", notation="UBND-VP"),
            promulgation=edoc.PromulgationInfo(place="Thanh Hóa", date=at.date()),
            document_type=edoc.DocumentType(type="1", type_name="Công văn"),
            subject="Về việc triển khai Kế hoạch chuyển đổi số năm 2022",
            signer=edoc.SignerInfo(
                competence="TM. UBND tỉnh", position=SIGNER[1], full_name=SIGNER[0]
            ),
            due_date=_due(at.date()),
        ),
        attachments=[
            edoc.AttachmentFile(
                name=f"{notation.replace('/', '-')}.pdf", content_type="application/pdf", data=pdf
            )
        ],
    )
    signed = keys.sign_envelope(package, agency)
    (data_dir / "demo-document.edxml").write_bytes(signed)
    record(
        "build the edXML package, sign the envelope (XMLDSig)",
        f"{len(signed):,} bytes → {data_dir / 'demo-document.edxml'}",
    )

    trust = store.trust_store(at=at)
    verified = keys.verify_envelope(signed, trust, at=at)
    record(
        "recipient verifies the envelope",
        f"signed by {verified.signer.common_name} ({verified.signer.organ_id})",
    )
    assessment = keys.assess_package(signed, trust, at=at)
    record(
        "recipient checks the PDF signatures",
        f"personal: {assessment.personal.value}, agency: {assessment.agency.value}",
        ok=assessment.fully_signed,
    )

    tampered = signed.replace("chuyển đổi số".encode(), b"chuyen doi so", 1)
    record(
        "a tampered copy is refused", _refusal(lambda: keys.verify_envelope(tampered, trust, at=at))
    )
    unsigned_refusal = _refusal(lambda: keys.verify_envelope(package, trust, at=at))
    record("an unsigned copy is refused", unsigned_refusal)

    deputy = store.person(
        REVOKED_SIGNER[0], organ_id=SENDER.organ_id, position=REVOKED_SIGNER[1], at=at
    )
    by_deputy = keys.sign_pdf(
        edoc.render_pdf(
            title="Thông báo",
            body="Văn bản ký bởi chứng thư đã thu hồi.",
            issuer=SENDER.organ_name or "",
            at=at.date(),
        ),
        deputy,
        at=at,
    )
    store.revoke(f"{deputy.serial:x}", at=at, reason="keyCompromise")
    later = at + timedelta(minutes=1)
    revoked_check = keys.assess_pdf(
        by_deputy, store.trust_store(at=later), at=later, organ_id=SENDER.organ_id
    )
    problem = revoked_check.signatures[0].problem_code if revoked_check.signatures else None
    record(
        "a signature by a revoked certificate",
        f"personal: {revoked_check.personal.value} ({problem})",
    )

    status = edoc.build_status(
        edoc.reply_header(
            edoc.parse(signed),  # type: ignore[arg-type]
            from_=RECIPIENT,
            code=edoc.StatusCode("03"),
            description="Văn thư đã tiếp nhận, vào sổ văn bản đến",
            at=at,
        )
    )
    status_signed = keys.sign_envelope(status, ministry)
    answer = keys.verify_envelope(status_signed, trust, at=at)
    parsed = edoc.parse(status_signed)
    code = parsed.header.status_code if isinstance(parsed, edoc.StatusPackage) else "?"
    record(
        "the ministry answers with a signed status package",
        f"status {code} signed by {answer.signer.common_name}",
    )
    return steps


def _due(today: date) -> date:
    return today + timedelta(days=10)


def _refusal(check: Callable[[], object]) -> str:
    try:
        check()
    except keys.KeysError as error:
        return f"refused: {error.code}"
    except edoc.EdocError as error:
        return f"refused: {error.code}"
    return "ACCEPTED (this is a bug)"
