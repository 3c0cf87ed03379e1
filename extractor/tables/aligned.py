"""Tables without vertical rulings, read by the alignment of their OCR boxes, and the
text helpers the ruled-table reader shares (:mod:`extractor.tables.scan`).

Some reports print tables with horizontal rules only (a "three-line" table) or with no
rules at all. Their columns still show in the text: lines with several separate runs
stacked into a block, and the x-ranges that boxes occupy with no gap crossing them. Rows
are the text lines, or the spaces between horizontal rules when there are some.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from extractor.core.types import Cell, Table
from extractor.ocr import TextBox, group_lines


@dataclass
class PlacedBox:
    """An OCR box in the deskewed frame of the page (axis-aligned)."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def height(self) -> float:
        return self.y1 - self.y0


def interval_index(edges: list[float], value: float) -> int | None:
    """The interval ``edges[i] <= value < edges[i + 1]`` holding ``value``."""
    for i in range(len(edges) - 1):
        if edges[i] <= value < edges[i + 1]:
            return i
    return None


def join_cell_text(boxes: Sequence[TextBox]) -> str:
    """A cell's boxes as one text: lines top to bottom, pieces left to right; pieces and
    wrapped lines meet without a separator except between two ASCII letters or digits
    (``机关事业单位基本养老保险`` + ``缴费支出`` is one name; ``2021`` ``年`` stays apart
    only where the print had a space)."""
    text = ""
    for line in group_lines(boxes):
        for box in line:
            piece = box.text.strip()
            if text and piece and _ascii_alnum(text[-1]) and _ascii_alnum(piece[0]):
                text += " "
            text += piece
    return text


def _ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()




MIN_ALIGNED_ROWS = 3
"""Fewest consecutive multi-cell lines read as a table without rulings."""


def lines_of(boxes: list[PlacedBox]) -> list[list[PlacedBox]]:
    """Boxes grouped into visual lines with :func:`extractor.ocr.group_lines`."""
    rects = [TextBox.from_rect(b.text, (b.x0, b.y0, b.x1, b.y1)) for b in boxes]
    lookup = {id(r): b for r, b in zip(rects, boxes, strict=True)}
    return [[lookup[id(r)] for r in line] for line in group_lines(rects)]


def _columns(lines: list[list[PlacedBox]]) -> list[tuple[float, float]]:
    """Column x-ranges: maximal runs of x covered by some box, no gap crossing them."""
    spans = sorted((b.x0, b.x1) for line in lines for b in line)
    columns: list[list[float]] = []
    for x0, x1 in spans:
        if columns and x0 <= columns[-1][1]:
            columns[-1][1] = max(columns[-1][1], x1)
        else:
            columns.append([x0, x1])
    return [(a, b) for a, b in columns]


def aligned_table(boxes: list[PlacedBox], row_edges: list[float] | None,
                   page_number: int) -> Table | None:
    """A grid from box alignment: rows are text lines (or the spaces between horizontal
    rulings when there are some), columns the x-ranges no gap crosses."""
    if not boxes:
        return None
    lines = lines_of(boxes)
    columns = _columns(lines)
    if len(columns) < 2:
        return None
    if row_edges is not None and len(row_edges) >= 2:
        rows: list[list[PlacedBox]] = [[] for _ in range(len(row_edges) - 1)]
        for b in boxes:
            r = interval_index(row_edges, b.cy)
            if r is not None:
                rows[r].append(b)
        bounds = list(itertools.pairwise(row_edges))
    else:
        rows = lines
        bounds = [(min(b.y0 for b in line), max(b.y1 for b in line)) for line in lines]
    edges = [columns[0][0], *((a[1] + b[0]) / 2 for a, b in itertools.pairwise(columns)),
             columns[-1][1]]
    cells = []
    for r, (line, (top, bottom)) in enumerate(zip(rows, bounds, strict=True)):
        per_col: dict[int, list[TextBox]] = {}
        for b in line:
            found = interval_index(edges, b.cx)
            c = found if found is not None else (0 if b.cx < edges[0] else len(columns) - 1)
            per_col.setdefault(c, []).append(TextBox.from_rect(b.text, (b.x0, b.y0, b.x1, b.y1)))
        for c in range(len(columns)):
            cells.append(Cell(row=r, col=c, bbox=(edges[c], top, edges[c + 1], bottom),
                              text=join_cell_text(per_col.get(c, []))))
    return Table(index=0, page=page_number, cells=cells, n_rows=len(rows), n_cols=len(columns),
                 bbox=(edges[0], bounds[0][0], edges[-1], bounds[-1][1]), pages=[page_number],
                 source="ocr")


def unruled_tables(boxes: list[PlacedBox], page_number: int) -> list[Table]:
    """Blocks of consecutive lines with at least two separate runs each, read by alignment."""
    if not boxes:
        return []
    lines = lines_of(boxes)
    heights = [b.y1 - b.y0 for b in boxes]
    gap = 1.0 * statistics.median(heights)
    blocks: list[list[list[PlacedBox]]] = []
    current: list[list[PlacedBox]] = []
    for line in lines:
        cells = line_runs(line, gap)
        if cells >= 2:
            current.append(line)
            continue
        if len(current) >= MIN_ALIGNED_ROWS:
            blocks.append(current)
        current = []
    if len(current) >= MIN_ALIGNED_ROWS:
        blocks.append(current)
    tables = []
    for block in blocks:
        table = aligned_table([b for line in block for b in line], None, page_number)
        if table is not None and table.n_cols >= 2:
            tables.append(table)
    return tables


def line_runs(line: list[PlacedBox], gap: float) -> int:
    """Pieces of a line that stand at least ``gap`` apart (table cells, not words)."""
    count, right = 0, -math.inf
    for b in sorted(line, key=lambda b: b.x0):
        if b.x0 - right >= gap:
            count += 1
        right = max(right, b.x1)
    return count
