"""The table layer on real PDFs drawn here with PyMuPDF: grids, cell text, header paths,
row labels, title, unit, continuation across pages, page text, storage and the CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from extractor.cli import main
from extractor.core.settings import OcrSettings, Settings
from extractor.core.types import Cell, DocumentData, Table
from extractor.extractors import RulesExtractor
from extractor.ingest import read_document
from extractor.ocr import RapidOcrEngine
from extractor.pipeline import prepare_document
from extractor.store import Store
from extractor.tables.pdf import read_pdf_tables
from extractor.tables.structure import annotate, find_title, find_unit, merge_continuations

_pymupdf: Any = pymupdf
FONT = "cjk"
SIZE = 9.0


@dataclass
class Spec:
    """A cell to draw: grid position, spans and its printed lines (a wrapped name or a
    multi-line header is several lines in one cell, centred vertically as a whole)."""

    row: int
    col: int
    lines: tuple[str, ...]
    rows: int = 1
    cols: int = 1


def _page(doc: Any, width: float = 595, height: float = 842) -> Any:
    page = doc.new_page(width=width, height=height)
    page.insert_font(fontname=FONT, fontbuffer=_pymupdf.Font("china-s").buffer)
    return page


def _text(page: Any, x: float, y: float, text: str, size: float = SIZE) -> None:
    page.insert_text((x, y), text, fontname=FONT, fontsize=size)


def _table(page: Any, top: float, widths: list[float], heights: list[float],
           cells: list[Spec]) -> None:
    """Draw a ruled table: each cell's box, its lines centred vertically inside."""
    xs = [50.0]
    for w in widths:
        xs.append(xs[-1] + w)
    ys = [top]
    for h in heights:
        ys.append(ys[-1] + h)
    for spec in cells:
        rect = _pymupdf.Rect(xs[spec.col], ys[spec.row], xs[spec.col + spec.cols],
                             ys[spec.row + spec.rows])
        page.draw_rect(rect, color=(0, 0, 0), width=0.6)
        step = SIZE * 1.4
        first = (rect.y0 + rect.y1) / 2 - step * len(spec.lines) / 2 + SIZE
        for i, line in enumerate(spec.lines):
            _text(page, rect.x0 + 3, first + i * step, line)


HEADER = [Spec(0, 0, ("项目",), cols=2), Spec(0, 2, ("本年收入", "合计"), rows=2),
          Spec(0, 3, ("财政拨款", "收入"), rows=2), Spec(1, 0, ("科目编码",)),
          Spec(1, 1, ("科目名称",))]
WIDTHS = [60.0, 90.0, 80.0, 80.0]
BODY = [("201", ("一般公共服务支", "出"), "306.90", "306.90"),
        ("20101", ("人大事务",), "100.00", ""),
        ("2010101", ("行政运行",), "", "12.50"),
        ("208", ("社会保障和就业支出",), "1,234.56", "1,200.00"),
        ("20805", ("行政事业单位养老支出",), "34.56", "")]
PAGE2 = [("2080505", ("机关事业单位基本养老", "保险缴费支出"), "34.56", ""),
         ("221", ("住房保障支出",), "58.00", "58.00")]


def _body(rows: list[tuple[str, tuple[str, ...], str, str]], first: int) -> list[Spec]:
    specs = []
    for i, (code, name, total, grant) in enumerate(rows):
        r = first + i
        specs += [Spec(r, 0, (code,)), Spec(r, 1, name), Spec(r, 2, (total,) if total else ()),
                  Spec(r, 3, (grant,) if grant else ())]
    return specs


def make_report(path: Path) -> Path:
    """Two pages: a titled table in 元 continued on page 2 (header repeated), then a
    second titled table; narrative lines around them."""
    doc = _pymupdf.open()
    page = _page(doc)
    _text(page, 50, 60, "二、收入决算情况说明")
    _text(page, 50, 80, "本年收入合计1,541.46元。")
    _text(page, 450, 110, "公开02表", size=8)
    _text(page, 200, 125, "收入决算表", size=14)
    _text(page, 380, 145, "金额单位：元")
    heights = [22.0, 22.0, 30.0, 20.0, 20.0, 20.0, 20.0]
    _table(page, 155, WIDTHS, heights, HEADER + _body(BODY, 2))
    page = _page(doc)
    _table(page, 60, WIDTHS, [22.0, 22.0, 30.0, 20.0], HEADER + _body(PAGE2, 2))
    _text(page, 200, 190, "三公经费支出决算表", size=14)
    _text(page, 380, 210, "单位：万元")
    _table(page, 220, [100.0, 100.0], [20.0, 20.0],
           [Spec(0, 0, ("合计",)), Spec(0, 1, ("公务接待费",)),
            Spec(1, 0, ("0.95",)), Spec(1, 1, ("0.95",))])
    _text(page, 50, 300, "注：本表无数据的栏目为空。")
    doc.save(path)
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> DocumentData:
    path = make_report(tmp_path_factory.mktemp("tables") / "report.pdf")
    return prepare_document(path, Settings(), None)


def _row(table: Table, code: str) -> list[Cell]:
    row = next(r for r in table.rows() if r and r[0].text == code)
    return row


# --------------------------------------------------------------------------- reader


def test_grid_cells_are_whole_with_spans_and_blanks(tmp_path: Path) -> None:
    doc = _pymupdf.open(make_report(tmp_path / "r.pdf"))
    (table,) = read_pdf_tables(doc[0], 1)
    assert (table.n_rows, table.n_cols) == (7, 4)
    head = table.cell(0, 0)
    assert head is not None and (head.text, head.row_span, head.col_span) == ("项目", 1, 2)
    total = table.cell(1, 2)
    assert total is not None and total.row == 0 and total.text == "本年收入合计"
    assert [c.text for c in table.rows()[2]] == ["201", "一般公共服务支出", "306.90", "306.90"]
    assert [c.text for c in table.rows()[5]] == ["208", "社会保障和就业支出", "1,234.56", "1,200.00"]
    blank = table.cell(3, 3)
    assert blank is not None and blank.text == "" and blank.bbox is not None
    assert len({(c.row, c.col) for c in table.cells}) == len(table.cells)
    covered = {(r, c) for cell in table.cells for r in range(cell.row, cell.row + cell.row_span)
               for c in range(cell.col, cell.col + cell.col_span)}
    assert covered == {(r, c) for r in range(7) for c in range(4)}, "every position exactly once"


def test_annotated_table_reads_by_meaning(report: DocumentData) -> None:
    table = report.tables[0]
    assert table.title == "收入决算表" and table.unit == "元"
    assert table.header_rows == 2
    code, name, total, grant = _row(table, "201")
    assert name.text == "一般公共服务支出", "a wrapped name is one cell"
    assert total.header_path == ["本年收入合计"] and grant.header_path == ["财政拨款收入"]
    assert code.header_path == ["项目", "科目编码"] and name.header_path == ["项目", "科目名称"]
    assert total.row_label == "一般公共服务支出" and not total.is_header
    assert [c.is_header for c in table.cells if c.row < 2] == [True] * 5
    assert _row(table, "20101")[3].text == "", "a blank cell exists with empty text"


def test_table_continued_on_next_page_is_one_table(report: DocumentData) -> None:
    assert [t.title for t in report.tables] == ["收入决算表", "三公经费支出决算表"]
    table = report.tables[0]
    assert table.pages == [1, 2] and table.page == 1
    assert table.n_rows == 2 + len(BODY) + len(PAGE2), "the repeated header rows are dropped"
    last = _row(table, "2080505")
    assert last[1].text == "机关事业单位基本养老保险缴费支出" and last[2].row_label == last[1].text
    assert last[2].header_path == ["本年收入合计"]
    assert {c.page for c in last} == {2} and {c.page for c in _row(table, "201")} == {1}
    second = report.tables[1]
    assert second.unit == "万元" and second.pages == [2] and second.index == 1


def test_a_single_row_left_over_on_the_next_page_joins_its_table(tmp_path: Path) -> None:
    doc = _pymupdf.open()
    page = _page(doc)
    _text(page, 200, 125, "支出决算表", size=14)
    _table(page, 155, WIDTHS, [22.0, 22.0, 30.0, 20.0], HEADER + _body(BODY[:2], 2))
    page = _page(doc)
    _table(page, 60, WIDTHS, [20.0], _body(PAGE2[1:], 0))
    doc.save(tmp_path / "tail.pdf")
    engine = RapidOcrEngine()
    read = read_document(tmp_path / "tail.pdf", OcrSettings(), engine)
    assert not engine.loaded, "a page of little text in ruled cells is born-digital, not a scan"
    assert [p.source for p in read.pages] == ["text-layer", "text-layer"]
    (table,) = read.tables
    assert table.pages == [1, 2] and table.n_rows == 5
    assert [c.text for c in table.rows()[4]] == ["221", "住房保障支出", "58.00", "58.00"]
    assert table.rows()[4][2].header_path == ["本年收入合计"]


def test_page_text_has_each_row_on_one_line_in_place(report: DocumentData) -> None:
    lines = report.pages[0].raw.split("\n")
    assert lines[:2] == ["二、收入决算情况说明", "本年收入合计1,541.46元。"]
    assert "201\t一般公共服务支出\t306.90\t306.90" in lines
    assert "20101\t人大事务\t100.00\t" in lines, "a blank cell is an empty field"
    assert lines.index("金额单位：元") < lines.index("项目\t\t本年收入合计\t财政拨款收入")
    page2 = report.pages[1].raw.split("\n")
    assert page2.index("221\t住房保障支出\t58.00\t58.00") < page2.index("三公经费支出决算表")
    assert page2[-1] == "注：本表无数据的栏目为空。"


def test_table_offsets_point_at_its_rows_in_the_normalized_text(report: DocumentData) -> None:
    first, second = report.tables
    assert first.start is not None and first.end is not None
    text = report.normalized.text[first.start:first.end]
    assert text.startswith("项目\t\t本年收入合计") and text.endswith("221\t住房保障支出\t58.00\t58.00")
    assert "1234.56" in text, "offsets index the normalized text"
    assert second.start is not None and second.end is not None
    assert report.normalized.text[second.start:second.end] == "合计\t公务接待费\n0.95\t0.95"


def test_each_cell_knows_where_its_text_lies(report: DocumentData) -> None:
    """A value read from a cell can quote the normalized text by offset, on either page
    of a continued table."""
    text = report.normalized.text
    for code, name, value in (("208", "社会保障和就业支出", "1234.56"), ("221", "住房保障支出", "58.00")):
        row = _row(report.tables[0], code)
        assert row[1].start is not None and text[row[1].start:row[1].end] == name
        assert text[row[2].start:row[2].end] == value
        assert report.page_at(row[2].start) == (row[2].page or report.tables[0].page)  # type: ignore[arg-type]
    blank = _row(report.tables[0], "20101")[3]
    assert blank.start is not None and blank.start == blank.end


def test_two_tables_drawn_as_one_path_are_two_tables(tmp_path: Path) -> None:
    """Some producers draw every ruling of a page as one path; the tables stay apart and
    the text between them stays narrative."""
    doc = _pymupdf.open()
    page = _page(doc)
    shape = page.new_shape()
    for top, rows in ((100, (("项目", "决算数"), ("合计", "1.00"))),
                      (300, (("项目", "预算数"), ("合计", "2.00")))):
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                rect = _pymupdf.Rect(50 + 120 * c, top + 20 * r, 170 + 120 * c, top + 20 * (r + 1))
                shape.draw_rect(rect)
                page.insert_text((rect.x0 + 3, rect.y0 + 14), value, fontname=FONT, fontsize=SIZE)
    shape.finish(color=(0, 0, 0), width=0.6)
    shape.commit()
    _text(page, 50, 200, "说明：下表为预算数。")
    doc.save(tmp_path / "one_path.pdf")
    assert len(_pymupdf.open(tmp_path / "one_path.pdf")[0].get_drawings()) == 1
    read = read_document(tmp_path / "one_path.pdf", OcrSettings(engine="none"))
    assert [(t.n_rows, t.n_cols) for t in read.tables] == [(2, 2), (2, 2)]
    assert read.pages[0].raw.split("\n") == ["项目\t决算数", "合计\t1.00", "说明：下表为预算数。",
                                              "项目\t预算数", "合计\t2.00"]


def test_landscape_table_on_a_rotated_page_reads_as_displayed(tmp_path: Path) -> None:
    """A portrait page with ``/Rotate 90`` whose content is drawn turned, so the viewer
    shows a landscape table upright: cells and title read as displayed."""
    doc = _pymupdf.open()
    page = _page(doc)
    page.set_rotation(90)
    turn = page.derotation_matrix

    def text(x: float, y: float, value: str) -> None:
        page.insert_text(_pymupdf.Point(x, y) * turn, value, fontname=FONT, fontsize=SIZE,
                         rotate=90)

    text(300, 60, "支出决算表")
    for r, row in enumerate([("项目", "合计"), ("行政运行", "1,511.89"), ("信息化建设", "135.25")]):
        for c, value in enumerate(row):
            rect = _pymupdf.Rect(50 + 200 * c, 100 + 20 * r, 250 + 200 * c, 120 + 20 * r)
            page.draw_rect(rect * turn, color=(0, 0, 0), width=0.6)
            text(rect.x0 + 3, rect.y0 + 14, value)
    doc.save(tmp_path / "rotated.pdf")
    read = read_document(tmp_path / "rotated.pdf", OcrSettings(engine="none"))
    assert read.pages[0].raw.split("\n") == ["支出决算表", "项目\t合计", "行政运行\t1,511.89",
                                              "信息化建设\t135.25"]
    (table,) = read.tables
    assert table.title == "支出决算表" and table.cell(2, 1).row_label == "信息化建设"  # type: ignore[union-attr]


# --------------------------------------------------------------------------- structure


def _grid(rows: list[list[str]]) -> Table:
    cells = [Cell(row=r, col=c, text=t) for r, row in enumerate(rows) for c, t in enumerate(row)]
    return Table(index=0, page=1, cells=cells, n_rows=len(rows), n_cols=len(rows[0]))


def test_two_sided_table_labels_each_half() -> None:
    table = _grid([["项目", "决算数", "项目", "决算数"],
                   ["一、一般公共预算财政拨款收入", "2,940.05", "一、一般公共服务支出", "2,106.66"],
                   ["", "", "二、外交支出", ""],
                   ["本年收入合计", "2,946.25", "本年支出合计", "2,940.05"]])
    annotate(table, ["第二部分", "公开01表", "收入支出决算总表", "单位：万元"])
    assert (table.title, table.unit, table.header_rows) == ("收入支出决算总表", "万元", 1)
    assert table.cell(1, 1) is not None and table.cell(1, 1).row_label == "一、一般公共预算财政拨款收入"  # type: ignore[union-attr]
    assert table.cell(1, 3).row_label == "一、一般公共服务支出"  # type: ignore[union-attr]
    assert table.cell(2, 3).row_label == "二、外交支出"  # type: ignore[union-attr]
    assert table.cell(3, 3).header_path == ["决算数"]  # type: ignore[union-attr]


def test_code_level_titles_in_the_first_body_row_join_the_header() -> None:
    table = _grid([["支出功能分类科目编码", "", "", "科目名称", "合计"],
                   ["类", "款", "项", "合计", "2,940.05"],
                   ["201", "06", "01", "行政运行", "1,511.89"]])
    annotate(table, [])
    assert table.header_rows == 1
    row = table.rows()[2]
    assert row[0].header_path == ["支出功能分类科目编码", "类"] and row[0].text == "201"
    assert row[1].header_path == ["款"] and row[2].header_path == ["项"]
    assert row[4].row_label == "行政运行", "codes are not the row label"
    assert table.cell(1, 0).is_header and table.cell(1, 4).row_label == "合计"  # type: ignore[union-attr]


def test_a_total_spanning_the_code_columns_labels_its_row() -> None:
    cells = [Cell(0, 0, "科目编码", col_span=2), Cell(0, 2, "科目名称"), Cell(0, 3, "合计"),
             Cell(1, 0, "合计", col_span=3), Cell(1, 3, "10.00"),
             Cell(2, 0, "201"), Cell(2, 1, "01"), Cell(2, 2, "行政运行"), Cell(2, 3, "10.00")]
    table = Table(index=0, page=1, cells=cells, n_rows=3, n_cols=4)
    annotate(table, [])
    assert table.header_rows == 1
    assert cells[4].row_label == "合计" and cells[8].row_label == "行政运行"
    assert cells[8].header_path == ["合计"] and cells[5].header_path == ["科目编码"]


def test_column_numbering_row_is_header_but_no_title() -> None:
    table = _grid([["功能分类科目编码", "科目名称", "本年支出合计", "基本支出"],
                   ["栏次", "", "1", "2"],
                   ["合计", "", "55923963.72", "17066325.46"],
                   ["2010301", "行政运行", "10971410.92", "10914325.92"]])
    annotate(table, [])
    assert table.header_rows == 2
    _, _, value, _ = table.rows()[2]
    assert value.header_path == ["本年支出合计"] and value.row_label == "合计"
    assert table.rows()[3][2].row_label == "行政运行", "the code column is not read as amounts"


def test_group_titles_printed_without_merged_cells_head_the_columns_they_stand_over() -> None:
    """A 三公 table drawn cell by cell: 预算数 / 决算数 over blank positions, a sub-title row
    starting with 合计 (still header: the numbering row closes the header), and a group
    title printed one column off that still heads its own run of sub-titles."""
    subs = ["合计", "因公出国（境）费", "公务接待费"]
    for top in (["预算数", "", "", "决算数", "", ""], ["预算数", "", "决算数", "", "", ""]):
        table = _grid([top, subs + subs, ["1", "2", "3", "4", "5", "6"],
                       ["6.00", "", "6.00", "4.65", "", "4.65"]])
        annotate(table, [])
        assert table.header_rows == 3, top
        paths = [c.header_path for c in table.rows()[3]]
        assert paths == [["预算数", s] for s in subs] + [["决算数", s] for s in subs], top
    uneven = _grid([["预算数", "", "决算数"], ["合计", "公务接待费", "合计"], ["1", "2", "3"],
                    ["6.00", "6.00", "4.65"]])
    annotate(uneven, [])
    assert [c.header_path[0] for c in uneven.rows()[3]] == ["预算数", "预算数", "决算数"]


def test_a_row_of_group_titles_starting_with_heji_is_header() -> None:
    cells = [Cell(0, 0, "合计", col_span=2), Cell(0, 2, "公务接待费", col_span=2),
             *(Cell(1, c, t) for c, t in enumerate(["预算数", "决算数", "预算数", "决算数"])),
             *(Cell(2, c, t) for c, t in enumerate(["6.00", "4.65", "1.00", "0.20"]))]
    table = Table(index=0, page=1, cells=cells, n_rows=3, n_cols=4)
    annotate(table, [])
    assert table.header_rows == 2
    assert [c.header_path for c in table.rows()[2]] == [
        ["合计", "预算数"], ["合计", "决算数"], ["公务接待费", "预算数"], ["公务接待费", "决算数"]]
    body_total = _grid([["项目", "金额"], ["合计", ""], ["一、工资", ""]])
    annotate(body_total, [])
    assert body_total.header_rows == 1, "a 合计 row of a blank table is still body"


def test_a_table_starting_a_page_takes_its_title_from_the_foot_of_the_page_before(tmp_path: Path) -> None:
    doc = _pymupdf.open()
    page = _page(doc)
    _text(page, 50, 700, "七、“三公”经费支出决算情况说明。")
    _text(page, 200, 760, "财政拨款“三公”经费支出决算表", size=14)
    _text(page, 50, 780, "部门名称：某局")
    _text(page, 50, 795, "2024年度")
    _text(page, 380, 810, "金额单位：元")
    page = _page(doc)
    _table(page, 60, [100.0, 100.0], [20.0, 20.0],
           [Spec(0, 0, ("合计",)), Spec(0, 1, ("公务接待费",)),
            Spec(1, 0, ("9500.00",)), Spec(1, 1, ("9500.00",))])
    _text(page, 50, 140, "注：本表反映部门本年度“三公”经费支出预决算情况。")
    _table(page, 200, [100.0, 100.0], [20.0, 20.0],
           [Spec(0, 0, ("项目",)), Spec(0, 1, ("金额",)), Spec(1, 0, ("合计",)), Spec(1, 1, ("1.00",))])
    doc.save(tmp_path / "foot.pdf")
    tables = read_document(tmp_path / "foot.pdf", OcrSettings(engine="none")).tables
    assert [(t.title, t.unit, t.page) for t in tables] == [
        ("财政拨款“三公”经费支出决算表", "元", 2), (None, None, 2)], "only one starting its page looks back"


def test_a_table_that_only_names_the_project_names_the_fund_table_after_it(tmp_path: Path) -> None:
    """A 绩效自评表 whose 项目名称 rows are a ruled table of their own, a line of text, then
    the fund table: its figures belong to the project the first table named (the
    narrative's shorter name loses)."""
    doc = _pymupdf.open()
    page = _page(doc)
    _text(page, 50, 60, "某局2024年度部门决算公开。决算情况说明。部门决算。")
    _text(page, 50, 80, "2.区政府重要活动保障项目自评综述：项目自评得分90分。")
    _text(page, 200, 110, "项目支出绩效自评表", size=14)
    _table(page, 120, [100.0, 200.0], [20.0, 20.0],
           [Spec(0, 0, ("项目名称",)), Spec(0, 1, ("区政府重要活动保障经费",)),
            Spec(1, 0, ("主管部门",)), Spec(1, 1, ("某局",))])
    _text(page, 50, 185, "（2024年度）")
    fund = ["项目资金（万元）", "年初预算数", "全年预算数", "全年执行数", "分值", "得分"]
    _table(page, 195, [90.0, 60.0, 60.0, 60.0, 40.0, 40.0], [20.0, 20.0, 20.0],
           [Spec(0, c, (t,)) for c, t in enumerate(fund)]
           + [Spec(1, c, (t,)) for c, t in enumerate(["年度资金总额", "90", "53.27", "53.27", "10", "10"])]
           + [Spec(2, 0, ("总分",)), Spec(2, 4, ("100",)), Spec(2, 5, ("90",))])
    doc.save(tmp_path / "perf.pdf")
    facts = RulesExtractor().read(prepare_document(tmp_path / "perf.pdf", Settings(), None))
    budget = [(f.key, f.value) for f in facts if f.field == "performance_projects.budget"]
    assert budget == [({"name": "区政府重要活动保障经费"}, 53.27)]


def test_titles_units_and_markers() -> None:
    assert find_title(["收入决算表 公开02表"]) == "收入决算表"
    assert find_title(["表一 收入支出决算总表"]) == "收入支出决算总表"
    assert find_title(["附表1-2：收入决算表"]) == "收入决算表"
    assert find_title(["部门公开表3"]) is None
    assert find_title(["表3", "支出决算表（续）", "单位：元"]) == "支出决算表（续）"
    assert find_title(["纳入2024", "年度部门决算编制范", "围的单位包括："]) is None
    assert find_title([]) is None
    assert find_unit(["编制单位：某局\t金额单位：元"]) == "元"
    assert find_unit(["单位: 万元", "其他"]) == "万元"
    headed = _grid([["项目", "金额（万元）"], ["合计", "1.00"]])
    headed.header_rows = 1
    assert find_unit([], headed) == "万元"


def test_titled_or_differently_shaped_tables_are_not_merged() -> None:
    def part(page: int, title: str | None, cols: int) -> Table:
        table = _grid([["项目"] + [f"列{i}" for i in range(1, cols)], ["合计"] + ["1.00"] * (cols - 1)])
        table.page, table.pages, table.title = page, [page], title
        annotate(table, [])
        return table

    assert len(merge_continuations([part(1, "甲表", 3), part(2, None, 3)])) == 1
    for again in ("甲表（续）", "续表", "甲表", "某局2024年度部门决算"):
        merged = merge_continuations([part(1, "甲表", 3), part(2, again, 3)])
        assert [(t.title, t.pages, t.n_rows) for t in merged] == [("甲表", [1, 2], 3)], again
    assert len(merge_continuations([part(1, "甲表", 3), part(2, "乙表", 3)])) == 2
    assert len(merge_continuations([part(1, "甲表", 3), part(2, None, 4)])) == 2
    assert len(merge_continuations([part(1, "甲表", 3), part(3, None, 3)])) == 2


# --------------------------------------------------------------------------- store, CLI


def test_tables_round_trip_through_the_store(store: Store, report: DocumentData) -> None:
    store.save_document(report)
    loaded = store.load_document(report.sha256)
    assert loaded.tables == report.tables
    assert store.info()["doccell"] == sum(len(t.cells) for t in report.tables)


def test_tables_command_shows_grids(sqlite_url: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = make_report(tmp_path / "cli.pdf")
    assert main(["--db", sqlite_url, "ingest", str(path)]) == 0
    capsys.readouterr()
    assert main(["--db", sqlite_url, "tables", "cli"]) == 0
    out = capsys.readouterr().out
    assert "#0  收入决算表  unit 元  pages 1-2  9 x 4" in out
    assert "一般公共服务支出" in out and "1,234.56" in out
    assert main(["--db", sqlite_url, "tables", "cli", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    cell = next(c for c in data["tables"][0]["cells"] if c["text"] == "306.90")
    assert cell["row_label"] == "一般公共服务支出" and len(cell["bbox"]) == 4
