"""Tables out of plain text (``.txt`` inputs, OCR'd or exported text): rows of cells as lines.

Plain-text reports print their tables in three layouts: tab-separated rows (text exports
and OCR with cell detection), one cell per line with blank lines between rows, and
space-aligned columns (``pdftotext -layout``). This module turns each block of table lines
into a :class:`~extractor.core.types.Table`, so a text input and a PDF go through the same
table reader. Every cell keeps its offsets in the normalized text.

The space-aligned layout has no reliable columns: a figure centred in a tall cell lands on
the line above its label, and character positions drift with the width of CJK glyphs. Such
tables get ``source = "text-layout"``: a row's cells are in reading order and their column
is their place in the row, except where a header line names every column (the 三公 table's
12 预算数/决算数) and a sparse row of figures is placed under the nearest header. Figures
printed on the line above their labels and names wrapped onto the lines below their code
are given back to their row here, so the reader sees one row per printed row.
"""

from __future__ import annotations

import bisect
import re

from extractor.core.types import Cell, Table
from extractor.tables.text_grid import Tok as _Tok
from extractor.tables.text_grid import aligned_table

_NUM = re.compile(r"^-?\d+(?:\.\d+)?$")
_CODE = re.compile(r"^\d{3}(?:\d{2}){0,2}$")
_SPACE_RUN = re.compile(r"\S[ \u3000]{3,}\S")
_SPACE_RUN2 = re.compile(r"\S[ \u3000]{2,}\S")
_BARE_FIGURE = re.compile(r"(?:^|\s)-?\d+\.\d+(?=\s|$)")
_PROSE_MARK = re.compile(r"[。，；,;：:！？%％]|万元")
_UNIT_RE = re.compile(r"(?:金额)?单位[:：]\s*(万元|元)")
LIST_MARK = re.compile(
    r"^(?:[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十\d]+[)）]|\d+[.．、])\s*")
_MARKER = re.compile(r"公开\s*\d{1,2}\s*表|附表\s*\d{1,2}")
TITLE_REACH = 12
"""A table's title is among the last lines of prose above it (title, 公开NN表, unit, 部门名称,
and the header lines a plain-text rendering did not read as rows: 支出决算表 prints eight)."""
_MAX_TITLE = 45


def is_table_line(line: str) -> bool:
    """Tab-separated rows, Markdown rows (``| a | b |``), space-aligned rows and
    single-spaced "label figure …" rows are tables, not prose (a prose line has punctuation
    and units)."""
    stripped = line.strip()
    if "\t" in line or _SPACE_RUN.search(stripped) is not None or _is_pipe_row(stripped):
        return True
    return _BARE_FIGURE.search(stripped) is not None and _PROSE_MARK.search(stripped) is None


def _is_pipe_row(stripped: str) -> bool:
    return len(stripped) > 2 and stripped.startswith("|") and stripped.endswith("|")


_PIPE_RULE = re.compile(r"^\|(?:\s*:?-{3,}:?\s*\|)+$")


def _pipe_rows(lines: list[tuple[int, str]]) -> list[list[_Tok]]:
    """Markdown rows: the header line (column header paths joined by ``/``) becomes one
    header row per level, the ``|---|`` rule is dropped, every other line is a row."""
    rows: list[list[_Tok]] = []
    header: list[list[_Tok]] | None = None
    for p, ln in lines:
        stripped = ln.strip()
        if not _is_pipe_row(stripped):
            continue
        if _PIPE_RULE.match(stripped.replace(" ", "")):
            if rows and header is None:
                header = _split_levels(rows.pop())
            continue
        lead = ln.index("|") + 1
        cells: list[_Tok] = []
        offset = lead
        for piece in ln[lead:ln.rindex("|")].split("|"):
            text = piece.strip()
            start = p + offset + (len(piece) - len(piece.lstrip()))
            cells.append(_Tok(text, start, start + len(text), offset))
            offset += len(piece) + 1
        rows.append(cells)
    return [*(header or []), *rows]


def _split_levels(row: list[_Tok]) -> list[list[_Tok]]:
    """``收入/决算数`` over ``收入/项目``: one header row per level, aligned at the top."""
    paths = [t.text.split("/") if t.text else [""] for t in row]
    depth = max(len(p) for p in paths)
    levels: list[list[_Tok]] = []
    for level in range(depth):
        levels.append([_Tok(p[level] if level < len(p) else "", t.start, t.end, t.x)
                       for p, t in zip(paths, row, strict=True)])
    return levels


def _lines(text: str) -> list[tuple[int, str]]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, line))
        pos += len(line) + 1
    return out


def _title_like(line: str) -> bool:
    stripped = _clean_title(line)
    return 4 <= len(stripped) <= _MAX_TITLE and stripped.endswith("表") and "。" not in stripped


def _blocks(lines: list[tuple[int, str]]) -> list[tuple[int, int]]:
    """Index ranges of table blocks: table lines, blanks and short continuation lines."""
    blocks: list[tuple[int, int]] = []
    i, n = 0, len(lines)
    while i < n:
        if not is_table_line(lines[i][1]):
            i += 1
            continue
        j = last = i
        while j < n:
            line = lines[j][1]
            stripped = line.strip()
            if is_table_line(line):
                last = j
            elif stripped and (len(stripped) > 30 or "。" in stripped or _title_like(line)):
                break
            j += 1
        blocks.append((i, last + 1))
        i = last + 1
    return blocks


def _tab_cells(pos: int, line: str) -> list[_Tok]:
    cells, offset = [], 0
    for piece in line.split("\t"):
        lead = len(piece) - len(piece.lstrip())
        text = piece.strip()
        compact = re.sub(r"\s+", "", text)
        cells.append(_Tok(compact if _NUM.match(compact) else text, pos + offset + lead,
                          pos + offset + lead + len(text), offset + lead))
        offset += len(piece) + 1
    return cells


def _space_tokens(pos: int, line: str) -> list[_Tok]:
    """Runs separated by two or more spaces; figures separated by one space split too."""
    if not _SPACE_RUN2.search(line.strip()):
        return _single_tokens(pos, line)
    out: list[_Tok] = []
    for m in re.finditer(r"\S+(?:[ \u3000]\S+)*", line):
        parts = m.group(0).split()
        if len(parts) > 1 and all(_NUM.match(p) or _CODE.match(p) for p in parts):
            offset = m.start()
            for part in parts:
                k = line.index(part, offset)
                out.append(_Tok(part, pos + k, pos + k + len(part), k))
                offset = k + len(part)
            continue
        out.append(_Tok(m.group(0), pos + m.start(), pos + m.end(), m.start()))
    return out


def _single_tokens(pos: int, line: str) -> list[_Tok]:
    """Single-spaced rows: figures and codes are cells; the words between them form one
    label, except that a list marker ("二、") starts a new label."""
    out: list[_Tok] = []
    for m in re.finditer(r"\S+", line):
        word = m.group(0)
        tok = _Tok(word, pos + m.start(), pos + m.end(), m.start())
        if tok.is_num or not out or out[-1].is_num or LIST_MARK.match(word):
            out.append(tok)
        else:
            last = out[-1]
            out[-1] = _Tok(last.text + " " + word, last.start, tok.end, last.x)
    return out


def _cell_rows(lines: list[tuple[int, str]]) -> list[list[_Tok]]:
    """One cell per line, a blank line between rows; a line without a tab continues the
    cell above (a wrapped name)."""
    rows: list[list[_Tok]] = []
    cells: list[_Tok] = []
    for p, ln in lines:
        if not ln.strip() and "\t" not in ln:
            if cells:
                rows.append(cells)
                cells = []
            continue
        if ln.lstrip(" ").startswith("\t"):
            k = ln.index("\t") + 1
            cells.extend(_tab_cells(p + k, ln[k:]))
        elif cells:
            last = cells[-1]
            cells[-1] = _Tok(last.text + ln.strip(), last.start, p + len(ln.rstrip()), last.x)
        else:
            lead = len(ln) - len(ln.lstrip())
            cells.append(_Tok(ln.strip(), p + lead, p + len(ln.rstrip()), lead))
    if cells:
        rows.append(cells)
    return rows


def _is_code_row(row: list[_Tok]) -> bool:
    return bool(row) and _CODE.match(row[0].text) is not None and len(row[0].text) in {3, 5, 7}


def _labels(row: list[_Tok]) -> list[_Tok]:
    return [t for t in row if t.text and not t.is_num]


def _name_only(row: list[_Tok]) -> bool:
    """A line holding one piece of a wrapped name (no figure, no code, no numbered label)."""
    return (len(row) == 1 and not row[0].is_num and not _CODE.match(row[0].text)
            and not LIST_MARK.match(row[0].text) and row[0].text not in {"合计", "总计"})


def _has_name(row: list[_Tok]) -> bool:
    i = _name_index(row)
    return i < len(row) and not row[i].is_num


def _wrapped_names(rows: list[list[_Tok]], gaps: list[bool]) -> tuple[list[list[_Tok]], list[bool]]:
    """Give the pieces of a name wrapped around its code line back to that row.

    ``pdftotext -layout`` centres a wrapped name on its row: a piece above the code line,
    maybe one on it, one below. Between two code lines, the pieces below the first come
    first and the last piece stands above the second — unless the pieces end at a blank
    line or a figures line (then all are the first row's), or a single piece sits between
    a straddled name and a code line with its own name (then it ends the first name).
    """
    coded = [i for i, r in enumerate(rows) if _is_code_row(r)]
    above: dict[int, list[int]] = {}
    below: dict[int, list[int]] = {}
    taken: set[int] = set()
    for n, i in enumerate(coded):
        if i > 0 and i - 1 not in taken and _name_only(rows[i - 1]) and not gaps[i]:
            above[i] = [i - 1]
            taken.add(i - 1)
        nxt = coded[n + 1] if n + 1 < len(coded) else len(rows)
        gap: list[int] = []
        k = i + 1
        while k < nxt and _name_only(rows[k]) and not gaps[k]:
            gap.append(k)
            k += 1
        if not gap:
            continue
        ends_open = k < len(rows) and k == nxt and not gaps[k]  # the pieces run into the next code line
        if not ends_open:
            below[i] = gap
        elif len(gap) > 1:
            below[i] = gap[:-1]
        elif (i in above or not _has_name(rows[i])) and _has_name(rows[nxt]):
            below[i] = gap
        taken.update(below.get(i, []))
    out: list[list[_Tok]] = []
    out_gaps: list[bool] = []
    for i, printed in enumerate(rows):
        row = printed
        if i in taken:
            continue
        if i in above or i in below:
            pieces = [rows[k][0] for k in above.get(i, [])]
            idx = _name_index(row)
            inline = [row[idx]] if idx < len(row) and not row[idx].is_num else []
            pieces += inline + [rows[k][0] for k in below.get(i, [])]
            name = _Tok("".join(p.text.strip() for p in pieces), pieces[0].start, pieces[-1].end,
                        pieces[0].x, max(p.right for p in pieces))
            row = [*row[:idx], name, *row[idx + len(inline):]]
        out.append(row)
        out_gaps.append(gaps[i] if i not in above else gaps[above[i][0]])
    return out, out_gaps


def _raw_columns(tokens: list[_Tok], pos: int, offsets: list[int] | None) -> list[_Tok]:
    """Give tokens their columns in the raw line: normalization drops thousands separators,
    which would move every later cell of the line to the left."""
    if offsets is not None:
        for t in tokens:
            t.x = offsets[t.start] - offsets[pos]
            t.right = offsets[max(t.start, t.end - 1)] + 1 - offsets[pos]
    return tokens


def _header_words(row: list[_Tok], after: list[_Tok] | None) -> bool:
    """A header line of one-character sub-headers (``类 款 项``) printed between the figures
    of the first row and that row's label on the next line."""
    return (len(row) >= 2 and all(len(t.text) <= 2 and not t.is_num for t in row)
            and after is not None and bool(_labels(after)) and not any(t.is_num for t in after))


def _space_rows(lines: list[tuple[int, str]], offsets: list[int] | None = None) -> list[list[_Tok]]:
    """Rows of a space-aligned block, with names wrapped around their code line and figures
    printed above their labels (or below a code line without figures) given back."""
    rows: list[list[_Tok]] = []
    gaps: list[bool] = []
    prev_blank = False
    for p, ln in lines:
        if not ln.strip():
            prev_blank = True
            continue
        rows.append(_raw_columns(_space_tokens(p, ln), p, offsets))
        gaps.append(prev_blank)
        prev_blank = False
    rows, gaps = _wrapped_names(rows, gaps)
    out: list[list[_Tok]] = []
    pending: list[_Tok] = []
    for k, (line, gap) in enumerate(zip(rows, gaps, strict=True)):
        row = line
        if pending and not gap and _header_words(row, rows[k + 1] if k + 1 < len(rows) else None):
            out.append(row)
            continue
        if all(t.is_num for t in row) and not _is_code_row(row):
            last = out[-1] if out else None
            if not gap and not pending and last is not None and _is_code_row(last) \
                    and not any(t.is_num for t in last[_name_index(last):]):
                out[-1] = [*last, *row]  # figures printed under their code line
                continue
            if gap and pending:
                out.append(pending)
                pending = []
            pending = [*pending, *row]
            continue
        if pending:
            if not gap and _labels(row):
                row = sorted([*row, *pending], key=lambda t: t.x)
            else:
                out.append(pending)
            pending = []
        out.append(row)
    if pending:
        out.append(pending)
    return out


def _name_index(row: list[_Tok]) -> int:
    """Index where a coded row's name stands (after its 类 code and 款/项 parts)."""
    i = 1
    while i < len(row) and i < 3 and len(row[0].text) == 3 and re.fullmatch(r"\d{2}", row[i].text):
        i += 1
    return i


def _anchored(rows: list[list[_Tok]]) -> tuple[int, list[_Tok]] | None:
    """The header line naming every column (as many cells as the widest row), if any."""
    first = next((i for i, r in enumerate(rows) if any(t.is_num for t in r)), None)
    if first is None or first == 0:
        return None
    widest = max(len(r) for r in rows[first:])
    heads = [(i, r) for i, r in enumerate(rows[:first]) if len(r) >= max(widest, 6)
             and not any(t.is_num for t in r)]
    return heads[-1] if heads else None


def _place(row: list[_Tok], anchors: list[_Tok]) -> dict[int, _Tok]:
    """Columns of a sparse row of figures under a header line: nearest header by centre."""
    out: dict[int, _Tok] = {}
    for tok in row:
        col = min(range(len(anchors)), key=lambda i: abs(anchors[i].centre - tok.centre))
        out.setdefault(col, tok)
    return out


def _build(index: int, rows: list[list[_Tok]], source: str) -> Table:
    cells: list[Cell] = []
    anchored = _anchored(rows) if source == "text-layout" else None
    n_cols = 0
    for r, row in enumerate(rows):
        placed: dict[int, _Tok]
        if anchored is not None and r > anchored[0] and row and all(t.is_num for t in row) \
                and len(row) < len(anchored[1]):
            placed = _place(row, anchored[1])
            width = len(anchored[1])
        else:
            placed = dict(enumerate(row))
            width = len(row)
        n_cols = max(n_cols, width)
        anchor = row[0].start if row else None
        for c in range(width):
            tok = placed.get(c)
            # a blank position of a placed row is printed (empty span at the row); padding
            # beyond a row's own cells has no span at all
            cells.append(Cell(row=r, col=c, text=tok.text if tok else "",
                              start=tok.start if tok else anchor, end=tok.end if tok else anchor))
    for r in range(len(rows)):  # every grid position exists as a cell
        have = {c.col for c in cells if c.row == r}
        cells.extend(Cell(row=r, col=c, text="") for c in range(n_cols) if c not in have)
    cells.sort(key=lambda c: (c.row, c.col))
    return Table(index=index, page=1, cells=cells, n_rows=len(rows), n_cols=n_cols, source=source)


def _spaced(lines: list[tuple[int, str]]) -> bool:
    """Whether the block's cells stand at their printed places (runs of spaces between
    them), rather than one space apart in reading order (then positions mean nothing)."""
    multi = [ln for _, ln in lines if len(ln.split()) > 1]
    return bool(multi) and sum(_SPACE_RUN2.search(ln.strip()) is not None for ln in multi) >= 0.8 * len(multi)


def _table(index: int, rows: list[list[_Tok]], source: str, pages: list[int] | None) -> Table:
    """A space-aligned block with a header over its figures is read into columns by where
    its cells stand (:mod:`extractor.tables.text_grid`), unless one header line names
    every column; the others keep their cells in reading order."""
    anchored = _anchored(rows)
    figures_only = anchored is not None and all(
        t.is_num for r in rows[anchored[0] + 1:] for t in r)
    if source == "text-layout" and pages is not None and not figures_only:
        table = aligned_table(index, rows, pages)
        if table is not None:
            return table
    return _build(index, rows, source)


def _rows(lines: list[tuple[int, str]], offsets: list[int] | None = None) -> tuple[list[list[_Tok]], str]:
    body = [(p, ln) for p, ln in lines if ln.strip() or "\t" in ln]
    if body and sum(_is_pipe_row(ln.strip()) for _, ln in body) > len(body) / 2:
        return _pipe_rows(lines), "text"
    tabbed = [ln for _, ln in body if "\t" in ln]
    if not tabbed:
        return _space_rows(lines, offsets), "text-layout"
    one_cell = sum(ln.lstrip(" ").startswith("\t") and ln.count("\t") == 1 for _, ln in body)
    if one_cell <= 0.8 * len(body):
        return [_tab_cells(p, ln) if "\t" in ln else _space_tokens(p, ln) for p, ln in body], "text"
    return _cell_rows(lines), "text"


def _clean_title(line: str) -> str:
    """A title line without spaces, 公开NN表 markers, a Markdown ``#`` or a (单位：…) tail."""
    text = _MARKER.sub("", re.sub(r"\s+", "", line)).lstrip("#")
    return re.sub(r"[（(](?:金额)?单位[:：][^)）]*[)）]$", "", text)


def _title(intro: list[str]) -> str | None:
    for line in reversed(intro[-TITLE_REACH:]):
        if _title_like(line):
            return _clean_title(line)
    return None


def read_text_tables(text: str, page_starts: list[int] | None = None,
                     offsets: list[int] | None = None) -> list[Table]:
    """Every table block of ``text`` (a document's normalized text) as a :class:`Table`.

    ``page_starts`` (offset where each page begins) gives each table its pages. The title
    is the nearest line above ending in 表 (公开NN表 markers dropped), the unit the last
    单位 line above or in the first rows; ``start``/``end`` span the block.
    """
    lines = _lines(text)
    tables: list[Table] = []
    prev_end = 0
    for a, b in _blocks(lines):
        intro = [ln for _, ln in lines[prev_end:a] if ln.strip()]
        prev_end = b
        rows, source = _rows(lines[a:b], offsets)
        rows = [r for r in rows if any(t.text for t in r)]
        if not rows:
            continue
        starts = page_starts or [0]
        pages = [bisect.bisect_right(starts, r[0].start) for r in rows] if _spaced(lines[a:b]) else None
        table = _table(len(tables), rows, source, pages)
        head_text = "\n".join([*intro[-TITLE_REACH:], *(t.text for r in rows[:3] for t in r)])
        units = _UNIT_RE.findall(head_text)
        table.unit = units[-1] if units else None
        table.title = _title(intro)
        table.start = lines[a][0]
        table.end = lines[b - 1][0] + len(lines[b - 1][1])
        if page_starts:
            first = sum(1 for s in page_starts if s <= table.start)
            last = sum(1 for s in page_starts if s <= max(table.start, table.end - 1))
            table.page, table.pages = max(first, 1), list(range(max(first, 1), max(last, 1) + 1))
        tables.append(table)
    return tables
