"""Which standard table a :class:`~extractor.core.types.Table` is, and its structure as
the reader needs it: header rows, each column's header path, label columns, the columns to
skip (行次, codes), parts continued on the next page, cell offsets in the document's text,
and the unit when the table's own unit line was not read.

Recognition is by title, else by header signature (``tables.yaml``); structure is read
from the cells themselves, so a layout never seen still yields its header paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise

from extractor.core.types import Cell, Table
from extractor.doctypes.final_accounts import TableShape, table_shapes
from extractor.normalize import normalize
from extractor.tables.text import LIST_MARK

AMOUNT = re.compile(r"^-?\d[\d,]*(?:\.\d+)?$")
DECIMAL = re.compile(r"^-?\d[\d,]*\.\d+$")
CODE_CELL = re.compile(r"^(?P<code>\d{3}(?:\d{2}){0,2})(?:\s*(?P<name>[^\W\d_].*))?$")
DASH = re.compile(r"^[-—－–]+$")
_LINE_NO = re.compile(r"行次|栏次")
_LABEL_HEAD = re.compile(r"项目|科目名称|名称")
_TOTAL = re.compile(r"^(?:合计|总计)$")
_GAP = 300
"""Text between a table and its continuation (a page footer and header) at most."""


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


_CODE_TITLES = re.compile(r"^类款项(?=.)")
"""The code columns' titles a plain-text rendering prints on the first body row (类 款 项 合计)."""


def clean_label(text: str) -> str:
    """A row label as the synonyms see it: no whitespace, no list marker (一、 / （一） / 1.),
    no 类 款 项 column titles run into it."""
    return LIST_MARK.sub("", _CODE_TITLES.sub("", compact(text)))


def is_amount(text: str) -> bool:
    return AMOUNT.match(compact(text)) is not None


@dataclass
class Grid:
    """One table as the reader sees it: header rows, header path per column, label columns.

    ``ordinal`` tables (space-aligned plain text) have no trustworthy columns: a cell's
    column is its place in the row, so headers are not used to name values.
    """

    table: Table
    header_rows: int
    headers: dict[int, list[str]] = field(default_factory=dict)
    label_cols: list[int] = field(default_factory=list)
    skip_cols: set[int] = field(default_factory=set)
    ordinal: bool = False

    def rows(self) -> list[list[Cell]]:
        return self.table.rows()[self.header_rows:]

    def header(self, col: int) -> list[str]:
        return self.headers.get(col, [])


def is_code_row(row: list[Cell]) -> bool:
    first = next((c for c in row if c.text.strip()), None)
    if first is None:
        return False
    m = CODE_CELL.match(first.text.strip())
    return m is not None and len(m["code"]) in {3, 5, 7}


def column_numbers(row: list[Cell]) -> bool:
    nums = [compact(c.text) for c in row if compact(c.text).isdigit()]
    return len(nums) >= 3 and nums == [str(i) for i in range(1, len(nums) + 1)]


def _first_data_row(table: Table) -> int:
    """The first row below the header: the first printing an amount or a code, else (a
    table without figures) the first 合计 row or numbered label."""
    rows = table.rows()
    for r, row in enumerate(rows):
        if column_numbers(row):
            continue
        if any(DECIMAL.match(compact(c.text)) for c in row) or is_code_row(row):
            return r
    for r, row in enumerate(rows):
        texts = [compact(c.text) for c in row]
        if any(_TOTAL.match(t) or (LIST_MARK.match(t) and len(t) > 3) for t in texts):
            return r
    return table.n_rows


def _line_numbers(values: list[str]) -> bool:
    """A 行次 column: whole numbers rising row by row (1, 2, 3 … or 1.00, 2.00 …)."""
    nums: list[Decimal] = []
    for v in values:
        try:
            d = Decimal(v.replace(",", ""))
        except ArithmeticError:
            return False
        if d != d.to_integral_value():
            return False
        nums.append(d)
    return len(nums) >= 3 and all(b > a for a, b in pairwise(nums))


def _codes(values: list[str]) -> bool:
    """A code column (类 201, 款 06, 经济分类 30101): whole numbers of code lengths only."""
    return len(values) >= 2 and all(re.fullmatch(r"\d{2}|\d{3}|\d{5}|\d{7}", v) for v in values) and any(
        len(v) >= 3 or v.startswith("0") for v in values)


def _index(table: Table) -> dict[tuple[int, int], Cell]:
    """Grid position → the cell covering it (spans included), built once per table."""
    out: dict[tuple[int, int], Cell] = {}
    for c in table.cells:
        for r in range(c.row, c.row + max(c.row_span, 1)):
            for k in range(c.col, c.col + max(c.col_span, 1)):
                out.setdefault((r, k), c)
    return out


def _header_paths(table: Table, n: int) -> dict[int, list[str]]:
    """Column → header texts above it, outermost first. Plain-text grids print a merged
    header cell once and leave the spanned positions empty: an empty position takes its
    left neighbour's text when the position above it was spanned too."""
    fill = table.source == "text"
    index = _index(table)
    known = {} if fill else _annotated_paths(table)
    grid: list[list[str]] = []
    for r in range(table.header_rows if known else 0, n):
        line: list[str] = []
        for c in range(table.n_cols):
            cell = index.get((r, c))
            text = compact(cell.text) if cell else ""
            above = index.get((r - 1, c))
            if fill and not text and c > 0 and (r == 0 or not (above and above.row == r - 1
                                                              and compact(above.text))):
                text = line[c - 1]
            line.append(text)
        grid.append(line)
    out: dict[int, list[str]] = {}
    for c in range(table.n_cols):
        path: list[str] = list(known.get(c, []))
        for line in grid:
            text = line[c]
            if text and (not path or path[-1] != text):
                path.append(text)
        out[c] = path
    return out


def _annotated_paths(table: Table) -> dict[int, list[str]]:
    """Column → the header path the table layer gave the first body cell of that column
    (:func:`extractor.tables.structure.annotate`: merged and unmerged group titles spread,
    column-numbering rows left out); empty when the layer annotated nothing."""
    out: dict[int, list[str]] = {}
    for cell in sorted(table.cells, key=lambda c: (c.row, c.col)):
        if cell.row >= table.header_rows and cell.col not in out and cell.header_path:
            out[cell.col] = [t for t in (compact(h) for h in cell.header_path) if t]
    return out


def _header_rows(table: Table) -> int:
    """The table layer's header rows, extended over the rows right below them that print
    several cells but no figure, code or numbered label (a header of three or four levels
    read as one); the first row with a figure otherwise."""
    if table.header_rows <= 0:
        return _first_data_row(table)
    rows = table.rows()
    n = table.header_rows
    while n < len(rows):
        texts = [compact(c.text) for c in rows[n] if c.text.strip()]
        if len(texts) < 2 or is_code_row(rows[n]) or any(
                DECIMAL.match(t) or (LIST_MARK.match(t) and len(t) > 3) for t in texts):
            break
        n += 1
    return n if n < len(rows) else table.header_rows


def analyse(table: Table) -> Grid:
    """Header rows, header paths and label columns of a table."""
    ordinal = table.source == "text-layout"
    n = _header_rows(table)
    grid = Grid(table, n, ordinal=ordinal)
    if ordinal:
        return grid
    grid.headers = _header_paths(table, n)
    data = table.rows()[n:]
    for c in range(table.n_cols):
        head = "".join(grid.headers.get(c, []))
        texts = [t for row in data for cell in row if cell.col == c
                 and (t := compact(cell.text)) and not DASH.match(t)]
        numbers = [t for t in texts if is_amount(t)]
        labels = len(texts) - len(numbers)
        if (labels and labels >= len(numbers)) or (not texts and _LABEL_HEAD.search(head)):
            grid.label_cols.append(c)
        elif _line_numbers(numbers) or _codes(numbers) or (
                _LINE_NO.search(head) and not any("." in t for t in numbers)):
            grid.skip_cols.add(c)
    return grid


# --------------------------------------------------------------------------- which table


def table_text(table: Table) -> str:
    return "".join(compact(c.text) for c in table.cells)


def identify(table: Table) -> TableShape | None:
    """The standard table this is: by title, else by header signature."""
    shapes = table_shapes().tables
    if table.title:
        title = compact(table.title)
        hit = next((s for s in shapes if s.title_matches(title)), None)
        if hit is not None:
            return hit
    text = table_text(table)
    return next((s for s in shapes if s.signature_matches(text)), None)


def _continues(prev: Table, table: Table) -> bool:
    """An untitled part right after a table, on its page or the next, as many columns."""
    pages = prev.pages or [prev.page]
    near = prev.end is None or table.start is None or table.start - prev.end <= _GAP
    return (not table.title and table.n_cols == prev.n_cols and table.page in {pages[-1], pages[-1] + 1}
            and prev.source == table.source and near)


def _repeated_header(head: Table, tail: Table) -> int:
    """Rows at the top of a continuation that repeat the head's header (reprinted per page)."""
    n = _first_data_row(head)
    heads = {"".join(compact(c.text) for c in row) for row in head.rows()[:n]}
    k = 0
    for row in tail.rows():
        if "".join(compact(c.text) for c in row) not in heads:
            break
        k += 1
    return k


@dataclass
class Found:
    """A recognised table; ``row_pages`` gives the page of rows appended from a later part."""

    shape: TableShape
    table: Table
    row_pages: dict[int, int] = field(default_factory=dict)


def group(tables: list[Table]) -> list[Found]:
    """Recognised tables, continuation parts appended to the table they continue."""
    out: list[Found] = []
    last: Found | None = None
    for table in (part for whole in tables for part in split_at_titles(whole)):
        shape = identify(table)
        if shape is None and last is not None and _continues(last.table, table):
            shift = last.table.n_rows
            last.table = _append(last.table, table)
            last.row_pages.update(dict.fromkeys(range(shift, last.table.n_rows), table.page))
            continue
        if shape is None:
            last = None
            continue
        last = Found(shape, table)
        out.append(last)
    return out


def _title_in(text: str) -> str | None:
    """The last standard table title printed in ``text`` (a title row, or a note that runs
    on into the next table's title)."""
    best: tuple[int, int, str] | None = None  # (end, length, title): the last, then the longest
    for shape in table_shapes().tables:
        for pattern in shape.titles:
            for m in re.finditer(pattern, text):
                start = max(0, m.start() - 12)  # the words before the match decide (财政拨款…)
                found = (m.end(), m.end() - m.start(), text[start:m.end()])
                if shape.title_matches(found[2]) and (best is None or found[:2] > best[:2]):
                    best = found
    return best[2] if best else None


def split_at_titles(table: Table) -> list[Table]:
    """A grid holding two tables (the table layer joined tables ruled alike on one page): a
    row with a single cell naming a standard table starts a new table under that title."""
    rows = table.rows()
    for r, row in enumerate(rows):
        printed = [c for c in row if c.text.strip()]
        if len(printed) != 1 or r == 0:
            continue
        title = _title_in(compact(printed[0].text))
        if title is None:
            continue
        head = _slice(table, 0, r, table.title)
        tail = _slice(table, r + 1, table.n_rows, title)
        return [head, *split_at_titles(tail)]
    return [table]


def _slice(table: Table, first: int, stop: int, title: str | None) -> Table:
    cells = [Cell(row=c.row - first, col=c.col, text=c.text, bbox=c.bbox, row_span=c.row_span,
                  col_span=c.col_span, row_label=c.row_label, header_path=c.header_path,
                  start=c.start, end=c.end, page=c.page)
             for c in table.cells if first <= c.row < stop]
    return Table(index=table.index, page=table.page, cells=cells, n_rows=stop - first, n_cols=table.n_cols,
                 header_rows=table.header_rows if first == 0 else 0, bbox=table.bbox, title=title,
                 unit=table.unit, pages=table.pages, source=table.source, start=table.start, end=table.end)


def _append(head: Table, tail: Table) -> Table:
    drop = _repeated_header(head, tail)
    shift = head.n_rows - drop
    cells = [*head.cells, *(Cell(row=c.row + shift, col=c.col, text=c.text, bbox=c.bbox,
                                 row_span=c.row_span, col_span=c.col_span, row_label=c.row_label,
                                 header_path=c.header_path, start=c.start, end=c.end)
                            for c in tail.cells if c.row >= drop)]
    pages = sorted({*(head.pages or [head.page]), *(tail.pages or [tail.page])})
    return Table(index=head.index, page=head.page, cells=cells, n_rows=head.n_rows + tail.n_rows - drop,
                 n_cols=head.n_cols, header_rows=head.header_rows, bbox=head.bbox, title=head.title,
                 unit=head.unit, pages=pages, source=head.source, start=head.start,
                 end=tail.end if tail.end is not None else head.end)




def locate_cells(table: Table, text: str) -> None:
    """Give a PDF table's cells their offsets in the document's text.

    The table layer renders each table in place, one tab-joined line per grid row (a merged
    cell at its top-left position), and records the table's span; walking that span line by
    line finds each row, and each cell is the field of its column. Rows not found keep no
    offsets (their facts cite page and box only).
    """
    if table.start is None or table.end is None or all(c.start is not None for c in table.cells):
        return
    by_row: dict[int, list[Cell]] = {}
    for cell in table.cells:
        by_row.setdefault(cell.row, []).append(cell)
    pos = table.start
    stop = min(len(text), table.end + 1)
    for r in range(table.n_rows):
        cells = by_row.get(r, [])
        want = ["" for _ in range(table.n_cols)]
        for c in cells:
            if 0 <= c.col < table.n_cols:
                want[c.col] = compact(c.text)
        while pos < stop:
            eol = text.find("\n", pos, stop)
            eol = stop if eol < 0 else eol
            fields = text[pos:eol].split("\t")
            if len(fields) == table.n_cols and [compact(f) for f in fields] == [
                    compact(normalize(w).text) for w in want]:
                offset = pos
                for k, piece in enumerate(fields):
                    lead = len(piece) - len(piece.lstrip())
                    for c in cells:
                        if c.col == k and c.text.strip() and c.start is None:
                            c.start, c.end = offset + lead, offset + lead + len(piece.strip())
                    offset += len(piece) + 1
                pos = eol + 1
                break
            pos = eol + 1
        else:
            return


_UNIT_LINE = re.compile(r"单位[:：]\s*(万元|元)")


def unit_above(text: str, table: Table) -> str | None:
    """The unit line just above a table whose unit the table layer did not see."""
    if table.start is None:
        return None
    units = _UNIT_LINE.findall(text, max(0, table.start - 200), table.start)
    return units[-1] if units else None


_WAN = re.compile(r"(\d+\.\d{1,2})\s*万元")


def unit_by_narrative(text: str, table: Table) -> str | None:
    """A table printed without its unit line (its title page missing): 元 when its figures,
    divided by 10000, are the 万元 figures the narrative states, 万元 when they are as
    printed; undecided when neither or both."""
    stated = {d for m in _WAN.findall(text) if (d := Decimal(m)) >= _LEAST_WAN}
    figures = [Decimal(t.replace(",", "")) for c in table.cells
               if DECIMAL.match(t := compact(c.text))]
    as_wan = sum(1 for f in figures if f.quantize(Decimal("0.01")) in stated)
    as_yuan = sum(1 for f in figures if (f / 10000).quantize(Decimal("0.01")) in stated)
    if as_yuan > as_wan:
        return "元"
    return "万元" if as_wan > as_yuan else None


_LEAST_WAN = Decimal(1)
"""Stated 万元 figures below this say nothing about a table's unit: every figure under 50
元 rounds to 0.00 万元, so one "0.00万元" in the narrative made a 万元 table read as 元."""
