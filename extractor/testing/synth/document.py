"""One synthetic report: its PDF (born-digital or scanned), gold record and cell truth.

Cell-truth file format (``<doc_id>.cells.json``, ``"format": "synth-cells/v1"``)::

    {"format": "synth-cells/v1", "doc_id": "...", "family": "shanghai", "scan": false,
     "dpi": null,                      # scans: render resolution of the page images
     "pages": [{"page": 1, "width": 595.0, "height": 842.0, "skew_deg": 0.0}, ...],
     "tables": [{
        "index": 0, "key": "summary", "title": "收入支出决算总表",
        "marker": "公开01表" | null,    # printed beside the title when the layout has one
        "unit": "万元" | "元",          # from the unit line (单位：万元 / 金额单位：元)
        "pages": [5, 6],               # 1-based pages the table covers
        "n_rows": 38, "n_cols": 4, "header_rows": 2,
        "cells": [{"page": 5, "row": 0, "col": 0, "text": "收入", "bbox": [x0, y0, x1, y1],
                   "row_span": 1, "col_span": 2,    # only when a cell spans
                   "is_header": true,               # header cells only
                   "repeat": true}, ...]            # header repeated on a continuation page
     }, ...]}

Rows and columns are grid positions of the whole table (a table broken across pages
keeps counting rows; a repeated header carries its original row numbers and
``"repeat": true`` so a reader that merges continuations ignores it). ``text`` is the
cell's text as printed, a wrapped name joined without separator, ``""`` for a blank
cell (every grid position of a body row is listed). ``bbox`` is in PDF points, origin
top-left, on the page as drawn; on a scan the page image is additionally rotated by
``skew_deg`` (counter-clockwise, about the page centre) before JPEG compression, and
:func:`scanned_bbox` gives the box where the cell lies on the scanned image.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pymupdf

from extractor.core.records import FinalAccounts
from extractor.testing.synth.layout import CJK, LATIN, Fonts, Layout, PageOut, TextOp, font
from extractor.testing.synth.ledger import Ledger
from extractor.testing.synth.narrative import GLOSSARY, explanation, overview
from extractor.testing.synth.standard import build_tables
from extractor.testing.synth.style import Style
from extractor.testing.synth.tables import Builder, TableSpec

_pymupdf: Any = pymupdf  # untyped library
SCAN_DPI = 200
PARTS = ("第一部分", "第二部分", "第三部分", "第四部分")


@dataclass
class Rendered:
    doc_id: str
    pdf: bytes
    gold: FinalAccounts
    cells: dict[str, Any]


def _title_block(spec: TableSpec, ledger: Ledger, style: Style) -> list[tuple[str, str]]:
    unit = spec.unit or style.unit
    unit_line = ("金额单位：" if style.family == "national" else "单位：") + unit
    block: list[tuple[str, str]] = [(spec.title, "center")]
    if spec.marker:
        block.append((spec.marker, "right"))
    if style.family == "national":
        block.append((f"部门名称：{ledger.department}", "left"))
        block.append((f"{ledger.year}年度", "center"))
    block.append((unit_line, "right"))
    return block


def lay_out(ledger: Ledger, style: Style, rng: random.Random) -> tuple[Layout, list[TableSpec]]:
    """Cover, contents, 概况, tables and 情况说明 (in the style's order), 名词解释."""
    layout = Layout(style, rng)
    dept, year = ledger.department, ledger.year
    layout.skip(layout.page.height * 0.3)
    layout.paragraph(dept, size=26, indent=False, align="center")
    layout.paragraph(f"{year}年度部门决算", size=24, indent=False, align="center")
    specs = build_tables(Builder(ledger, style))
    table_part = ("tables", f"{dept}{year}年度部门决算表")
    text_part = ("text", f"{dept}{year}年度部门决算情况说明")
    order = [table_part, text_part] if style.tables_first else [text_part, table_part]
    layout.new_page()
    layout.paragraph(f"{PARTS[0]}  {dept}概况", size=style.body_pt + 4, indent=False, align="center")
    for kind, text in overview(ledger, rng):
        _block(layout, kind, text)
    for n, (kind, heading) in enumerate(order, 1):
        layout.new_page()
        layout.paragraph(f"{PARTS[n]}  {heading}", size=style.body_pt + 4, indent=False, align="center")
        if kind == "tables":
            for i, spec in enumerate(specs):
                if style.table_per_page and i:
                    layout.new_page()
                layout.table(spec, _title_block(spec, ledger, style), spec.unit or style.unit)
        else:
            for kind2, text in explanation(ledger, rng, state_basic=True):
                _block(layout, kind2, text)
    layout.new_page()
    layout.paragraph(f"{PARTS[3]}  名词解释", size=style.body_pt + 4, indent=False, align="center")
    for text in GLOSSARY:
        layout.paragraph(text)
    _page_numbers(layout)
    return layout, specs


def _page_numbers(layout: Layout) -> None:
    """Footers on every page after the cover, as printed reports number them."""
    if not layout.style.page_numbers:
        return
    size = layout.style.body_pt - 1.5
    for n, page in enumerate(layout.pages[1:], 1):
        text = layout.style.page_numbers.format(n=n)
        width = layout.fonts.width(text, size)
        page.texts.append(TextOp((page.width - width) / 2, page.height - 28, text, size))


def _block(layout: Layout, kind: str, text: str) -> None:
    size = layout.style.body_pt
    if kind == "heading":
        layout.paragraph(text, size=size + 1, indent=False, gap=0.5)
    elif kind == "subheading":
        layout.paragraph(text, indent=True)
    else:
        layout.paragraph(text)


def _draw(doc: Any, page: PageOut, fonts: Fonts, line_width: float) -> None:
    out = doc.new_page(width=page.width, height=page.height)
    writer = _pymupdf.TextWriter(out.rect)
    cjk = font("china-s")
    latin = font(fonts.digit_font) if fonts.digit_font != "cjk" else cjk
    for op in page.texts:
        x = op.x
        for kind, run in fonts.runs(op.text):
            f = cjk if kind == CJK else latin
            writer.append((x, op.y), run, font=f, fontsize=op.size)
            x += fonts.width(run, op.size) if kind == LATIN else f.text_length(run, fontsize=op.size)
    writer.write_text(out)
    if page.rules:
        shape = out.new_shape()
        for x0, y0, x1, y1 in sorted(set(page.rules)):
            shape.draw_line((x0, y0), (x1, y1))
        shape.finish(width=line_width, color=(0, 0, 0))
        shape.commit()


def pdf_bytes(layout: Layout) -> bytes:
    doc = _pymupdf.open()
    for page in layout.pages:
        _draw(doc, page, layout.fonts, layout.style.line_width)
    doc.subset_fonts()
    return bytes(doc.tobytes(garbage=4, deflate=True, no_new_id=True))


def scan_pdf(born_digital: bytes, rng: random.Random) -> tuple[bytes, list[float]]:
    """Image-only PDF of the pages: 200 dpi greyscale, skew ≤ 1.5°, blur, noise, JPEG q 40–70."""
    src = _pymupdf.open(stream=born_digital, filetype="pdf")
    out = _pymupdf.open()
    angles: list[float] = []
    np_rng = np.random.default_rng(rng.randrange(2**32))
    for page in src:
        pix = page.get_pixmap(dpi=SCAN_DPI, colorspace=pymupdf.csGRAY, alpha=False)
        gray = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width)
        angle = round(rng.uniform(-1.5, 1.5), 3)
        h, w = gray.shape
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        img = cv2.warpAffine(gray, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)
        sigma = rng.uniform(0.4, 1.0)
        img = cv2.GaussianBlur(img, (3, 3), sigma).astype(np.float32)
        img = np.clip(img + np_rng.normal(0.0, rng.uniform(2.0, 7.0), img.shape), 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(40, 70)])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        new = out.new_page(width=page.rect.width, height=page.rect.height)
        new.insert_image(new.rect, stream=bytes(buf.tobytes()))
        angles.append(angle)
    return bytes(out.tobytes(garbage=4, deflate=True, no_new_id=True)), angles


def scanned_bbox(bbox: list[float], page: dict[str, Any]) -> tuple[float, float, float, float]:
    """A truth cell's box as it lies on the scanned page image (PDF points, origin top-left):
    the axis-aligned box around the cell rotated by the page's ``skew_deg`` about the page
    centre, the rotation :func:`scan_pdf` applied (OpenCV: positive = counter-clockwise)."""
    angle = np.deg2rad(float(page["skew_deg"]))
    cx, cy = float(page["width"]) / 2, float(page["height"]) / 2
    cos, sin = float(np.cos(angle)), float(np.sin(angle))
    xs, ys = [], []
    for x, y in ((bbox[0], bbox[1]), (bbox[2], bbox[1]), (bbox[0], bbox[3]), (bbox[2], bbox[3])):
        dx, dy = x - cx, y - cy
        xs.append(cx + cos * dx + sin * dy)
        ys.append(cy - sin * dx + cos * dy)
    return min(xs), min(ys), max(xs), max(ys)


def cell_truth(doc_id: str, layout: Layout, style: Style, angles: list[float] | None) -> dict[str, Any]:
    tables = []
    for i, t in enumerate(layout.tables):
        spec = t.spec
        tables.append(
            {
                "index": i,
                "key": spec.key,
                "title": spec.title,
                "marker": spec.marker,
                "unit": t.unit,
                "pages": t.pages,
                "n_rows": spec.header_rows + len(spec.body),
                "n_cols": spec.n_cols,
                "header_rows": spec.header_rows,
                "cells": [c.to_json() for c in t.cells],
            }
        )
    pages = [
        {"page": n, "width": p.width, "height": p.height, "skew_deg": angles[n - 1] if angles else 0.0}
        for n, p in enumerate(layout.pages, 1)
    ]
    return {
        "format": "synth-cells/v1",
        "doc_id": doc_id,
        "family": style.family,
        "scan": angles is not None,
        "dpi": SCAN_DPI if angles is not None else None,
        "pages": pages,
        "tables": tables,
    }


def render(ledger: Ledger, style: Style, seed: int, *, scan: bool = False) -> Rendered:
    """Lay out, draw and (optionally) scan one report; the same inputs give the same bytes."""
    rng = random.Random(hashlib.sha256(f"{seed}:{ledger.doc_id}".encode()).digest())
    layout, _ = lay_out(ledger, style, rng)
    pdf = pdf_bytes(layout)
    angles = None
    if scan:
        pdf, angles = scan_pdf(pdf, rng)
    return Rendered(ledger.doc_id, pdf, ledger.record(), cell_truth(ledger.doc_id, layout, style, angles))


def write(rendered: Rendered, out_dir: Path, gold_dir: Path | None = None) -> list[Path]:
    """``<doc_id>.pdf``, ``<doc_id>.json`` (gold, contract JSON) and ``<doc_id>.cells.json``.

    ``gold_dir`` puts the gold files in a folder of their own, which ``extractor run
    --gold DIR`` can read (it takes every ``*.json`` of the folder for a gold record).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    (gold_dir or out_dir).mkdir(parents=True, exist_ok=True)
    pdf = out_dir / f"{rendered.doc_id}.pdf"
    gold = (gold_dir or out_dir) / f"{rendered.doc_id}.json"
    cells = out_dir / f"{rendered.doc_id}.cells.json"
    pdf.write_bytes(rendered.pdf)
    gold.write_text(
        json.dumps(rendered.gold.to_json_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    cells.write_text(json.dumps(rendered.cells, ensure_ascii=False) + "\n", encoding="utf-8")
    return [pdf, gold, cells]
