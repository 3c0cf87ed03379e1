"""Tables on scanned pages: ruling lines from the page image, OCR boxes assigned to cells.

A scanned page has no text layer to ask for a table's structure, but the table's
rulings are in the image. The reader:

1. binarises the page (adaptive threshold, so blur and uneven grey do not matter) and
   estimates the skew from the rulings themselves (long near-horizontal segments found by
   a probabilistic Hough transform; the OCR boxes' baselines when there are none), then
   rotates image and boxes so the rulings are axis-aligned: a 1.5 degree skew moves a
   ruling 60 px across an A4 page at 200 dpi, more than any morphology kernel tolerates;
2. keeps horizontal and vertical strokes with morphological opening by long thin kernels
   (longer than any character stroke: ``一`` would otherwise become a ruling), after a
   small closing that bridges the gaps JPEG and noise punch into thin lines;
3. takes each connected group of rulings as one table, the distinct ruling positions as
   its grid lines, and measures every grid edge on the line mask: an edge with no ruling
   along most of its length is the inside of a merged cell, so neighbours without a ruling
   between them are merged (union-find) into one cell with spans;
4. places each OCR box in the cell holding its centre; a box that runs across a ruling
   present on both sides (two figures read as one run) is split there in proportion to
   its characters' widths; a cell's boxes are grouped into lines and joined, wrapped lines
   without a separator (a CJK name wrapped over two lines is one name).

Pages whose tables carry no vertical rulings (or none at all) fall back on column
alignment: lines of OCR boxes with several separate runs are stacked into a block, and
the columns are the x-ranges that boxes occupy and no gap crosses (:mod:`extractor.tables.aligned`).

Returned grids are raw (every grid position covered by one cell, blank cells ``""``);
headers, titles and units are filled by :mod:`extractor.tables.structure`. Coordinates:
pixels of the given image divided by ``scale`` (pixels per PDF point), in the page's own
(unrotated) frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from extractor.core.types import BBox, Cell, Table
from extractor.ocr import TextBox, skew_slope
from extractor.tables.aligned import (
    PlacedBox,
    aligned_table,
    interval_index,
    join_cell_text,
    lines_of,
    unruled_tables,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Image = NDArray[np.uint8]

MAX_SKEW_DEG = 3.0
"""Rulings steeper than this are not taken as horizontal when estimating the skew."""

LINE_KERNEL_PT = 18.0
"""Morphology kernel length in PDF points: longer than a CJK character (10.5 pt fonts
draw ``一`` about 10 pt wide), shorter than the narrowest column (类/款/项, ~25 pt)."""

SNAP_PT = 2.5
"""Ruling positions within this distance are one grid line (thick or doubled rulings)."""

EDGE_PRESENT = 0.55
"""A grid edge is a ruling when the line mask covers at least this share of its length."""

MIN_TABLE_PT = 30.0
"""Smallest table (width and height) taken as a table; smaller ruled groups are boxes,
underlines or stamps."""


@dataclass
class _Grid:
    """A ruled table in the deskewed frame: grid line positions and a mask per direction."""

    xs: list[float]
    ys: list[float]
    cells: list[tuple[int, int, int, int]] = field(default_factory=list)
    """Merged cells as ``(row, col, row_span, col_span)``."""
    no_vertical: bool = False


@dataclass(frozen=True)
class _Frame:
    """The rotation that makes the rulings axis-aligned, about the image centre."""

    angle: float
    cx: float
    cy: float

    def forward(self, x: float, y: float) -> tuple[float, float]:
        """Original image point -> deskewed frame."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        dx, dy = x - self.cx, y - self.cy
        return self.cx + c * dx + s * dy, self.cy - s * dx + c * dy

    def back(self, x: float, y: float) -> tuple[float, float]:
        """Deskewed frame -> original image point."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        dx, dy = x - self.cx, y - self.cy
        return self.cx + c * dx - s * dy, self.cy + s * dx + c * dy


def read_scanned_tables(image: Image, boxes: Sequence[TextBox], page_number: int,
                        scale: float) -> list[Table]:
    """The tables on one scanned page, as raw grids in PDF points (see the module doc).

    ``image`` is the page as BGR (or greyscale) pixels, ``boxes`` the page's OCR boxes in
    the same pixels, ``scale`` pixels per PDF point (``dpi / 72``).
    """
    gray = image if image.ndim == 2 else np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)
    binary = _binarize(gray)
    frame = _Frame(_skew_angle(binary, boxes, scale), gray.shape[1] / 2, gray.shape[0] / 2)
    if abs(frame.angle) > 1e-4:
        matrix = cv2.getRotationMatrix2D((frame.cx, frame.cy), math.degrees(frame.angle), 1.0)
        binary = np.asarray(cv2.warpAffine(binary, matrix, (binary.shape[1], binary.shape[0]),
                                           flags=cv2.INTER_NEAREST, borderValue=0), np.uint8)
    placed = [_to_frame(b, frame) for b in boxes if b.text.strip()]
    horizontal, vertical = _line_masks(binary, scale)
    grids = [_build_grid(region, horizontal, vertical, scale) for region in
             _table_regions(horizontal, vertical, scale)]
    tables: list[Table] = []
    used: set[int] = set()
    for grid in sorted((g for g in grids if g is not None), key=lambda g: (g.ys[0], g.xs[0])):
        inside = [i for i, b in enumerate(placed) if i not in used
                  and grid.xs[0] <= b.cx <= grid.xs[-1] and grid.ys[0] <= b.cy <= grid.ys[-1]]
        used.update(inside)
        if grid.no_vertical:
            table = aligned_table([placed[i] for i in inside], _row_edges(grid, placed, inside),
                                  page_number)
        else:
            table = _fill_grid(grid, [placed[i] for i in inside], page_number)
        if table is not None:
            tables.append(table)
    rest = [b for i, b in enumerate(placed) if i not in used]
    tables.extend(unruled_tables(rest, page_number))
    tables.sort(key=lambda t: (t.bbox or (0, 0, 0, 0))[1])
    for index, table in enumerate(tables):
        table.index = index
        _to_points(table, frame, scale)
    return tables


def _row_edges(grid: _Grid, placed: list[PlacedBox], inside: list[int]) -> list[float] | None:
    """Rows of a table ruled only horizontally: between its rules when there is a rule under
    (nearly) every text line, else the text lines themselves (a "three-line" table rules
    only its top, the foot of its header and its bottom)."""
    lines = len(lines_of([placed[i] for i in inside]))
    return grid.ys if len(grid.ys) - 1 >= 0.8 * lines else None


# --------------------------------------------------------------------------- image


def _binarize(gray: Image) -> Image:
    """Ink as 255 on 0. Adaptive: a blurred or unevenly lit scan has no global threshold
    that keeps thin rulings and drops the background."""
    block = max(15, (min(gray.shape) // 60) | 1)
    return np.asarray(cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                            cv2.THRESH_BINARY_INV, block, 12), np.uint8)


def _skew_angle(binary: Image, boxes: Sequence[TextBox], scale: float) -> float:
    """Page skew in radians (positive: content rotated clockwise, y down).

    Horizontal strokes (rulings and text baselines, kept by a short opening) are projected
    onto the y axis at candidate angles; the angle that makes the profile sharpest (largest
    sum of squared bin counts) aligns the rulings with the rows of pixels. Coarse-to-fine
    over +-``MAX_SKEW_DEG``: about 40 ms a page, where a fine Hough transform took seconds.
    """
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (max(int(LINE_KERNEL_PT * scale / 2), 9), 1))
    strokes = cv2.morphologyEx(binary, cv2.MORPH_OPEN, kernel)
    ys, xs = np.nonzero(strokes)
    if len(xs) < 200:
        return math.atan(skew_slope(boxes)) if boxes else 0.0
    if len(xs) > 150_000:
        pick = np.random.default_rng(0).choice(len(xs), 150_000, replace=False)
        xs, ys = xs[pick], ys[pick]
    xf, yf = xs.astype(np.float64), ys.astype(np.float64)

    def sharpness(angle: float) -> float:
        projected = yf * math.cos(angle) - xf * math.sin(angle)
        counts = np.bincount((projected - projected.min()).astype(np.int64))
        return float(np.dot(counts, counts))

    best, step = 0.0, math.radians(0.25)
    span = math.radians(MAX_SKEW_DEG)
    for _ in range(3):
        candidates = np.arange(best - span, best + span + step / 2, step)
        best = max(candidates.tolist(), key=sharpness)
        span, step = step, step / 5
    return best


def _line_masks(binary: Image, scale: float) -> tuple[Image, Image]:
    """Horizontal and vertical rulings (255) in the deskewed binary image."""
    bridge = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    length = max(int(LINE_KERNEL_PT * scale), 15)
    horizontal = cv2.morphologyEx(bridge, cv2.MORPH_OPEN,
                                  cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1)))
    vertical = cv2.morphologyEx(bridge, cv2.MORPH_OPEN,
                                cv2.getStructuringElement(cv2.MORPH_RECT, (1, length)))
    # rulings that end a pixel or two short of the crossing line still have to meet it
    grow = max(int(scale), 1)
    horizontal = cv2.dilate(horizontal, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * grow + 1, 1)))
    vertical = cv2.dilate(vertical, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 2 * grow + 1)))
    return np.asarray(horizontal, np.uint8), np.asarray(vertical, np.uint8)


def _table_regions(horizontal: Image, vertical: Image, scale: float) -> list[tuple[int, int, int, int]]:
    """Bounding boxes ``(x, y, w, h)`` of connected groups of rulings big enough to be tables."""
    joined = cv2.dilate(cv2.bitwise_or(horizontal, vertical), np.ones((5, 5), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    minimum = MIN_TABLE_PT * scale
    regions = []
    for label in range(1, count):
        x, y, w, h, _ = (int(v) for v in stats[label])
        if w >= minimum and h >= minimum / 2:
            regions.append((x, y, w, h))
    return regions


def _segments(mask: Image, axis: int) -> list[tuple[float, float, float]]:
    """Ruling segments in a mask as ``(position, start, end)``: for horizontal rulings
    (axis 0) position is y and the extent runs along x; for vertical ones the reverse."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out = []
    for label in range(1, count):
        x, y, w, h, _ = (int(v) for v in stats[label])
        if axis == 0:
            out.append((y + h / 2, float(x), float(x + w)))
        else:
            out.append((x + w / 2, float(y), float(y + h)))
    return out


def _cluster(positions: list[tuple[float, float]], snap: float) -> list[float]:
    """Positions (with weights) closer than ``snap`` merged into their weighted mean."""
    lines: list[list[tuple[float, float]]] = []
    for pos, weight in sorted(positions):
        if lines and pos - lines[-1][-1][0] <= snap:
            lines[-1].append((pos, weight))
        else:
            lines.append([(pos, weight)])
    return [sum(p * w for p, w in group) / sum(w for _, w in group) for group in lines]


def _build_grid(region: tuple[int, int, int, int], horizontal: Image, vertical: Image,
                scale: float) -> _Grid | None:
    x, y, w, h = region
    pad = int(3 * scale)
    y0, y1, x0, x1 = max(y - pad, 0), y + h + pad, max(x - pad, 0), x + w + pad
    hmask, vmask = horizontal[y0:y1, x0:x1], vertical[y0:y1, x0:x1]
    min_cell = 8 * scale
    hsegs = [(p + y0, a + x0, b + x0) for p, a, b in _segments(hmask, 0) if b - a >= min_cell]
    vsegs = [(p + x0, a + y0, b + y0) for p, a, b in _segments(vmask, 1) if b - a >= min_cell / 2]
    snap = SNAP_PT * scale
    hsegs, vsegs = _anchored(hsegs, vsegs, scale), _anchored(vsegs, hsegs, scale)
    ys = _cluster([(p, b - a) for p, a, b in hsegs], snap)
    xs = _cluster([(p, b - a) for p, a, b in vsegs], snap)
    if len(ys) < 2:
        return None
    no_vertical = len(xs) < 2
    if no_vertical:
        return _Grid(xs=[float(x), float(x + w)], ys=ys, no_vertical=True)
    xs, ys = _open_sides(xs, hsegs, snap), _open_sides(ys, vsegs, snap)
    if xs[-1] - xs[0] < MIN_TABLE_PT * scale or ys[-1] - ys[0] < MIN_TABLE_PT * scale / 2:
        return None
    grid = _Grid(xs=xs, ys=ys)
    grid.cells = _merge_cells(grid, horizontal, vertical, scale)
    return grid


def _open_sides(edges: list[float], crossing: list[tuple[float, float, float]],
                snap: float) -> list[float]:
    """Grid lines with the table's open sides closed: many reports draw no outer vertical
    rulings (the horizontal rules simply end), so the first and last columns lie beyond the
    outermost vertical ruling. The ends of the crossing rulings bound them instead."""
    if not crossing:
        return edges
    low, high = min(a for _, a, _ in crossing), max(b for _, _, b in crossing)
    out = list(edges)
    if low < out[0] - 2 * snap:
        out.insert(0, low)
    if high > out[-1] + 2 * snap:
        out.append(high)
    return out


def _anchored(segments: list[tuple[float, float, float]], crossing: list[tuple[float, float, float]],
              scale: float) -> list[tuple[float, float, float]]:
    """Segments that are rulings: both ends meet a crossing ruling, or the segment spans
    most of the table (the rules of a table without vertical lines). A run of horizontal
    strokes inside a cell (``基本养老保险`` joined by the gap-bridging closing) stops short
    of the cell's borders by the cell padding, and is dropped."""
    if not segments:
        return segments
    tol = 1.5 * scale
    lo = min(a for _, a, _ in segments)
    hi = max(b for _, _, b in segments)
    long_enough = 0.4 * (hi - lo)

    def meets(end: float, pos: float) -> bool:
        return any(abs(q - end) <= tol + 2 and a - tol <= pos <= b + tol for q, a, b in crossing)

    return [(p, a, b) for p, a, b in segments
            if b - a >= long_enough or (meets(a, p) and meets(b, p))]


def _coverage(mask: Image, axis: int, edge: tuple[float, float, float], band: int) -> float:
    """Share of the edge ``(pos, start, end)`` that the ruling mask covers."""
    p, a, b = (round(v) for v in edge)
    if b <= a:
        return 0.0
    if axis == 0:
        strip = mask[max(p - band, 0):p + band + 1, a:b]
        hits = strip.max(axis=0) if strip.size else np.zeros(0)
    else:
        strip = mask[a:b, max(p - band, 0):p + band + 1]
        hits = strip.max(axis=1) if strip.size else np.zeros(0)
    return float(np.count_nonzero(hits)) / max(b - a, 1)


def _merge_cells(grid: _Grid, horizontal: Image, vertical: Image,
                 scale: float) -> list[tuple[int, int, int, int]]:
    """Grid positions joined where no ruling separates them, as rectangular cells."""
    rows, cols = len(grid.ys) - 1, len(grid.xs) - 1
    band = max(int(1.5 * scale), 2)
    inset = 2 * scale
    parent = list(range(rows * cols))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for r in range(rows):
        top, bottom = grid.ys[r] + inset, grid.ys[r + 1] - inset
        for c in range(cols - 1):  # ruling between (r, c) and (r, c + 1)?
            if _coverage(vertical, 1, (grid.xs[c + 1], top, bottom), band) < EDGE_PRESENT:
                parent[find(r * cols + c + 1)] = find(r * cols + c)
    for c in range(cols):
        left, right = grid.xs[c] + inset, grid.xs[c + 1] - inset
        for r in range(rows - 1):
            if _coverage(horizontal, 0, (grid.ys[r + 1], left, right), band) < EDGE_PRESENT:
                parent[find((r + 1) * cols + c)] = find(r * cols + c)
    groups: dict[int, list[tuple[int, int]]] = {}
    for r in range(rows):
        for c in range(cols):
            groups.setdefault(find(r * cols + c), []).append((r, c))
    taken: set[tuple[int, int]] = set()
    cells = []
    for members in sorted(groups.values()):
        r0, c0 = min(r for r, _ in members), min(c for _, c in members)
        r1, c1 = max(r for r, _ in members), max(c for _, c in members)
        if any((r, c) in taken for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)):
            # not a rectangle (a broken ruling joined an L shape): keep its own positions
            for r, c in members:
                if (r, c) not in taken:
                    cells.append((r, c, 1, 1))
                    taken.add((r, c))
            continue
        cells.append((r0, c0, r1 - r0 + 1, c1 - c0 + 1))
        taken.update((r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1))
    return sorted(cells)


# --------------------------------------------------------------------------- text


def _to_frame(box: TextBox, frame: _Frame) -> PlacedBox:
    pts = [frame.forward(x, y) for x, y in box.quad]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return PlacedBox(box.text.strip(), min(xs), min(ys), max(xs), max(ys))


def _char_width(ch: str) -> float:
    """Relative advance: CJK and full-width characters are square, the rest about half."""
    return 1.0 if ord(ch) > 0x2E7F else 0.55


def _split_at(box: PlacedBox, cut: float) -> tuple[PlacedBox, PlacedBox] | None:
    """The box's text split at x = ``cut`` by its characters' estimated positions."""
    widths = [_char_width(ch) for ch in box.text]
    total = sum(widths)
    if total == 0 or len(box.text) < 2:
        return None
    pos, acc = 0, box.x0
    unit = (box.x1 - box.x0) / total
    while pos < len(box.text) and acc + widths[pos] * unit / 2 < cut:
        acc += widths[pos] * unit
        pos += 1
    left, right = box.text[:pos].strip(), box.text[pos:].strip()
    if not left or not right:
        return None
    return (PlacedBox(left, box.x0, box.y0, cut, box.y1), PlacedBox(right, cut, box.y0, box.x1, box.y1))


def _split_boxes(boxes: list[PlacedBox], grid: _Grid, owner: dict[tuple[int, int], int]) -> list[PlacedBox]:
    """Boxes that run across a ruling separating two cells, cut at that ruling."""
    out: list[PlacedBox] = []
    queue = list(boxes)
    while queue:
        box = queue.pop()
        r = interval_index(grid.ys, box.cy)
        cut = None
        if r is not None:
            for c in range(1, len(grid.xs) - 1):
                x = grid.xs[c]
                enough = 0.25 * (box.y1 - box.y0)
                if (box.x0 + enough < x < box.x1 - enough
                        and owner.get((r, c - 1)) != owner.get((r, c))):
                    cut = x
                    break
        parts = _split_at(box, cut) if cut is not None else None
        if parts is None:
            out.append(box)
        else:
            queue.extend(parts)
    return out


def _fill_grid(grid: _Grid, boxes: list[PlacedBox], page_number: int) -> Table | None:
    owner: dict[tuple[int, int], int] = {}
    for i, (r, c, rs, cs) in enumerate(grid.cells):
        for rr in range(r, r + rs):
            for cc in range(c, c + cs):
                owner[(rr, cc)] = i
    texts: dict[int, list[TextBox]] = {}
    for box in _split_boxes(boxes, grid, owner):
        row, col = interval_index(grid.ys, box.cy), interval_index(grid.xs, box.cx)
        if row is None or col is None:
            continue
        texts.setdefault(owner[(row, col)], []).append(
            TextBox.from_rect(box.text, (box.x0, box.y0, box.x1, box.y1)))
    cells = []
    for i, (r, c, rs, cs) in enumerate(grid.cells):
        bbox = (grid.xs[c], grid.ys[r], grid.xs[c + cs], grid.ys[r + rs])
        cells.append(Cell(row=r, col=c, row_span=rs, col_span=cs, bbox=bbox,
                          text=join_cell_text(texts.get(i, []))))
    return Table(index=0, page=page_number, cells=cells, n_rows=len(grid.ys) - 1,
                 n_cols=len(grid.xs) - 1, bbox=(grid.xs[0], grid.ys[0], grid.xs[-1], grid.ys[-1]),
                 pages=[page_number], source="ocr")


# --------------------------------------------------------------------------- output


def _to_points(table: Table, frame: _Frame, scale: float) -> None:
    """Boxes from the deskewed pixel frame to PDF points on the original page."""
    def convert(bbox: BBox | None) -> BBox | None:
        if bbox is None:
            return None
        x0, y0, x1, y1 = bbox
        pts = [frame.back(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
        xs, ys = [p[0] / scale for p in pts], [p[1] / scale for p in pts]
        return (round(min(xs), 2), round(min(ys), 2), round(max(xs), 2), round(max(ys), 2))

    table.bbox = convert(table.bbox)
    for cell in table.cells:
        cell.bbox = convert(cell.bbox)
