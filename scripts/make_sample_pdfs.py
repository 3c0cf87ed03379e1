"""Render the text samples as PDFs so the PDF and OCR readers have real input.

For every ``data/samples/<doc_id>.txt`` this writes, under ``data/samples/pdf/``:

- ``<doc_id>_text.pdf``: a born-digital PDF (text layer, embedded CJK font subset) of a
  few laid-out pages;
- ``<doc_id>_scan.pdf``: two of those pages as 300-dpi greyscale images only (slight
  rotation, blur, noise and JPEG loss, seeded), so reading it needs OCR;
- ``<doc_id>_truth.json``: the lines drawn on each page of both PDFs (table cells joined
  by a tab), which tests and ``bench/ingest.py`` compare the readers' output with.

The samples have no page breaks of their own, so the pages are the ones this layout makes.
The scan pages are picked for content that is hard to read and easy to check: the page
with the most figures inside ruled tables and the page with the most figures in running
text. Output is deterministic: run it twice and the bytes are the same.

Usage: ``python scripts/make_sample_pdfs.py [--samples DIR] [--out DIR] [--whole]``
"""

from __future__ import annotations

import argparse
import json
import re
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pymupdf

PAGE_W, PAGE_H = 595.0, 842.0  # A4 in points
MARGIN = 56.0
BODY_PT = 10.5
HEADING_PT = 12.5
TABLE_PT = 9.0
MIN_TABLE_PT = 4.0
CELL_PAD = 5.0
SCAN_DPI = 300
JPEG_QUALITY = 40
FONT_NAME = "cs"
_pymupdf: Any = pymupdf  # untyped library: keep mypy --strict quiet about every call
LANDSCAPE_BELOW_PT = 8.0
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_CLEAN_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?%?")
_TOKEN = re.compile(r"[A-Za-z0-9.,%()\-+/]+|\s+|.", re.S)


@lru_cache(maxsize=1)
def _font() -> Any:
    """PyMuPDF's built-in CJK font. It is embedded from its buffer, not referenced by
    its built-in name: referenced, it draws every digit one em wide."""
    return _pymupdf.Font("china-s")


@lru_cache(maxsize=100_000)
def _width(text: str, size: float) -> float:
    return float(_font().text_length(text, fontsize=size))


@dataclass
class Op:
    """One string drawn at a baseline point."""

    x: float
    y: float
    text: str
    size: float


@dataclass
class Page:
    width: float = PAGE_W
    height: float = PAGE_H
    ops: list[Op] = field(default_factory=list)
    rules: list[tuple[float, float, float, float]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    """What a perfect reader would return, one drawn line each (cells joined by tabs)."""
    table_numbers: int = 0
    text_numbers: int = 0
    min_table_pt: float = TABLE_PT


@dataclass
class Block:
    kind: str  # "para" or "table"
    lines: list[str]


def parse_blocks(text: str, *, cell_lines: bool = False) -> list[Block]:
    """Split a sample into paragraphs and tables (runs of tab-separated rows).

    Blank lines inside a run of table rows do not end the table; a row with at most one
    non-empty cell is running text. One sample writes a table one cell per line (each
    line a tab and the cell's text, a blank line after each row): with ``cell_lines``
    those rows are drawn as the table they are, else each cell is a line of text (the
    few-page samples under ``data/samples/pdf`` were made that way).
    """
    if cell_lines:
        text = _join_cell_lines(text)
    blocks: list[Block] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split("\t")]
        if sum(1 for c in cells if c) >= 2:
            if blocks and blocks[-1].kind == "table":
                blocks[-1].lines.append(line)
            else:
                blocks.append(Block("table", [line]))
        else:
            blocks.append(Block("para", [line.strip()]))
    return blocks


def _join_cell_lines(text: str) -> str:
    """Rows written one cell per line (``\\tcell`` lines, a blank line ending the row) as
    tab-separated rows; a line without the tab inside a row continues the cell above it; a
    run of such lines shorter than two cells stays as it was."""
    out: list[str] = []
    row: list[str] = []

    def flush() -> None:
        if sum(1 for c in row if c.strip()) >= 2:
            out.append("\t".join(row))
        else:
            out.extend("\t" + c for c in row)
        row.clear()

    for line in text.splitlines():
        if line.startswith("\t") and line.count("\t") == 1:
            row.append(line[1:])
            continue
        if row and line.strip() and "\t" not in line:
            row[-1] += line.strip()  # the second line of a two-line cell (项目资金 / （万元）)
            continue
        flush()
        out.append(line)
    flush()
    return "\n".join(out)


def wrap(text: str, size: float, width: float) -> list[str]:
    """Greedy line breaking that never splits a number or a Latin word."""
    lines: list[str] = []
    current = ""
    for token in _TOKEN.findall(text):
        candidate = current + token
        if current and _width(candidate, size) > width:
            lines.append(current.rstrip())
            current = token.lstrip()
        else:
            current = candidate
    if current.strip():
        lines.append(current.rstrip())
    return lines


class Layout:
    """Flows blocks onto A4 pages top to bottom."""

    def __init__(self) -> None:
        self.pages: list[Page] = [Page()]
        self.y = MARGIN

    @property
    def page(self) -> Page:
        return self.pages[-1]

    def _new_page(self, landscape: bool) -> None:
        size = (PAGE_H, PAGE_W) if landscape else (PAGE_W, PAGE_H)
        if self.page.lines:
            self.pages.append(Page(*size))
        else:
            self.page.width, self.page.height = size
        self.y = MARGIN

    def _room(self, height: float) -> None:
        if self.y + height > self.page.height - MARGIN:
            self._new_page(self.page.width > self.page.height)

    def paragraph(self, text: str) -> None:
        if self.page.width > self.page.height:
            self._new_page(landscape=False)
        heading = len(text) <= 24 and not text.endswith(("。", "；", "：", ":"))
        size = HEADING_PT if heading else BODY_PT
        leading = size * 1.65
        for line in wrap(text, size, self.page.width - 2 * MARGIN):
            self._room(leading)
            self.page.ops.append(Op(MARGIN, self.y + size, line, size))
            self.page.lines.append(line)
            self.page.text_numbers += len(_NUMBER.findall(line))
            self.y += leading
        self.y += size * 0.4

    def table(self, rows: list[list[str]]) -> None:
        """A ruled table (three or more columns) or aligned rows; too wide for portrait
        at a readable size, it goes on landscape pages of its own, as printed reports do."""
        ncols = max(len(r) for r in rows)
        rows = [r + [""] * (ncols - len(r)) for r in rows]
        natural = [max(_width(r[c], TABLE_PT) for r in rows) for c in range(ncols)]
        total = sum(natural) or 1.0

        def fit(page_w: float) -> float:
            avail = page_w - 2 * MARGIN - ncols * 2 * CELL_PAD
            return max(MIN_TABLE_PT, min(TABLE_PT, TABLE_PT * avail / total))

        landscape = fit(PAGE_W) < LANDSCAPE_BELOW_PT
        if landscape != (self.page.width > self.page.height):
            self._new_page(landscape)
        size = fit(self.page.width)
        avail = self.page.width - 2 * MARGIN - ncols * 2 * CELL_PAD
        scaled = [w * size / TABLE_PT for w in natural]
        extra = max(0.0, avail - sum(scaled))
        widths = [w + 2 * CELL_PAD + extra * (w / (sum(scaled) or 1.0)) for w in scaled]
        ruled = ncols >= 3
        row_h = size * 2.1
        self.y += 4
        for row in rows:
            self._room(row_h)
            top = self.y
            x = MARGIN
            for cell, w in zip(row, widths, strict=True):
                if cell:
                    numeric = bool(re.fullmatch(r"[-\d.,% ]+", cell))
                    tx = x + w - CELL_PAD - _width(cell, size) if numeric else x + CELL_PAD
                    self.page.ops.append(Op(tx, top + row_h / 2 + size * 0.36, cell, size))
                x += w
            if ruled:
                self.page.rules.append((MARGIN, top, x, top))
                self.page.rules.append((MARGIN, top + row_h, x, top + row_h))
                edge = MARGIN
                for w in [0.0, *widths]:
                    edge += w
                    self.page.rules.append((edge, top, edge, top + row_h))
                self.page.table_numbers += sum(1 for c in row if _CLEAN_NUMBER.fullmatch(c))
                self.page.min_table_pt = min(self.page.min_table_pt, size)
            else:
                self.page.text_numbers += sum(len(_NUMBER.findall(c)) for c in row)
            self.page.lines.append("\t".join(row).rstrip("\t"))
            self.y += row_h
        self.y += 8


def lay_out(text: str, *, cell_lines: bool = False) -> list[Page]:
    """Pages as drawn. A no-break space (the font has no glyph for it) is drawn as a space."""
    layout = Layout()
    for block in parse_blocks(text.replace("\xa0", " "), cell_lines=cell_lines):
        if block.kind == "para":
            layout.paragraph(block.lines[0])
        else:
            layout.table([[c.strip() for c in line.split("\t")] for line in block.lines])
    return [p for p in layout.pages if p.lines]


def pick_pages(pages: list[Page]) -> tuple[list[int], list[int]]:
    """(scan pages, text-layer pages), 0-based and in document order."""
    readable = [i for i, p in enumerate(pages) if p.min_table_pt >= 7.5]
    by_table = max(readable, key=lambda i: (pages[i].table_numbers, -i))
    if pages[by_table].table_numbers == 0:
        by_table = max(readable, key=lambda i: (pages[i].text_numbers, -i))
    others = [i for i in readable if i != by_table]
    by_text = max(others, key=lambda i: (pages[i].text_numbers, -i))
    scan = sorted({by_table, by_text})
    nxt = min(by_text + 1, len(pages) - 1)
    text = sorted({0, *scan, nxt})
    return scan, text


def draw(doc: Any, page: Page) -> None:
    out = doc.new_page(width=page.width, height=page.height)
    out.insert_font(fontname=FONT_NAME, fontbuffer=_font().buffer)
    if page.rules:
        shape = out.new_shape()
        for x0, y0, x1, y1 in page.rules:
            shape.draw_line((x0, y0), (x1, y1))
        shape.finish(width=0.6, color=(0, 0, 0))
        shape.commit()
    for op in page.ops:
        out.insert_text((op.x, op.y), op.text, fontname=FONT_NAME, fontsize=op.size)


def _skew_and_blur(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = gray.shape
    angle = float(rng.uniform(-0.6, 0.6))
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    img = cv2.warpAffine(gray, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)
    return cv2.GaussianBlur(img, (3, 3), 0.7)


def scan_gray(gray: np.ndarray, rng: np.random.Generator) -> bytes:
    """A greyscale office scan: a fraction of a degree off, soft, grainy, strong JPEG loss."""
    img = _skew_and_blur(gray, rng).astype(np.float32)
    img = np.clip(img + rng.normal(0.0, 4.0, img.shape), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return bytes(buf.tobytes())


def scan_bilevel(gray: np.ndarray, rng: np.random.Generator) -> bytes:
    """A black-and-white (fax-like) scan: noise before the threshold makes ragged strokes,
    plus dust specks. Small files, and a different failure mode from the greyscale scan."""
    img = _skew_and_blur(gray, rng).astype(np.float32)
    img += rng.normal(0.0, 12.0, img.shape)
    ink = (img < 150) | (rng.random(img.shape) < 0.0004)
    ok, buf = cv2.imencode(".png", np.where(ink, 0, 255).astype(np.uint8),
                           [cv2.IMWRITE_PNG_BILEVEL, 1, cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return bytes(buf.tobytes())


def write_sample(source: Path, out_dir: Path) -> dict[str, object]:
    doc_id = source.stem
    pages = lay_out(source.read_text(encoding="utf-8"))
    scan_idx, text_idx = pick_pages(pages)

    text_doc = _pymupdf.open()
    for i in text_idx:
        draw(text_doc, pages[i])
    text_doc.subset_fonts()
    text_path = out_dir / f"{doc_id}_text.pdf"
    text_doc.save(text_path, garbage=4, deflate=True, no_new_id=True)

    rng = np.random.default_rng(zlib.crc32(doc_id.encode()))
    scan_doc = _pymupdf.open()
    kinds = ["gray-jpeg", "bilevel"]
    for i, kind in zip(scan_idx, kinds, strict=False):
        src = _pymupdf.open()
        draw(src, pages[i])
        pix = src[0].get_pixmap(dpi=SCAN_DPI, colorspace=pymupdf.csGRAY, alpha=False)
        gray = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width)
        image = scan_gray(gray, rng) if kind == "gray-jpeg" else scan_bilevel(gray, rng)
        page = scan_doc.new_page(width=pages[i].width, height=pages[i].height)
        page.insert_image(page.rect, stream=image)
    scan_path = out_dir / f"{doc_id}_scan.pdf"
    scan_doc.save(scan_path, garbage=4, deflate=True, no_new_id=True)

    truth = {
        "doc_id": doc_id,
        "source": f"data/samples/{source.name}",
        "note": "lines drawn on each PDF page; table cells joined by a tab",
        "text_pdf": {"layout_pages": [i + 1 for i in text_idx],
                     "pages": [pages[i].lines for i in text_idx]},
        "scan_pdf": {"layout_pages": [i + 1 for i in scan_idx], "dpi": SCAN_DPI,
                     "kinds": kinds[: len(scan_idx)],
                     "pages": [pages[i].lines for i in scan_idx]},
    }
    truth_path = out_dir / f"{doc_id}_truth.json"
    truth_path.write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return {"doc_id": doc_id, "layout_pages": len(pages), "scan": [i + 1 for i in scan_idx],
            "text": [i + 1 for i in text_idx],
            "bytes": sum(p.stat().st_size for p in (text_path, scan_path, truth_path))}


def write_whole(source: Path, out_dir: Path) -> dict[str, object]:
    """The whole sample as one born-digital PDF, ``<doc_id>.pdf``: what the public gold is
    scored on from PDF (``extractor run OUT --gold eval/gold``)."""
    pages = lay_out(source.read_text(encoding="utf-8"), cell_lines=True)
    doc = _pymupdf.open()
    for page in pages:
        draw(doc, page)
    doc.subset_fonts()
    path = out_dir / f"{source.stem}.pdf"
    doc.save(path, garbage=4, deflate=True, no_new_id=True)
    return {"doc_id": source.stem, "pages": len(pages), "bytes": path.stat().st_size}


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=root / "data" / "samples")
    parser.add_argument("--out", type=Path, default=root / "data" / "samples" / "pdf")
    parser.add_argument("--whole", action="store_true",
                        help="write each sample whole as OUT/<doc_id>.pdf (text layer, every "
                             "page) instead of the few-page text and scan PDFs with truth")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0
    for source in sorted(args.samples.glob("*.txt")):
        info = write_whole(source, args.out) if args.whole else write_sample(source, args.out)
        total += int(str(info["bytes"]))
        print(json.dumps(info, ensure_ascii=False))
    print(f"total {total / 1e6:.2f} MB in {args.out}")


if __name__ == "__main__":
    main()
