"""The table reader by meaning, on hand-made tables as the table layer delivers them
(cells with boxes, merged header cells, code columns), and plain-text rows turned into
tables; plus the table shapes' validation."""

from __future__ import annotations

import pytest

from extractor.core.errors import ConfigError
from extractor.core.records import Fact
from extractor.core.types import BBox, Cell, DocumentData, PageText, Table
from extractor.doctypes.final_accounts import parse_shapes, table_shapes
from extractor.extractors.rules import RulesExtractor
from extractor.extractors.rules.grid import identify
from extractor.extractors.rules.patterns import BLANK_ZERO, TABLE, FactSink
from extractor.extractors.rules.tables import read_tables
from extractor.normalize import normalize_pages
from extractor.tables.text import read_text_tables

REPORT = "某局2024年度部门决算公开\n第二部分 部门决算表\n"


def box(row: int, col: int) -> BBox:
    return (50.0 + 60 * col, 100.0 + 20 * row, 110.0 + 60 * col, 120.0 + 20 * row)


def grid(rows: list[list[str]], *, title: str | None, unit: str | None = "万元", page: int = 3,
         spans: dict[tuple[int, int], int] | None = None) -> Table:
    """A table as a PDF reader returns it: every grid position a cell, merged header cells
    once with their column span (positions they cover left out)."""
    spans = spans or {}
    cells: list[Cell] = []
    covered: set[tuple[int, int]] = set()
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            if (r, c) in covered:
                continue
            span = spans.get((r, c), 1)
            covered.update((r, k) for k in range(c, c + span))
            cells.append(Cell(row=r, col=c, text=text, bbox=box(r, c), col_span=span))
    return Table(index=0, page=page, cells=cells, n_rows=len(rows), n_cols=max(map(len, rows)),
                 title=title, unit=unit, pages=[page])


def doc_with(tables: list[Table], text: str = REPORT) -> DocumentData:
    pages = [PageText(1, text, "text-layer")]
    norm, starts = normalize_pages(pages)
    doc = DocumentData("t", "t.pdf", "t", "application/pdf", pages, norm, starts)
    doc.tables = tables
    return doc


def read(*tables: Table) -> list[Fact]:
    sink = FactSink(doc_with(list(tables)))
    read_tables(sink, list(tables))
    return sink.facts


def one(facts: list[Fact], field: str, **key: str) -> Fact:
    hits = [f for f in facts if f.field == field and all((f.key or {}).get(k) == v for k, v in key.items())]
    assert len(hits) == 1, (field, key, [(f.key, f.value) for f in hits])
    return hits[0]


OVERVIEW = [
    ["收入", "", "支出", ""],
    ["项目", "决算数", "项目", "决算数"],
    ["一、一般公共预算财政拨款收入", "55,923,963.72", "一、一般公共服务支出", "32,464,209.41"],
    ["二、政府性基金预算财政拨款收入", "", "二、外交支出", ""],
    ["本年收入合计", "55,923,963.72", "本年支出合计", "55,923,963.72"],
    ["总计", "56,000,000.00", "总计", "56,100,000.00"],
]


def test_values_in_yuan_are_read_by_row_label_and_column_header_at_full_precision() -> None:
    facts = read(grid(OVERVIEW, title="收入支出决算总表", unit="元", spans={(0, 0): 2, (0, 2): 2}))
    gb = one(facts, "income_sources.general_budget_appropriation")
    assert gb.value == pytest.approx(5592.396372, abs=1e-9)
    assert (gb.raw, gb.decimals, gb.priority) == ("55,923,963.72", 2, TABLE)
    ev = gb.evidence
    assert ev is not None
    assert (ev.page, ev.bbox, ev.row_label, ev.column_header) == (3, box(2, 1), "一般公共预算财政拨款收入",
                                                                  "收入/决算数")
    # the two 总计 of one row are told apart by the side they stand on
    assert one(facts, "summary.income_grand_total").value == pytest.approx(5600)
    assert one(facts, "summary.expense_grand_total").value == pytest.approx(5610)


def test_a_blank_cell_in_a_labelled_row_is_a_stated_zero_citing_the_blank_cell() -> None:
    facts = read(grid(OVERVIEW, title="收入支出决算总表", unit="元", spans={(0, 0): 2, (0, 2): 2}))
    fund = one(facts, "income_sources.gov_fund_appropriation")
    assert (fund.value, fund.priority) == (0, BLANK_ZERO)
    assert fund.evidence is not None and fund.evidence.bbox == box(3, 1)


GB = [
    ["项目", "", "", "", "合计", "基本支出", "项目支出"],
    ["类", "款", "项", "科目名称", "", "", ""],
    ["201", "", "", "一般公共服务支出", "1,600.00", "1,500.00", "100.00"],
    ["201", "03", "", "政府办公厅（室）及相关机构事务", "1,600.00", "1,500.00", "100.00"],
    ["201", "03", "01", "行政运行", "1,500.00", "1,500.00", ""],
    ["201", "03", "50", "事业运行", "100.00", "", "100.00"],
    ["208", "", "", "社会保障和就业支出", "300.00", "300.00", ""],
    ["208", "05", "", "行政事业单位养老支出", "300.00", "300.00", ""],
    ["208", "05", "05", "机关事业单位基本养老保险缴费支出", "300.00", "300.00", ""],
    ["合计", "", "", "", "1,900.00", "1,800.00", "100.00"],
]


def test_code_columns_join_into_seven_digit_codes_with_parent_names() -> None:
    facts = read(grid(GB, title="一般公共预算财政拨款支出决算表"))
    item = one(facts, "general_budget.items.actual", item="机关事业单位基本养老保险缴费支出")
    assert item.key == {"class": "社会保障和就业支出", "section": "行政事业单位养老支出",
                        "item": "机关事业单位基本养老保险缴费支出", "code": "2080505"}
    assert item.value == 300
    assert item.evidence is not None and item.evidence.column_header == "合计"
    classes = {f.key["name"]: f.value for f in facts if f.field == "general_budget.classes.actual" and f.key}
    assert classes == {"一般公共服务支出": 1600, "社会保障和就业支出": 300}
    assert one(facts, "general_budget.items.actual", code="2010350").value == 100
    assert one(facts, "basic_expense.total").value == 1800
    assert one(facts, "project_expense_total").value == 100
    assert not [f for f in facts if f.field.startswith("general_budget.items") and f.key
                and f.key.get("code") in {"201", "20103"}]


def test_a_wrapped_name_in_one_cell_stays_one_name() -> None:
    rows = [list(r) for r in GB]
    rows[8][3] = "机关事业单位基本养老保险\n缴费支出"  # the PDF cell holds both lines
    facts = read(grid(rows, title="一般公共预算财政拨款支出决算表"))
    item = one(facts, "general_budget.items.actual", code="2080505")
    assert item.key is not None and item.key["item"] == "机关事业单位基本养老保险缴费支出"


def test_one_code_cell_with_the_name_beside_it() -> None:
    rows = [["科目编码", "科目名称", "合计", "基本支出", "项目支出"],
            ["205", "教育支出", "80.00", "80.00", ""],
            ["20502", "普通教育", "80.00", "80.00", ""],
            ["2050205", "高等教育", "80.00", "80.00", ""]]
    facts = read(grid(rows, title="一般公共预算财政拨款支出决算表"))
    item = one(facts, "general_budget.items.actual", code="2050205")
    assert item.key == {"class": "教育支出", "section": "普通教育", "item": "高等教育", "code": "2050205"}


def test_a_table_without_title_is_recognised_by_its_header_signature() -> None:
    table = grid(GB, title=None)
    shape = identify(table)
    assert shape is not None and shape.id == "general_budget"
    facts = read(table)
    assert one(facts, "general_budget.actual_total").value == 1900


def test_a_damaged_title_falls_back_to_the_header() -> None:
    table = grid(OVERVIEW, title="收入支出决算忌表", spans={(0, 0): 2, (0, 2): 2})  # OCR: 总 → 忌
    shape = identify(table)
    assert shape is not None and shape.id == "overview"


def test_a_part_continued_on_the_next_page_is_read_as_the_same_table() -> None:
    head = grid(OVERVIEW[:4], title="收入支出决算总表", spans={(0, 0): 2, (0, 2): 2}, page=6)
    tail = grid([["年初结转和结余", "49.14", "年末结转和结余", "55.34"]], title=None, page=7)
    facts = read(head, tail)
    carry = one(facts, "summary.expense_carryover_end")
    assert carry.value == pytest.approx(55.34)
    assert carry.evidence is not None and carry.evidence.page == 7


THREE_PUBLIC = [
    ["合计", "", "因公出国（境）费", "", "公务用车购置及运行费", "", "", "", "", "", "公务接待费", ""],
    ["", "", "", "", "小计", "", "公务用车购置费", "", "公务用车运行费", "", "", ""],
    ["预算数", "决算数"] * 6,
    ["3.00", "2.50", "", "", "2.00", "1.50", "", "", "2.00", "1.50", "1.00", "1.00"],
]


def test_three_public_columns_by_their_header_path() -> None:
    table = grid(THREE_PUBLIC, title="财政拨款“三公”经费支出决算表",
                 spans={(0, 0): 2, (0, 2): 2, (0, 4): 6, (0, 10): 2, (1, 4): 2, (1, 6): 2, (1, 8): 2})
    facts = read(table)
    got = {f.field: f.value for f in facts}
    assert got["three_public.budget_total"] == 3 and got["three_public.actual_total"] == 2.5
    assert got["three_public.vehicle_budget"] == 2 and got["three_public.vehicle_actual"] == 1.5
    assert got["three_public.vehicle_operation_actual"] == 1.5
    assert got["three_public.vehicle_purchase_actual"] == 0
    assert got["three_public.overseas_actual"] == 0
    assert got["three_public.reception_actual"] == 1


# --------------------------------------------------------------------------- plain text

SPACE_TEXT = (
    REPORT + "一般公共预算财政拨款支出决算表\n"
    "                                                单位：万元\n"
    "   科目编码        科目名称           合计      基本支出   项目支出\n"
    "201             一般公共服务支出        1,600.00   1,500.00    100.00\n"
    "201   03   01   行政运行                1,500.00   1,500.00\n"
    "\n"
    "208   05   05                            300.00     300.00\n"
    "                机关事业单位基本养老保险\n"
    "                缴费支出\n"
    "                                         1,800.00    100.00\n"
    "              合计             1,900.00\n"
)


def test_plain_text_rows_become_a_table_with_wrapped_names_and_figures_given_back() -> None:
    norm, starts = normalize_pages([PageText(1, SPACE_TEXT, "file")])
    tables = read_text_tables(norm.text, starts)
    assert len(tables) == 1
    table = tables[0]
    assert (table.title, table.unit) == ("一般公共预算财政拨款支出决算表", "万元")
    assert table.source == "text-layout"
    rows = [[c.text for c in row if c.text] for row in table.rows()]
    assert ["208", "05", "05", "机关事业单位基本养老保险缴费支出", "300.00", "300.00"] in rows
    assert ["合计", "1900.00", "1800.00", "100.00"] in rows  # figures printed above the label
    cell = next(c for c in table.cells if c.text == "1900.00")
    assert cell.start is not None and norm.text[cell.start:cell.end] == "1900.00"


def test_plain_text_tables_read_through_the_same_reader() -> None:
    facts = RulesExtractor().read(_text_doc(SPACE_TEXT))
    item = one(facts, "general_budget.items.actual", code="2080505")
    assert item.key is not None and item.key["item"] == "机关事业单位基本养老保险缴费支出"
    assert item.value == 300
    total = one(facts, "general_budget.actual_total")
    assert total.value == 1900 and total.evidence is not None and total.evidence.quote == "1900.00"
    assert one(facts, "basic_expense.total").value == 1800


def _text_doc(text: str) -> DocumentData:
    pages = [PageText(1, text, "file")]
    norm, starts = normalize_pages(pages)
    return DocumentData("t", "t.txt", "t", "text/plain", pages, norm, starts)


TAB_TEXT = (REPORT + "收入支出决算总表\n金额单位：元\n"
            "收入\t\t\t支出\t\t\n"
            "项目\t行次\t决算数\t项目\t行次\t决算数\n"
            "一、一般公共预算财政拨款收入\t1\t1000000.00\t一、一般公共服务支出\t9\t1000000.00\n"
            "二、政府性基金预算财政拨款收入\t2\t\t二、外交支出\t10\t\n"
            "本年收入合计\t3\t1000000.00\t本年支出合计\t11\t1000000.00\n"
            "总计\t4\t1000000.00\t总计\t12\t1000000.00\n")


def test_tab_rows_with_line_numbers_read_by_column() -> None:
    facts = RulesExtractor().read(_text_doc(TAB_TEXT))
    assert one(facts, "summary.income_grand_total").value == 100
    assert one(facts, "summary.expense_current_year").value == 100
    fund = one(facts, "income_sources.gov_fund_appropriation")
    assert (fund.value, fund.priority) == (0, BLANK_ZERO)


# --------------------------------------------------------------------------- shapes as data


def test_every_national_template_table_has_a_shape() -> None:
    ids = {s.id for s in table_shapes().tables}
    assert {"overview", "income", "expense", "fiscal_overview", "general_budget", "basic_expense",
            "three_public", "gov_fund", "state_capital"} <= ids


@pytest.mark.parametrize(("entry", "reason"), [
    ("{field: summary.no_such_field, row: [合计]}", "not a field"),
    ("{field: summary.income_grand_total, row: ['(']}", "does not compile"),
    ("{field: summary.income_grand_total, row: [合计], position: 1}", "go together"),
])
def test_a_bad_shape_is_refused_with_its_reason(entry: str, reason: str) -> None:
    text = f"tables:\n  - id: x\n    titles: [x]\n    signature: [x]\n    cells:\n      - {entry}\n"
    with pytest.raises(ConfigError, match=reason):
        parse_shapes(text, "bad.yaml")


def test_a_table_without_unit_line_takes_the_unit_the_narrative_confirms() -> None:
    """A rendering that starts on the table's second page has no 单位 line; its figures
    divided by 10000 are the narrative's 万元 figures, so the table is in 元."""
    table = grid(OVERVIEW, title=None, unit=None, spans={(0, 0): 2, (0, 2): 2})
    narrative = REPORT + "本年收入合计5592.40万元，其中：一般公共预算财政拨款收入5592.40万元。\n"
    sink = FactSink(doc_with([table], narrative))
    read_tables(sink, [table])
    assert one(sink.facts, "summary.income_current_year").value == pytest.approx(5592.396372)


def test_a_pdf_table_rendered_in_the_text_gives_its_cells_offsets() -> None:
    """The table layer renders each table in place, one tab-joined line per row; facts read
    from its cells cite their offsets there as well as their page and box."""
    rows = [["项目", "决算数", "项目", "决算数"],
            ["本年收入合计", "1,210.00", "本年支出合计", "1,200.50"],
            ["总计", "1,213.00", "总计", "1,213.00"]]
    rendered = "\n".join("\t".join(r) for r in rows)
    text = REPORT + "收入支出决算总表\n" + rendered + "\n"
    table = grid(rows, title="收入支出决算总表")
    doc = doc_with([table], text)
    table.start = doc.normalized.text.index("项目")
    table.end = len(doc.normalized.text) - 1
    sink = FactSink(doc)
    read_tables(sink, [table])
    total = one(sink.facts, "summary.expense_grand_total")
    ev = total.evidence
    assert ev is not None and ev.start is not None and ev.end is not None
    assert doc.normalized.text[ev.start:ev.end] == "1213.00"
    assert ev.start > doc.normalized.text.index("总计\t1213.00\t总计")  # the right-hand 总计
    assert ev.bbox == box(2, 3)


def test_an_ocr_label_one_character_off_still_names_its_row_but_only_on_scans() -> None:
    rows = [list(r) for r in OVERVIEW]
    rows[2][0] = "一、一般公共预箅财政拨款收入"  # OCR: 算 → 箅
    scanned = grid(rows, title="收入支出决算总表", unit="元", spans={(0, 0): 2, (0, 2): 2})
    scanned.source = "ocr"
    got = one(read(scanned), "income_sources.general_budget_appropriation")
    assert got.value == pytest.approx(5592.396372)
    born_digital = grid(rows, title="收入支出决算总表", unit="元", spans={(0, 0): 2, (0, 2): 2})
    assert not [f for f in read(born_digital) if f.field == "income_sources.general_budget_appropriation"]


def test_two_tables_joined_in_one_grid_are_split_at_the_title_row() -> None:
    """Tables ruled alike on one page can come out of the table layer as one grid; a row
    with one cell naming a standard table starts that table."""
    width = 12
    pad = [""] * width
    rows = [["项目", "合计", "基本支出", "项目支出", *pad][:width],
            ["2210201", "住房公积金", "213.11", "213.11", *pad][:width],
            ["注：本表反映…。财政拨款“三公”经费支出决算表公开07表金额单位：万元", *pad][:width],
            *(r[:width] for r in THREE_PUBLIC)]
    table = grid(rows, title=None, spans={(3, 0): 2, (3, 2): 2, (3, 4): 6, (3, 10): 2,
                                          (4, 4): 2, (4, 6): 2, (4, 8): 2})
    facts = read(table)
    assert one(facts, "three_public.vehicle_actual").value == 1.5
    assert one(facts, "three_public.reception_budget").value == 1


def test_a_transposed_three_public_table_reads_by_row_label_and_column() -> None:
    rows = [["项目", "预算数", "决算数"],
            ["合计", "45.37", "28.66"],
            ["1.因公出国（境）费", "0.00", ""],
            ["2.公务用车购置及运行维护费", "43.20", "28.29"],
            ["其中：公务用车购置费", "", ""],
            ["公务用车运行维护费", "43.20", "28.29"],
            ["3.公务接待费", "2.17", "0.37"]]
    facts = read(grid(rows, title="财政拨款“三公”经费支出决算表"))
    got = {f.field: f.value for f in facts}
    assert (got["three_public.budget_total"], got["three_public.actual_total"]) == (45.37, 28.66)
    assert (got["three_public.vehicle_budget"], got["three_public.vehicle_operation_actual"]) == (43.2, 28.29)
    assert (got["three_public.overseas_actual"], got["three_public.vehicle_purchase_actual"]) == (0, 0)
    assert got["three_public.reception_actual"] == 0.37


def test_a_summary_of_project_self_evaluations_gives_one_project_per_row() -> None:
    rows = [["项目名称", "年初预算数", "全年执行数", "自评得分"],
            ["办公场所租赁", "16.89", "14.35", "88"],
            ["专项审计经费", "6.74", "5.39", "96.8"],
            ["合计", "23.63", "19.74", ""]]
    facts = read(grid(rows, title="项目支出绩效自评结果表"))
    audit = {f.field: f.value for f in facts if f.key == {"name": "专项审计经费"}}
    assert audit == {"performance_projects.budget": 6.74, "performance_projects.executed": 5.39,
                     "performance_projects.score": 96.8}
    assert not [f for f in facts if f.key == {"name": "合计"}]


def test_a_per_project_self_evaluation_table_is_not_taken_for_a_summary() -> None:
    rows = [["项目名称", "法律顾问经费", "", ""],
            ["", "年初预算数", "全年预算数", "全年执行数"],
            ["年度资金总额", "20", "19.6", "19.6"],
            ["一级指标", "二级指标", "分值", "自评得分"]]
    assert identify(grid(rows, title=None)) is None
