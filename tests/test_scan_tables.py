"""Scanned tables: a ruled table drawn with PyMuPDF, rasterised, skewed and spoiled like a
scan, read by the real RapidOCR and :func:`read_scanned_tables`; image inputs in ingest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pymupdf
import pytest

from extractor.core.errors import CorruptFileError, UnsupportedFileError
from extractor.core.settings import OcrSettings
from extractor.core.types import Cell, Table
from extractor.images import page_folder
from extractor.ingest import iter_input_files, read_pages, render, sha256_of
from extractor.ocr import RapidOcrEngine, TextBox
from extractor.tables.layout import outside_tables
from extractor.tables.scan import join_cell_text, read_scanned_tables

_pymupdf: Any = pymupdf
DPI = 200

# (x0, x1) of the five columns, in points; rows 24 pt high from y = 120
COLS = [(60, 110), (110, 250), (250, 350), (350, 450), (450, 550)]
TOP, ROW = 120.0, 24.0
BODY = [
    ["201", "一般公共服务支出", "2,112.86", "2,106.66", "6.20"],
    ["20106", "财政事务", "2,112.86", "2,106.66", ""],
    ["2010601", "机关事业单位基本养老保险缴费支出", "1,511.90", "1,511.89", "0.01"],
    ["208", "社会保障和就业支出", "326.72", "", "326.72"],
]
"""Body rows; the third name is too long for its column and wraps onto a second line."""


def _font(page: Any) -> str:
    page.insert_font(fontname="cs", fontbuffer=_pymupdf.Font("china-s").buffer)
    return "cs"


def _ruled_table_pdf(path: Path) -> None:
    """A landscape page: a title, a two-row header (科目 over 编码 / 名称, 本年收入 over two
    columns, 合计 over both rows), four body rows, one with a name wrapped in a taller row."""
    doc = _pymupdf.open()
    page = doc.new_page(width=842, height=595)
    font = _font(page)
    page.insert_text((300, 80), "收入决算表", fontname=font, fontsize=16)
    heights = [ROW, ROW, ROW, ROW, 2 * ROW, ROW]  # two header rows, four body rows
    ys = [TOP]
    for h in heights:
        ys.append(ys[-1] + h)
    xs = [c[0] for c in COLS] + [COLS[-1][1]]
    shape = page.new_shape()
    for i, y in enumerate(ys):  # horizontal rulings; the one under 合计 / 本年收入 is partial
        if i == 1:
            shape.draw_line((xs[0], y), (xs[2], y))
            shape.draw_line((xs[3], y), (xs[5], y))
        else:
            shape.draw_line((xs[0], y), (xs[-1], y))
    for j, x in enumerate(xs):  # vertical rulings; none inside 科目 and 本年收入 in header row 0
        if j in (1, 4):
            shape.draw_line((x, ys[1]), (x, ys[-1]))
        else:
            shape.draw_line((x, ys[0]), (x, ys[-1]))
    shape.finish(color=(0, 0, 0), width=0.8)
    shape.commit()

    def put(text: str, rect: tuple[float, float, float, float], align: int = 1) -> None:
        rc = page.insert_textbox(_pymupdf.Rect(*rect), text, fontname=font, fontsize=10.5,
                                 align=align)
        assert rc >= 0, f"text does not fit: {text}"

    put("科目", (xs[0], ys[0] + 5, xs[2], ys[1]))
    put("合计", (xs[2], ys[0] + 17, xs[3], ys[2]))  # merged over both header rows
    put("本年收入", (xs[3], ys[0] + 5, xs[5], ys[1]))
    for (x0, x1), text in zip(COLS, ["编码", "名称", "", "财政拨款", "其他收入"], strict=True):
        if text:
            put(text, (x0, ys[1] + 5, x1, ys[2]))
    for r, row in enumerate(BODY):
        top, bottom = ys[2 + r], ys[3 + r]
        pad = (bottom - top - 13) / 2 if bottom - top < 2 * ROW else 4
        for (x0, x1), text in zip(COLS, row, strict=True):
            if text:
                put(text, (x0 + 3, top + pad, x1 - 3, bottom), align=2 if x0 >= 250 else 0)
    doc.save(path)
    doc.close()


def _scan(image: np.ndarray[Any, Any], angle: float) -> np.ndarray[Any, Any]:
    """Rotate, blur, add grain and JPEG-compress like a poor scanner."""
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    out = cv2.warpAffine(image, matrix, (w, h), borderValue=(255, 255, 255))
    out = cv2.GaussianBlur(out, (0, 0), 0.8)
    noise = np.random.default_rng(7).normal(0, 8, out.shape)
    out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 55])
    assert ok
    return np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR))


@pytest.fixture(scope="module")
def scanned_page(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray[Any, Any]:
    pdf = tmp_path_factory.mktemp("scan") / "table.pdf"
    _ruled_table_pdf(pdf)
    with _pymupdf.open(pdf) as doc:
        image = render(doc[0], DPI)
    return _scan(image, angle=1.3)


@pytest.fixture(scope="module")
def engine() -> RapidOcrEngine:
    return RapidOcrEngine()


def _grid(table: Table) -> list[list[str]]:
    grid = [[""] * table.n_cols for _ in range(table.n_rows)]
    for cell in table.cells:
        grid[cell.row][cell.col] = "".join(cell.text.split())
    return grid


@pytest.mark.slow
def test_skewed_noisy_scan_reads_back_the_printed_grid(scanned_page: Any, engine: RapidOcrEngine) -> None:
    boxes = engine.recognize(scanned_page).boxes
    tables = read_scanned_tables(scanned_page, boxes, page_number=3, scale=DPI / 72)

    assert len(tables) == 1  # the title above the table is not a table
    table = tables[0]
    assert (table.n_rows, table.n_cols, table.page, table.source) == (6, 5, 3, "ocr")
    grid = _grid(table)
    assert grid[2:] == [[t.replace(" ", "") for t in row] for row in BODY]
    assert grid[1][3:] == ["财政拨款", "其他收入"]
    # merged cells from missing rulings: 科目 over two columns, 合计 over two rows
    subject = table.cell(0, 1)
    assert subject is not None and (subject.row, subject.col, subject.col_span) == (0, 0, 2)
    assert subject.text == "科目"
    total = table.cell(1, 2)
    assert total is not None and (total.row, total.row_span, total.text) == (0, 2, "合计")
    income = table.cell(0, 4)
    assert income is not None and (income.col, income.col_span, income.text) == (3, 2, "本年收入")
    # every grid position is covered exactly once
    covered = [(r, c) for cell in table.cells for r in range(cell.row, cell.row + cell.row_span)
               for c in range(cell.col, cell.col + cell.col_span)]
    assert sorted(covered) == [(r, c) for r in range(6) for c in range(5)]
    # boxes in PDF points on the original page: within a few points of the drawn grid
    cell = table.cell(5, 2)
    assert cell is not None and cell.bbox is not None
    x0, y0, x1, y1 = cell.bbox
    assert abs(x0 - 250) < 8 and abs(x1 - 350) < 8
    assert abs(y0 - (TOP + 6 * ROW)) < 8 and abs(y1 - (TOP + 7 * ROW)) < 8


def test_a_unit_line_inside_a_skewed_tables_box_but_above_its_cells_stays_page_text() -> None:
    """On a scan turned a little, the table's upright box reaches above its low corner's top
    row: the unit line printed there is page text (the table's unit), not a lost cell."""
    cells = [Cell(0, 0, "人员经费", bbox=(50, 100, 400, 122)),
             Cell(0, 1, "公用经费", bbox=(400, 108, 790, 130)),
             Cell(1, 0, "281.06", bbox=(50, 122, 400, 144)),
             Cell(1, 1, "49.05", bbox=(400, 130, 790, 152))]
    table = Table(index=0, page=6, cells=cells, n_rows=2, n_cols=2, bbox=(50, 100, 790, 152))
    unit = TextBox.from_rect("单位：万元", (700, 100, 780, 107))
    inside = TextBox.from_rect("49.05", (700, 133, 780, 148))
    assert outside_tables([unit, inside], [table]) == [unit]


def test_a_box_across_a_ruling_is_split_and_wrapped_lines_join() -> None:
    """Synthetic ink and boxes (no OCR): a box covering two ruled cells is cut at the
    ruling by its characters' widths; two lines in one cell are one text."""
    scale = 2.0
    image = np.full((400, 800, 3), 255, np.uint8)
    for y in (100, 160, 220):
        cv2.line(image, (100, y), (700, y), (0, 0, 0), 2)
    for x in (100, 400, 700):
        cv2.line(image, (x, 100), (x, 220), (0, 0, 0), 2)
    boxes = [
        TextBox.from_rect("1,511.90 1,511.89", (250, 115, 550, 145)),  # runs across x = 400
        TextBox.from_rect("机关事业单位", (110, 165, 300, 190)),
        TextBox.from_rect("缴费支出", (110, 192, 230, 216)),
    ]
    (table,) = read_scanned_tables(image, boxes, page_number=1, scale=scale)
    assert _grid(table) == [["1,511.90", "1,511.89"], ["机关事业单位缴费支出", ""]]
    first = table.cell(0, 0)
    assert first is not None and first.bbox == pytest.approx((50, 50, 200, 80), abs=2)


def test_open_sided_table_keeps_its_outer_columns() -> None:
    """No outer vertical rulings (a common print style): the first and last columns end
    where the horizontal rules end."""
    image = np.full((400, 900, 3), 255, np.uint8)
    for y in (100, 150, 200, 250):
        cv2.line(image, (100, y), (800, y), (0, 0, 0), 2)
    for x in (350, 550):
        cv2.line(image, (x, 100), (x, 250), (0, 0, 0), 2)
    rows = [("项目", "决算数", "预算数"), ("行政运行", "1,511.90", "1,600.00"),
            ("合计", "1,647.15", "1,740.00")]
    boxes = [TextBox.from_rect(text, (x, 110 + 50 * r, x + 120, 140 + 50 * r))
             for r, row in enumerate(rows) for x, text in zip((120, 380, 600), row, strict=True)]
    (table,) = read_scanned_tables(image, boxes, page_number=1, scale=2.0)
    assert _grid(table) == [list(row) for row in rows]
    first = table.cell(0, 0)
    assert first is not None and first.bbox == pytest.approx((50, 50, 175, 75), abs=2)


@pytest.mark.parametrize("rules", [(), (90, 130, 260)], ids=["no rules", "three-line"])
def test_a_table_without_vertical_rulings_is_read_by_column_alignment(rules: tuple[int, ...]) -> None:
    image = np.full((600, 900, 3), 255, np.uint8)
    for y in rules:  # a three-line table: top rule, under the header, bottom rule
        cv2.line(image, (80, y), (800, y), (0, 0, 0), 2)
    rows = [("项目", "决算数", "预算数"), ("行政运行", "1,511.90", "1,600.00"),
            ("信息化建设", "135.25", "140.00"), ("合计", "1,647.15", "1,740.00")]
    boxes = []
    for r, row in enumerate(rows):
        y = 100 + 40 * r
        for x, text in zip((100, 400, 600), row, strict=True):
            boxes.append(TextBox.from_rect(text, (x, y, x + 22 * len(text), y + 24)))
    boxes.append(TextBox.from_rect("单位：万元", (600, 40, 720, 64)))
    (table,) = read_scanned_tables(image, boxes, page_number=2, scale=2.0)
    assert _grid(table) == [list(row) for row in rows]


def test_cell_text_joins_lines_without_a_separator_but_keeps_figures_apart() -> None:
    assert join_cell_text([TextBox.from_rect("一般公共服务支", (0, 0, 90, 12)),
                           TextBox.from_rect("出", (0, 14, 12, 26))]) == "一般公共服务支出"
    assert join_cell_text([TextBox.from_rect("2021", (0, 0, 30, 12)),
                           TextBox.from_rect("12", (40, 0, 55, 12))]) == "2021 12"


# --------------------------------------------------------------------------- image inputs


def _write_page(path: Path, image: np.ndarray[Any, Any]) -> None:
    ok, buf = cv2.imencode(path.suffix, image)
    assert ok
    path.write_bytes(buf.tobytes())


def test_folder_of_numbered_pages_is_one_document_in_numeric_order(tmp_path: Path) -> None:
    blank = np.full((40, 40, 3), 255, np.uint8)
    book = tmp_path / "report"
    book.mkdir()
    for name in ("page-10.png", "page-2.jpg", "page-1.tif"):
        _write_page(book / name, blank)
    assert [p.name for p in page_folder(book) or []] == ["page-1.tif", "page-2.jpg", "page-10.png"]
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    _write_page(mixed / "scan.png", blank)
    (mixed / "notes.txt").write_text("说明", encoding="utf-8")
    assert page_folder(mixed) is None
    # a page folder found inside a folder is one input; other images are inputs of their own
    assert iter_input_files([tmp_path]) == [mixed / "notes.txt", mixed / "scan.png", book]
    assert iter_input_files([book]) == [book]
    assert sha256_of(book) != sha256_of(mixed / "scan.png")


def test_unreadable_image_and_ocr_off_fail_with_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(CorruptFileError, match="not a readable PNG image"):
        read_pages(bad, OcrSettings(engine="rapidocr"), RapidOcrEngine())
    good = tmp_path / "page.png"
    _write_page(good, np.full((40, 40, 3), 255, np.uint8))
    with pytest.raises(UnsupportedFileError, match="OCR is off"):
        read_pages(good, OcrSettings(engine="none"))


@pytest.mark.slow
def test_image_file_and_page_folder_ingest_as_scanned_documents(
        tmp_path: Path, scanned_page: Any, engine: RapidOcrEngine) -> None:
    small = cv2.resize(scanned_page, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)
    single = tmp_path / "one.jpg"
    _write_page(single, small)
    pages, media_type = read_pages(single, OcrSettings(), engine)
    assert media_type == "image/jpeg"
    assert len(pages) == 1 and pages[0].source == "ocr:rapidocr"
    assert "一般公共服务支出" in pages[0].raw and "2,112.86" in pages[0].raw

    book = tmp_path / "book"
    book.mkdir()
    _write_page(book / "p2.png", np.full((200, 300, 3), 255, np.uint8))
    _write_page(book / "p1.png", small)
    pages, media_type = read_pages(book, OcrSettings(), engine)
    assert media_type == "image/png"
    assert [p.number for p in pages] == [1, 2]
    assert "收入决算表" in pages[0].raw and pages[1].raw == ""
