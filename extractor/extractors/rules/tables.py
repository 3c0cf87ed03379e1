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

import regex

from extractor.core.records import field_kind
from extractor.core.types import Cell, Table
from extractor.doctypes.final_accounts import CellRule, CodeRule, ListCell, ListRule
from extractor.extractors.rules.grid import (
    CODE_CELL,
    DASH,
    Found,
    analyse,
    clean_label,
    column_numbers,
    compact,
    group,
    is_amount,
    locate_cells,
    table_text,
    unit_above,
    unit_by_narrative,
)
from extractor.extractors.rules.patterns import (
    BLANK_ZERO,
    STATED_NONE,
    TABLE,
    CellRef,
    FactSink,
    FactSpec,
    zero_quantity,
)
from extractor.numbers import NumberFormatError, parse_amount, parse_count, parse_decimal, to_float

_PART = re.compile(r"^\d{2}$")
_FUZZY_MIN = 5
_NO_DATA = re.compile(r"本表无数据|无此项(?:收入|支出|收支)?|本表为空|无相关数据|故本表无")
_TAIL_REACH = 400
"""How far after a table its notes ("注：…本表无数据") may stand."""


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
        self.unit = (found.table.unit or unit_above(sink.text, found.table)
                     or unit_by_narrative(sink.text, found.table) or unit)
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
        text = compact(hit.cell.text) if hit.cell is not None else ""
        if not text or DASH.match(text):
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
        return [c for c in row if c.text.strip() and not is_amount(c.text)
                and not DASH.match(compact(c.text))]

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
                if c.text.strip() and not is_amount(c.text):
                    break
            elif c.col in self.grid.label_cols:
                if c.text.strip():
                    break
                continue
            out.append(c)
        if self.grid.ordinal and out and re.search(r"行次", table_text(self.table)) \
                and out[0].text.strip().isdigit() and len(out) > 1:
            out = out[1:]
        return out

    def _side(self, row: list[Cell], label: Cell) -> int:
        if self.grid.ordinal:
            return self._label_cells(row).index(label)
        return sum(1 for c in self.grid.label_cols if c < label.col and not _covered(label, c))

    def _label_matches(self, patterns: list[str], label: str) -> bool:
        """Full match of a synonym; on an OCR'd table a label of five characters or more may
        differ from it by one character (一般公共预箅财政拨款收入), if it matches no other way."""
        if any(re.fullmatch(p, label) for p in patterns):
            return True
        if not self.table.source.startswith("ocr") or len(label) < _FUZZY_MIN:
            return False
        return any(regex.fullmatch(f"(?:{p}){{e<=1}}", label) for p in patterns)

    def _choose(self, rule: CellRule, values: list[Cell]) -> tuple[Cell | None, list[str]] | None:
        """The value cell a rule means among a label's value cells, or None if unsure."""
        if not rule.col:
            if self.grid.ordinal:
                first = values[0] if values else None
                return (first, []) if first is None or is_amount(first.text) or not first.text.strip() \
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
            if not any(c.text.strip() for c in row) or column_numbers(row):
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
                    if not self._label_matches(rule.row, clean_label(label.text)):
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
        cells = [h for h in hits if h.cell is not None and is_amount(h.cell.text)]
        if not cells:
            return
        total = sum((parse_amount(compact(h.cell.text), default_unit=self.unit).value
                     for h in cells if h.cell is not None), Decimal(0))
        decimals = max(len(compact(h.cell.text).partition(".")[2]) for h in cells if h.cell is not None)
        ref = self._ref(cells[0])
        if ref is not None:
            raw = " + ".join(compact(h.cell.text) for h in cells if h.cell is not None)
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
            m = CODE_CELL.match(cells[i].text.strip())
            if m and len(m["code"]) in {3, 5, 7}:
                parts.append(m["code"])
                name = compact(m["name"] or "")
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
            if text and not is_amount(text):
                name = compact(text)
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
        first = next((c for c in rest if c.text.strip() and is_amount(c.text)), None)
        return (first, self.grid.header(first.col) if not self.grid.ordinal else []) if first else None

    # ---------------------------------------------------------------- list rows

    def read_list(self, rule: ListRule) -> None:
        """One list item per data row, named by its label (合计 rows skipped); a column is
        the first whose header path matches a synonym, in the synonyms' order."""
        columns: list[tuple[ListCell, int]] = []
        for cell in rule.cells:
            col = next((c for pattern in cell.col for c, path in sorted(self.grid.headers.items())
                        if path and re.search(pattern, path[-1])), None)
            if col is not None:
                columns.append((cell, col))
        if self.grid.ordinal or not columns:
            return
        for row in self.grid.rows():
            labels = [c for c in row if c.col in self.grid.label_cols and c.text.strip()]
            if not labels or re.fullmatch(r"合计|总计|小计", clean_label(labels[0].text)):
                continue
            key: dict[str, str | None] = {rule.key: clean_label(labels[0].text)}
            by_col = {c.col: c for c in row}
            for cell, col in columns:
                value = by_col.get(col)
                if value is None or not is_amount(value.text):
                    continue
                hit = _Hit(labels[0], value, self.grid.header(col), row)
                if field_kind(cell.field) == "score":
                    number, decimals = parse_decimal(compact(value.text))
                    ref = self._ref(hit)
                    if ref is not None:
                        self.sink.add_cell(FactSpec(cell.field, float(number), TABLE, key=key,
                                                    raw=compact(value.text), decimals=decimals), ref)
                else:
                    self._amount(cell.field, hit, key=key)

    # ---------------------------------------------------------------- notes

    def read_no_data(self) -> None:
        """"本表无数据" under a table whose rules have fields: each is a stated zero."""
        table = self.table
        if table.end is None or not self.shape.cells:
            return
        text = self.sink.text
        note = _NO_DATA.search(text, table.end, min(len(text), table.end + _TAIL_REACH))
        if note is None or any(is_amount(c.text) for c in table.cells if c.text.strip()
                               and not compact(c.text).isdigit()):
            return
        for fld in dict.fromkeys(r.field for r in self.shape.cells):
            self.sink.quantity(fld, zero_quantity(note.group(0)), note.span(), STATED_NONE,
                               note="table stated to have no data")


def _covered(cell: Cell, col: int) -> bool:
    return cell.col <= col < cell.col + cell.col_span


def _label(name: str, row: list[Cell]) -> Cell | None:
    return next((c for c in row if compact(c.text).endswith(name) and name), None)


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
        if item.shape.rows is not None:
            reader.read_list(item.shape.rows)
        reader.read_no_data()
    return found
