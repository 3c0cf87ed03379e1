"""Chunking along the report's structure, under the token budget, rows never split."""

from __future__ import annotations

import pytest

from extractor.chunk import chunk_document, count_tokens
from extractor.core.types import Cell, DocumentData, PageText, Table
from extractor.normalize import normalize_pages
from tests.conftest import SAMPLE_IDS, text_document


@pytest.mark.parametrize("doc_id", SAMPLE_IDS)
@pytest.mark.parametrize("budget", [300, 1200])
def test_no_chunk_exceeds_the_budget(doc_id: str, budget: int) -> None:
    doc = text_document(doc_id, budget)
    assert doc.chunks
    assert max(c.tokens for c in doc.chunks) <= budget
    for c in doc.chunks:
        assert count_tokens(c.text) <= c.tokens


def test_table_blocks_of_sample_004_are_cut_on_row_boundaries() -> None:
    doc = text_document("004_4a020ba0f11f1338", budget=300)
    text = doc.normalized.text
    tables = [c for c in doc.chunks
              if c.kind == "table" and any(p.startswith("公开") for p in c.heading_path)]
    ids = {p for c in tables for p in c.heading_path if p.startswith("公开")}
    assert {f"公开{n:02d}表" for n in range(1, 11)} <= ids
    all_rows = {line for line in text.split("\n") if "\t" in line}
    for chunk in tables:
        for line in chunk.text.split("\n"):
            if "\t" in line:
                assert line in all_rows, f"row split in chunk {chunk.index}: {line!r}"
    split = [c for c in tables if "公开06表" in c.heading_path]
    assert len(split) > 1, "the long 公开06表 must be split at this budget"
    header = split[0].text.split("\n")[:3]
    for piece in split[1:]:
        assert piece.text.split("\n")[:3] == header, "a split table repeats its header rows"


def test_heading_paths_follow_parts_and_sections() -> None:
    doc = text_document("003_17aaca51ade6ba7f")
    paths = [" > ".join(c.heading_path) for c in doc.chunks]
    three_public = "第二部分 部门决算情况说明 > 八、财政拨款\"三公\"经费支出决算情况说明"
    assert any(p.startswith(three_public) for p in paths)
    three = next(c for c in doc.chunks if "公务用车运行维护费支出" in c.text)
    assert three.heading_path[0].startswith("第二部分")


def test_chunk_offsets_point_into_the_normalized_text() -> None:
    doc = text_document("002_ede6ec7d9a9ccbff")
    for c in doc.chunks:
        first = c.text.split("\n")[0]
        assert doc.normalized.text[c.start:c.start + len(first)] == first
        assert c.page_start == 1 == c.page_end


def test_token_estimate_counts_cjk_per_character() -> None:
    assert count_tokens("收入支出") == 4
    assert count_tokens("1723.66") == 3


def _pdf_doc_with_table(rows: int) -> DocumentData:
    """A two-page PDF-like document whose page 2 holds a table the table layer read."""
    pages = [PageText(1, "第二部分 部门决算表\n一、收入支出决算总表\n", "text-layer"),
             PageText(2, "收入支出决算总表 单位：万元 项目 决算数 ...\n", "text-layer")]
    norm, starts = normalize_pages(pages)
    doc = DocumentData("t", "t.pdf", "t", "application/pdf", pages, norm, starts)
    grid = [["收入", "", "支出", ""], ["项目", "决算数", "项目", "决算数"]]
    grid += [[f"{i}、收入项目{i}", f"{i},000.50", f"{i}、支出项目{i}", ""] for i in range(1, rows + 1)]
    cells = [Cell(row=r, col=c, text=t, bbox=(c * 50.0, r * 20.0, c * 50.0 + 50, r * 20.0 + 20),
                  col_span=2 if r == 0 and c in {0, 2} else 1)
             for r, row in enumerate(grid) for c, t in enumerate(row) if not (r == 0 and c in {1, 3})]
    doc.tables = [Table(index=0, page=2, cells=cells, n_rows=len(grid), n_cols=4,
                        title="收入支出决算总表", unit="万元", pages=[2])]
    return doc


def test_a_table_becomes_a_markdown_chunk_with_title_and_header_path() -> None:
    doc = _pdf_doc_with_table(3)
    chunks = chunk_document(doc, 1200)
    tables = [c for c in chunks if c.kind == "table"]
    assert len(tables) == 1
    lines = tables[0].text.split("\n")
    assert lines[0] == "### 收入支出决算总表（单位：万元）"
    assert lines[1] == "| 收入/项目 | 收入/决算数 | 支出/项目 | 支出/决算数 |"
    assert lines[3] == "| 1、收入项目1 | 1000.50 | 1、支出项目1 |  |"  # figure normalized, blank kept
    assert tables[0].page_start == 2 and tables[0].heading_path[-1] == "收入支出决算总表（单位：万元）"


def test_a_long_table_is_split_between_rows_with_its_header_repeated() -> None:
    doc = _pdf_doc_with_table(60)
    pieces = [c for c in chunk_document(doc, 300) if c.kind == "table"]
    assert len(pieces) > 2
    rows_seen: list[str] = []
    for piece in pieces:
        lines = piece.text.split("\n")
        assert lines[0] == "### 收入支出决算总表（单位：万元）"
        assert lines[1] == "| 收入/项目 | 收入/决算数 | 支出/项目 | 支出/决算数 |"
        assert count_tokens(piece.text) <= 300
        rows_seen += lines[3:]
        assert all(ln.startswith("| ") and ln.endswith(" |") and ln.count(" | ") == 3 for ln in lines[3:])
    assert len(rows_seen) == 60 and len(set(rows_seen)) == 60  # every row once, none cut
