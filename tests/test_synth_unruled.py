"""Born-digital tables without full rulings (horizontal rules only, or none) read as grids:
generated reports with known cell truth, read page by page by the table layer."""

from __future__ import annotations

from functools import cache
from typing import Any

import pymupdf

from extractor.core.types import Table
from extractor.tables.pdf import read_pdf_tables
from extractor.testing.synth import generate

_pymupdf: Any = pymupdf


def _norm(text: str) -> str:
    return "".join(text.split())


@cache
def _read(seed: int, family: str, rulings: str) -> tuple[dict[str, Any], dict[int, list[Table]]]:
    rendered = generate(seed, family=family, rulings=rulings)
    pages = sorted({p for t in rendered.cells["tables"] for p in t["pages"]})
    with _pymupdf.open(stream=rendered.pdf, filetype="pdf") as doc:
        read = {p: read_pdf_tables(doc[p - 1], p) for p in pages}
    return rendered.cells, read


def _body_rows(truth: dict[str, Any], page: int) -> list[list[str]]:
    """The truth table's body rows printed on ``page``, every column (blank cells too)."""
    rows: dict[int, list[str]] = {}
    for c in truth["cells"]:
        if c["page"] == page and not c.get("is_header"):
            rows.setdefault(c["row"], [""] * truth["n_cols"])[c["col"]] = _norm(c["text"])
    return [rows[r] for r in sorted(rows)]


def _rows_read(tables: list[Table]) -> list[list[str]]:
    out = []
    for t in tables:
        grid = [[""] * t.n_cols for _ in range(t.n_rows)]
        for c in t.cells:
            grid[c.row][c.col] = _norm(c.text)
        out.extend(grid[t.header_rows:])
    return out


def _share_read(seed: int, family: str, rulings: str) -> tuple[int, int]:
    """Body rows read whole: every cell's text in its column, blank cells blank."""
    cells, read = _read(seed, family, rulings)
    found = total = 0
    for truth in cells["tables"]:
        for page in truth["pages"]:
            got = _rows_read(read.get(page, []))
            for row in _body_rows(truth, page):
                if not any(row):
                    continue
                total += 1
                found += row in got
    return found, total


FAMILIES = ("national", "shanghai", "compact")


def _share(seed: int, rulings: str) -> float:
    counts = [_share_read(seed, f, rulings) for f in FAMILIES]
    found, total = sum(c[0] for c in counts), sum(c[1] for c in counts)
    assert total > 200
    return found / total


def test_tables_with_horizontal_rules_only_read_row_by_row() -> None:
    for family in FAMILIES:
        _, read = _read(4, family, "horizontal")
        assert read and all(t.source == "text-layer" for ts in read.values() for t in ts)
    assert _share(4, "horizontal") >= 0.9  # before the unruled reader: 0


def test_tables_without_rules_read_by_alignment() -> None:
    # rows are lines with a figure (names wrapped around them joined): a table part
    # continued on the next page without its header loses its blank columns
    assert _share(5, "none") >= 0.8


def test_group_titles_drawn_without_rules_head_every_sub_column_of_their_group() -> None:
    """The 三公 table's four header levels with no rules, or rules between rows only:
    ``合计`` is too narrow to reach over the middle of either sub-column,
    ``公务用车购置及运行维护费`` over only two of its six; each still heads its whole group
    (before: ``合计预算数`` run together and a thirteenth column)."""
    want = {"合计": (0, 2), "因公出国（境）费": (2, 2), "公务用车购置及运行维护费": (4, 6),
            "小计": (4, 2), "公务用车购置费": (6, 2), "公务接待费": (10, 2)}
    for seed, family, rulings in ((6012, "national", "none"), (6001, "shanghai", "none"),
                                  (6012, "national", "horizontal"), (6001, "shanghai", "horizontal")):
        _, read = _read(seed, family, rulings)
        (table,) = [t for ts in read.values() for t in ts
                    if any(c.text == "公务接待费" and c.row < t.header_rows for c in t.cells)]
        heads = {c.text: (c.col, c.col_span) for c in table.cells if c.row < table.header_rows}
        assert table.n_cols == 12 and {k: heads.get(k) for k in want} == want, (seed, rulings, heads)


def test_a_ruled_report_is_read_as_before() -> None:
    found, total = _share_read(4, "shanghai", "grid")
    assert found == total


def test_rulings_change_only_the_rules() -> None:
    grid = generate(6, family="compact")
    bare = generate(6, family="compact", rulings="none")
    assert grid.gold == bare.gold
    assert [t["cells"] for t in grid.cells["tables"]] == [t["cells"] for t in bare.cells["tables"]]
    with _pymupdf.open(stream=bare.pdf, filetype="pdf") as doc:
        assert not any(page.get_drawings() for page in doc)
