"""OCR of page images and the line layout shared with the PDF text-layer reader.

RapidOCR returns one box per run of text: on a table page that is one box per cell, so its
raw output keeps almost no row together. :func:`boxes_to_text` rebuilds reading order:
undo the page skew (median slope of the boxes' top edges), group boxes whose vertical
centres are close into a line, sort each line by x and join cells that stand apart with a
tab. A table row then comes out as one line, which is what the chunker and the extractors
need to pair a row label with its figures. On the two sample table pages rotated by 1.5
degrees, grouping kept all 50 rows whole with the skew correction and 32 without it.

The engine is loaded on first use (loading the ONNX models takes seconds and about 1 GB),
and :func:`shared_engine` keeps one per process so a batch of files pays that once.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from extractor.core.errors import ConfigError
from extractor.core.settings import OcrSettings

if TYPE_CHECKING:
    from numpy.typing import NDArray

Point = tuple[float, float]

SAME_LINE = 0.5
"""Boxes belong to one line when their centres are within this share of a box height."""


@dataclass(frozen=True)
class LineJoin:
    """How wide a gap (as a share of the line height) separates cells and words.

    A gap of at least ``tab_gap`` becomes a tab (a cell boundary), one of at least
    ``space_gap`` a space; narrower gaps join the pieces, except that two pieces meeting
    with ASCII letters or digits on both sides always get a space, so two figures in
    adjacent cells never fuse into one number.
    """

    tab_gap: float
    space_gap: float


OCR_JOIN = LineJoin(tab_gap=0.1, space_gap=0.05)
"""RapidOCR splits a line only where text stands apart, and its boxes are padded (the
detector expands each text region), so adjacent table cells measure gaps of 0 to 0.2
line heights on the sample scans; a separate box is a separate cell."""

TEXT_LAYER_JOIN = LineJoin(tab_gap=0.45, space_gap=0.1)
"""PDF words are split at every space and their boxes are tight: a word space measures
about 0.2 line heights, a table cell boundary (two paddings) usually well over 0.5."""


@dataclass(frozen=True)
class TextBox:
    """A piece of text and its quadrilateral (top-left, top-right, bottom-right,
    bottom-left) in image or page coordinates, y pointing down."""

    text: str
    quad: tuple[Point, Point, Point, Point]
    score: float = 1.0

    @classmethod
    def from_rect(cls, text: str, rect: tuple[float, float, float, float],
                  score: float = 1.0) -> TextBox:
        """An axis-aligned box from ``(x0, y0, x1, y1)``."""
        x0, y0, x1, y1 = rect
        return cls(text, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)), score)


@dataclass(frozen=True)
class OcrPage:
    """What OCR read on one page: text in reading order and how sure the engine was.

    ``confidence`` is the engine's per-box score averaged over characters (a long line
    read with 0.99 should outweigh a stray one-character box read with 0.5); ``None``
    when nothing was found.
    """

    text: str
    confidence: float | None
    boxes: tuple[TextBox, ...] = ()


@runtime_checkable
class OcrEngine(Protocol):
    """An OCR engine: an image in, text in reading order out. ``name`` goes into
    ``PageText.source`` as ``ocr:<name>``."""

    name: str

    def recognize(self, image: bytes | NDArray[np.uint8]) -> OcrPage: ...


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class _Placed:
    box: TextBox
    x0: float
    x1: float
    cy: float
    h: float


def skew_slope(boxes: Sequence[TextBox]) -> float:
    """Median slope (dy/dx) of the top edges of boxes wide enough to measure it.

    Only boxes at least twice as wide as tall count: the top edge of a one-character
    box is too short to tell its angle from detector jitter.
    """
    slopes = []
    for box in boxes:
        (ax, ay), (bx, by) = box.quad[0], box.quad[1]
        height = _edge_height(box)
        width = bx - ax
        if width > 0 and width >= 2 * height:
            slopes.append((by - ay) / width)
    return statistics.median(slopes) if slopes else 0.0


def _edge_height(box: TextBox) -> float:
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = box.quad
    return (math.hypot(dx - ax, dy - ay) + math.hypot(cx - bx, cy - by)) / 2


def _place(boxes: Sequence[TextBox], slope: float) -> list[_Placed]:
    """Boxes in a frame rotated so the median text baseline is horizontal."""
    norm = math.hypot(1.0, slope)
    cos, sin = 1.0 / norm, slope / norm
    placed = []
    for box in boxes:
        xs = [x * cos + y * sin for x, y in box.quad]
        ys = [-x * sin + y * cos for x, y in box.quad]
        y0, y1 = min(ys), max(ys)
        placed.append(_Placed(box, min(xs), max(xs), (y0 + y1) / 2, max(y1 - y0, 1e-6)))
    return placed


def group_lines(boxes: Sequence[TextBox]) -> list[list[TextBox]]:
    """Boxes grouped into lines, top to bottom, each line left to right (after deskew)."""
    placed = sorted(_place([b for b in boxes if b.text.strip()], skew_slope(boxes)),
                    key=lambda p: p.cy)
    lines: list[list[_Placed]] = []
    centre = height = 0.0
    for item in placed:
        if lines and abs(item.cy - centre) <= SAME_LINE * min(item.h, height):
            lines[-1].append(item)
            centre = statistics.fmean(p.cy for p in lines[-1])
            height = statistics.median(p.h for p in lines[-1])
        else:
            lines.append([item])
            centre, height = item.cy, item.h
    return [[p.box for p in sorted(line, key=lambda p: p.x0)] for line in lines]


def join_line(line: Sequence[TextBox], join: LineJoin = OCR_JOIN) -> str:
    """One line's boxes as text: tab between cells, space between words, else nothing."""
    if not line:
        return ""
    placed = _place(line, skew_slope(line) if len(line) > 2 else 0.0)
    placed.sort(key=lambda p: p.x0)
    height = statistics.median(p.h for p in placed)
    parts = [placed[0].box.text.strip()]
    for prev, item in itertools.pairwise(placed):
        gap = item.x0 - prev.x1
        text = item.box.text.strip()
        if gap >= join.tab_gap * height:
            parts.append("\t")
        elif gap >= join.space_gap * height or (_ascii_alnum(parts[-1][-1:])
                                                 and _ascii_alnum(text[:1])):
            parts.append(" ")
        parts.append(text)
    return "".join(parts)


def _ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def boxes_to_text(boxes: Sequence[TextBox], join: LineJoin = OCR_JOIN) -> str:
    """Page text in reading order, one line per visual line."""
    return "\n".join(join_line(line, join) for line in group_lines(boxes))


def char_weighted_confidence(boxes: Sequence[TextBox]) -> float | None:
    total = sum(len(b.text.strip()) for b in boxes)
    if total == 0:
        return None
    return sum(b.score * len(b.text.strip()) for b in boxes) / total


# --------------------------------------------------------------------------- engines


class RapidOcrEngine:
    """RapidOCR (PP-OCR models shipped in the ``rapidocr`` wheel, run by onnxruntime).

    Only the default models are usable offline: asking for any other model makes
    rapidocr download it. The model is built on the first :meth:`recognize`, not here,
    so constructing an engine that is never needed costs nothing.

    The per-line 180-degree classifier is off (:data:`DEFAULT_PARAMS`): on upright pages
    it only does harm. On the sample scans it flipped full-width lines that start and
    end with the same symbols, and short table cells ("正向"), which then came back as
    garbage or were dropped: CER 2.7% with it (4.5% on greyscale pages), under 0.1%
    without, and every table row whole instead of 43 of 50. The price: a page scanned
    upside down as a whole is not turned (that needs a page-level decision, not a
    per-line one; not done). ``params`` overrides rapidocr settings by dotted key.
    """

    name = "rapidocr"

    DEFAULT_PARAMS: ClassVar[dict[str, Any]] = {
        "Global.log_level": "error",
        "Global.use_cls": False,
    }

    def __init__(self, params: dict[str, Any] | None = None, threads: int | None = None) -> None:
        count = _threads.get("threads", threads)
        limits: dict[str, Any] = {} if count is None else {
            f"EngineConfig.onnxruntime.{pool}_op_num_threads": count for pool in ("intra", "inter")}
        self._params = {**self.DEFAULT_PARAMS, **limits, **(params or {})}
        self._engine: Any = None

    @property
    def loaded(self) -> bool:
        """Whether the models have been loaded (they are, on the first recognize)."""
        return self._engine is not None

    def _load(self) -> Any:
        if self._engine is None:
            try:
                from rapidocr import RapidOCR
            except ImportError as exc:
                raise ConfigError(
                    "OCR needs the 'rapidocr' and 'onnxruntime' packages: "
                    "pip install rapidocr onnxruntime (or set EXTRACTOR_OCR__ENGINE=none "
                    f"to skip pages without a text layer) [{exc}]") from exc
            self._engine = RapidOCR(params=self._params)
        return self._engine

    def raw(self, image: bytes | NDArray[np.uint8]) -> Any:
        """The engine's own output for an image (for benchmarks and debugging)."""
        return self._load()(image)

    def recognize(self, image: bytes | NDArray[np.uint8]) -> OcrPage:
        result = self.raw(image)
        if result.boxes is None or result.txts is None:
            return OcrPage("", None)
        boxes = tuple(
            TextBox(str(text), _quad(quad), float(score))
            for quad, text, score in zip(result.boxes, result.txts, result.scores, strict=True)
        )
        return OcrPage(boxes_to_text(boxes), char_weighted_confidence(boxes), boxes)


def _quad(points: Any) -> tuple[Point, Point, Point, Point]:
    arr = np.asarray(points, dtype=float).reshape(4, 2)
    a, b, c, d = ((float(x), float(y)) for x, y in arr)
    return a, b, c, d


def make_engine(settings: OcrSettings) -> OcrEngine | None:
    """A fresh engine for the configured kind; ``None`` when OCR is switched off."""
    if settings.engine == "none":
        return None
    if settings.engine == "rapidocr":
        return RapidOcrEngine(threads=settings.threads)
    raise ConfigError(
        f"OCR engine {settings.engine!r} is not available in this build; "
        "use EXTRACTOR_OCR__ENGINE=rapidocr (or none)")


class CachedOcrEngine:
    """An engine whose page results are kept on disk, keyed by the image's pixels and the
    engine: OCR is the slow part of reading a scan (seconds a page), so re-reading a
    document after the table reader changed, or after a kill in the middle of a long scan,
    costs only the pages never read. A damaged cache entry is read again, not trusted."""

    VERSION = 1
    """Bump when what the engine returns for the same pixels changes (models, params)."""

    def __init__(self, inner: OcrEngine, directory: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.directory = directory

    def _path(self, image: bytes | NDArray[np.uint8]) -> Path:
        digest = hashlib.sha256(f"{self.name}:{self.VERSION}:".encode())
        if isinstance(image, bytes):
            digest.update(image)
        else:
            digest.update(repr(image.shape).encode())
            digest.update(np.ascontiguousarray(image).tobytes())
        key = digest.hexdigest()
        return self.directory / key[:2] / f"{key}.json"

    def recognize(self, image: bytes | NDArray[np.uint8]) -> OcrPage:
        path = self._path(image)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            boxes = tuple(TextBox(str(t), _quad(q), float(s)) for t, q, s in data["boxes"])
        except (OSError, ValueError, KeyError, TypeError):
            page = self.inner.recognize(image)
            self._write(path, page)
            return page
        return OcrPage(boxes_to_text(boxes), char_weighted_confidence(boxes), boxes)

    @staticmethod
    def _write(path: Path, page: OcrPage) -> None:
        """Written to a temporary name and renamed: two processes reading the same page
        never see half a file."""
        payload = {"boxes": [[b.text, b.quad, b.score] for b in page.boxes]}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs speed


_threads: dict[str, int] = {}
"""``{"threads": n}``: threads an engine built in this process may use (empty:
onnxruntime's default, one per core); see :func:`limit_threads`."""


def limit_threads(threads: int) -> None:
    """Engines built in this process from now on use ``threads`` threads (onnxruntime's
    intra- and inter-op pools; OpenCV's is left alone: resizing it in a forked worker whose
    parent had used it hangs).

    A pool worker calls this with 1: N workers each running onnxruntime with a thread per
    core would put N² threads on N cores, and the pages of a scanned report are read
    in parallel by the workers already. ``run --workers 1`` asks for one thread through
    ``OcrSettings.threads`` instead (a setting, not this process-wide switch: a library
    caller's other engines keep their own).
    """
    if threads < 1:
        raise ConfigError(f"OCR threads must be at least 1 (got {threads})")
    _threads["threads"] = threads  # engines cached under other counts are kept, see _shared


@cache
def _shared(kind: str, cache_dir: Path | None, threads: int | None) -> OcrEngine | None:
    """One engine per kind, page cache and thread count. An engine a forked worker inherited
    from its parent is never used (its onnxruntime thread pool stayed behind in the parent)
    and never released either: releasing it waits forever on those threads."""
    engine = make_engine(OcrSettings.model_validate({"engine": kind, "threads": threads}))
    if engine is None or cache_dir is None:
        return engine
    return CachedOcrEngine(engine, cache_dir)


def shared_engine(settings: OcrSettings) -> OcrEngine | None:
    """The process-wide engine for ``settings.engine`` (built once, loaded on first use),
    behind the page cache when ``settings.cache_dir`` is set."""
    return _shared(settings.engine, settings.cache_dir, _threads.get("threads", settings.threads))
