"""Page flow: paragraphs and ruled tables on A4 pages, and the truth of every table cell.

Tables are drawn as real reports draw them: every cell ruled, text centred vertically
(so a figure's baseline is not its label's when the label wraps), header cells spanning
rows and columns and wrapping over several lines, long names wrapped inside their cell,
wide tables on landscape pages, a table that does not fit continued on the next page
with or without its header repeated. Each drawn cell is recorded (page, grid position,
box, text as printed) for the cell-truth file.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pymupdf

from extractor.testing.synth.style import Style
from extractor.testing.synth.tables import TableSpec

_pymupdf: Any = pymupdf  # untyped library
PORTRAIT = (595.0, 842.0)
LANDSCAPE = (842.0, 595.0)
MARGIN = 54.0
CJK, LATIN = "cjk", "lat"
_TOKEN = re.compile(r"[A-Za-z0-9.,%()\-+/]+|\s+|.", re.S)
_LATIN_FONTS = {"tiro": "tiro", "helv": "helv"}


@lru_cache(maxsize=4)
def font(name: str) -> Any:
    """A PyMuPDF built-in font, embedded from its buffer (referenced by name, the CJK font
    draws every digit one em wide)."""
    return _pymupdf.Font(name)


@dataclass
class Fonts:
    """CJK text in Droid Sans Fallback (``china-s``); digits and Latin letters in the
    style's Latin font, as Chinese office documents set them."""

    digit_font: str

    def runs(self, text: str) -> list[tuple[str, str]]:
        if self.digit_font == "cjk":
            return [(CJK, text)]
        out: list[tuple[str, str]] = []
        for ch in text:
            kind = LATIN if ord(ch) < 128 else CJK
            if out and out[-1][0] == kind:
                out[-1] = (kind, out[-1][1] + ch)
            else:
                out.append((kind, ch))
        return out

    def width(self, text: str, size: float) -> float:
        return sum(_width(self._name(kind), run, size) for kind, run in self.runs(text))

    def _name(self, kind: str) -> str:
        return "china-s" if kind == CJK else _LATIN_FONTS[self.digit_font]


@lru_cache(maxsize=200_000)
def _width(name: str, text: str, size: float) -> float:
    return float(font(name).text_length(text, fontsize=size))


@dataclass
class TextOp:
    x: float
    y: float
    text: str
    size: float


@dataclass
class PageOut:
    width: float
    height: float
    texts: list[TextOp] = field(default_factory=list)
    rules: list[tuple[float, float, float, float]] = field(default_factory=list)


@dataclass
class CellTruth:
    page: int
    row: int
    col: int
    text: str
    bbox: tuple[float, float, float, float]
    row_span: int = 1
    col_span: int = 1
    is_header: bool = False
    repeat: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "page": self.page,
            "row": self.row,
            "col": self.col,
            "text": self.text,
            "bbox": [round(v, 2) for v in self.bbox],
        }
        if self.row_span != 1 or self.col_span != 1:
            out["row_span"], out["col_span"] = self.row_span, self.col_span
        if self.is_header:
            out["is_header"] = True
        if self.repeat:
            out["repeat"] = True
        return out


@dataclass
class TableTruth:
    spec: TableSpec
    unit: str
    pages: list[int] = field(default_factory=list)
    cells: list[CellTruth] = field(default_factory=list)


def wrap(fonts: Fonts, text: str, size: float, width: float) -> list[str]:
    """Greedy line breaking that never splits a number or a Latin word."""
    lines: list[str] = []
    current = ""
    for token in _TOKEN.findall(text):
        candidate = current + token
        if current and fonts.width(candidate, size) > width:
            lines.append(current.rstrip())
            current = token.lstrip()
        else:
            current = candidate
    if current.strip() or not lines:
        lines.append(current.rstrip())
    return lines


class Layout:
    """Flows a report onto pages; :attr:`pages` and :attr:`tables` are the result."""

    def __init__(self, style: Style, rng: random.Random) -> None:
        self.style = style
        self.rng = rng
        self.fonts = Fonts(style.digit_font)
        self.pages: list[PageOut] = []
        self.tables: list[TableTruth] = []
        self.y = MARGIN
        self.new_page(PORTRAIT)

    # ------------------------------------------------------------------ pages and text

    @property
    def page(self) -> PageOut:
        return self.pages[-1]

    def new_page(self, size: tuple[float, float] | None = None) -> None:
        w, h = size or (self.page.width, self.page.height)
        self.pages.append(PageOut(w, h))
        self.y = MARGIN

    def ensure(self, height: float, size: tuple[float, float] | None = None) -> None:
        """Start a new page when ``height`` does not fit or the orientation must change."""
        wrong = size is not None and (self.page.width, self.page.height) != size
        if wrong or self.y + height > self.page.height - MARGIN:
            if self.y == MARGIN and not self.page.texts and not self.page.rules and size:
                self.page.width, self.page.height = size
            else:
                self.new_page(size)

    def text(self, x: float, y: float, text: str, size: float) -> None:
        self.page.texts.append(TextOp(x, y, text, size))

    def paragraph(
        self,
        text: str,
        *,
        size: float | None = None,
        indent: bool = True,
        align: str = "left",
        gap: float = 0.35,
    ) -> None:
        """Running text (wrapped, first line indented two characters) or a heading."""
        if self.page.width > self.page.height:
            self.new_page(PORTRAIT)
        size = size or self.style.body_pt
        leading = size * 1.7
        width = self.page.width - 2 * MARGIN
        first = size * 2 if indent else 0.0
        lines = wrap(self.fonts, text, size, width - first)
        if len(lines) > 1:
            rest = wrap(self.fonts, text[len(lines[0]) :].lstrip(), size, width)
            lines = [lines[0], *rest]
        for i, line in enumerate(lines):
            self.ensure(leading)
            w = self.fonts.width(line, size)
            x = MARGIN + (first if i == 0 else 0.0)
            if align == "center":
                x = (self.page.width - w) / 2
            elif align == "right":
                x = self.page.width - MARGIN - w
            self.text(x, self.y + size, line, size)
            self.y += leading
        self.y += size * gap

    def skip(self, points: float) -> None:
        self.y += points

    # ------------------------------------------------------------------ tables

    def _widths(self, spec: TableSpec, size: float, avail: float) -> list[float] | None:
        """Column widths that fit ``avail``, or ``None`` when they cannot at this size."""
        pad = self.style.cell_pad
        natural, minimum = [], []
        for c, kind in enumerate(spec.kinds):
            texts = [row[c] for row in spec.body if c < len(row)]
            widest = max((self.fonts.width(t, size) for t in texts), default=0.0)
            heads = [h.text for h in spec.header if h.col == c and h.col_span == 1]
            head_need = max(
                (self.fonts.width(h, size) / (3 if len(h) > 4 else 1) for h in heads), default=0.0
            )
            if kind in {"name", "label"}:
                cap = size * self.rng.uniform(8, 15)
                natural.append(max(min(widest, cap), head_need, size * 4) + 2 * pad)
                minimum.append(max(size * 4.5, head_need) + 2 * pad)
            else:
                need = max(widest, head_need, size * 1.5) + 2 * pad
                natural.append(need)
                minimum.append(need)
        if sum(minimum) > avail:
            return None
        if sum(natural) > avail:  # squeeze the name columns: their text wraps
            spare = avail - sum(minimum)
            grow = [n - m for n, m in zip(natural, minimum, strict=True)]
            return [m + spare * g / (sum(grow) or 1) for m, g in zip(minimum, grow, strict=True)]
        jitter = [1 + self.rng.uniform(0, self.style.width_jitter) for _ in natural]
        extra = avail - sum(natural)
        if self.rng.random() < 0.3:  # some tables do not span the page
            extra *= self.rng.uniform(0.2, 0.8)
        weights = [n * j for n, j in zip(natural, jitter, strict=True)]
        return [n + extra * w / sum(weights) for n, w in zip(natural, weights, strict=True)]

    def _fit(self, spec: TableSpec) -> tuple[tuple[float, float], float, list[float]]:
        """Orientation, font size and column widths for a table."""
        size = self.style.table_pt
        orientations = [PORTRAIT, LANDSCAPE]
        if spec.n_cols >= 7 and self.rng.random() < 0.7:
            orientations = [LANDSCAPE]
        while True:
            for orient in orientations:
                widths = self._widths(spec, size, orient[0] - 2 * MARGIN)
                if widths is not None:
                    return orient, size, widths
            size = round(size - 0.5, 2)
            if size < 5:
                raise ValueError(f"table {spec.title} does not fit a landscape page")

    def _cell_lines(self, text: str, size: float, width: float) -> list[str]:
        return wrap(self.fonts, text, size, width - 2 * self.style.cell_pad) if text else []

    def _row_heights(
        self, spec: TableSpec, size: float, widths: list[float]
    ) -> tuple[list[float], list[float]]:
        leading = size * 1.3
        vpad = max(2.0, self.style.cell_pad * 0.8)
        head = [self.style.row_min] * spec.header_rows
        for h in sorted(spec.header, key=lambda h: h.row_span):
            w = sum(widths[h.col : h.col + h.col_span])
            need = len(self._cell_lines(h.text, size, w)) * leading + 2 * vpad
            have = sum(head[h.row : h.row + h.row_span])
            if need > have:
                head[h.row + h.row_span - 1] += need - have
        body = []
        for row in spec.body:
            lines = max(
                (len(self._cell_lines(t, size, w)) for t, w in zip(row, widths, strict=True)), default=1
            )
            body.append(max(self.style.row_min, lines * leading + 2 * vpad))
        return head, body

    def _draw_cell(
        self, text: str, kind: str, box: tuple[float, float, float, float], size: float, header: bool
    ) -> None:
        x0, y0, x1, y1 = box
        page = self.page
        if self.style.rulings != "none":
            page.rules += [(x0, y0, x1, y0), (x0, y1, x1, y1)]
        if self.style.rulings == "grid":
            page.rules += [(x0, y0, x0, y1), (x1, y0, x1, y1)]
        lines = self._cell_lines(text, size, x1 - x0)
        leading = size * 1.3
        top = y0 + (y1 - y0 - leading * len(lines)) / 2
        pad = self.style.cell_pad
        for i, line in enumerate(lines):
            w = self.fonts.width(line, size)
            if header or kind == "code":
                x = x0 + (x1 - x0 - w) / 2 if header else x0 + pad
            elif kind == "amount":
                x = x1 - pad - w
            else:
                x = x0 + pad
            self.text(x, top + i * leading + leading / 2 + size * 0.35, line, size)

    def _draw_header(
        self,
        spec: TableSpec,
        truth: TableTruth,
        size: float,
        widths: list[float],
        heights: list[float],
        *,
        repeat: bool,
    ) -> None:
        lefts = [MARGIN + sum(widths[:i]) for i in range(len(widths) + 1)]
        tops = [self.y + sum(heights[:i]) for i in range(len(heights) + 1)]
        for h in spec.header:
            box = (lefts[h.col], tops[h.row], lefts[h.col + h.col_span], tops[h.row + h.row_span])
            self._draw_cell(h.text, "label", box, size, header=True)
            truth.cells.append(
                CellTruth(len(self.pages), h.row, h.col, h.text, box, h.row_span, h.col_span, True, repeat)
            )
        self.y = tops[-1]

    def table(self, spec: TableSpec, title_block: list[tuple[str, str]], unit: str) -> None:
        """Title lines (text, alignment), the ruled table, its note; broken across pages."""
        orient, size, widths = self._fit(spec)
        head, body = self._row_heights(spec, size, widths)
        title_pt = self.style.body_pt + self.rng.choice([2.0, 4.0, 5.0])
        block = title_pt * 2.2 + len(title_block) * size * 1.8
        self.ensure(block + sum(head) + (body[0] if body else 0), orient)
        truth = TableTruth(spec, unit)
        self.tables.append(truth)
        for i, (line, align) in enumerate(title_block):
            is_title = i == 0
            pt = title_pt if is_title else size + 1
            w = self.fonts.width(line, pt)
            x = {"center": (self.page.width - w) / 2, "right": self.page.width - MARGIN - w}.get(
                align, MARGIN
            )
            self.text(x, self.y + pt, line, pt)
            self.y += pt * (2.0 if is_title else 1.6)
        self._draw_header(spec, truth, size, widths, head, repeat=False)
        truth.pages.append(len(self.pages))
        lefts = [MARGIN + sum(widths[:i]) for i in range(len(widths) + 1)]
        for r, (row, h) in enumerate(zip(spec.body, body, strict=True)):
            if self.y + h > self.page.height - MARGIN:
                self.new_page()
                truth.pages.append(len(self.pages))
                if self.style.repeat_header:
                    self._draw_header(spec, truth, size, widths, head, repeat=True)
            for c, text in enumerate(row):
                box = (lefts[c], self.y, lefts[c + 1], self.y + h)
                self._draw_cell(text, spec.kinds[c], box, size, header=False)
                truth.cells.append(CellTruth(len(self.pages), spec.header_rows + r, c, text, box))
            self.y += h
        self.y += size * 0.6
        if spec.note:
            self.paragraph(
                spec.note, size=size, indent=False, gap=0.2
            ) if self.page.width < self.page.height else self._note_landscape(spec.note, size)
        self.y += size * 1.5

    def _note_landscape(self, note: str, size: float) -> None:
        for line in wrap(self.fonts, note, size, self.page.width - 2 * MARGIN):
            self.ensure(size * 1.7)
            self.text(MARGIN, self.y + size, line, size)
            self.y += size * 1.7
