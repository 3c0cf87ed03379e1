"""Cut a document along its own structure: parts, numbered sections, tables.

Final-accounts reports are organised as 第X部分 → 一、 → （一）, with statistical tables
(公开NN表 blocks, tab-separated rows, performance self-evaluation tables) between them.
Chunks follow that outline so a prompt sees one coherent section and its heading path
(which the model router keys on). A table row is never split: a long table is cut on row
boundaries and each piece repeats the table's header rows, so every piece can be read on
its own.

Tables the table layer read (``DocumentData.tables``: PDF and scanned pages) become compact
Markdown tables: the title (and unit) as a heading, one header row naming each column by
its header path (``本年支出/基本支出``), then one Markdown row per printed row. A model
then sees a figure in its row and under its column instead of the text layer's regrouped
lines, where a figure centred in a tall cell lands on the line above its label. Where the
table's span in the text is known, the lines it covers are not chunked a second time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from extractor.core.types import Cell, ChunkData, DocumentData, Table
from extractor.normalize import normalize

_PART_RE = re.compile(r"^\s*第[一二三四五六七八九十]+部分\s*\S")
_L1_RE = re.compile(r"^\s*[一二三四五六七八九十]{1,3}[、.．]\s*\S")
_L2_RE = re.compile(r"^[\s\-*]*[（(][一二三四五六七八九十]{1,3}[)）]\s*\S")
_TABLE_ID_RE = re.compile(r"^\s*(公开\d{1,2}表|附件\d{1,2}|[^\t]{0,30}绩效自评表)\s*$")
_MAX_HEADING = 60
_HEADER_SCAN = 8
_NUM_CELL = re.compile(r"^-?\d[\d,.]*$")


def count_tokens(text: str) -> int:
    """Token estimate used for budgets: one per CJK character, one per ~3 other characters.

    A real tokenizer is model-specific and tiktoken fetches its vocabularies from the
    network at first use, which this project cannot rely on; this estimate errs high for
    the common BPE tokenizers on Chinese, so budgets stay safe.
    """
    cjk = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef")
    other = sum(1 for ch in text if not ch.isspace()) - cjk
    return cjk + math.ceil(other / 3)


@dataclass
class _Line:
    start: int
    end: int
    text: str

    @property
    def is_row(self) -> bool:
        return "\t" in self.text


@dataclass
class _Block:
    kind: str
    heading_path: list[str]
    lines: list[_Line] = field(default_factory=list)


def _heading_level(text: str) -> int | None:
    if len(text.strip()) > _MAX_HEADING or "\t" in text:
        return None
    if _PART_RE.match(text):
        return 0
    if _L1_RE.match(text):
        return 1
    if _L2_RE.match(text):
        return 2
    return None


def _lines(text: str) -> list[_Line]:
    out, pos = [], 0
    for piece in text.split("\n"):
        out.append(_Line(pos, pos + len(piece), piece))
        pos += len(piece) + 1
    return out


def _blocks(text: str) -> list[_Block]:
    """Group lines into text and table blocks under their heading path."""
    path: list[str] = []
    blocks: list[_Block] = []
    current: _Block | None = None
    in_table_id = False
    for line in _lines(text):
        stripped = line.text.strip()
        level = _heading_level(line.text)
        if level is not None:
            path = [*path[:level], stripped]
            current, in_table_id = None, False
            continue
        table_id = _TABLE_ID_RE.match(line.text)
        if table_id:
            current = _Block("table", [*path, stripped])
            blocks.append(current)
            in_table_id = True
            current.lines.append(line)
            continue
        if not stripped:
            if current is not None:
                current.lines.append(line)
            continue
        kind = "table" if (line.is_row or in_table_id) else "text"
        if current is None or current.kind != kind or current.heading_path[:len(path)] != path:
            current = _Block(kind, list(path))
            blocks.append(current)
        current.lines.append(line)
    return [b for b in blocks if any(ln.text.strip() for ln in b.lines)]


def _row_units(block: _Block) -> list[list[_Line]]:
    """Rows of a table block: a line each, or blank-separated groups when the OCR put
    every cell on its own line (one tab-led cell per line)."""
    lines = list(block.lines)
    one_cell = [ln for ln in lines if ln.text.strip()]
    cell_per_line = one_cell and sum(
        ln.text.startswith("\t") and ln.text.count("\t") == 1 for ln in one_cell) > 0.8 * len(one_cell)
    units: list[list[_Line]] = []
    group: list[_Line] = []
    for ln in lines:
        if not ln.text.strip():
            if cell_per_line and group:
                units.append(group)
                group = []
            continue
        group.append(ln)
        if not cell_per_line:
            units.append(group)
            group = []
    if group:
        units.append(group)
    return units


def _is_data_row(unit: list[_Line]) -> bool:
    cells = [c.strip() for ln in unit for c in ln.text.split("\t") if c.strip()]
    return sum(bool(_NUM_CELL.match(c)) for c in cells) >= 2


def _split_sentences(line: _Line, budget: int) -> list[_Line]:
    """A paragraph over budget is cut after 。；, and hard-cut only if a sentence is too long."""
    pieces: list[_Line] = []
    start = line.start
    text = line.text
    cut_points = [m.end() for m in re.finditer(r"[。；;！？]", text)] + [len(text)]
    seg_start = 0
    last_ok = 0
    for point in cut_points:
        if count_tokens(text[seg_start:point]) > budget:
            end = last_ok if last_ok > seg_start else point
            while count_tokens(text[seg_start:end]) > budget:  # one sentence over budget
                end = seg_start + max(1, (end - seg_start) // 2)
            pieces.append(_Line(start + seg_start, start + end, text[seg_start:end]))
            seg_start = end
        last_ok = point
    if seg_start < len(text):
        rest = text[seg_start:]
        while count_tokens(rest) > budget:
            cut = max(1, len(rest) // 2)
            pieces.append(_Line(start + seg_start, start + seg_start + cut, rest[:cut]))
            seg_start += cut
            rest = text[seg_start:]
        pieces.append(_Line(start + seg_start, start + len(text), rest))
    return [p for p in pieces if p.text]


def _pack(units: list[list[_Line]], header: list[list[_Line]], budget: int) -> list[list[_Line]]:
    """Greedy packing of units under the budget; ``header`` units start every later piece."""
    header_tokens = sum(count_tokens(ln.text) + 1 for u in header for ln in u)
    pieces: list[list[_Line]] = []
    current: list[_Line] = []
    used = 0
    for unit in units:
        cost = sum(count_tokens(ln.text) + 1 for ln in unit)
        if current and used + cost > budget:
            pieces.append(current)
            current = [ln for u in header for ln in u]
            used = header_tokens
        current.extend(unit)
        used += cost
    if current:
        pieces.append(current)
    return pieces


def _cell_text(cell: Cell | None) -> str:
    if cell is None:
        return ""
    text = re.sub(r"\s+", "", normalize(cell.text).text) if cell.text.strip() else ""
    return text.replace("|", "｜")


def _header_rows(table: Table) -> int:
    """Header rows as the table layer marked them, else the leading rows without a figure."""
    if table.header_rows > 0:
        return table.header_rows
    n = 0
    for row in table.rows():
        figure = any(_NUM_CELL.match(re.sub(r"\s+", "", c.text)) and "." in c.text for c in row)
        if figure or n >= _HEADER_SCAN:
            break
        n += 1
    return n if n < table.n_rows else 0


def markdown_rows(table: Table) -> tuple[str, list[str]]:
    """The table as Markdown: the header line (with its separator) and one line per row.

    A merged cell's text stands in its first grid position; the positions it covers are
    empty, so every line has one field per column.
    """
    index: dict[tuple[int, int], Cell] = {(c.row, c.col): c for c in table.cells}
    n_head = _header_rows(table)
    paths: list[str] = []
    for col in range(table.n_cols):
        parts: list[str] = []
        for row in range(n_head):
            cell = table.cell(row, col)
            text = _cell_text(cell)
            if text and (not parts or parts[-1] != text):
                parts.append(text)
        paths.append("/".join(parts))
    head = "| " + " | ".join(paths) + " |\n|" + "---|" * table.n_cols
    lines = []
    for row in range(n_head, table.n_rows):
        fields = [_cell_text(index.get((row, col))) for col in range(table.n_cols)]
        if any(fields):
            lines.append("| " + " | ".join(fields) + " |")
    return head, lines


def _table_title(table: Table) -> str:
    title = table.title or "表格"
    return f"{title}（单位：{table.unit}）" if table.unit else title


def table_chunks(doc: DocumentData, table: Table, budget: int, path: list[str]) -> list[ChunkData]:
    """One table as Markdown chunks under ``budget``: split only between rows, each piece
    with the title and the header line."""
    head, lines = markdown_rows(table)
    title = "### " + _table_title(table)
    prefix = f"{title}\n{head}"
    pages = table.pages or [table.page]
    start, end = _table_span(doc, table)
    units = [[_Line(start, end, prefix)], *([_Line(start, end, ln)] for ln in lines)]
    header = [[_Line(start, end, prefix)]] if count_tokens(prefix) + 1 <= budget // 2 else []
    pieces = _pack(units, header, budget)  # a header too wide to repeat opens the first piece only
    out = []
    for piece in pieces:
        body = "\n".join(ln.text for ln in piece)
        out.append(ChunkData(index=0, heading_path=[*path, _table_title(table)], kind="table",
                             page_start=pages[0], page_end=pages[-1], start=start, end=end, text=body,
                             tokens=count_tokens(body) + body.count("\n") + 1))
    return out


def _table_span(doc: DocumentData, table: Table) -> tuple[int, int]:
    """The table's text span, else its pages' span of the document's text."""
    if table.start is not None and table.end is not None:
        return table.start, table.end
    pages = table.pages or [table.page]
    starts = doc.page_starts
    first = starts[pages[0] - 1] if 0 < pages[0] <= len(starts) else 0
    last = starts[pages[-1]] - 1 if pages[-1] < len(starts) else len(doc.normalized.text)
    return first, max(first, last)


def chunk_document(doc: DocumentData, budget: int) -> list[ChunkData]:
    """Chunks in document order; none over ``budget`` tokens (headers count)."""
    chunks = _text_chunks(doc, budget)
    if not doc.tables:
        return chunks
    covered = [(t.start, t.end) for t in doc.tables if t.start is not None and t.end is not None]
    chunks = [c for c in chunks if not any(a <= c.start and c.end <= b for a, b in covered)]
    for table in doc.tables:
        start, _ = _table_span(doc, table)
        above = [c for c in chunks if c.kind == "text" and c.start <= start]
        path = list(above[-1].heading_path) if above else []
        chunks.extend(table_chunks(doc, table, budget, path))
    chunks.sort(key=lambda c: (c.start, c.kind != "table", c.end))
    for i, chunk in enumerate(chunks):
        chunk.index = i
    return chunks


def _text_chunks(doc: DocumentData, budget: int) -> list[ChunkData]:
    text = doc.normalized.text
    chunks: list[ChunkData] = []
    for block in _blocks(text):
        if block.kind == "table":
            units = _row_units(block)
            first_data = next((i for i, u in enumerate(units) if _is_data_row(u)), 0)
            header = units[:min(first_data, _HEADER_SCAN)]
            if sum(count_tokens(ln.text) + 1 for u in header for ln in u) > budget // 2:
                header = []
            oversized = [u for u in units if sum(count_tokens(ln.text) + 1 for ln in u) > budget]
            if oversized:  # a single row beyond budget: fall back to splitting its text
                units = [[piece] for u in units for ln in u
                         for piece in _split_sentences(ln, budget - 1)]
                header = []
            pieces = _pack(units, header, budget)
        else:
            units = [[piece] for ln in block.lines if ln.text.strip()
                     for piece in (_split_sentences(ln, budget - 1)
                                   if count_tokens(ln.text) + 1 > budget else [ln])]
            pieces = _pack(units, [], budget)
        for piece in pieces:
            start = min(ln.start for ln in piece)
            end = max(ln.end for ln in piece)
            body = "\n".join(ln.text for ln in piece)
            chunks.append(ChunkData(
                index=len(chunks), heading_path=list(block.heading_path), kind=block.kind,
                page_start=doc.page_at(start), page_end=doc.page_at(max(start, end - 1)),
                start=start, end=end, text=body, tokens=count_tokens(body) + len(piece)))
    return chunks
