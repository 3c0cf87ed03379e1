"""Ingest one page at a time: what lets the pages of one document be read in parallel.

A scanned report is read by OCR at seconds a page; read as one task, a 15-page scan keeps
one core busy while the others wait. Here a document is cut into its pages, each page is
read on its own (:func:`read_page`, the same per-page code as :func:`extractor.ingest.
read_document`: text layer, or OCR and the scanned-table reader), and the pages are put
back together in page order (:func:`assemble`) with the same checks as a whole-document
read, so the result is the same :class:`~extractor.ingest.ReadResult` either way.

Only documents whose pages can be read independently are cut: PDFs, and folders of
single-frame page images (PNG/JPEG). A TIFF (frames in one file) or a single image is read
whole, as is anything whose first look fails: the whole-document read then gives the
usual one-line reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from extractor.core.errors import ExtractorError, IngestError
from extractor.core.settings import OcrSettings
from extractor.core.types import PageText, Table
from extractor.images import load_pages, page_folder
from extractor.ingest import (
    PageReader,
    PdfDocument,
    ReadResult,
    _media_type,
    check_images_read,
    check_pdf_read,
    open_pdf,
    scanned_page,
)
from extractor.ocr import shared_engine
from extractor.tables.structure import merge_continuations

SPLIT_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})
"""Page-image suffixes that hold one page per file (a TIFF may hold many)."""


@dataclass
class PageRead:
    """One page as read, or the one-line reason it could not be."""

    number: int
    page: PageText | None = None
    tables: list[Table] = field(default_factory=list)
    ocr_off: bool = False
    """The page needed OCR and there was no engine (the empty-document reason says so)."""
    reason: str | None = None


def page_count(path: Path, settings: OcrSettings, max_pages: int) -> int | None:
    """How many pages ``path`` is read as, one task each; ``None``: read it whole.

    Whole: a single page (nothing to share), more than ``max_pages`` (the whole read
    refuses it with the limit's reason), page images with OCR off (refused as a whole),
    and anything that is not a PDF or a folder of single-frame page images, or whose
    opening fails (the whole read says why).
    """
    try:
        if path.is_dir():
            if settings.engine == "none":
                return None
            files = page_folder(path) or []
            count = len(files) if all(f.suffix.lower() in SPLIT_SUFFIXES for f in files) else 0
        elif path.suffix.lower() == ".pdf" and path.is_file():
            with open_pdf(path) as doc:
                count = int(doc.page_count)
        else:
            return None
    except (IngestError, OSError):
        return None
    return count if 1 < count <= max_pages else None


_open: dict[str, PdfDocument] = {}
"""The PDF this process read its last page from (one at most): a worker given the next
page of the same document does not parse the file again."""


def _pdf(path: Path) -> PdfDocument:
    key = str(path)
    if key not in _open:
        for doc in _open.values():
            doc.close()
        _open.clear()
        _open[key] = open_pdf(path)
    return _open[key]


def read_page(path: Path, index: int, settings: OcrSettings) -> PageRead:
    """Page ``index`` (0-based) of ``path``, read exactly as a whole-document read does."""
    number = index + 1
    try:
        if path.is_dir():
            files = page_folder(path) or []
            image = load_pages(files[index])[0]
            engine = shared_engine(settings)
            if engine is None:  # page_count leaves such a folder whole; here for any caller
                return PageRead(number, reason="an image needs OCR and OCR is off (ocr.engine=none)")
            page, tables = scanned_page(image.pixels, engine.recognize(image.pixels), number,
                                        image.scale, engine.name)
            return PageRead(number, page, tables)
        reader = PageReader(path, settings, None)
        page, tables = reader.read(_pdf(path), index)
        return PageRead(number, page, tables, ocr_off=reader.ocr_off)
    except IngestError as exc:
        return PageRead(number, reason=exc.reason)
    except ExtractorError as exc:  # the OCR engine cannot be loaded: as the whole read says
        return PageRead(number, reason=str(exc))


def assemble(path: Path, reads: list[PageRead]) -> ReadResult:
    """The pages of ``path`` put back together in page order, checked as a whole read is.

    Raises the first failed page's :class:`IngestError` (a file is read completely or
    not at all), or the whole read's reason when no page has any text.
    """
    reads = sorted(reads, key=lambda r: r.number)
    for read in reads:
        if read.reason is not None:
            raise IngestError(str(path), read.reason)
    pages = [r.page for r in reads if r.page is not None]
    tables = [t for r in reads for t in r.tables]
    if path.is_dir():
        check_images_read(path, pages)
    else:
        check_pdf_read(path, pages, any(r.ocr_off for r in reads))
    return ReadResult(pages, _media_type(path), merge_continuations(tables, pages))
