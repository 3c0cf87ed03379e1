"""A page's text with its tables in place: the narrative lines in reading order and each
table rendered where it stands, one line per row, cells joined by a tab.

Regrouping a table's characters into visual lines puts a vertically centred figure on
the line above its label and shatters multi-line header cells; rendering the table from
its grid instead keeps each row whole and every cell's text in one piece. The same
composition serves every reader (text layer, OCR boxes): text boxes inside a table are
left out, the rest is grouped into lines (:func:`extractor.ocr.group_lines`), and tables
are inserted before the first line below their top edge. Each table is annotated here
(:func:`extractor.tables.structure.annotate`) with the lines printed between it and the
previous table, which is where its title and unit line stand.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from extractor.core.types import BBox, Table
from extractor.ocr import LineJoin, TextBox, group_lines, join_line
from extractor.tables.structure import annotate


def render_rows(table: Table) -> list[str]:
    """One line per grid row; a merged cell's text stands at its top-left position and
    the positions it covers are empty, so every line has ``n_cols`` fields."""
    fields = [[""] * table.n_cols for _ in range(table.n_rows)]
    for cell in table.cells:
        if 0 <= cell.row < table.n_rows and 0 <= cell.col < table.n_cols:
            fields[cell.row][cell.col] = " ".join(cell.text.split())
    return ["\t".join(row) for row in fields]


def _inside(box: TextBox, bbox: BBox) -> bool:
    xs = [x for x, _ in box.quad]
    ys = [y for _, y in box.quad]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    return bbox[0] <= cx <= bbox[2] and bbox[1] <= cy <= bbox[3]


def outside_tables(boxes: Sequence[TextBox], tables: Sequence[Table]) -> list[TextBox]:
    """The boxes whose centre lies in no table: in no table's box, or in the box but in
    none of its cells' boxes (on a skewed scan the box is wider than the table, and the
    unit line printed just above the table's high corner falls inside it)."""
    areas = [(t.bbox, [c.bbox for c in t.cells if c.bbox is not None]) for t in tables
             if t.bbox is not None]

    def inside(box: TextBox) -> bool:
        return any(_inside(box, area) and (not cells or any(_inside(box, c) for c in cells))
                   for area, cells in areas)

    return [b for b in boxes if not inside(b)]


@dataclass
class ComposedPage:
    text: str
    tables: list[Table]
    """The page's tables in reading order, annotated, ``start``/``end`` of each table
    and cell set to raw offsets in ``text``."""


def compose_page(boxes: Sequence[TextBox], tables: Sequence[Table], join: LineJoin,
                 extra_lines: Sequence[str] = ()) -> ComposedPage:
    """Page text from non-table ``boxes`` (same coordinates as the tables' boxes) with
    each table rendered in place; ``extra_lines`` (text in another writing direction)
    go at the end. Tables without a box go after the last line."""
    ordered = sorted(tables, key=lambda t: t.bbox[1] if t.bbox is not None else float("inf"))
    lines = group_lines(outside_tables(boxes, ordered))
    out: list[str] = []
    since_table: list[str] = []
    length = 0
    pending = list(ordered)

    def emit_table(table: Table) -> None:
        nonlocal length, since_table
        annotate(table, since_table)
        table.start = length
        starts: list[list[int]] = []
        for row in render_rows(table):
            fields = [length]
            for field_text in row.split("\t")[:-1]:
                fields.append(fields[-1] + len(field_text) + 1)
            starts.append(fields)
            out.append(row)
            length += len(row) + 1
        table.end = length - 1
        for cell in table.cells:
            if 0 <= cell.row < table.n_rows and 0 <= cell.col < table.n_cols:
                cell.start = starts[cell.row][cell.col]
                cell.end = cell.start + len(" ".join(cell.text.split()))
        since_table = []

    for line in lines:
        top = statistics.fmean(min(y for _, y in b.quad) for b in line)
        while pending and pending[0].bbox is not None and pending[0].bbox[1] <= top:
            emit_table(pending.pop(0))
        text = join_line(line, join)
        out.append(text)
        since_table.append(text)
        length += len(text) + 1
    while pending:
        emit_table(pending.pop(0))
    out.extend(extra_lines)
    for i, table in enumerate(ordered):
        table.index = i
    return ComposedPage("\n".join(out), list(ordered))
