"""What a raw grid means: header rows, column header paths, row labels, title, unit, and
tables continued across pages.

Every reader (text layer, scanned page, plain text) returns bare grids; this module is
the one place that decides which rows are headers and which cells label a row, so a value
can be read by meaning (row label x column header) whatever produced the grid.

Header rows are the leading rows before the first data row. A data row has a figure in
it, or starts with a total (``合计``/``总计``) or an enumerated item (``一、``, ``（一）``,
``1.``); a column-numbering row (``栏次`` 1 2 3 …) is still header. A header cell spanning
further down extends the header to its bottom. Columns are classified on the data rows:
*code* columns (the 类/款/项 or 科目编码 columns: their header says so, or they hold only
2-7 digit codes left of a name), *label* columns (names), and *value* columns. Columns
fall into segments, a new one where a name column follows a value column; a cell's row
label is the text of its row's name cells in its segment (codes and 类/款/项 left out, a
``合计`` spanning the code columns kept), so both halves of a two-sided table
(收入 | 支出) get their own labels. Column-numbering rows give no column title.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import replace

from extractor.core.types import Cell, PageText, Table

AMOUNT = re.compile(r"^[-−+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?$")
"""A figure as printed in a cell (``2,940.05``, ``0.95``, ``12``, ``3.5%``)."""
CODE = re.compile(r"^\d{2,7}$")
CODE_HEADER = re.compile(r"编码|代码|^[类款项]$")
CODE_LEVELS = frozenset({"类", "款", "项"})
"""Column titles of the three code columns, often printed in the first body row."""
LABEL_HEADERS = frozenset({"项目", "科目名称", "名称", "单位名称", "项目名称", "科目"})
TOTAL_OR_ITEM = re.compile(r"^(?:合\s*计|总\s*计|[一二三四五六七八九十]+、"
                           r"|[（(][一二三四五六七八九十\d]+[）)]|\d+[.、．])")
COLUMN_NUMBERS = frozenset({"栏次", "行次"})
UNIT = re.compile(r"(?:金额)?单位\s*[：:]\s*(万元|元)")
CELL_UNIT = re.compile(r"[（(](万元|元)[)）]")
_NO = r"[\d一二三四五六七八九十]+(?:[-—]\d+)?"
TITLE_MARKER = re.compile(rf"(?:(?:部门)?公开\s*(?:\d+\s*表|表\s*\d+)|附表\s*{_NO}"
                          rf"|(?:^|(?<=\s))表\s*{_NO})\s*[:：、.]?")
"""Table number markers printed beside a title: ``公开01表``, ``附表1-2``, ``表3``, ``表一``."""
CONTINUED = re.compile(r"续表|[（(]续[)）]")
TITLE_MAX_CHARS = 40
SENTENCE_END = frozenset("：:。，,；;")
"""A line ending like this is narrative (``…范围的单位包括：``), not a table title."""
TITLE_LOOKBACK = 4
"""Lines above a table searched for its title (a unit line and a marker line between),
not counting the lines that only say whose report and which year it is."""
_MASTHEAD = re.compile(r"^(?:编制单位|部门名称|单位名称|填报单位|预算单位)\s*[:：]|^\d{4}\s*年度?$")
"""Lines between a title and its table naming the department or the year (never a title)."""
COLUMN_TOLERANCE = 0.03
"""Column edges of two parts of one table may differ by this share of the table width."""


# --------------------------------------------------------------------------- annotate


def annotate(table: Table, lines_above: list[str]) -> None:
    """Fill header rows, header paths, row labels, title and unit of ``table`` in place.

    ``lines_above`` are the text lines printed between the previous table (or the top of
    the page) and this one, top to bottom; empty for a table that starts a page.
    """
    grid = _grid(table)
    for cell in table.cells:
        cell.is_header = False
        cell.header_path = []
        cell.row_label = ""
    table.header_rows = _header_rows(table, grid)
    _spread_group_headers(table, grid)
    kinds = _column_kinds(table, grid)
    paths = _column_paths(table, grid, kinds)
    segments = _segments(kinds)
    for cell in table.cells:
        cell.is_header = cell.is_header or cell.row < table.header_rows
        if cell.is_header:
            cell.header_path = _path_above(grid, cell)
            continue
        cell.header_path = list(paths[cell.row][cell.col])
        cell.row_label = _row_label(grid, cell, kinds, segments)
    table.title = table.title or find_title(lines_above)
    table.unit = table.unit or find_unit(lines_above, table)


def _grid(table: Table) -> list[list[Cell | None]]:
    grid: list[list[Cell | None]] = [[None] * table.n_cols for _ in range(table.n_rows)]
    for cell in table.cells:
        for r in range(cell.row, min(cell.row + cell.row_span, table.n_rows)):
            for c in range(cell.col, min(cell.col + cell.col_span, table.n_cols)):
                grid[r][c] = cell
    return grid


def _row_cells(grid: list[list[Cell | None]], r: int) -> list[Cell]:
    """The cells starting in row ``r``, left to right, each once."""
    out: list[Cell] = []
    for cell in grid[r]:
        if cell is not None and cell.row == r and (not out or out[-1] is not cell):
            out.append(cell)
    return out


def is_amount(text: str) -> bool:
    return bool(AMOUNT.match(text.strip()))


def _numbering_row(cells: Sequence[Cell]) -> bool:
    """A column-numbering row (``栏次 1 2 3 …``, with or without its label)."""
    texts = [c.text.strip() for c in cells if c.text.strip()]
    if texts and texts[0] in COLUMN_NUMBERS:
        return True
    numbers = [t for t in texts if is_amount(t)]
    if len(numbers) >= 2 and len(numbers) == len(texts) \
            and all(re.fullmatch(r"\d{1,2}", t) for t in numbers):
        values = [int(t) for t in numbers]
        return values == list(range(values[0], values[0] + len(values)))
    return False


def _is_data_row(cells: Sequence[Cell]) -> bool:
    texts = [c.text.strip() for c in cells if c.text.strip()]
    if not texts or _numbering_row(cells):
        return False
    if any(is_amount(t) for t in texts):
        return True
    printed = [c for c in cells if c.text.strip()]
    if len(printed) >= 2 and all(c.col_span > 1 for c in printed):
        return False  # group titles (合计 | 因公出国（境）费 | … each over its sub-columns)
    first = printed[0]
    return bool(TOTAL_OR_ITEM.match(first.text.strip())) and first.row_span == 1


_NUMBERING_REACH = 8
"""Rows from the top a column-numbering row may stand at (headers are a few rows deep)."""


def _header_rows(table: Table, grid: list[list[Cell | None]]) -> int:
    """Rows before the first data row; a blank row that no header cell reaches into
    ends the header too (an empty form's body). A column-numbering row with no figure
    above it closes the header wherever it stands, so a header row that starts like a
    total (``合计 | 因公出国（境）费 | …`` under ``预算数``) stays header."""
    first = 0
    for r in range(min(table.n_rows, _NUMBERING_REACH)):
        cells = _row_cells(grid, r)
        if any(is_amount(c.text) for c in cells) and not _numbering_row(cells):
            break
        if _numbering_row(cells):
            first = r + 1
            break
    for r in range(first, table.n_rows):
        cells = _row_cells(grid, r)
        if _is_data_row(cells):
            return r
        spanned = any(cell is not None and cell.row < r for cell in grid[r])
        if r and not spanned and not any(c.text.strip() for c in cells):
            return r
    return first or (1 if table.n_rows > 1 else 0)


def _spread_group_headers(table: Table, grid: list[list[Cell | None]]) -> None:
    """A header row printed without merged cells (``预算数 | | | 决算数 | | |`` over the
    sub-columns each covers): each title stands for the blank positions to its right, up
    to the next title. Where the row under it repeats one run of sub-titles as many times
    as it has titles, the runs say which columns each title covers (a title printed one
    column off still heads its own run)."""
    titled = _titled_rows(table, grid)
    for r, below in itertools.pairwise(titled):
        row = list(grid[r])
        if any(cell is None or cell.col_span > 1 or cell.row != r for cell in row):
            continue  # merged cells say what they cover
        heads = [c for c, cell in enumerate(row) if cell is not None and cell.text.strip()]
        blanks = [c for c in range(table.n_cols) if c not in heads]
        if len(heads) < 2 or not blanks or heads[0] != 0 \
                or not any(_cell_text(grid[below][c]) for c in blanks):
            continue
        owners = _repeated_runs([_cell_text(grid[below][c]) for c in range(table.n_cols)], len(heads))
        for c in range(table.n_cols):
            owner = heads[owners[c]] if owners else max(h for h in heads if h <= c)
            grid[r][c] = row[owner]


def _cell_text(cell: Cell | None) -> str:
    return "" if cell is None else re.sub(r"\s+", "", cell.text)


def _repeated_runs(texts: list[str], runs: int) -> list[int] | None:
    """For each position, which of ``runs`` equal runs of ``texts`` it is in; ``None``
    unless ``texts`` is that many repeats of one run with a title in it."""
    if len(texts) % runs:
        return None
    size = len(texts) // runs
    first = texts[:size]
    if not any(first) or any(texts[k * size:(k + 1) * size] != first for k in range(1, runs)):
        return None
    return [c // size for c in range(len(texts))]


def _titled_rows(table: Table, grid: list[list[Cell | None]]) -> list[int]:
    """Header rows that carry column titles (not a column-numbering row)."""
    return [r for r in range(table.header_rows) if not _numbering_row(_row_cells(grid, r))]


def _column_kinds(table: Table, grid: list[list[Cell | None]]) -> list[str]:
    """``code``, ``label`` or ``value`` for each column, judged on the body rows."""
    kinds = []
    titled = _titled_rows(table, grid)
    for c in range(table.n_cols):
        heads = [cell.text.strip() for r in titled
                 if (cell := grid[r][c]) is not None and cell.text.strip()]
        texts = [cell.text.strip() for r in range(table.header_rows, table.n_rows)
                 if (cell := grid[r][c]) is not None and cell.col == c and cell.text.strip()]
        body = [t for t in texts if t not in CODE_LEVELS]
        if any(CODE_HEADER.search(h) for h in heads) or (
                texts and any(t in CODE_LEVELS for t in texts[:1])):
            kinds.append("code")
        elif heads and heads[-1] in LABEL_HEADERS:
            kinds.append("label")
        elif not body:
            kinds.append("value")
        elif sum(is_amount(t) for t in body) * 2 > len(body):
            kinds.append("number")
        else:
            kinds.append("label")
    # digits-only columns standing left of a name column are codes, not amounts
    for c, kind in enumerate(kinds):
        if kind == "number" and c + 1 < len(kinds) and kinds[c + 1] in {"label", "code"}:
            cells = [cell.text.strip() for r in range(table.header_rows, table.n_rows)
                     if (cell := grid[r][c]) is not None and cell.col == c and cell.text.strip()]
            figures = [t for t in cells if is_amount(t)]  # a 合计 may stand in it too
            if figures and all(CODE.match(t) for t in figures):
                kinds[c] = "code"
    return ["value" if k == "number" else k for k in kinds]


def _column_paths(table: Table, grid: list[list[Cell | None]],
                  kinds: list[str]) -> list[list[list[str]]]:
    """Header path of every body position; a 类/款/项 cell in a code column of the body
    is a header for the cells under it (and marked as such)."""
    base: list[list[str]] = []
    titled = _titled_rows(table, grid)
    for c in range(table.n_cols):
        path: list[str] = []
        seen: list[Cell] = []
        for r in titled:
            cell = grid[r][c]
            if cell is not None and cell not in seen and cell.text.strip():
                seen.append(cell)
                path.append(cell.text.strip())
        base.append(path)
    out: list[list[list[str]]] = [[[] for _ in range(table.n_cols)] for _ in range(table.n_rows)]
    for c in range(table.n_cols):
        path = base[c]
        for r in range(table.header_rows, table.n_rows):
            cell = grid[r][c]
            out[r][c] = path
            if (kinds[c] == "code" and cell is not None and cell.row == r
                    and cell.text.strip() in CODE_LEVELS):
                cell.is_header = True
                path = [*path, cell.text.strip()]
    return out


def _path_above(grid: list[list[Cell | None]], cell: Cell) -> list[str]:
    path: list[str] = []
    for r in range(cell.row):
        if _numbering_row(_row_cells(grid, r)):
            continue
        above = grid[r][cell.col]
        if above is not None and above is not cell and above.text.strip() \
                and above.text.strip() not in path:
            path.append(above.text.strip())
    return path


def _segments(kinds: list[str]) -> list[int]:
    """Segment number of each column: a new segment starts where a code or label column
    follows a value column (the right half of a two-sided table)."""
    out = []
    segment = 0
    for c, kind in enumerate(kinds):
        if c and kind != "value" and kinds[c - 1] == "value":
            segment += 1
        out.append(segment)
    return out


def _row_label(grid: list[list[Cell | None]], cell: Cell, kinds: list[str],
               segments: list[int]) -> str:
    """Texts of the row's name cells in the cell's segment: cells covering a label or
    code column there, codes and 类/款/项 titles left out (``合计`` spanning the code
    columns is a label; ``201`` is not)."""
    parts: list[str] = []
    seen: list[Cell] = []
    seg = segments[cell.col]
    for c, other in enumerate(grid[cell.row]):
        if segments[c] != seg or kinds[c] == "value" or other is None or other in seen:
            continue
        seen.append(other)
        text = other.text.strip()
        if text and not CODE.match(text) and text not in CODE_LEVELS and text not in parts:
            parts.append(text)
    return " ".join(parts)


# --------------------------------------------------------------------------- title, unit


def clean_title(line: str) -> str:
    """A title line without its ``公开01表`` / ``表3`` markers and surrounding space."""
    return " ".join(TITLE_MARKER.sub(" ", line).split()).strip(" ：:")


def find_unit(lines_above: Sequence[str], table: Table | None = None) -> str | None:
    """``万元`` or ``元`` from a unit line above the table or in its first rows."""
    for line in reversed(lines_above[-TITLE_LOOKBACK - 1:]):
        match = UNIT.search(line)
        if match:
            return match.group(1)
    if table is None:
        return None
    for cell in sorted(table.cells, key=lambda c: (c.row, c.col)):
        if cell.row > max(table.header_rows, 1):
            break
        match = UNIT.search(cell.text) or CELL_UNIT.search(cell.text)
        if match:
            return match.group(1)
    return None


def find_title(lines_above: Sequence[str]) -> str | None:
    """The nearest title-like line above a table: one ending in ``表`` within a few
    lines (a unit or marker line may stand between), else the line right above it when
    that is short and not narrative."""
    fallback: str | None = None
    seen_text = False
    near = [line for line in lines_above if not _MASTHEAD.match(line.strip())]
    for line in reversed(near[-TITLE_LOOKBACK:]):
        parts = [clean_title(UNIT.sub("", part)) for part in line.split("\t")]
        parts = [p for p in parts if p and not _MASTHEAD.match(p)]
        if not parts:
            continue  # a unit or marker line
        for text in reversed(parts):
            if re.sub(r"[（(]续[)）]$", "", text).endswith("表") and len(text) <= TITLE_MAX_CHARS:
                return text
        if not seen_text and re.search(r"[\u4e00-\u9fff]", parts[-1]) \
                and len(parts[-1]) <= TITLE_MAX_CHARS and line.rstrip()[-1:] not in SENTENCE_END:
            fallback = parts[-1]
        seen_text = True
    return fallback


# --------------------------------------------------------------------------- continuation


def merge_continuations(tables: list[Table], pages: Sequence[PageText] = ()) -> list[Table]:
    """Tables in document order with every page-continued part folded into its start.

    ``pages`` (the composed pages, in whose text tables' ``start`` and ``end`` are
    offsets) let a table that starts its page, continues nothing and has no
    title take its title and unit from the lines that end the page before (a table moved
    to a page of its own, a title printed at the foot of a page).

    A part continues the table before it when it is the first table on the next page,
    has no title of its own, the same number of columns and (when both have boxes)
    column edges within ``COLUMN_TOLERANCE`` of the table width. Header rows the part
    repeats, and blank rows it starts with, are dropped. Cells keep their own page.
    """
    out: list[Table] = []
    grown: list[Table] = []
    for table in tables:
        prev = out[-1] if out else None
        if prev is not None and _continues(prev, table):
            _append(prev, table)
            if prev not in grown:
                grown.append(prev)
        else:
            out.append(table)
    for table in grown:  # header rows, column kinds and labels judged on the whole table
        annotate(table, [])
    if pages:
        _titles_from_previous_page(out, {page.number: page.raw for page in pages})
    for i, table in enumerate(out):
        table.index = i
    return out


def _titles_from_previous_page(tables: list[Table], page_texts: dict[int, str]) -> None:
    for table in tables:
        text = page_texts.get(table.page)
        above = page_texts.get(table.page - 1)
        if table.title or table.index != 0 or table.start is None or text is None or above is None \
                or text[:table.start].strip():
            continue
        ends = [t.end for t in tables if (t.pages or [t.page])[-1] == table.page - 1 and t.end is not None]
        tail = [line for line in above[max(ends) + 1 if ends else 0:].splitlines() if line.strip()]
        if tail:
            table.title = find_title(tail)
            table.unit = table.unit or find_unit(tail)


def _continues(prev: Table, part: Table) -> bool:
    """``part`` is the first table on the page after ``prev``'s last, with as many
    columns at the same places, and no title of its own: none, a ``续表``/``（续）``
    title, the same title printed again, or a line not ending in 表 (a running page
    header)."""
    if part.page != prev.pages[-1] + 1 or part.n_cols != prev.n_cols or part.index != 0:
        return False
    title = part.title or ""
    if title.endswith("表") and not CONTINUED.search(title) and title != prev.title:
        return False
    left, right = _edges(prev), _edges(part)
    if left is None or right is None or prev.bbox is None:
        return True
    width = max(prev.bbox[2] - prev.bbox[0], 1.0)
    return all(abs(a - b) <= COLUMN_TOLERANCE * width for a, b in zip(left, right, strict=True))


def _edges(table: Table) -> list[float] | None:
    """Left edge of each column, from cells one column wide."""
    edges: list[float | None] = [None] * table.n_cols
    for cell in table.cells:
        if cell.bbox is not None and cell.col_span == 1 and edges[cell.col] is None:
            edges[cell.col] = cell.bbox[0]
    if any(e is None for e in edges):
        return None
    return [e for e in edges if e is not None]


def _row_texts(table: Table, row: int) -> list[str]:
    return [c.text.strip() for c in table.cells if c.row == row]


def _append(head: Table, part: Table) -> None:
    skip = 0
    while skip < part.n_rows and not any(_row_texts(part, skip)):
        skip += 1
    repeated = 0
    while (repeated < head.header_rows and skip + repeated < part.n_rows
           and _row_texts(part, skip + repeated) == _row_texts(head, repeated)):
        repeated += 1
    drop = skip + repeated
    offset = head.n_rows - drop
    for cell in head.cells:
        if cell.page is None:
            cell.page = head.page
    for cell in part.cells:
        if cell.row >= drop:
            head.cells.append(replace(cell, row=cell.row + offset, page=cell.page or part.page,
                                      row_span=min(cell.row_span, part.n_rows - cell.row)))
    head.n_rows += part.n_rows - drop
    head.pages.extend(p for p in (part.pages or [part.page]) if p not in head.pages)
    if part.end is not None:
        head.end = part.end
    head.unit = head.unit or part.unit
