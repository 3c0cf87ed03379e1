"""Columns of a space-aligned plain-text table (``pdftotext -layout`` and the like), found
from where its cells are printed, so the table reads as a grid with header paths.

Such a rendering keeps each cell at roughly its printed horizontal place but loses the
grid: a row printing only some of its figures (blank cells) says nothing, by the order of
its figures, about which columns they stand in; a multi-line header cell is shattered over
several lines, interleaved with the pieces of its neighbours (``本年支出合`` two lines above
``计``); and every page of a table is laid out again, so a later page's columns sit a few
characters left or right of the first page's. Reading such a table by the order of its
cells puts figures under the wrong header (the 项目支出 of a row whose 基本支出 is blank
lands under 基本支出).

The columns are recovered from geometry, which survives all of that:

- on one page, the cells of one column overlap horizontally from row to row (figures are
  aligned, names start at one place), so the data cells' horizontal extents, chained by
  overlap, give the page's columns;
- header fragments belong to the column they overlap; one overlapping several columns is
  a group header spanning them; fragments overlapping no data column are a column left
  blank in every row (上缴上级支出 of a department with none), and fragments of one cell
  stacked on several lines are joined top to bottom into that column's header;
- a later page's columns are the first page's shifted by one offset, found as the shift
  that brings them closest.

Horizontal positions are character columns of the *raw* line (normalization deletes the
thousands separators, which would move every later cell of the line).
"""

from __future__ import annotations

import itertools
import re
import statistics
from dataclasses import dataclass, field

from extractor.core.types import BBox, Cell, Table

NUM = re.compile(r"^-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
CODE = re.compile(r"^\d{3}(?:\d{2}){0,2}$")
_CODE_PART = re.compile(r"\d{2}|\d{3}|\d{5}|\d{7}")
"""A 类 code, a 款/项 part or a joined code: not a figure."""
_SLACK = 1
"""A header fragment this close to a column belongs to it (a one-character sub-header such as
``项`` is placed by its glyph's left edge, half a code's width off)."""


@dataclass
class Tok:
    """One printed cell (or piece of one) of a plain-text table row."""

    text: str
    start: int
    end: int
    x: float
    """Column of the token's first character in its raw line (a PDF word: its left edge)."""
    right: float = -1
    """Column just after its last character (for a name wrapped over lines: the widest)."""
    box: BBox | None = None
    """Where a PDF word lies on its page (then ``start``/``end`` mean nothing)."""

    def __post_init__(self) -> None:
        if self.right < 0:
            self.right = self.x + (self.end - self.start)

    @property
    def is_num(self) -> bool:
        return NUM.match(self.text) is not None

    @property
    def centre(self) -> float:
        return (self.x + self.right) / 2


@dataclass
class _Span:
    lo: float
    hi: float
    toks: list[Tok] = field(default_factory=list)

    @property
    def centre(self) -> float:
        return (self.lo + self.hi) / 2

    def overlaps(self, tok: Tok, slack: int = 0) -> bool:
        return tok.x < self.hi + slack and self.lo - slack < tok.right


def _chain(toks: list[Tok], rows: dict[int, int] | None = None) -> list[_Span]:
    """Horizontal extents chained by overlap: one span per column. Two cells of one row
    (``rows``: id(token) → row) are never one column, however close a line drifted."""
    spans: list[_Span] = []
    seen: list[set[int]] = []
    for tok in sorted(toks, key=lambda t: t.x):
        row = rows.get(id(tok), -1) if rows else -1
        if spans and tok.x < spans[-1].hi and (row < 0 or row not in seen[-1]):
            spans[-1].hi = max(spans[-1].hi, tok.right)
            spans[-1].toks.append(tok)
            seen[-1].add(row)
        else:
            spans.append(_Span(tok.x, tok.right, [tok]))
            seen.append({row})
    return spans


def _is_data(row: list[Tok]) -> bool:
    return any(t.is_num for t in row) or bool(row and CODE.match(row[0].text))


def _nearest(x: float, columns: list[_Span]) -> int:
    return min(range(len(columns)), key=lambda k: abs(x - columns[k].centre))


def _monotone(spans: list[_Span], columns: list[_Span]) -> list[int]:
    """Columns for a later page's spans: in order, one span per column, as close as can be
    (a page laid out again moves its figure columns, not its code and name columns, so no
    single shift fits; the order of the columns is what survives)."""
    m, n = len(spans), len(columns)
    if m > n:
        return [_nearest(s.centre, columns) for s in spans]
    inf = float("inf")
    cost = [[inf] * (n + 1) for _ in range(m + 1)]
    cost[0] = [0.0] * (n + 1)
    for i in range(1, m + 1):
        for j in range(i, n + 1):
            here = cost[i - 1][j - 1] + abs(spans[i - 1].centre - columns[j - 1].centre)
            cost[i][j] = min(cost[i][j - 1], here)
    out: list[int] = []
    j = n
    for i in range(m, 0, -1):
        while j > i and cost[i][j] == cost[i][j - 1]:
            j -= 1
        out.append(j - 1)
        j -= 1
    return out[::-1]


def _blank_columns(head: list[list[Tok]], data: list[_Span]) -> list[_Span]:
    """Columns only the header names (blank in every row): header fragments overlapping no
    data column, chained by overlap, unless they belong to a data column after all: a
    fragment of the same header cell overlaps it (a header printed wider than the figures
    under it; plain text only, where a CJK glyph counts one character), or it is the
    nearer neighbour (by the middle of the gap between them) and no header of its own
    stands over it (a centred header beside right-aligned figures)."""
    toks = [t for row in head for t in row]
    lines = {id(t): r for r, row in enumerate(head) for t in row}
    loose = [t for t in toks if not any(s.overlaps(t, _SLACK) for s in data)]
    chains = _chain([t for t in loose if not _group(t, head)], lines)
    named = {id(s) for t in toks for s in data if s.overlaps(t, _SLACK) and not _group(t, head)
             and sum(c.overlaps(t, _SLACK) for c in data) == 1}
    values = {id(s) for s in data if any(t.is_num and not _CODE_PART.fullmatch(t.text) for t in s.toks)}
    out = []
    for chain in chains:
        bridge = next((s for t in toks for s in data if s.overlaps(t) and chain.overlaps(t)
                       and sum(c.overlaps(t) for c in data) == 1 and t.box is None), None)
        if bridge is None:
            bridge = _free_neighbour(chain, data, named, values)
        if bridge is not None:
            bridge.toks.extend(chain.toks)
            named.add(id(bridge))
            continue
        out.append(chain)
    return out


def _group(tok: Tok, head: list[list[Tok]]) -> bool:
    """A group header: over two or more cells of another header line, or a PDF word centred
    over the gap between two (see :func:`_pair_below`)."""
    return _overlaps_two(tok, head) or _pair_below(tok, head) is not None


def _overlaps_two(tok: Tok, head: list[list[Tok]]) -> bool:
    return any(sum(1 for t in line if t is not tok and tok.x < t.right and t.x < tok.right) >= 2
               for line in head)


_PAIR = 0.2
"""How far off the middle of two sub-headers (a share of the distance between their middles)
a group header may stand and still be centred over both."""


def _pair_below(tok: Tok, head: list[list[Tok]]) -> tuple[Tok, Tok] | None:
    """The two neighbouring sub-headers a PDF word stands centred over on a header line
    below it: ``合计`` over ``预算数 | 决算数``, drawn without rules and too narrow to reach
    over either middle. Only on a line where another word is a group header by overlap
    (a lone word between header lines is a tall column header of its own, and may stand
    centred between two neighbours' sub-headers), and only for neighbours no further apart
    than the line's other neighbours. Plain-text positions are too coarse for this."""
    mine = next((i for i, line in enumerate(head) if any(t is tok for t in line)), None)
    if tok.box is None or mine is None or not any(
            t is not tok and _overlaps_two(t, head[mine + 1:]) for t in head[mine]):
        return None
    for line in head[mine + 1:]:
        ordered = sorted(line, key=lambda t: t.x)
        steps = [b.centre - a.centre for a, b in itertools.pairwise(ordered)]
        if not steps:
            continue
        usual = statistics.median(steps)
        for a, b in itertools.pairwise(ordered):
            step = b.centre - a.centre
            if a.centre < tok.centre < b.centre and step <= 1.5 * usual \
                    and abs(tok.centre - (a.centre + b.centre) / 2) <= _PAIR * step \
                    and not _wrapped(a, head) and not _wrapped(b, head):
                return a, b
    return None


def _wrapped(tok: Tok, head: list[list[Tok]]) -> bool:
    """Whether a PDF word is the second line of a wrapped header (``上缴上级`` / ``支出``):
    another word stands right on top of it, closer than a third of a line."""
    if tok.box is None:
        return False
    height = tok.box[3] - tok.box[1]
    return any(t.box is not None and t is not tok and t.x < tok.right and tok.x < t.right
               and -0.1 * height <= tok.box[1] - t.box[3] < height / 3 for line in head for t in line)


def _free_neighbour(chain: _Span, data: list[_Span], named: set[int], values: set[int]) -> _Span | None:
    """The data column beside ``chain`` on its side of the gap's middle, if that column has
    no header of its own or holds no figures (a name column's header, printed off its
    left-aligned names); a column left blank in every row is a column of figures."""
    left = [s for s in data if s.centre < chain.centre]
    right = [s for s in data if s.centre >= chain.centre]
    lo = max(left, key=lambda s: s.centre) if left else None
    hi = min(right, key=lambda s: s.centre) if right else None
    near: _Span | None = lo or hi
    if lo is not None and hi is not None:
        near = lo if chain.centre < (lo.hi + hi.lo) / 2 else hi
    if near is None or (id(near) in named and id(near) in values):
        return None
    return near


@dataclass
class _Layout:
    columns: list[_Span]
    where: dict[int, int]
    """id(token) → column, for every data token."""


def _fold_strays(spans: list[_Span], rows: dict[int, int]) -> list[_Span]:
    """A label standing alone in one row, off its column (``合计`` centred across the code
    and name columns), joins the neighbouring label column that row leaves empty."""
    def labels(span: _Span) -> bool:
        return not any(t.is_num or CODE.match(t.text) for t in span.toks)

    out = list(spans)
    k = 0
    while k < len(out):
        span = out[k]
        own = {rows.get(id(t)) for t in span.toks}
        if len(own) != 1 or not labels(span):
            k += 1
            continue
        near = [j for j in (k - 1, k + 1) if 0 <= j < len(out) and labels(out[j])
                and not own & {rows.get(id(t)) for t in out[j].toks}]
        if not near:
            k += 1
            continue
        j = min(near, key=lambda j: min(abs(out[j].lo - span.hi), abs(span.lo - out[j].hi)))
        out[j].toks.extend(span.toks)
        del out[k]
    return out


def _layout(head: list[list[Tok]], body: list[list[Tok]], pages: list[int]) -> _Layout | None:
    segments: dict[int, list[Tok]] = {}
    rows = {id(t): r for r, row in enumerate(body) for t in row}
    for row, page in zip(body, pages, strict=True):
        segments.setdefault(page, []).extend(row)
    order = sorted(segments)
    first = _fold_strays(_chain(segments[order[0]], rows), rows)
    columns = sorted([*first, *_blank_columns(head, first)], key=lambda s: s.lo)
    if len(columns) < 2:
        return None
    index = {id(s): k for k, s in enumerate(columns)}
    where = {id(t): index[id(s)] for s in first for t in s.toks}
    for page in order[1:]:
        spans = _fold_strays(_chain(segments[page], rows), rows)
        for s, col in zip(spans, _monotone(spans, columns), strict=True):
            where.update({id(t): col for t in s.toks})
    return _Layout(columns, where)


def _covered(tok: Tok, columns: list[_Span]) -> list[int]:
    member = [k for k, c in enumerate(columns) if any(t is tok for t in c.toks)]
    if member:
        return member
    inside = [k for k, c in enumerate(columns) if tok.x <= c.centre < tok.right]
    if inside:  # a group header spans the columns whose middles it covers
        return inside
    best = max(range(len(columns)), key=lambda k: _overlap(tok, columns[k]))
    if _overlap(tok, columns[best]) > -_SLACK:
        return [best]
    return [_nearest(tok.centre, columns)]


def _overlap(tok: Tok, column: _Span) -> float:
    return min(tok.right, column.hi) - max(tok.x, column.lo)


def _split(tok: Tok, columns: list[_Span], named: set[int]) -> list[Tok]:
    """Headers of adjacent columns printed one space apart (``基本支出 项目支出``) come as
    one run placed over the first: its words go to it and the columns beside it that no
    other header names."""
    words = list(re.finditer(r"\S+", tok.text))
    cols = _covered(tok, columns)
    if len(words) < 2 or len(cols) != 1:
        return [tok]
    k = len(words)
    for first in (cols[0], cols[0] - k + 1):
        run = range(first, first + k)
        if first >= 0 and run[-1] < len(columns) and not any(c in named for c in run if c != cols[0]):
            return [Tok(m.group(0), tok.start + m.start(), tok.start + m.end(), columns[c].lo,
                        columns[c].hi, tok.box) for m, c in zip(words, run, strict=True)]
    return [tok]


def _header_cells(head: list[list[Tok]], columns: list[_Span], values: set[int]) -> list[Cell] | None:
    """Group headers (fragments spanning columns), one row per printed line holding any,
    then one row of column headers: each column's fragments joined top to bottom.

    ``None`` when two fragments of one line fall in one column of figures (``values``):
    cells printed side by side are different columns, so the header does not stand over
    the figures (a rendering that aligned its header by another measure of glyph width).
    Over code and name columns, which are read by their content, that does not matter,
    nor for PDF words, which stand where they were drawn."""
    cells: list[Cell] = []
    leaves: dict[int, list[Tok]] = {}
    r = 0
    named = {c for line in head for t in line for c in _covered(t, columns)}
    for line in head:
        spanning = []
        used: set[int] = set()
        for tok in (w for t in line for w in _split(t, columns, named)):
            cols = _span_of(tok, head, columns)
            if len(cols) > 1:
                spanning.append((tok, cols))
                continue
            if cols[0] in used and cols[0] in values and tok.box is None:
                return None
            used.add(cols[0])
            leaves.setdefault(cols[0], []).append(tok)
        below = {c for later in head[head.index(line) + 1:] for t in later for c in _covered(t, columns)}
        for tok, cols in _widened(spanning, used, below):
            cell = _cell(r, cols[0], tok.text, [tok], header=True)
            cell.col_span = cols[-1] - cols[0] + 1
            cells.append(cell)
        r += bool(spanning)
    for col, toks in leaves.items():
        cells.append(_cell(r, col, "".join(t.text for t in toks), toks[:1] if toks[0].box is None else toks,
                           header=True))
    return cells


def _span_of(tok: Tok, head: list[list[Tok]], columns: list[_Span]) -> list[int]:
    """The columns a header fragment heads: those it covers, or the two neighbouring
    columns whose sub-headers it stands centred over (:func:`_pair_below`)."""
    cols = _covered(tok, columns)
    pair = _pair_below(tok, head) if len(cols) == 1 else None
    if pair is not None:
        left, right = _covered(pair[0], columns), _covered(pair[1], columns)
        if right[0] == left[-1] + 1:
            return [*left, *right]
    return cols


def _widened(spanning: list[tuple[Tok, list[int]]], used: set[int],
             below: set[int]) -> list[tuple[Tok, list[int]]]:
    """Group titles of PDF words over every sub-column of their group: a title centred over
    six sub-columns reaches over the middles of only two of them, so it grows by as many
    columns on each side as are free on both (no other title of its line, sub-titled on
    the lines below), keeping its middle."""
    claimed = set(used) | {c for _, cols in spanning for c in cols}
    out = []
    for tok, span in spanning:
        k = 0
        while tok.box is not None and all(
                c not in claimed and c in below for c in (span[0] - k - 1, span[-1] + k + 1)):
            k += 1
        wide = list(range(span[0] - k, span[-1] + k + 1))
        claimed.update(wide)
        out.append((tok, wide))
    return out


def _cell(row: int, col: int, text: str, toks: list[Tok], *, header: bool = False) -> Cell:
    boxes = [t.box for t in toks if t.box is not None]
    if boxes:
        bbox = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                max(b[3] for b in boxes))
        return Cell(row=row, col=col, text=text, bbox=bbox, is_header=header)
    return Cell(row=row, col=col, text=text, start=toks[0].start, end=toks[-1].end, is_header=header)


def _banded_header(head: list[list[Tok]], columns: list[_Span]) -> list[Cell]:
    """Header rows as printed (rows marked out by rules): each fragment in its row, over
    the columns it covers."""
    cells: list[Cell] = []
    for r, line in enumerate(head):
        placed: dict[int, tuple[list[int], list[Tok]]] = {}
        spans = [(tok, _span_of(tok, head, columns)) for tok in line]
        below = {c for later in head[r + 1:] for t in later for c in _covered(t, columns)}
        single = {cols[0] for _, cols in spans if len(cols) == 1}
        wide = {id(t): c for t, c in _widened([(t, c) for t, c in spans if len(c) > 1], single, below)}
        for tok, covered in spans:
            cols = wide.get(id(tok), covered)
            placed.setdefault(cols[0], (cols, []))[1].append(tok)
        taken: set[int] = set()
        for first, (cols, toks) in sorted(placed.items()):
            span = [c for c in range(first, cols[-1] + 1) if c not in taken]
            if not span:
                continue
            cell = _cell(r, span[0], "".join(t.text for t in toks), toks, header=True)
            cell.col_span = len(span)
            taken.update(span)
            cells.append(cell)
    return cells


def aligned_table(index: int, rows: list[list[Tok]], pages: list[int], *,
                  banded: bool = False, headless: bool = False) -> Table | None:
    """``rows`` (tokens with raw horizontal positions, ``pages`` the page of each row) as
    a grid whose columns come from where the cells stand; ``None`` when the rows have no
    header above their first figure or code, or show fewer than two columns. ``banded``:
    the rows are the printed rows (ruled), header rows included, so they are kept;
    ``headless``: rows without a header are a table too (a part continued from the page
    before, whose cells stand where they were drawn)."""
    first = next((i for i, r in enumerate(rows) if _is_data(r)), None)
    if first is None or (first == 0 and not headless):
        return None
    head, body = rows[:first], rows[first:]
    layout = _layout(head, body, pages[first:])
    if layout is None:
        return None
    values = {layout.where[id(t)] for row in body for t in row
              if t.is_num and not _CODE_PART.fullmatch(t.text)}
    cells = _banded_header(head, layout.columns) if banded else _header_cells(head, layout.columns, values)
    if cells is None:
        return None
    n_head = len(head) if banded else max(c.row for c in cells) + 1 if cells else 0
    for r, row in enumerate(body, start=n_head):
        placed: dict[int, list[Tok]] = {}
        for tok in row:
            placed.setdefault(layout.where[id(tok)], []).append(tok)
        anchor = row[0].start if row and row[0].box is None else None
        for col in range(len(layout.columns)):
            toks = placed.get(col, [])
            if toks:
                text = "".join(t.text for t in toks) if not any(t.is_num for t in toks) \
                    else " ".join(t.text for t in toks)
                cells.append(_cell(r, col, text, toks))
            else:
                cells.append(Cell(row=r, col=col, text="", start=anchor, end=anchor))
    n_rows = n_head + len(body)
    have = {(r, k) for c in cells for r in range(c.row, c.row + c.row_span)
            for k in range(c.col, c.col + c.col_span)}
    cells.extend(Cell(row=r, col=k, text="", is_header=True) for r in range(n_head)
                 for k in range(len(layout.columns)) if (r, k) not in have)
    cells.sort(key=lambda c: (c.row, c.col))
    return Table(index=index, page=1, cells=cells, n_rows=n_rows, n_cols=len(layout.columns),
                 header_rows=n_head, source="text-aligned")
