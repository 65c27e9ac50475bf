"""Shared data of the edoc tests: the public samples and a fully populated header."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import edoc
from simtime import VIETNAM_TZ

# Byte-exact copies of the public SDK samples (shared/samples/edxml): the parser must read them.
SAMPLES = Path(__file__).parent / "samples"
SAMPLE_NAMES = sorted(p.name for p in SAMPLES.glob("*.edxml"))
STATUS_SAMPLES = {
    "status_inbox_01.edxml": "01",
    "status_rejection_02.edxml": "02",
    "status_acceptance_03.edxml": "03",
    "status_assignment_04.edxml": "04",
    "status_processing_05.edxml": "05",
    "status_finish_06.edxml": "06",
}
AT = datetime(2024, 5, 2, 9, 30, 15, tzinfo=VIETNAM_TZ)


def sample(name: str) -> bytes:
    """Bytes of one public sample package."""
    return (SAMPLES / name).read_bytes()


def full_header() -> edoc.DocumentHeader:
    """A document header with every field the model knows set."""
    return edoc.DocumentHeader(
        from_=edoc.Organization(
            organ_id="000.00.00.H56",
            organization_in_charge="UBND tỉnh Thanh Hóa",
            organ_name="Văn phòng UBND tỉnh Thanh Hóa",
            organ_add="35 Đại lộ Lê Lợi, TP Thanh Hóa",
            email="vanphong@thanhhoa.gov.vn",
            telephone="0237 3852 000",
            fax="0237 3852 001",
            website="thanhhoa.gov.vn",
        ),
        to=[
            edoc.Organization(organ_id="000.00.00.G22", organ_name="Văn phòng Chính phủ"),
            edoc.Organization(organ_id="000.00.00.H41", organ_name="UBND tỉnh Nghệ An"),
        ],
        document_id="000.00.00.H56,2024/05/02,1234/UBND-VP",
        code=edoc.Code(number="1234", notation="UBND-VP"),
        promulgation=edoc.PromulgationInfo(place="Thanh Hóa", date=date(2024, 5, 2)),
        document_type=edoc.DocumentType(type="1", type_detail="0", type_name="Công văn"),
        subject="V/v triển khai chữ ký số trong văn bản điện tử",
        content="Ủy ban nhân dân tỉnh đề nghị các cơ quan triển khai ký số.",
        signer=edoc.SignerInfo(
            competence="KT. CHỦ TỊCH", position="Phó Chủ tịch", full_name="Lê Văn A"
        ),
        due_date=date(2024, 6, 30),
        to_places=["Như trên", "Lưu: VT"],
        other=edoc.OtherInfo(
            priority=1,
            sphere_of_promulgation="Liên thông văn bản quốc gia",
            typer_notation="TVC",
            promulgation_amount=3,
            page_amount=2,
            direction=False,
            appendixes=["Phụ lục I", "Phụ lục II"],
        ),
        response_for=edoc.ResponseFor(
            organ_id="000.00.00.G22",
            code="7816/VPCP-TTĐT",
            promulgation_date=date(2015, 9, 30),
            document_id="000.00.00.G22,2015/09/30,7816/VPCP-TTĐT",
        ),
        steering_type="1",
    )


def pdf_file(content_id: str = "cid:5a1c2e7e-0000-4000-8000-000000000001") -> edoc.AttachmentFile:
    """A small fake PDF attachment with a fixed ContentId."""
    return edoc.AttachmentFile(
        name="1234-UBND-VP.pdf",
        content_type="application/pdf",
        data=b"%PDF-1.4\n% fake body\n%%EOF\n",
        description="Văn bản chính",
        content_id=content_id,
    )
