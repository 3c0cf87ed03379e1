"""The table reader by meaning: the standard tables of a final-accounts report, read as
tables, whatever their layout.

Which table a :class:`~extractor.core.types.Table` is comes from its title, else from its
header signature (the title may be missing, damaged or only on the page before); a part
with neither that continues the previous table on the next page, with as many columns, is
read as that table. A value is read by (row label, column header) through the synonyms of
``extractor/doctypes/final_accounts/tables.yaml``; the 类/款/项 code columns are joined into
7-digit codes, and 项 rows take their class and section names from their parent rows.
A blank cell in a labelled row is a stated zero (the templates print zero as an empty
cell), read at a low priority so any printed figure outranks it. Amounts in 元 (the
table's unit line) are converted to 万元 at full precision.

Every fact cites its cell: quote, page, cell box, row label and column header (and
normalized-text offsets where the table's text is known).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise

from extractor.core.types import Cell, Table
from extractor.doctypes.final_accounts import CellRule, CodeRule, TableShape, table_shapes
from extractor.extractors.rules.patterns import (
    BLANK_ZERO,
    STATED_NONE,
    TABLE,
    CellRef,
    FactSink,
    FactSpec,
    zero_quantity,
)
from extractor.normalize import normalize
from extractor.numbers import NumberFormatError, parse_amount, parse_count, to_float

_AMOUNT = re.compile(r"^-?\d[\d,]*(?:\.\d+)?$")
_DECIMAL = re.compile(r"^-?\d[\d,]*\.\d+$")
_CODE_CELL = re.compile(r"^(?P<code>\d{3}(?:\d{2}){0,2})(?:\s*(?P<name>[^\W\d_].*))?$")
_PART = re.compile(r"^\d{2}$")
_DASH = re.compile(r"^[-—－–]+$")
_LIST_MARK = re.compile(
    r"^(?:[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十\d]+[)）]|\d+[.．、])")
_LINE_NO = re.compile(r"行次|栏次")
_LABEL_HEAD = re.compile(r"项目|科目名称|名称")
_NO_DATA = re.compile(r"本表无数据|无此项(?:收入|支出|收支)?|本表为空|无相关数据|故本表无")
_TAIL_REACH = 400
"""How far after a table its notes ("注：…本表无数据") may stand."""
_TOTAL = re.compile(r"^(?:合计|总计)$")
_GAP = 300
"""Text between a table and its continuation (a page footer and header) at most."""


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def clean_label(text: str) -> str:
    """A row label as the synonyms see it: no whitespace, no list marker (一、 / （一） / 1.)."""
    return _LIST_MARK.sub("", _compact(text))


def _is_amount(text: str) -> bool:
    return _AMOUNT.match(_compact(text)) is not None


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


def _is_code_row(row: list[Cell]) -> bool:
    first = next((c for c in row if c.text.strip()), None)
    if first is None:
        return False
    m = _CODE_CELL.match(first.text.strip())
    return m is not None and len(m["code"]) in {3, 5, 7}


def _column_numbers(row: list[Cell]) -> bool:
    nums = [_compact(c.text) for c in row if _compact(c.text).isdigit()]
    return len(nums) >= 3 and nums == [str(i) for i in range(1, len(nums) + 1)]


def _first_data_row(table: Table) -> int:
    """The first row below the header: the first printing an amount or a code, else (a
    table without figures) the first 合计 row or numbered label."""
    rows = table.rows()
    for r, row in enumerate(rows):
        if _column_numbers(row):
            continue
        if any(_DECIMAL.match(_compact(c.text)) for c in row) or _is_code_row(row):
            return r
    for r, row in enumerate(rows):
        texts = [_compact(c.text) for c in row]
        if any(_TOTAL.match(t) or (_LIST_MARK.match(t) and len(t) > 3) for t in texts):
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
    grid: list[list[str]] = []
    for r in range(n):
        line: list[str] = []
        for c in range(table.n_cols):
            cell = index.get((r, c))
            text = _compact(cell.text) if cell else ""
            above = index.get((r - 1, c))
            if fill and not text and c > 0 and (r == 0 or not (above and above.row == r - 1
                                                              and _compact(above.text))):
                text = line[c - 1]
            line.append(text)
        grid.append(line)
    out: dict[int, list[str]] = {}
    for c in range(table.n_cols):
        path: list[str] = []
        for r in range(n):
            text = grid[r][c]
            if text and (not path or path[-1] != text):
                path.append(text)
        out[c] = path
    return out


def analyse(table: Table) -> Grid:
    """Header rows, header paths and label columns of a table."""
    ordinal = table.source == "text-layout"
    n = table.header_rows if table.header_rows > 0 else _first_data_row(table)
    grid = Grid(table, n, ordinal=ordinal)
    if ordinal:
        return grid
    grid.headers = _header_paths(table, n)
    data = table.rows()[n:]
    for c in range(table.n_cols):
        head = "".join(grid.headers.get(c, []))
        texts = [t for row in data for cell in row if cell.col == c
                 and (t := _compact(cell.text)) and not _DASH.match(t)]
        numbers = [t for t in texts if _is_amount(t)]
        labels = len(texts) - len(numbers)
        if (labels and labels >= len(numbers)) or (not texts and _LABEL_HEAD.search(head)):
            grid.label_cols.append(c)
        elif _line_numbers(numbers) or _codes(numbers) or (
                _LINE_NO.search(head) and not any("." in t for t in numbers)):
            grid.skip_cols.add(c)
    return grid


# --------------------------------------------------------------------------- which table


def _table_text(table: Table) -> str:
    return "".join(_compact(c.text) for c in table.cells)


def identify(table: Table) -> TableShape | None:
    """The standard table this is: by title, else by header signature."""
    shapes = table_shapes().tables
    if table.title:
        title = _compact(table.title)
        hit = next((s for s in shapes if s.title_matches(title)), None)
        if hit is not None:
            return hit
    text = _table_text(table)
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
    heads = {"".join(_compact(c.text) for c in row) for row in head.rows()[:n]}
    k = 0
    for row in tail.rows():
        if "".join(_compact(c.text) for c in row) not in heads:
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
    for table in tables:
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


# --------------------------------------------------------------------------- reading values


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
                want[c.col] = _compact(c.text)
        while pos < stop:
            eol = text.find("\n", pos, stop)
            eol = stop if eol < 0 else eol
            fields = text[pos:eol].split("\t")
            if len(fields) == table.n_cols and [_compact(f) for f in fields] == [
                    _compact(normalize(w).text) for w in want]:
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


@dataclass
class _Hit:
    """A value found for a rule: the value cell (None when the row has no such cell) and
    the label cell it was read against."""

    label: Cell | None
    cell: Cell | None
    header: list[str]
    row: list[Cell] = field(default_factory=list)


class TableReader:
    """Reads one recognised table into the sink."""

    def __init__(self, sink: FactSink, found: Found, unit: str = "万元") -> None:
        self.sink = sink
        self.shape = found.shape
        self.table = found.table
        self.row_pages = found.row_pages
        locate_cells(found.table, sink.text)
        self.grid = analyse(found.table)
        self.unit = (found.table.unit or _unit_above(sink.text, found.table)
                     or _unit_by_narrative(sink.text, found.table) or unit)
        self.readable = not self.grid.ordinal and any(
            re.search(p, h) for r in self.shape.cells for pattern in r.col for p in pattern.split("&")
            for path in self.grid.headers.values() for h in path)
        """Whether the header names any column the shape knows (else template order applies)."""

    # ---------------------------------------------------------------- evidence and values

    def _page(self, cell: Cell) -> int:
        if cell.page:
            return cell.page
        if cell.start is not None:
            return self.sink.doc.page_at(cell.start)
        return self.row_pages.get(cell.row, self.table.page)

    def _ref(self, hit: _Hit) -> CellRef | None:
        """The cell to cite: the value cell, or the label of a row whose value cell is blank."""
        quoted = hit.cell if hit.cell is not None and hit.cell.text.strip() else hit.label
        if quoted is None:  # a blank cell in a row without label: quote the row's figures
            printed = [c for c in hit.row if c.text.strip()]
            if not printed:
                return None
            first, last = printed[0], printed[-1]
            known = first.start is not None and last.end is not None
            quoted = Cell(row=first.row, col=first.col, text=" ".join(c.text for c in printed),
                          start=first.start if known else None, end=last.end if known else None)
        return CellRef(quoted, self._page(quoted), bbox=(hit.cell or quoted).bbox,
                       row_label=clean_label(hit.label.text) if hit.label is not None else None,
                       column_header="/".join(hit.header) or None, table=self.table)

    def _amount(self, fld: str, hit: _Hit, *, key: dict[str, str | None] | None = None,
                count: bool = False) -> None:
        ref = self._ref(hit)
        if ref is None:
            return
        text = _compact(hit.cell.text) if hit.cell is not None else ""
        if not text or _DASH.match(text):
            zero: int | float = 0 if count else 0.0
            self.sink.add_cell(FactSpec(fld, zero, BLANK_ZERO, key=key, raw=text or None, decimals=0,
                                        note="blank cell in a labelled table row read as 0"), ref)
            return
        try:
            if count:
                number = int(parse_count(text).value)
                self.sink.add_cell(FactSpec(fld, number, TABLE, raw=text, decimals=0), ref)
                return
            q = parse_amount(text, default_unit=self.unit)
        except NumberFormatError:
            return
        self.sink.add_cell(FactSpec(fld, to_float(q.value), TABLE, key=key, raw=q.raw or None,
                                    decimals=q.decimals), ref)

    # ---------------------------------------------------------------- cells by meaning

    def _label_cells(self, row: list[Cell]) -> list[Cell]:
        return [c for c in row if c.text.strip() and not _is_amount(c.text)
                and not _DASH.match(_compact(c.text))]

    def _values_right_of(self, row: list[Cell], label: Cell | None) -> list[Cell]:
        """Value cells after a label up to the next label (its pair's side), 行次 skipped."""
        start = label.col + label.col_span if label is not None else 0
        out: list[Cell] = []
        for c in row:
            if c.col < start or c.col in self.grid.skip_cols:
                continue
            if self.grid.ordinal:
                if c.start is None:  # padding beyond the row's printed cells
                    continue
                if c.text.strip() and not _is_amount(c.text):
                    break
            elif c.col in self.grid.label_cols:
                if c.text.strip():
                    break
                continue
            out.append(c)
        if self.grid.ordinal and out and re.search(r"行次", _table_text(self.table)) \
                and out[0].text.strip().isdigit() and len(out) > 1:
            out = out[1:]
        return out

    def _side(self, row: list[Cell], label: Cell) -> int:
        if self.grid.ordinal:
            return self._label_cells(row).index(label)
        return sum(1 for c in self.grid.label_cols if c < label.col and not _covered(label, c))

    def _choose(self, rule: CellRule, values: list[Cell]) -> tuple[Cell | None, list[str]] | None:
        """The value cell a rule means among a label's value cells, or None if unsure."""
        if not rule.col:
            if self.grid.ordinal:
                first = values[0] if values else None
                return (first, []) if first is None or _is_amount(first.text) or not first.text.strip() \
                    else None
            return (values[0], self.grid.header(values[0].col)) if values else (None, [])
        if not self.grid.ordinal:
            for pattern in rule.col:
                parts = pattern.split("&")
                hits = [c for c in values if self.grid.header(c.col) and all(
                    any(re.search(p, h) for h in self.grid.header(c.col)) for p in parts)]
                if hits:  # a blank only where every column of that name is blank
                    cell = next((c for c in hits if c.text.strip()), hits[0])
                    return cell, self.grid.header(cell.col)
        if rule.position is not None and not self.readable:
            printed = [v for v in values if v.text.strip()]
            for candidate in (values, printed):  # a positioned grid, or a row of figures in order
                if len(candidate) == rule.of:
                    cell = candidate[rule.position]
                    return cell, self.grid.header(cell.col)
        if self.grid.ordinal and len([v for v in values if v.text.strip()]) == 1 and rule.position is None:
            cell = next(v for v in values if v.text.strip())
            return cell, []
        return None

    def read_cells(self) -> None:
        section = next((clean_label(c.text) for row in self.table.rows()[:self.grid.header_rows]
                        for c in row if any(re.search(p, clean_label(c.text)) for p in self.shape.sections)),
                       "")
        sums: dict[str, list[_Hit]] = {}
        done: set[str] = set()
        first_data = True
        for row in self.grid.rows():
            if not any(c.text.strip() for c in row) or _column_numbers(row):
                continue
            labels = self._label_cells(row)
            heading = next((clean_label(c.text) for c in labels if any(
                re.search(p, clean_label(c.text)) for p in self.shape.sections)), None)
            if heading is not None:
                section = heading
                continue
            for rule in self.shape.cells:
                if not rule.row:
                    if first_data and rule.field not in done:
                        chosen = self._choose(rule, self._values_right_of(row, None))
                        if chosen is not None:
                            self._amount(rule.field, _Hit(None, *chosen, row=row), count=rule.count)
                    continue
                if rule.section and not re.search(rule.section, section):
                    continue
                for label in labels:
                    if not any(re.fullmatch(p, clean_label(label.text)) for p in rule.row):
                        continue
                    if rule.side is not None and self._side(row, label) != rule.side:
                        continue
                    chosen = self._choose(rule, self._values_right_of(row, label))
                    if chosen is None:
                        continue
                    hit = _Hit(label, *chosen)
                    if rule.sum:
                        sums.setdefault(rule.field, []).append(hit)
                    else:
                        if hit.cell is not None and hit.cell.text.strip():
                            done.add(rule.field)
                        self._amount(rule.field, hit, count=rule.count)
            first_data = False
        for fld, hits in sums.items():
            if fld not in done:
                self._sum(fld, hits)

    def _sum(self, fld: str, hits: list[_Hit]) -> None:
        """A figure the table prints only as its parts (机关运行经费 = 行政单位 + 参公单位)."""
        cells = [h for h in hits if h.cell is not None and _is_amount(h.cell.text)]
        if not cells:
            return
        total = sum((parse_amount(_compact(h.cell.text), default_unit=self.unit).value
                     for h in cells if h.cell is not None), Decimal(0))
        decimals = max(len(_compact(h.cell.text).partition(".")[2]) for h in cells if h.cell is not None)
        ref = self._ref(cells[0])
        if ref is not None:
            raw = " + ".join(_compact(h.cell.text) for h in cells if h.cell is not None)
            self.sink.add_cell(FactSpec(fld, to_float(total), TABLE, raw=raw, decimals=decimals,
                                        note="sum of the table's rows"), ref)

    # ---------------------------------------------------------------- coded rows

    def read_codes(self, rule: CodeRule) -> None:
        classes: dict[str, str] = {}
        sections: dict[str, str] = {}
        context = {3: "", 5: ""}
        for row in self.grid.rows():
            coded = self._code(row, context)
            if coded is None:
                continue
            code, name, rest = coded
            if len(code) == 3:
                classes[code], context[3] = name, code
            elif len(code) == 5:
                sections[code], context[5] = name, code
            actual = self._code_value(rule.col, rest)
            if len(code) == 3 and actual is not None:
                self._amount(rule.class_field, _Hit(_label(name, row), *actual), key={"name": name})
            elif len(code) == 7:
                key: dict[str, str | None] = {"class": classes.get(code[:3]),
                                              "section": sections.get(code[:5]), "item": name, "code": code}
                if actual is not None:
                    self._amount(rule.item_field, _Hit(_label(name, row), *actual), key=key)
                budget = self._code_value(rule.budget_col, rest, fallback=False) if rule.budget_col else None
                if budget is not None and rule.item_budget_field:
                    self._amount(rule.item_budget_field, _Hit(_label(name, row), *budget), key=key)

    def _code(self, row: list[Cell], context: dict[int, str]) -> tuple[str, str, list[Cell]] | None:
        """(code, name, cells after the name) of a functional-classification row."""
        cells = [c for c in row if c.text.strip()] if self.grid.ordinal else list(row)
        i = 0
        while i < len(cells) and not cells[i].text.strip() and i < 3:
            i += 1
        parts: list[str] = []
        name = ""
        if i < len(cells):
            m = _CODE_CELL.match(cells[i].text.strip())
            if m and len(m["code"]) in {3, 5, 7}:
                parts.append(m["code"])
                name = _compact(m["name"] or "")
                i += 1
            elif _PART.match(cells[i].text.strip()) and i > 0:
                prefix = context[5] if i >= 2 and context[5] else context[3]
                parts.append(prefix)
        if not parts or not parts[0]:
            return None
        while not name and len(parts[0]) == 3 and i < len(cells) and len("".join(parts)) < 7:
            text = cells[i].text.strip()
            if _PART.match(text):
                parts.append(text)
            elif text:
                break
            i += 1
        code = "".join(parts)
        if len(code) not in {3, 5, 7}:
            return None
        while not name and i < len(cells):
            text = cells[i].text.strip()
            i += 1
            if text and not _is_amount(text):
                name = _compact(text)
                break
            if text:
                i -= 1
                break
        return (code, name, cells[i:]) if name else None

    def _code_value(self, patterns: list[str], rest: list[Cell], *,
                    fallback: bool = True) -> tuple[Cell, list[str]] | None:
        if not self.grid.ordinal:
            for pattern in patterns:
                for cell in rest:
                    path = self.grid.header(cell.col)
                    if path and re.search(pattern, path[-1]) and cell.text.strip():
                        return cell, path
        if not fallback:
            return None
        first = next((c for c in rest if c.text.strip() and _is_amount(c.text)), None)
        return (first, self.grid.header(first.col) if not self.grid.ordinal else []) if first else None

    # ---------------------------------------------------------------- notes

    def read_no_data(self) -> None:
        """"本表无数据" under a table whose rules have fields: each is a stated zero."""
        table = self.table
        if table.end is None or not self.shape.cells:
            return
        text = self.sink.text
        note = _NO_DATA.search(text, table.end, min(len(text), table.end + _TAIL_REACH))
        if note is None or any(_is_amount(c.text) for c in table.cells if c.text.strip()
                               and not _compact(c.text).isdigit()):
            return
        for fld in dict.fromkeys(r.field for r in self.shape.cells):
            self.sink.quantity(fld, zero_quantity(note.group(0)), note.span(), STATED_NONE,
                               note="table stated to have no data")


def _covered(cell: Cell, col: int) -> bool:
    return cell.col <= col < cell.col + cell.col_span


def _label(name: str, row: list[Cell]) -> Cell | None:
    return next((c for c in row if _compact(c.text).endswith(name) and name), None)


_UNIT_LINE = re.compile(r"单位[:：]\s*(万元|元)")


def _unit_above(text: str, table: Table) -> str | None:
    """The unit line just above a table whose unit the table layer did not see."""
    if table.start is None:
        return None
    units = _UNIT_LINE.findall(text, max(0, table.start - 200), table.start)
    return units[-1] if units else None


_WAN = re.compile(r"(\d+\.\d{1,2})\s*万元")


def _unit_by_narrative(text: str, table: Table) -> str | None:
    """A table printed without its unit line (its title page missing): 元 when its figures,
    divided by 10000, are the 万元 figures the narrative states, 万元 when they are as
    printed; undecided when neither or both."""
    stated = {Decimal(m) for m in _WAN.findall(text)}
    figures = [Decimal(t.replace(",", "")) for c in table.cells
               if _DECIMAL.match(t := _compact(c.text))]
    as_wan = sum(1 for f in figures if f.quantize(Decimal("0.01")) in stated)
    as_yuan = sum(1 for f in figures if (f / 10000).quantize(Decimal("0.01")) in stated)
    if as_yuan > as_wan:
        return "元"
    return "万元" if as_wan > as_yuan else None


def read_tables(sink: FactSink, tables: list[Table]) -> list[Found]:
    """Every standard table among ``tables``, read into ``sink``; returns what was recognised.

    A table whose unit line was not read takes the unit of the table before it: a report
    prints all its tables in one unit.
    """
    found = group(tables)
    unit = "万元"
    for item in found:
        reader = TableReader(sink, item, unit)
        unit = reader.unit
        reader.read_cells()
        if item.shape.codes is not None:
            reader.read_codes(item.shape.codes)
        reader.read_no_data()
    return found
