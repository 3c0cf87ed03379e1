"""A PDF page's text layer in reading order, with its tables in place.

Characters are cut into runs at spaces and gaps, runs are grouped into visual lines and
joined left to right (:mod:`extractor.ocr`, the same layout as OCR output). Tables are not
regrouped: their grids are read by :mod:`extractor.tables.pdf` and rendered in place, one
line per row (:mod:`extractor.tables.layout`), so a vertically centred figure stays on its
label's line and a multi-line header cell stays whole. ``get_text(sort=True)`` would put
each table cell on a line of its own.

A page with ``/Rotate`` is read in the coordinates of the page as displayed, which is
also what the table finder uses. PyMuPDF is never imported here: the caller passes pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeAlias

from extractor.ocr import TEXT_LAYER_JOIN, TextBox
from extractor.tables.layout import ComposedPage, compose_page
from extractor.tables.pdf import RAWDICT_FLAGS, read_pdf_tables

PdfPage: TypeAlias = Any  # pymupdf.Page
Box = tuple[float, float, float, float]

RUN_GAP_EM = 0.25
"""Inside one PDF text line, a gap wider than this share of the font size starts a new run:
MuPDF merges table cells standing a few points apart into one line, sometimes without a
space between two figures."""


def text_layer(page: PdfPage) -> str:
    """The page's text layer in reading order, tables in place (module docstring)."""
    return TextLayer.of(page).compose(page, 1).text


@dataclass
class TextLayer:
    """A page's text lines: those in its main writing direction (as runs) and those
    written in other directions (rotated labels, stamps)."""

    main_lines: list[dict[str, Any]]
    other: list[tuple[str, Box]]
    main: tuple[int, int]
    raw: dict[str, Any]
    runs: list[TextBox]

    @classmethod
    def of(cls, page: PdfPage) -> TextLayer:
        raw = page.get_text("rawdict", flags=RAWDICT_FLAGS)
        if page.rotation:
            _to_displayed(raw, page.rotation_matrix)
        lines = [line for block in raw["blocks"] for line in block.get("lines", ())]
        weight: dict[tuple[int, int], int] = {}
        for line in lines:
            key = _direction(line["dir"])
            weight[key] = weight.get(key, 0) + sum(len(s["chars"]) for s in line["spans"])
        main = max(weight, key=lambda k: weight[k]) if weight else (1, 0)
        main_lines = [line for line in lines if _direction(line["dir"]) == main]
        other = []
        for line in lines:
            if _direction(line["dir"]) != main:
                text = "".join(c["c"] for s in line["spans"] for c in s["chars"]).strip()
                if text:
                    other.append((text, tuple(line["bbox"])))
        runs = [run for line in main_lines for run in _runs(line, main)]
        return cls(main_lines, other, main, raw, runs)

    @property
    def plain(self) -> str:
        return "".join(box.text for box in self.runs) + "".join(t for t, _ in self.other)

    def compose(self, page: PdfPage | None, number: int) -> ComposedPage:
        """Text with tables in place (``page`` None: no table reading, text only).

        Tables are read only when the main direction runs left to right as displayed
        (then run boxes and the table finder's boxes share coordinates). A character
        inside a table belongs to its cell, so runs are cut at table edges."""
        tables = read_pdf_tables(page, number, raw=self.raw) \
            if page is not None and self.main == (1, 0) else []
        if not tables:
            return compose_page(self.runs, [], TEXT_LAYER_JOIN, [t for t, _ in self.other])
        areas = [t.bbox for t in tables if t.bbox is not None]

        def inside(box: Box) -> bool:
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            return any(a[0] <= cx <= a[2] and a[1] <= cy <= a[3] for a in areas)

        runs = [run for line in self.main_lines for run in _runs(line, self.main, inside)]
        other = [text for text, box in self.other if not inside(box)]
        return compose_page(runs, tables, TEXT_LAYER_JOIN, other)


def _to_displayed(raw: dict[str, Any], matrix: Any) -> None:
    """Character boxes and line directions of a ``/Rotate``d page in the coordinates of
    the page as displayed, in place: a landscape table printed on a rotated portrait
    page then reads left to right, like the table finder (which derotates) sees it."""
    a, b, c, d = matrix.a, matrix.b, matrix.c, matrix.d
    for block in raw["blocks"]:
        for line in block.get("lines", ()):
            dx, dy = line["dir"]
            line["dir"] = (dx * a + dy * c, dx * b + dy * d)
            line["bbox"] = _transform(line["bbox"], matrix)
            for span in line["spans"]:
                for char in span["chars"]:
                    char["bbox"] = _transform(char["bbox"], matrix)


def _transform(box: Box, m: Any) -> Box:
    """A box through an affine matrix (``a b c d e f``), as the enclosing rectangle."""
    x0, y0, x1, y1 = box
    xs = [x * m.a + y * m.c + m.e for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))]
    ys = [x * m.b + y * m.d + m.f for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))]
    return (min(xs), min(ys), max(xs), max(ys))


def _direction(vector: tuple[float, float]) -> tuple[int, int]:
    """Writing direction rounded to a multiple of 90 degrees."""
    dx, dy = vector
    return (round(dx), 0) if abs(dx) >= abs(dy) else (0, round(dy))


def _runs(line: dict[str, Any], direction: tuple[int, int],
          skip: Callable[[Box], bool] | None = None,
          ) -> Iterator[TextBox]:
    """Runs of characters without spaces or wide gaps, as boxes in a frame where the
    page's main writing direction points right (so rotated pages read normally).
    Characters for which ``skip(bbox)`` holds (inside a table) are left out and cut
    the run they stand in."""
    cos, sin = direction
    text: list[str] = []
    x0 = y0 = x1 = y1 = 0.0
    for span in line["spans"]:
        gap_limit = RUN_GAP_EM * span["size"]
        for char in span["chars"]:
            bx0, by0, bx1, by1 = char["bbox"]
            if skip is not None and skip((bx0, by0, bx1, by1)):
                if text:
                    yield TextBox.from_rect("".join(text), (x0, y0, x1, y1))
                    text = []
                continue
            xs = (bx0 * cos + by0 * sin, bx1 * cos + by1 * sin)
            ys = (-bx0 * sin + by0 * cos, -bx1 * sin + by1 * cos)
            cx0, cx1, cy0, cy1 = min(xs), max(xs), min(ys), max(ys)
            if char["c"].isspace() or (text and cx0 - x1 > gap_limit):
                if text:
                    yield TextBox.from_rect("".join(text), (x0, y0, x1, y1))
                    text = []
                if char["c"].isspace():
                    continue
            if not text:
                x0, y0, x1, y1 = cx0, cy0, cx1, cy1
            else:
                x1, y0, y1 = max(x1, cx1), min(y0, cy0), max(y1, cy1)
            text.append(char["c"])
    if text:
        yield TextBox.from_rect("".join(text), (x0, y0, x1, y1))
