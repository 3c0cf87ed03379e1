"""Image inputs: scanned pages delivered as image files instead of a PDF.

A researcher's scans arrive as one image per file (``report.png``, a multi-page
``report.tif``) or as a folder of page images (``report/page-1.jpg``, ``report/page-2.jpg``,
…). A file is one document (every frame of a TIFF a page); a folder whose files are all
images named with page numbers is one document, its pages in numeric order (``page-10``
after ``page-9``, which a plain name sort gets wrong). A folder holding anything else is
an ordinary folder of inputs.

Pixels are loaded with OpenCV (already a dependency of the OCR engine) as BGR; the
resolution recorded in the file (PNG ``pHYs``, JPEG/TIFF DPI, read through PyMuPDF) gives
the scale from pixels to PDF points, so cell boxes of scanned images are in the same space
as those of PDF pages. Images without a recorded resolution are taken at
:data:`DEFAULT_DPI`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from extractor.core.errors import CorruptFileError, EmptyFileError, IngestError

if TYPE_CHECKING:
    from numpy.typing import NDArray

IMAGE_TYPES: dict[str, str] = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}
"""Image suffixes read as scanned pages and the media type each is stored as."""

DEFAULT_DPI = 200
"""Assumed scan resolution when the file records none (or an implausible one)."""

MAX_PIXELS = 40_000_000
"""A page image larger than this (an A3 sheet scanned at 600 dpi is 70 Mpx) is scaled
down before OCR, as PDF pages are rendered within the same budget."""

_NUMBER = re.compile(r"\d+")


@dataclass
class PageImage:
    """One scanned page: BGR pixels and how many pixels make a PDF point."""

    number: int
    pixels: NDArray[np.uint8]
    scale: float


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_TYPES


def page_number(path: Path) -> int | None:
    """The page number in a file name: its last run of digits (``scan_2024_p07`` -> 7)."""
    found = _NUMBER.findall(path.stem)
    return int(found[-1]) if found else None


def page_folder(folder: Path) -> list[Path] | None:
    """The pages of a folder of numbered page images, in page order; ``None`` when the
    folder is not one (a sub-folder, another file, an unnumbered or repeated page)."""
    try:
        entries = [e for e in folder.iterdir() if not e.name.startswith(".")]
    except OSError:
        return None
    if not entries or any(not e.is_file() or not is_image(e) for e in entries):
        return None
    numbers = [page_number(e) for e in entries]
    if any(n is None for n in numbers) or len(set(numbers)) != len(numbers):
        return None
    return [e for _, e in sorted(zip(numbers, entries, strict=True), key=lambda p: p[0] or 0)]


def load_pages(path: Path) -> list[PageImage]:
    """Every page of an image file or a page folder, numbered from 1."""
    files = page_folder(path) if path.is_dir() else [path]
    if files is None:
        raise IngestError(str(path), "not a folder of numbered page images")
    pages: list[PageImage] = []
    for file in files:
        frames = _frames(file)
        scale = _dpi(file) / 72
        for frame in frames:
            shrink = min(1.0, (MAX_PIXELS / max(frame.shape[0] * frame.shape[1], 1)) ** 0.5)
            pixels = frame if shrink >= 1.0 else np.asarray(
                cv2.resize(frame, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA), np.uint8)
            pages.append(PageImage(len(pages) + 1, pixels, scale * shrink))
    return pages


def _frames(file: Path) -> list[NDArray[np.uint8]]:
    try:
        data = np.fromfile(file, dtype=np.uint8)
    except OSError as exc:
        raise IngestError(str(file), f"cannot read: {exc.strerror or exc}") from exc
    if data.size == 0:
        raise EmptyFileError(str(file), "file is empty (0 bytes)")
    ok, frames = cv2.imdecodemulti(data, cv2.IMREAD_COLOR)
    if not ok or not frames:
        raise CorruptFileError(str(file), f"not a readable {file.suffix.lstrip('.').upper()} image")
    return [np.ascontiguousarray(f) for f in frames]


def _dpi(file: Path) -> float:
    """The horizontal resolution the file records, or :data:`DEFAULT_DPI`: 72 and 96 are
    what most tools write when they do not know the scan's resolution, so they say nothing."""
    import pymupdf  # loaded on first use: importing it costs seconds (see extractor.ingest)

    loader: Any = pymupdf  # untyped library
    try:
        pix = loader.Pixmap(str(file))
        dpi = float(pix.xres)
    except Exception:  # MuPDF's FzError* types; the resolution is only a hint
        return DEFAULT_DPI
    return dpi if 50 <= dpi <= 1200 and dpi not in {72, 96} else DEFAULT_DPI
