"""Born-digital tables printed without full rulings: horizontal rules only, or none.

``find_tables()`` on rulings needs the vertical lines to see columns, so a "three-line"
table, or one with rules between rows only, or none at all, came back as no table and its
rows fell apart in the page text. Their structure still shows in the text layer:

- **columns**: the words of the body (the lines from the first figure or code down) stand
  in columns that overlap from row to row; header words belong to the column they sit
  over, span the columns whose middles they cover, or (over no figure) name a column left
  blank in every row. This is the reading of :mod:`extractor.tables.text_grid`, with
  positions in points instead of characters;
- **rows**: the bands between horizontal rules where the page has some; otherwise each
  line holding a figure or code, with the lines of a name wrapped around it (closer to it
  than a row's height) joined to it.

Only blocks of lines with figures in columns are read (:data:`MIN_FIGURE_ROWS`,
:data:`MIN_FIGURES`). Scanned pages are not read here (see
:mod:`extractor.tables.scan`).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from typing import Any

from extractor.core.types import BBox, Table
from extractor.tables.aligned import PlacedBox, line_runs
from extractor.tables.text_grid import NUM, Tok, aligned_table

MIN_FIGURE_ROWS = 2
MIN_FIGURES = 3
"""A block is a table with two rows of figures in columns, or one row of three (三公), and
amounts among them (a decimal point: page numbers of a contents page are not amounts)."""
_FIGURE = re.compile(r"^-?[\d,]*\d(?:\.\d+)?%?$")
_CODE = re.compile(r"^\d{2}(?:\d|\d{3}|\d{5})?$")
_PROSE = re.compile(r"[。；]|^注[:：]|单位[:：]|表$")
_MAX_GAP = 4.0
"""Line heights between two lines of one table at most (a footer stands further off)."""
_RULE_MERGE = 1.5
"""Points within which two horizontal rules are one."""


_Word = PlacedBox  # a text-layer word: the same box the scan reader places

def _is_figure(text: str) -> bool:
    return _FIGURE.match(text) is not None and any(ch.isdigit() for ch in text)


def _lines(words: list[_Word], h: float) -> list[list[_Word]]:
    lines: list[list[_Word]] = []
    for w in sorted(words, key=lambda w: w.cy):
        if lines and abs(w.cy - statistics.fmean(x.cy for x in lines[-1])) <= 0.5 * h:
            lines[-1].append(w)
        else:
            lines.append([w])
    return [sorted(line, key=lambda w: w.x0) for line in lines]


def _prose(line: list[_Word], h: float) -> bool:
    text = "".join(w.text for w in line)
    return line_runs(line, h) == 1 and (len(text) > 24 or _PROSE.search(text) is not None)


def _anchor(line: list[_Word]) -> bool:
    return any(_is_figure(w.text) for w in line)


def _blocks(lines: list[list[_Word]], h: float) -> list[list[list[_Word]]]:
    """Runs of lines between prose lines holding enough rows of figures in columns."""
    blocks: list[list[list[_Word]]] = []
    current: list[list[_Word]] = []
    for line in [*lines, []]:
        gap = bool(line and current) and line[0].cy - current[-1][0].cy > _MAX_GAP * h
        if line and not _prose(line, h) and not gap:
            current.append(line)
            continue
        figures = [ln for ln in current if _anchor(ln) and line_runs(ln, h) >= 2]
        words = sum(1 for ln in figures for w in ln if _is_figure(w.text) and "." in w.text)
        if words and (len(figures) >= MIN_FIGURE_ROWS or words >= MIN_FIGURES):
            last = max(i for i, ln in enumerate(current) if _anchor(ln))
            blocks.append(current[:last + 1])
        current = [line] if gap else []
    return blocks


def _bands(block: list[list[_Word]], rules: Sequence[float]) -> list[list[list[_Word]]] | None:
    """Lines grouped into the rows horizontal rules mark out, if rules cross the block."""
    top = min(w.y0 for w in block[0])
    bottom = max(w.y1 for w in block[-1])
    ys: list[float] = []
    for y in sorted(rules):
        if top - 30 <= y <= bottom + 30 and (not ys or y - ys[-1] > _RULE_MERGE):
            ys.append(y)
    inside = [y for y in ys if top < y < bottom]
    if len(inside) < 2:
        return None
    edges = [min(top, ys[0]), *inside, max(bottom, ys[-1])]
    rows: list[list[list[_Word]]] = [[] for _ in range(len(edges) - 1)]
    for line in block:
        cy = statistics.fmean(w.cy for w in line)
        k = next((i for i in range(len(edges) - 1) if edges[i] <= cy < edges[i + 1]), len(rows) - 1)
        rows[k].append(line)
    return [r for r in rows if r]


def _by_anchor(block: list[list[_Word]], h: float) -> list[list[list[_Word]]]:
    """Lines above the first figure are header lines, one row each; below, every line with
    a figure or code starts a row and a line without either within a line's height of one
    (a wrapped name) joins the nearest."""
    first = next(i for i, ln in enumerate(block) if _anchor(ln) or _coded(ln))
    rows: list[list[list[_Word]]] = [[ln] for ln in block[:first]]
    body = block[first:]
    anchors = [i for i, ln in enumerate(body) if _anchor(ln) or _coded(ln)]
    groups: dict[int, list[list[_Word]]] = {i: [body[i]] for i in anchors}
    loose: list[tuple[int, list[list[_Word]]]] = []
    for i, line in enumerate(body):
        if i in groups:
            continue
        cy = statistics.fmean(w.cy for w in line)
        near = min(anchors, key=lambda a: abs(statistics.fmean(w.cy for w in body[a]) - cy))
        if abs(statistics.fmean(w.cy for w in body[near]) - cy) <= 1.1 * h:
            groups[near].append(line)
        else:
            loose.append((i, [line]))
    ordered = sorted([*groups.items(), *loose], key=lambda kv: kv[0])
    return rows + [sorted(g, key=lambda ln: statistics.fmean(w.cy for w in ln)) for _, g in ordered]


def _coded(line: list[_Word]) -> bool:
    return bool(line) and _CODE.match(line[0].text) is not None


def _tokens(row: list[list[_Word]], h: float) -> list[Tok]:
    """One token per cell piece: words of a row overlapping horizontally (a name wrapped
    over lines) or a fraction of a line apart are one."""
    words = sorted((w for line in row for w in line), key=lambda w: (w.x0, w.cy))
    groups: list[list[_Word]] = []
    for w in words:
        last = groups[-1] if groups else None
        if last is not None and (w.x0 < max(x.x1 for x in last) + 0.3 * h) and not (
                NUM.match(w.text.replace(",", "")) and any(NUM.match(x.text.replace(",", "")) for x in last)):
            last.append(w)
        else:
            groups.append([w])
    out = []
    for g in groups:
        g.sort(key=lambda w: (round(w.cy / (0.5 * h)), w.x0))
        text = "".join(w.text for w in g)
        box: BBox = (min(w.x0 for w in g), min(w.y0 for w in g), max(w.x1 for w in g), max(w.y1 for w in g))
        out.append(Tok(text, 0, len(text), box[0], box[2], box=box))
    return out


def read_unruled_tables(words: Sequence[tuple[Any, ...]], rules: Sequence[float],
                        page_number: int, first_index: int = 0) -> list[Table]:
    """Tables of a text-layer page without (full) rulings.

    ``words`` as ``page.get_text("words")`` gives them, ``rules`` the y of the page's
    horizontal rules (points, top-left origin)."""
    found = [_Word(str(w[4]), float(w[0]), float(w[1]), float(w[2]), float(w[3])) for w in words
             if str(w[4]).strip()]
    if not found:
        return []
    h = statistics.median(w.height for w in found)
    tables: list[Table] = []
    for block in _blocks(_lines(found, h), h):
        bands = _bands(block, rules)
        rows = [_tokens(r, h) for r in (bands or _by_anchor(block, h))]
        table = aligned_table(first_index + len(tables), rows, [page_number] * len(rows),
                              banded=bands is not None, headless=True)
        if table is None or sum(1 for c in table.cells if c.text and _is_figure(c.text)) < MIN_FIGURES:
            continue
        boxes = [w for line in block for w in line]
        table.bbox = (min(w.x0 for w in boxes), min(w.y0 for w in boxes),
                      max(w.x1 for w in boxes), max(w.y1 for w in boxes))
        table.page, table.pages, table.source = page_number, [page_number], "text-layer"
        tables.append(table)
    return tables
