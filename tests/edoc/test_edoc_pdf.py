"""render_pdf(): a real PDF with Vietnamese text, DejaVu Sans embedded, signable by pyHanko."""

from __future__ import annotations

import io
import re
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers

import edoc

TITLE = "Về việc triển khai chữ ký số"
BODY = (
    "Kính gửi: Sở Thông tin và Truyền thông.\n"
    "Ủy ban nhân dân tỉnh đề nghị các cơ quan, đơn vị khẩn trương thực hiện ký số văn bản."
)
ISSUER = "UBND tỉnh Thanh Hóa"


def _render(**overrides: object) -> bytes:
    arguments: dict[str, object] = {
        "title": TITLE,
        "body": BODY,
        "issuer": ISSUER,
        "notation": "123/UBND-VP",
        "at": date(2024, 5, 2),
    }
    arguments.update(overrides)
    return edoc.render_pdf(**arguments)  # type: ignore[arg-type]


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
    return " ".join(done.stdout.decode("utf-8").split())


def test_a_pdf_with_the_font_embedded() -> None:
    pdf = _render()
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert re.search(rb"/BaseFont\s*/[A-Z]{6}\+DejaVuSans", pdf)
    assert b"/FontFile2" in pdf  # the TrueType program itself is embedded


def test_vietnamese_text_comes_back_out(tmp_path: Path) -> None:
    text = _text(_render(), tmp_path)
    for expected in [
        "UBND TỈNH THANH HÓA",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Số: 123/UBND-VP",
        "Ngày 02 tháng 05 năm 2024",
        "VỀ VIỆC TRIỂN KHAI CHỮ KÝ SỐ",
        "Ủy ban nhân dân tỉnh đề nghị các cơ quan, đơn vị khẩn trương thực hiện ký số văn bản.",
    ]:
        assert expected in text


def test_decomposed_input_is_normalised(tmp_path: Path) -> None:
    import unicodedata

    pdf = _render(body=unicodedata.normalize("NFD", "Hạnh phúc ở Thừa Thiên Huế"))
    assert "Hạnh phúc ở Thừa Thiên Huế" in _text(pdf, tmp_path)


def test_successive_documents_do_not_share_font_state(tmp_path: Path) -> None:
    # The parsed font is reused across documents: each must still embed its own glyphs.
    first = _render(body="Quảng Ninh", title="Một")
    second = _render(body="Đắk Lắk ₫ № “ngoặc”", title="Hai")
    assert "Quảng Ninh" in _text(first, tmp_path)
    text = _text(second, tmp_path)
    assert "Đắk Lắk ₫ № “ngoặc”" in text
    assert "Quảng Ninh" not in text


def test_characters_outside_the_font_become_question_marks(tmp_path: Path) -> None:
    assert "Hà Nội ? ?" in _text(_render(body="Hà Nội 漢 🙂\x00"), tmp_path)


def test_same_inputs_same_bytes() -> None:
    assert _render() == _render()
    assert _render(at=None) == _render(at=None)
    assert _render(at=date(2024, 5, 3)) != _render()


def test_creation_date_and_metadata_come_from_the_inputs() -> None:
    pdf = _render()
    assert b"/CreationDate (D:20240502000000+07'00')" in pdf
    reader = PdfFileReader(io.BytesIO(pdf))
    info = reader.trailer["/Info"]
    assert str(info["/Title"]) == TITLE
    assert str(info["/Author"]) == ISSUER


def test_long_bodies_flow_onto_more_pages() -> None:
    short = PdfFileReader(io.BytesIO(_render()))
    assert int(short.root["/Pages"]["/Count"]) == 1
    long_body = "\n".join(["Điều khoản thi hành của văn bản này. " * 8] * 40)
    long = PdfFileReader(io.BytesIO(_render(body=long_body)))
    assert int(long.root["/Pages"]["/Count"]) >= 2


def test_very_long_words_are_cut_to_fit(tmp_path: Path) -> None:
    word = "Nghiêngnghiêng" * 20
    assert word[:20] in _text(_render(body=word), tmp_path).replace(" ", "")


def test_rendering_is_fast() -> None:
    _render()  # the first call cuts and parses the font
    started = time.perf_counter()
    for _ in range(5):
        _render()
    assert (time.perf_counter() - started) / 5 < 0.1


def _self_signed(tmp_path: Path) -> signers.SimpleSigner:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Thử nghiệm")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = tmp_path / "key.pem", tmp_path / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    signer = signers.SimpleSigner.load(str(key_path), str(cert_path))  # type: ignore[no-untyped-call]
    assert isinstance(signer, signers.SimpleSigner)
    return signer


def test_pyhanko_can_sign_it(tmp_path: Path) -> None:
    pdf = _render()
    reader = PdfFileReader(io.BytesIO(pdf))
    assert not reader.encrypted
    assert reader.embedded_signatures == []
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    signed = signers.sign_pdf(
        writer,
        signers.PdfSignatureMetadata(field_name="ChuKyCaNhan"),
        signer=_self_signed(tmp_path),
    )
    data = signed.getvalue()
    assert data.startswith(pdf)  # an incremental update: the original bytes are untouched
    (signature,) = PdfFileReader(io.BytesIO(data)).embedded_signatures
    assert signature.field_name == "ChuKyCaNhan"


@pytest.mark.parametrize("at", [None, date(2025, 1, 1)])
def test_notation_and_date_are_optional(at: date | None, tmp_path: Path) -> None:
    text = _text(_render(notation=None, at=at), tmp_path)
    assert "Số:" not in text
    assert ("Ngày 01 tháng 01 năm 2025" in text) is (at is not None)
