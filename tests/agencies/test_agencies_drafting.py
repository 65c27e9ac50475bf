"""Drafting: real signatures that verify, flags that leave them out, tampering that breaks them."""

from __future__ import annotations

import datetime as dt

import pytest
from agencies_support import SO_NOI_VU, TINH_UY, UBND

import edoc
import keys
from agencies import (
    AgencyCard,
    DocumentSpec,
    Draft,
    agency_card,
    draft_document,
    draft_status,
)
from agencies.drafting import abbreviation_of, notation_of, tamper_pdf, vietnamese_name
from keys import KeyStore, SignatureState, TrustStore

UBND_NAME = "Ủy ban nhân dân tỉnh Thanh Hóa"
SNV_NAME = "Sở Nội vụ tỉnh Thanh Hóa"


@pytest.fixture(scope="module")
def sender() -> AgencyCard:
    return agency_card(UBND, name=UBND_NAME, block="government", place="Thanh Hóa")


@pytest.fixture(scope="module")
def identities(
    keystore: KeyStore, sender: AgencyCard, now: dt.datetime
) -> tuple[keys.Identity, keys.Identity]:
    person = keystore.person(
        sender.head.full_name, organ_id=UBND, position=sender.head.position, at=now
    )
    return person, keystore.agency(UBND, name=UBND_NAME, at=now)


def _spec(sender: AgencyCard, **overrides: object) -> DocumentSpec:
    recipient = agency_card(SO_NOI_VU, name=SNV_NAME, block="government").organization
    fields: dict[str, object] = {
        "sender": sender,
        "recipients": [recipient],
        "subject": "Về việc báo cáo công tác cải cách hành chính quý II",
        "content": "Đề nghị Sở Nội vụ tổng hợp, báo cáo.",
        "type_name": "Công văn",
        "due_days": 7,
    }
    fields.update(overrides)
    return DocumentSpec(**fields)  # type: ignore[arg-type]


Identities = tuple[keys.Identity, keys.Identity]


def _draft(
    sender: AgencyCard, identities: Identities, now: dt.datetime, **overrides: object
) -> Draft:
    person, agency = identities
    return draft_document(
        _spec(sender, **overrides), number=42, at=now, person=person, agency=agency
    )


def test_a_full_draft_verifies_and_carries_both_pdf_signatures(
    sender, identities, trust: TrustStore, now: dt.datetime
) -> None:
    draft = _draft(sender, identities, now)

    verified = keys.verify_envelope(draft.package, trust, at=now)
    assessment = keys.assess_package(draft.package, trust, at=now)
    package = edoc.parse(draft.package)

    assert verified.organ_id == UBND
    assert assessment.personal is SignatureState.VALID
    assert assessment.agency is SignatureState.VALID
    assert isinstance(package, edoc.DocumentPackage)
    header = package.header
    today = edoc.vietnam_date(now)
    assert header.document_id == draft.document_id == f"{UBND},{edoc.format_date(today)},42/UBND-VP"
    assert header.code == edoc.Code("42", "UBND-VP")
    assert header.due_date == today + dt.timedelta(days=7)
    assert header.to[0].organ_id == SO_NOI_VU and header.to[0].organ_name == SNV_NAME
    assert header.signer is not None and header.signer.position == "Chủ tịch"
    assert header.signer.full_name == sender.head.full_name
    assert header.document_type is not None and header.document_type.type_name == "Công văn"
    assert package.attachments[0].name == "42_UBND_VP.signed.pdf"
    assert edoc.validate(package) == []


@pytest.mark.parametrize(
    ("flags", "personal", "agency"),
    [
        ({"personal_signature": False}, SignatureState.ABSENT, SignatureState.VALID),
        ({"agency_signature": False}, SignatureState.VALID, SignatureState.ABSENT),
        (
            {"personal_signature": False, "agency_signature": False},
            SignatureState.ABSENT,
            SignatureState.ABSENT,
        ),
    ],
)
def test_flags_leave_signatures_out(
    sender, identities, trust, now, flags, personal, agency
) -> None:
    draft = _draft(sender, identities, now, **flags)

    assessment = keys.assess_package(draft.package, trust, at=now)

    assert (assessment.personal, assessment.agency) == (personal, agency)
    keys.verify_envelope(draft.package, trust, at=now)  # the envelope is still signed


def test_without_envelope_signature_the_package_is_unsigned(sender, identities, trust, now) -> None:
    draft = _draft(sender, identities, now, envelope_signature=False)

    with pytest.raises(keys.SignatureError) as caught:
        keys.verify_envelope(draft.package, trust, at=now)

    assert caught.value.code == "signature_missing"
    assert keys.assess_package(draft.package, trust, at=now).fully_signed


def test_tamper_breaks_the_envelope_signature_only(sender, identities, trust, now) -> None:
    draft = _draft(sender, identities, now, tamper=True)

    with pytest.raises(keys.SignatureError) as caught:
        keys.verify_envelope(draft.package, trust, at=now)

    assert caught.value.code == "signature_invalid"
    assert edoc.parse(draft.package).header.document_id == draft.document_id
    assert keys.assess_package(draft.package, trust, at=now).fully_signed


def test_tamper_without_envelope_breaks_the_pdf_signatures(sender, identities, trust, now) -> None:
    draft = _draft(sender, identities, now, tamper=True, envelope_signature=False)

    assessment = keys.assess_package(draft.package, trust, at=now)

    assert assessment.personal is SignatureState.INVALID
    assert assessment.agency is SignatureState.INVALID


def test_tamper_pdf_keeps_the_file_readable() -> None:
    pdf = edoc.render_pdf(title="T", body="B", issuer="I")

    changed = tamper_pdf(pdf)

    assert len(changed) == len(pdf)
    assert sum(a != b for a, b in zip(changed, pdf, strict=True)) == 1
    assert keys.verify_pdf(changed, keys.TrustStore(roots=[]), at=dt.datetime.now(dt.UTC)) == []


def test_a_signature_asked_for_needs_its_identity(sender, now) -> None:
    with pytest.raises(ValueError, match="personal"):
        draft_document(_spec(sender), number=1, at=now, person=None, agency=None)


def test_the_status_answer_is_signed_by_the_recipient_and_points_back(
    sender, identities, keystore, trust, now
) -> None:
    document = edoc.parse(_draft(sender, identities, now).package)
    assert isinstance(document, edoc.DocumentPackage)
    recipient = agency_card(SO_NOI_VU, name=SNV_NAME, block="government")
    identity = keystore.agency(SO_NOI_VU, name=SNV_NAME, at=now)

    data = draft_status(
        document, recipient=recipient, code=edoc.StatusCode.ACCEPTED, at=now, agency=identity
    )

    assert keys.verify_envelope(data, trust, at=now).organ_id == SO_NOI_VU
    status = edoc.parse(data)
    assert isinstance(status, edoc.StatusPackage)
    assert status.header.status_code is edoc.StatusCode.ACCEPTED
    assert status.header.response_for.organ_id == UBND
    assert status.header.response_for.document_id == document.header.document_id
    assert status.header.staff == recipient.clerk
    assert edoc.validate(status) == []


@pytest.mark.parametrize(
    ("organ_id", "name", "block", "position", "abbreviation"),
    [
        (UBND, UBND_NAME, "government", "Chủ tịch", "UBND"),
        (TINH_UY, "Tỉnh ủy Thanh Hóa", "party", "Bí thư", "TU"),
        ("000.01.50.H56", "Ban Chấp hành Đảng bộ huyện số 01", "party", "Bí thư", "HU"),
        ("001.10.50.H56", "Đảng ủy xã số 01, huyện số 01", "party", "Bí thư", "ĐU"),
        (SO_NOI_VU, SNV_NAME, "government", "Giám đốc", "SNV"),
        (
            "000.00.09.H56",
            "Sở Kế hoạch và Đầu tư tỉnh Thanh Hóa",
            "government",
            "Giám đốc",
            "SKHĐT",
        ),
        ("000.00.00.G22", "Văn phòng Chính phủ", "government", "Bộ trưởng, Chủ nhiệm", "VPCP"),
        ("000.00.00.G09", "Bộ Nội vụ", "government", "Bộ trưởng", "BNV"),
        ("000.01.49.H56", "Doanh nghiệp số 01 – tỉnh Thanh Hóa", "enterprise", "Giám đốc", "DN"),
        ("000.00.07.H56", "Hội Nông dân tỉnh Thanh Hóa", "mass", "Chủ tịch", "HND"),
    ],
)
def test_cards_derive_the_head_and_abbreviation_from_the_agency(
    organ_id: str, name: str, block: str, position: str, abbreviation: str
) -> None:
    card = agency_card(organ_id, name=name, block=block)

    assert card.head.position == position
    assert card.abbreviation == abbreviation == abbreviation_of(name)
    assert card.head == agency_card(organ_id, name=name, block=block).head  # deterministic
    assert len(card.head.full_name.split()) == 3


def test_names_are_deterministic_and_varied() -> None:
    names = {vietnamese_name(f"000.{n:02d}.50.H56|head") for n in range(40)}

    assert vietnamese_name("a") == vietnamese_name("a")
    assert len(names) > 30


def test_notations_follow_the_document_type() -> None:
    assert notation_of("Công văn", "UBND") == "UBND-VP"
    assert notation_of("Quyết định", "UBND") == "QĐ-UBND"
    assert notation_of("Kế hoạch", "SNV") == "KH-SNV"
