"""A small PDF renderer for document bodies, laid out like a Vietnamese administrative text.

fpdf2 re-reads the whole TrueType font for every document and lays text out slowly
(about 70 ms a page). Here DejaVu Sans is cut once per process to the Latin/Vietnamese
repertoire, its parsed metrics are reused, and lines are wrapped by hand: a one-page PDF
takes about 10 ms, most of it fpdf2 subsetting the embedded font. The output is plain (not
encrypted, no signature): pyHanko can add the PAdES signatures afterwards. Same inputs
give the same bytes.
"""

from __future__ import annotations

import copy
import datetime as _dt
import io
import unicodedata
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from fontTools import subset as ft_subset
from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

from simtime import VIETNAM_TZ

from ._errors import EdocError

FONT_PATHS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),  # Debian: fonts-dejavu-core
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),  # Fedora, Alpine
)
_FAMILY = "dejavu"
# Latin-1, Latin Extended-A, Ơ ơ Ư ư, combining marks, the Vietnamese precomposed letters
# (Latin Extended Additional), punctuation, ₫ €, №. A small cut keeps fontTools' per-document
# work small; characters outside it are drawn as "?".
_REPERTOIRE = (
    (0x20, 0x7E),
    (0xA0, 0x17F),
    (0x1A0, 0x1B0),
    (0x300, 0x323),
    (0x1EA0, 0x1EF9),
    (0x2010, 0x2026),
    (0x2030, 0x203A),
    (0x20AB, 0x20AC),
    (0x2116, 0x2116),
)
# When `at` is not given, a fixed creation date keeps the output deterministic.
_UNDATED = _dt.datetime(2000, 1, 1, tzinfo=VIETNAM_TZ)

_PAGE_W, _PAGE_H = 210.0, 297.0
_LEFT, _RIGHT, _TOP, _BOTTOM = 25.0, 15.0, 20.0, 20.0
_WIDTH = _PAGE_W - _LEFT - _RIGHT
_LEFT_COL = 75.0  # issuer block (tên cơ quan, số ký hiệu)
_RIGHT_COL_X = _LEFT + _LEFT_COL + 5.0  # national motto block (quốc hiệu, tiêu ngữ)
_RIGHT_COL = _PAGE_W - _RIGHT - _RIGHT_COL_X
_PT = 25.4 / 72.0


def render_pdf(
    *,
    title: str,
    body: str,
    issuer: str,
    notation: str | None = None,
    at: _dt.date | None = None,
) -> bytes:
    """Render a document body as a PDF (A4, DejaVu Sans embedded, Vietnamese text)."""
    page = _Page()
    pdf = page.pdf
    pdf.set_title(_clean(title))
    pdf.set_author(_clean(issuer))
    if notation:
        pdf.set_subject(_clean(notation))
    pdf.set_creator("lgsp-sim")
    pdf.set_lang("vi")
    pdf.set_creation_date(
        _dt.datetime.combine(at, _dt.time(), tzinfo=VIETNAM_TZ) if at is not None else _UNDATED
    )

    top = page.y
    page.block(_clean(issuer).upper(), x=_LEFT, width=_LEFT_COL, size=11, align="C")
    page.rule(_LEFT + _LEFT_COL / 2 - 12, 24)
    if notation:
        page.block(f"Số: {_clean(notation)}", x=_LEFT, width=_LEFT_COL, size=11, align="C")
    left_end = page.y
    page.y = top
    page.block(
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        x=_RIGHT_COL_X,
        width=_RIGHT_COL,
        size=10.5,
        align="C",
    )
    page.block("Độc lập - Tự do - Hạnh phúc", x=_RIGHT_COL_X, width=_RIGHT_COL, size=11, align="C")
    page.rule(_RIGHT_COL_X + _RIGHT_COL / 2 - 25, 50)
    if at is not None:
        page.block(
            f"Ngày {at.day:02d} tháng {at.month:02d} năm {at.year}",
            x=_RIGHT_COL_X,
            width=_RIGHT_COL,
            size=11,
            align="C",
        )
    page.y = max(page.y, left_end) + 10

    page.block(_clean(title).upper(), x=_LEFT, width=_WIDTH, size=14, align="C")
    page.y += 6
    for paragraph in _clean(body, keep_newlines=True).split("\n"):
        page.block(paragraph, x=_LEFT, width=_WIDTH, size=12, align="L", leading=1.45)
        page.y += 1.5
    page.y += 8
    page.block(_clean(issuer).upper(), x=_RIGHT_COL_X, width=_RIGHT_COL, size=11, align="C")
    return bytes(pdf.output())


class _Page:
    """Minimal line layout: wrap on words, measure each word once, break pages by hand
    (fpdf2's multi_cell re-measures the whole line per character)."""

    def __init__(self) -> None:
        self.pdf = _new_fpdf()
        self.pdf.set_auto_page_break(False)
        self.pdf.set_margins(_LEFT, _TOP, _RIGHT)
        self.pdf.add_page()
        self.y = _TOP

    def block(
        self, text: str, *, x: float, width: float, size: float, align: str, leading: float = 1.3
    ) -> None:
        pdf = self.pdf
        pdf.set_font(_FAMILY, size=size)
        height = size * _PT * leading
        for line, line_width in self._wrap(text, width, size):
            if self.y + height > _PAGE_H - _BOTTOM:
                pdf.add_page()
                self.y = _TOP
            offset = (width - line_width) / 2 if align == "C" else 0.0
            self.y += height
            if line:
                pdf.text(x + offset, self.y - height * 0.25, line)

    def rule(self, x: float, length: float) -> None:
        self.y += 1.0
        self.pdf.set_line_width(0.3)
        self.pdf.line(x, self.y, x + length, self.y)
        self.y += 1.0

    def _wrap(self, text: str, width: float, size: float) -> Iterator[tuple[str, float]]:
        # Widths straight from the font's metrics (1/1000 em): fpdf2's get_string_width
        # copies its graphics state on every call.
        widths: dict[int, float] = _font()[1].cw
        scale = size * _PT / 1000.0

        def measure(chunk: str) -> float:
            return sum(widths[ord(char)] for char in chunk) * scale

        space = measure(" ")
        line: list[str] = []
        line_width = 0.0
        for word in text.split():
            word_width = measure(word)
            while word_width > width:  # a word longer than the line: cut it
                if line:
                    yield " ".join(line), line_width
                    line, line_width = [], 0.0
                cut = _fit(word, width, measure)
                yield word[:cut], measure(word[:cut])
                word = word[cut:]
                word_width = measure(word)
            if line and line_width + space + word_width > width:
                yield " ".join(line), line_width
                line, line_width = [], 0.0
            line_width += (space if line else 0.0) + word_width
            line.append(word)
        yield " ".join(line), line_width


def _fit(word: str, width: float, measure: Callable[[str], float]) -> int:
    cut = len(word)
    while cut > 1 and measure(word[:cut]) > width:
        cut -= 1
    return cut


def _clean(text: str, *, keep_newlines: bool = False) -> str:
    """NFC (precomposed Vietnamese letters), no control characters, glyphs DejaVu has."""
    cmap = _font()[1].cmap
    out = []
    for char in unicodedata.normalize("NFC", text):
        if char == "\n" and keep_newlines:
            out.append(char)
        elif char in "\t\r\n\v\f":
            out.append(" ")
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs"):
            continue
        else:
            out.append(char if ord(char) in cmap else "?")
    return "".join(out)


def _font_path() -> Path:
    for path in FONT_PATHS:
        if path.is_file():
            return path
    raise EdocError(
        "pdf_font_missing",
        "DejaVuSans.ttf was not found; install the Debian package fonts-dejavu-core",
    )


@cache
def _font() -> tuple[bytes, Any]:
    """The DejaVu Sans cut to our repertoire (bytes), and fpdf2's parsed font for it."""
    font = ttLib.TTFont(str(_font_path()), recalcTimestamp=False)
    options = ft_subset.Options()
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.layout_features = []
    options.hinting = False
    options.recalc_timestamp = False
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "FFTM", "MATH"]
    subsetter = ft_subset.Subsetter(options)
    subsetter.populate(unicodes=[c for low, high in _REPERTOIRE for c in range(low, high + 1)])
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.save(buffer)
    data = buffer.getvalue()
    # TTFFont reads any file object although its annotation says Path.
    template = TTFFont(FPDF(), io.BytesIO(data), _FAMILY, "")  # type: ignore[arg-type]
    return data, template


def _load_cut(data: bytes) -> Any:
    # Bounding boxes were computed when the cut was made: without recomputing them,
    # fontTools copies the glyph records as they are instead of re-encoding each outline.
    font = ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False, recalcBBoxes=False, lazy=True)
    font.cfg[ttLib.OPTIMIZE_FONT_SPEED] = True
    return font


def _new_fpdf() -> FPDF:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    data, template = _font()
    try:
        # Reuse the parsed metrics; give the copy its own per-document state (fpdf2
        # subsets `ttfont` in place when writing, and records used glyphs in `subset`).
        font = copy.copy(template)
        font.ttfont = _load_cut(data)
        font.i = 1
        font.subset = SubsetMap(font)
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font._hbfont = None
        pdf.fonts[_FAMILY] = font
    except (AttributeError, TypeError):  # fpdf2 internals moved: take the slow public path
        pdf.add_font(_FAMILY, fname=str(_font_path()))
    return pdf
