"""Chunking along the report's structure, under the token budget, rows never split."""

from __future__ import annotations

import pytest

from extractor.chunk import count_tokens
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
