"""Tables of a born-digital PDF page: PyMuPDF finds the grid, we fill the cells.

``page.find_tables()`` recovers the ruled grids of final-accounts tables correctly (rows,
columns, merged header cells, the separate 类/款/项 code columns), but its ``extract()``
reads characters in stream order and splits figures whose glyphs sit on odd baselines
(``2,940.05`` came back as ``294005\\n, .`` on a real report). So only the grid is taken
from it; each character of the text layer is assigned to the grid position holding its
centre, and a cell's text is its characters grouped into visual lines, top to bottom.

Layout gating is off (``use_layout=False``): the default runs the layout model on every
page (about 1 s a page here against 0.03 s) and, on the real reports, cut a table that
continues from the previous page down to its first columns (5 x 6 instead of 5 x 11)
and found a "table" in a dotted table of contents.

``pymupdf`` is imported by the caller (ingest); this module only calls methods on the
page it is given, so importing it costs nothing.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from extractor.core.types import BBox, Cell, Table
from extractor.tables.unruled import read_unruled_tables

PdfPage = Any  # pymupdf.Page: the library carries no annotations

RAWDICT_FLAGS = 1 | 2 | 64
"""``TEXT_PRESERVE_LIGATURES | TEXT_PRESERVE_WHITESPACE | TEXT_MEDIABOX_CLIP`` (values of
PyMuPDF's constants, spelled out so this module need not import the library)."""

EDGE_TOLERANCE = 1.5
"""Points by which a merged cell's edge may miss a grid line and still end on it."""

_LEADER = re.compile(r"(?:\.{4,}|…{2,}|·{4,})")
"""Dot leaders of a table of contents: a grid of them is a contents page, not a table."""


@dataclass(frozen=True)
class Char:
    """One character of the text layer and the text line it was printed in."""

    c: str
    bbox: BBox
    line: int


def page_chars(raw: dict[str, Any]) -> list[Char]:
    """Every character of a ``get_text("rawdict")`` result, with a line id."""
    chars = []
    line_id = 0
    for block in raw.get("blocks", ()):
        for line in block.get("lines", ()):
            line_id += 1
            for span in line["spans"]:
                for ch in span["chars"]:
                    x0, y0, x1, y1 = ch["bbox"]
                    chars.append(Char(ch["c"], (x0, y0, x1, y1), line_id))
    return chars


def read_pdf_tables(page: PdfPage, page_number: int, *,
                    raw: dict[str, Any] | None = None) -> list[Table]:
    """The page's ruled tables as raw grids (not yet annotated: see ``structure``).

    ``raw`` is the page's ``get_text("rawdict")`` when the caller has it already.
    Every grid position is covered by exactly one cell (blank cells have ``text == ""``);
    a merged cell appears once with its spans. ``index`` counts tables on this page.
    """
    paths = ruling_paths(page)
    tables: list[Table] = []
    if paths:  # no vector graphics, no rulings: skip the finder's ~50 ms
        # a /Rotate'd page is derotated inside the finder, which then reads its own graphics
        found = page.find_tables(use_layout=False, paths=None if page.rotation else paths)
        if found.tables:
            if raw is None:
                raw = page.get_text("rawdict", flags=RAWDICT_FLAGS)
            chars = page_chars(raw)
            for finder_table in found.tables:
                table = _table(finder_table, chars, page_number, len(tables))
                if table is not None:
                    tables.append(table)
    if tables or page.rotation:
        return tables
    # no ruled grid: a table with horizontal rules only, or none, read by its alignment
    found = read_unruled_tables(page.get_text("words", flags=RAWDICT_FLAGS), horizontal_rules(paths),
                                page_number)
    return [t for t in found if not _contents_page(t)]


def horizontal_rules(paths: Sequence[dict[str, Any]]) -> list[float]:
    """The y of every horizontal line (or hairline rectangle) at least 20 points long."""
    ys = []
    for path in paths:
        x0, y0, x1, y1 = (float(v) for v in path["rect"])
        if y1 - y0 <= 2.0 and x1 - x0 >= 20:
            ys.append((y0 + y1) / 2)
    return ys


def ruling_paths(page: PdfPage) -> list[dict[str, Any]]:
    """The page's vector graphics with every line and rectangle as a path of its own.

    The finder frames each path's bounding box as a table border; a producer that draws
    all rulings of a page as one path (seen in generated reports) would have the two
    tables of a page framed, and read, as one grid with the text between them in a cell.
    One path per item frames each connected group of rulings instead."""
    out = []
    for drawing in page.get_drawings():
        items = drawing["items"]
        if len(items) <= 1:
            out.append(drawing)
            continue
        for item in items:
            kind = item[0]
            if kind == "l":
                rect = (item[1].x, item[1].y, item[2].x, item[2].y)
            elif kind in ("re", "qu"):
                rect = tuple(item[1].rect) if kind == "qu" else tuple(item[1])
            else:
                continue
            x0, y0, x1, y1 = rect
            part = dict(drawing)
            part.update(items=[item], closePath=False,
                        rect=type(drawing["rect"])(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
            out.append(part)
    return out


def _table(found: Any, chars: Sequence[Char], page_number: int, index: int) -> Table | None:
    rows = found.rows
    n_rows, n_cols = len(rows), found.col_count
    if n_rows < 1 or n_cols < 2:  # one row may be the tail of a table from the page before
        return None
    ys = [float(row.bbox[1]) for row in rows] + [float(found.bbox[3])]
    xs = _column_edges(rows, n_cols, found.bbox)
    owner: list[list[Cell | None]] = [[None] * n_cols for _ in range(n_rows)]
    cells: list[Cell] = []
    for r, row in enumerate(rows):
        for c, box in enumerate(row.cells):
            if box is None or c >= n_cols or owner[r][c] is not None:
                continue
            bbox = _box(box)
            cell = Cell(row=r, col=c, text="", bbox=bbox,
                        row_span=_span(ys, r, bbox[3]), col_span=_span(xs, c, bbox[2]))
            _claim(owner, cell)
            cells.append(cell)
    for r in range(n_rows):  # positions the finder left uncovered become blank cells
        for c in range(n_cols):
            if owner[r][c] is None:
                cell = Cell(row=r, col=c, text="", bbox=(xs[c], ys[r], xs[c + 1], ys[r + 1]))
                owner[r][c] = cell
                cells.append(cell)
    _fill(owner, xs, ys, chars)
    cells.sort(key=lambda cell: (cell.row, cell.col))
    table = Table(index=index, page=page_number, cells=cells, n_rows=n_rows, n_cols=n_cols,
                  bbox=_box(found.bbox), pages=[page_number], source="text-layer")
    return None if _contents_page(table) else table


def _box(box: Iterable[float]) -> BBox:
    x0, y0, x1, y1 = (round(float(v), 2) for v in box)
    return (x0, y0, x1, y1)


def _column_edges(rows: Sequence[Any], n_cols: int, bbox: Sequence[float]) -> list[float]:
    """Left edge of every column (and the table's right edge): the smallest left edge of
    any cell starting in that column; a column no cell starts in gets the midpoint."""
    starts: list[float | None] = [None] * n_cols
    for row in rows:
        for c, box in enumerate(row.cells[:n_cols]):
            if box is not None:
                x0 = float(box[0])
                current = starts[c]
                starts[c] = x0 if current is None else min(current, x0)
    starts[0] = float(bbox[0]) if starts[0] is None else starts[0]
    edges: list[float] = []
    for c, start in enumerate(starts):
        if start is not None:
            edges.append(start)
            continue
        nxt = next((s for s in starts[c + 1:] if s is not None), float(bbox[2]))
        edges.append((edges[-1] + nxt) / 2)
    return [*edges, float(bbox[2])]


def _span(edges: Sequence[float], start: int, end: float) -> int:
    """How many grid intervals from ``start`` a box ending at ``end`` covers."""
    last = bisect.bisect_left(edges, end - EDGE_TOLERANCE) - 1
    return max(1, min(last, len(edges) - 2) - start + 1)


def _claim(owner: list[list[Cell | None]], cell: Cell) -> None:
    for r in range(cell.row, min(cell.row + cell.row_span, len(owner))):
        for c in range(cell.col, min(cell.col + cell.col_span, len(owner[r]))):
            if owner[r][c] is None:
                owner[r][c] = cell


def _fill(owner: list[list[Cell | None]], xs: Sequence[float], ys: Sequence[float],
          chars: Iterable[Char]) -> None:
    """Put every character into the cell holding its centre, then join each cell's text."""
    bucket: dict[int, list[Char]] = {}
    for ch in chars:
        x0, y0, x1, y1 = ch.bbox
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        if not (xs[0] <= cx < xs[-1] and ys[0] <= cy < ys[-1]):
            continue
        cell = owner[bisect.bisect_right(ys, cy) - 1][bisect.bisect_right(xs, cx) - 1]
        if cell is not None:
            bucket.setdefault(id(cell), []).append(ch)
    for row in owner:
        for cell in row:
            if cell is not None and id(cell) in bucket:
                cell.text = cell_text(bucket.pop(id(cell)))


def cell_text(chars: Sequence[Char]) -> str:
    """A cell's characters as one string: pieces (runs of one text line) grouped into
    visual lines top to bottom, each line left to right; pieces and lines are joined
    without a separator, except a space between two ASCII letters or digits."""
    pieces: dict[int, list[Char]] = {}
    for ch in chars:
        pieces.setdefault(ch.line, []).append(ch)
    placed = []
    for run in pieces.values():
        text = "".join(ch.c for ch in run)
        if not text.strip():
            continue
        y0 = min(ch.bbox[1] for ch in run if not ch.c.isspace())
        y1 = max(ch.bbox[3] for ch in run if not ch.c.isspace())
        x0 = min(ch.bbox[0] for ch in run if not ch.c.isspace())
        placed.append(((y0 + y1) / 2, max(y1 - y0, 1.0), x0, text))
    placed.sort()
    lines: list[list[tuple[float, float, float, str]]] = []
    for item in placed:
        if lines and abs(item[0] - lines[-1][0][0]) <= 0.5 * min(item[1], lines[-1][0][1]):
            lines[-1].append(item)
        else:
            lines.append([item])
    out = ""
    for line in lines:
        for _, _, _, text in sorted(line, key=lambda p: p[2]):
            out = join_pieces(out, text)
    return out


def join_pieces(left: str, right: str) -> str:
    """``left`` and ``right`` (pieces printed apart: separate text lines, or lines of a
    wrapped cell) joined without a separator, except a space where ASCII letters or
    digits meet, so ``一般公共服务支`` + ``出`` fuse and two figures never do. Spaces
    printed inside a piece are kept (collapsed to one)."""
    right = " ".join(right.split())
    if not left or not right:
        return left or right
    if _ascii_alnum(left[-1]) and _ascii_alnum(right[0]):
        return f"{left} {right}"
    return left + right


def _ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _contents_page(table: Table) -> bool:
    """A grid most of whose rows carry dot leaders is a table of contents."""
    rows = [" ".join(c.text for c in row) for row in table.rows()]
    return sum(bool(_LEADER.search(r)) for r in rows) * 2 > len(rows)
