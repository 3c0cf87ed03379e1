"""Reading statistical tables out of normalized text: blocks, rows, cells and headers.

The ingest produces tables in three layouts: tab-separated rows (text layers and OCR with
cell detection), one cell per line with blank lines between rows (some text exports) and
space-aligned columns (``pdftotext -layout``, sometimes single-spaced). This module turns
all three into :class:`Table` objects of :class:`Row` s of :class:`Cell` s carrying
normalized-text offsets, says which 公开NN表 each one is (from the title above it) and
gives back names that the layout wrapped around their row. What the rows mean is
:mod:`extractor.extractors.rules_tables`' business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from extractor.extractors.rules_patterns import is_table_line

_NUM = re.compile(r"^-?\d+(?:\.\d+)?$")


_SPACE_RUN2 = re.compile(r"\S[ \u3000]{2,}\S")


_UNIT_RE = re.compile(r"(?:金额)?单位[:：]\s*(亿元|万元|元)")


CELL_UNIT = re.compile(r"[（(](亿元|万元|元)[)）]")


_TAIL_REACH = 400
"""How far after a table its notes ("注：…本表无数据") may stand."""


TITLE_REACH = 8
"""A table's title is among the last lines of prose above it (title, 公开NN表, unit, 部门名称)."""


_LIST_MARK = re.compile(
    r"^(?:[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十\d]+[)）]|\d+[.．、])\s*")


TITLE_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(rx)) for kind, rx in (
        ("fiscal_overview", r"财政拨款收入支出决算总表|财政拨款收支决算总表"),
        ("overview", r"收入支出决算总表|收支决算总表"),
        ("gb_basic", r"一般公共预算财政拨款基本支出决算(?:明细)?表"),
        ("gb", r"一般公共预算财政拨款支出决算(?:明细)?表"),
        ("gov_fund", r"政府性基金预算财政拨款(?:收入)?(?:支出|收支)决算表"),
        ("state_capital", r"国有资本经营预算财政拨款(?:收入)?(?:支出|收支)决算表"),
        ("three_public", r"三公.{0,4}经费.{0,8}决算表"),
        ("income", r"收入决算表"),
        ("expense", r"支出决算表"),
        ("info", r"相关信息统计表|机[关构]运行经费.{0,30}表|政府采购.{0,12}信息表"),
    ))


@dataclass
class Cell:
    text: str
    start: int
    end: int

    @property
    def is_num(self) -> bool:
        return _NUM.match(self.text) is not None

    @property
    def is_label(self) -> bool:
        return bool(self.text) and not self.is_num


@dataclass
class Row:
    cells: list[Cell]
    start: int
    end: int
    line: str = ""
    """The raw line (space layout: column positions matter)."""

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
class Table:
    kind: str
    unit: str
    rows: list[Row]
    intro: str
    """Prose between the previous table and this one (title, unit, 项目名称 …)."""
    layout: str
    """``tab``, ``cells`` (one cell per line) or ``space``."""
    start: int
    end: int
    tail_end: int = 0
    """End of the prose right after the table (notes such as "本表无数据")."""
    header: dict[int, str] = field(default_factory=dict)


def _lines(text: str) -> list[tuple[int, str]]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, line))
        pos += len(line) + 1
    return out


def _title_kind(line: str) -> str | None:
    stripped = re.sub(r"\s+", "", line)
    if len(stripped) > 45 or "。" in stripped:
        return None
    return next((kind for kind, rx in TITLE_KINDS if rx.search(stripped)), None)


def _blocks(lines: list[tuple[int, str]]) -> list[tuple[int, int]]:
    """Index ranges of table blocks: table lines, blanks and short continuation lines."""
    blocks: list[tuple[int, int]] = []
    i, n = 0, len(lines)
    while i < n:
        if not is_table_line(lines[i][1]):
            i += 1
            continue
        j = i
        last = i
        while j < n:
            line = lines[j][1]
            stripped = line.strip()
            if is_table_line(line):
                last = j
            elif stripped and (len(stripped) > 30 or "。" in stripped or _title_kind(line)):
                break
            j += 1
        blocks.append((i, last + 1))
        i = last + 1
    return blocks


def _split_tab(pos: int, line: str) -> list[Cell]:
    cells, offset = [], 0
    for piece in line.split("\t"):
        lead = len(piece) - len(piece.lstrip())
        text = piece.strip()
        cells.append(Cell(re.sub(r"\s+", "", text) if _NUM.match(re.sub(r"\s+", "", text)) else text,
                          pos + offset + lead, pos + offset + lead + len(text)))
        offset += len(piece) + 1
    return cells


def _split_space(pos: int, line: str) -> list[Cell]:
    cells = []
    for m in re.finditer(r"\S+(?:[ \u3000]\S+)*", line):
        parts = m.group(0).split()
        if len(parts) > 1 and all(_NUM.match(p) for p in parts):
            offset = m.start()
            for part in parts:
                k = line.index(part, offset)
                cells.append(Cell(part, pos + k, pos + k + len(part)))
                offset = k + len(part)
            continue
        cells.append(Cell(m.group(0), pos + m.start(), pos + m.end()))
    return cells


def _split_single(pos: int, line: str) -> list[Cell]:
    """Single-spaced rows: figures are cells; the words between them form one label,
    except that a list marker ("二、") starts a new label."""
    cells: list[Cell] = []
    for m in re.finditer(r"\S+", line):
        word = m.group(0)
        start, end = pos + m.start(), pos + m.end()
        if _NUM.match(word) or not cells or cells[-1].is_num or _LIST_MARK.match(word):
            cells.append(Cell(word, start, end))
        else:
            last = cells[-1]
            cells[-1] = Cell(last.text + " " + word, last.start, end)
    return cells


def _split_line(pos: int, line: str) -> list[Cell]:
    return _split_space(pos, line) if _SPACE_RUN2.search(line.strip()) else _split_single(pos, line)


def _rows(lines: list[tuple[int, str]]) -> tuple[list[Row], str]:
    body = [(p, ln) for p, ln in lines if ln.strip() or "\t" in ln]
    tabbed = [ln for _, ln in body if "\t" in ln]
    if not tabbed:
        return [Row(_split_line(p, ln), p, p + len(ln), ln) for p, ln in body], "space"
    one_cell = sum(ln.lstrip(" ").startswith("\t") and ln.count("\t") == 1 for _, ln in body)
    if one_cell <= 0.8 * len(body):
        return [Row(_split_tab(p, ln) if "\t" in ln else _split_space(p, ln), p, p + len(ln), ln)
                for p, ln in body], "tab"
    rows: list[Row] = []
    cells: list[Cell] = []
    for p, ln in lines:
        if not ln.strip() and "\t" not in ln:
            if cells:
                rows.append(Row(cells, cells[0].start, cells[-1].end))
                cells = []
            continue
        if ln.lstrip(" ").startswith("\t"):
            cells.extend(_split_tab(p + ln.index("\t") + 1, ln[ln.index("\t") + 1:]))
        elif cells:
            last = cells[-1]
            cells[-1] = Cell(last.text + ln.strip(), last.start, p + len(ln.rstrip()))
        else:
            cells.append(Cell(ln.strip(), p + len(ln) - len(ln.lstrip()), p + len(ln.rstrip())))
    if cells:
        rows.append(Row(cells, cells[0].start, cells[-1].end))
    return rows, "cells"


def _header(rows: list[Row]) -> dict[int, str]:
    """Column index → header words, merged over the non-data rows above the first data row."""
    first = next((i for i, r in enumerate(rows) if r.is_data), len(rows))
    merged: dict[int, str] = {}
    for row in rows[max(0, first - 4):first]:
        for i, cell in enumerate(row.cells):
            if cell.text and not cell.is_num:
                merged[i] = merged.get(i, "") + re.sub(r"\s+", "", cell.text)
    return merged


def read_table_blocks(text: str) -> list[Table]:
    """Every table block with its kind (from the title above it, else from its header)."""
    lines = _lines(text)
    tables: list[Table] = []
    prev_end = 0
    spans = _blocks(lines)
    for n, (a, b) in enumerate(spans):
        intro_lines = lines[prev_end:a]
        intro = "\n".join(ln for _, ln in intro_lines)
        block_end = lines[b - 1][0] + len(lines[b - 1][1])
        following = lines[spans[n + 1][0]][0] if n + 1 < len(spans) else len(text)
        tail_end = min(following, block_end + _TAIL_REACH)
        prev_end = b
        rows, layout = _rows(lines[a:b])
        if not rows:
            continue
        near = [ln for _, ln in intro_lines if ln.strip()][-TITLE_REACH:]
        kind = next((k for ln in reversed(near) if (k := _title_kind(ln))), "")
        unit_m = list(_UNIT_RE.finditer(intro[-400:] + "\n" + "\n".join(r.line for r in rows[:3])))
        unit = unit_m[-1][1] if unit_m else "万元"
        header = _header(rows)
        if re.search(r"全年预算数", "".join(header.values())) or any(
                "全年预算数" in "".join(c.text for c in r.cells) for r in rows):
            kind = "perf"
        tables.append(Table(kind, unit, rows, intro, layout, lines[a][0], lines[b - 1][0], tail_end, header))
    return tables


def segments(row: Row, has_line_no: bool) -> list[tuple[Cell, Cell | None]]:
    """(label, value cell or None when blank) for each label in a row; 行次 cells dropped."""
    out: list[tuple[Cell, Cell | None]] = []
    cells = row.cells
    i = 0
    while i < len(cells):
        cell = cells[i]
        if not cell.is_label:
            i += 1
            continue
        j = i + 1
        if has_line_no and j < len(cells) and (cells[j].is_num or not cells[j].text):
            j += 1
        value = cells[j] if j < len(cells) and cells[j].is_num else None
        out.append((cell, value))
        i = j if value is None else j + 1
    return out


def clean_label(text: str) -> str:
    return _LIST_MARK.sub("", re.sub(r"\s+", "", text))


def total_row(table: Table) -> Row | None:
    return next((r for r in table.rows if clean_label(r.head) in {"合计", "总计"} and r.is_data), None)


_CODE_RE = re.compile(r"^\d{3}(?:\d{2}){0,2}$")


def _split_code(row: Row) -> tuple[str, list[Cell]]:
    """The 功能分类 code at the start of a row ("2010301" or "201 03 01") and the rest."""
    cells = [c for c in row.cells if c.text]
    if not cells or not re.fullmatch(r"\d{3}|\d{5}|\d{7}", cells[0].text):
        return "", cells
    parts = [cells.pop(0).text]
    while len(parts[0]) == 3 and len(parts) < 3 and cells and re.fullmatch(r"\d{2}", cells[0].text):
        parts.append(cells.pop(0).text)
    return "".join(parts), cells


def _name_only(row: Row) -> bool:
    return len(row.cells) == 1 and row.cells[0].is_label and not _split_code(row)[0]


def _adjacent(text: str, a: Row, b: Row) -> bool:
    return "\n" not in text[a.end + 1:b.start]


def code_rows(table: Table, text: str) -> list[tuple[str, str, Cell, list[Cell], Row]]:
    """(code, name, anchor cell, figure cells, row) of each functional-classification row.

    ``pdftotext -layout`` wraps a long name around its code line, half above and half
    below; those name-only lines are given back to their code row.
    """
    rows = table.rows
    coded = [(i, *_split_code(r)) for i, r in enumerate(rows)]
    coded = [(i, code, rest) for i, code, rest in coded if _CODE_RE.match(code)]
    out = []
    taken: set[int] = set()
    for n, (i, code, rest) in enumerate(coded):
        row = rows[i]
        inline = rest[0].text if rest and rest[0].is_label else ""
        above = ""
        if table.layout == "space" and i > 0 and i - 1 not in taken and _name_only(rows[i - 1]) \
                and _adjacent(text, rows[i - 1], row):
            above = rows[i - 1].cells[0].text
            taken.add(i - 1)
        below = ""
        nxt = coded[n + 1][0] if n + 1 < len(coded) else len(rows)
        gap = [k for k in range(i + 1, nxt) if _name_only(rows[k])
               and _adjacent(text, rows[k - 1], rows[k])]
        if table.layout == "space" and gap and gap[0] == i + 1 and (above or not inline) \
                and (len(gap) > 1 or not (nxt < len(rows) and not _inline_name(coded[n + 1][2]))):
            below = rows[i + 1].cells[0].text
            taken.add(i + 1)
        name = re.sub(r"\s+", "", above + inline + below)
        if not name:
            continue
        figures = list(rest[1:] if inline else rest)
        out.append((code, name, row.cells[0], figures, row))
    return out


def _inline_name(rest: list[Cell]) -> bool:
    return bool(rest) and rest[0].is_label


def stacked(rows: list[Row]) -> list[tuple[Cell, list[Cell]]]:
    """Label segments with their figures; a labels-only line takes the figures-only line above
    it (``pdftotext -layout`` prints some totals above their labels)."""
    out: list[tuple[Cell, list[Cell]]] = []
    prev: Row | None = None
    for row in rows:
        labels = row.labels()
        if labels and not row.numbers() and prev is not None and not prev.labels() \
                and len(prev.numbers()) == len(labels):
            out.extend((lab, [num]) for lab, num in zip(labels, prev.numbers(), strict=True))
        else:
            current: Cell | None = None
            figs: list[Cell] = []
            for cell in row.cells:
                if cell.is_label:
                    if current is not None:
                        out.append((current, figs))
                    current, figs = cell, []
                elif cell.is_num and current is not None:
                    figs.append(cell)
            if current is not None:
                out.append((current, figs))
        prev = row
    return out


def is_column_numbers(row: Row) -> bool:
    """The 栏次 row (1 2 3 … 12) under a header."""
    nums = [c.text for c in row.numbers()]
    return len(nums) >= 3 and nums == [str(i) for i in range(1, len(nums) + 1)]
