"""A row-by-row view of a :class:`~extractor.core.types.Table`, for readers that follow a
table down its rows rather than look values up by meaning (the 绩效自评表, whose rows
switch between a fund block, indicator rows and a 总分 row within one table).

Cells keep their grid order, figures are written without thousands separators, and each
view cell keeps the table cell it stands for, so a fact cites the cell (page and box) even
where the table's text has no offsets in the document (PDF tables).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from extractor.core.types import Cell as TableCell
from extractor.core.types import Table
from extractor.extractors.rules.patterns import CellRef, FactSink, FactSpec
from extractor.normalize import normalize

_NUM = re.compile(r"^-?\d+(?:\.\d+)?$")
CELL_UNIT = re.compile(r"[（(](亿元|万元|元)[)）]")


@dataclass
class Cell:
    text: str
    start: int | None = None
    end: int | None = None
    source: TableCell | None = None
    page: int = 1

    @property
    def is_num(self) -> bool:
        return _NUM.match(self.text) is not None

    @property
    def is_label(self) -> bool:
        return bool(self.text) and not self.is_num


@dataclass
class Row:
    cells: list[Cell]

    def labels(self) -> list[Cell]:
        return [c for c in self.cells if c.is_label]

    def numbers(self) -> list[Cell]:
        return [c for c in self.cells if c.is_num]

    @property
    def head(self) -> str:
        first = next((c.text for c in self.cells if c.text), "")
        return re.sub(r"\s+", "", first)

    @property
    def is_data(self) -> bool:
        return bool(self.numbers()) and self.head not in {"栏次", "行次"}


@dataclass
class Block:
    """A table as rows, with the prose just above it (its title, a 项目名称 line …)."""

    rows: list[Row]
    intro: str
    unit: str
    title: str = ""
    table: Table | None = None
    pages: dict[int, int] = field(default_factory=dict)


def _text(cell: TableCell) -> str:
    """The cell's text as the normalized document has it (plain-text cells already are)."""
    text = (cell.text if cell.start is not None else normalize(cell.text).text).strip()
    compact = re.sub(r"[\s,]", "", text)
    return compact if _NUM.match(compact) else text


def blocks(sink: FactSink, tables: list[Table]) -> list[Block]:
    """Row views of ``tables`` in document order, each with the prose above it."""
    out: list[Block] = []
    prev_end = 0
    for table in tables:
        intro = ""
        if table.start is not None:
            intro = sink.text[prev_end:table.start]
            prev_end = table.end if table.end is not None else table.start
        ordinal = table.source == "text-layout"
        rows = []
        for cells in table.rows():
            kept = [c for c in cells if c.text.strip()] if ordinal else cells
            page = sink.doc.page_at(kept[0].start) if kept and kept[0].start is not None else table.page
            rows.append(Row([Cell(_text(c), c.start, c.end, c, page) for c in kept]))
        rows = [r for r in rows if any(c.text for c in r.cells)]
        out.append(Block(rows, intro, table.unit or "万元", table.title or "", table))
    return out


def cite(sink: FactSink, spec: FactSpec, first: Cell, last: Cell) -> None:
    """Record ``spec`` quoting ``first`` .. ``last``: by offsets where the text has them,
    else by the last cell (the value) with its page and box."""
    if first.start is not None and last.end is not None and first.start <= last.end:
        sink.add(spec, (first.start, last.end))
        return
    if last.start is not None and last.end is not None:
        sink.add(spec, (last.start, last.end))
        return
    if last.source is None:
        return
    label = first.text if first is not last else None
    sink.add_cell(spec, CellRef(last.source, last.page, bbox=last.source.bbox, row_label=label,
                                table=None))
