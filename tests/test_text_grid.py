"""Space-aligned plain-text tables (``pdftotext -layout`` renderings) read into columns by
where their cells stand: sparse rows, shattered header cells, figures printed above their
label, and a later page laid out a few characters apart."""

from __future__ import annotations

from extractor.core.records import Fact
from extractor.core.types import DocumentData, PageText, Table
from extractor.extractors.rules import RulesExtractor
from extractor.extractors.rules.patterns import BLANK_ZERO, TABLE
from extractor.normalize import normalize_pages
from extractor.tables.text import read_text_tables

REPORT = "某局2024年度部门决算公开\n第二部分 部门决算表\n"


def put(*cells: tuple[int, str], right: dict[int, str] | None = None) -> str:
    """One line with each text starting at its column (``right``: text ending there)."""
    line = [" "] * 100
    placed = [*cells, *((end - len(text), text) for end, text in (right or {}).items())]
    for col, text in placed:
        line[col:col + len(text)] = list(text)
    return "".join(line).rstrip()


# columns as pdftotext prints them: codes at 0/6/11, names at 16, figures ending at 40 / 51 / 60
HEAD = [
    put((32, "支出决算表")), "", put((77, "单位：万元")), "",
    put((16, "项目"), (77, "对附属单位")),
    put((32, "本年支出合"), (54, "项目支"), (63, "上缴上级支"), (71, "经营支")),
    put((3, "支出功能分类"), (43, "基本支出"), (79, "补")),
    put((23, "科目名称"), (34, "计"), (55, "出"), (65, "出"), (72, "出")),
    put((4, "科目编码"), (78, "助支出")),
    put(right={51: "1,200.00", 60: "300.00"}),  # the 合计 row's figures, printed above it
    put(right={40: "1,500.00"}),
    put((1, "类"), (6, "款"), (10, "项")),
    put((24, "合计")),
    put((0, "201"), (16, "一般公共服务支出"), right={40: "1,500.00", 51: "1,200.00", 60: "300.00"}),
    put((0, "201"), (6, "06"), (11, "01"), (16, "行政运行"), right={40: "1,200.00", 51: "1,200.00"}),
    put((0, "201"), (6, "06"), (11, "02"), (16, "一般行政管理事务"), right={40: "250.00", 60: "250.00"}),
]
# the next page is laid out anew: its figure columns stand three characters further left
TAIL = [put((0, "201"), (6, "06"), (11, "03"), (16, "机关服务"), right={37: "50.00", 57: "50.00"})]


def _doc() -> DocumentData:
    pages = [PageText(1, REPORT + "\n".join(HEAD) + "\n", "file"),
             PageText(2, "\n".join(TAIL) + "\n", "file")]
    norm, starts = normalize_pages(pages)
    return DocumentData("t", "t.txt", "t", "text/plain", pages, norm, starts)


def _table() -> Table:
    doc = _doc()
    tables = read_text_tables(doc.normalized.text, doc.page_starts, doc.normalized.offsets)
    assert len(tables) == 1
    return tables[0]


def _row(table: Table, label: str) -> dict[str, str]:
    """The row labelled ``label``: value cells by their column's header (blank cells kept)."""
    heads = {c.col: c.text for c in table.cells if c.is_header and c.row == table.header_rows - 1}
    row = next(r for r in table.rows() if any(c.text == label for c in r))
    return {heads[c.col]: c.text for c in row if heads.get(c.col, "").endswith("出") or
            heads.get(c.col, "").endswith("计")}


def test_a_space_aligned_table_reads_as_a_grid_with_whole_header_cells() -> None:
    table = _table()
    assert table.source == "text-aligned"
    heads = [c.text for c in table.cells if c.is_header and c.row == table.header_rows - 1 and c.text]
    for name in ("本年支出合计", "基本支出", "项目支出", "上缴上级支出", "经营支出", "对附属单位补助支出"):
        assert name in heads  # pieces on different lines joined; blank columns kept


def test_a_sparse_row_keeps_its_figures_under_their_headers() -> None:
    table = _table()
    assert _row(table, "一般行政管理事务") == {
        "本年支出合计": "250.00", "基本支出": "", "项目支出": "250.00", "上缴上级支出": "",
        "经营支出": "", "对附属单位补助支出": ""}
    total = _row(table, "合计")  # figures printed above the label, a header line between
    assert (total["本年支出合计"], total["基本支出"], total["项目支出"]) == ("1500.00", "1200.00", "300.00")


def test_a_later_page_shifted_sideways_keeps_its_columns() -> None:
    row = _row(_table(), "机关服务")
    assert (row["本年支出合计"], row["基本支出"], row["项目支出"]) == ("50.00", "", "50.00")
    assert 2 in _table().pages


def _one(facts: list[Fact], field: str) -> Fact:
    hits = [f for f in facts if f.field == field and f.priority in {TABLE, BLANK_ZERO}]
    assert len(hits) == 1, (field, [(f.value, f.priority) for f in hits])
    return hits[0]


def test_values_are_read_by_column_header_and_blank_columns_are_zero() -> None:
    facts = RulesExtractor().read(_doc())
    assert _one(facts, "expense_uses.project").value == 300
    assert _one(facts, "expense_uses.basic").value == 1200
    remit = _one(facts, "expense_uses.remit_to_superior")
    assert (remit.value, remit.priority) == (0, BLANK_ZERO)
    project = _one(facts, "expense_uses.project")
    assert project.evidence is not None and project.evidence.column_header == "项目支出"
