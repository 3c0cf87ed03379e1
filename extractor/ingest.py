"""Ingest: turn one input file into pages of raw text, or fail with one clear reason.

PDF pages are read from their text layer; a page whose layer has fewer than
``OcrSettings.min_text_chars`` usable characters (scans, or a layer of broken glyphs) is
rendered and read by OCR instead. Tables are read as tables (:mod:`extractor.tables`):
their grids come from the table readers, and a page's raw text is its narrative lines in
reading order with each table rendered in place, one line per row, cells joined by a tab
(:mod:`extractor.tables.layout`). Narrative text is laid out the same way as OCR output
(:mod:`extractor.ocr`): characters are cut into runs at spaces and gaps, runs are grouped
into visual lines and joined left to right.

Images (``.png``, ``.jpg``/``.jpeg``, ``.tif``/``.tiff``) are scanned pages: one document per
file (every frame of a TIFF a page), or per folder of numbered page images
(:mod:`extractor.images`); each page is read by OCR and its tables by
:func:`~extractor.tables.scan.read_scanned_tables`, exactly as a scanned PDF page.

Text files (``.txt``, ``.md``) must be UTF-8 (a BOM is accepted); a form feed starts a new
page. Other encodings are refused rather than guessed: a wrong guess silently garbles
names and figures, while a refusal names the file and, when it decodes as GB18030 (the
usual alternative for Chinese government text), says so and how to convert it.

Every failure is an :class:`~extractor.core.errors.IngestError` subclass naming the file,
and a file is read completely or not at all: no partial page list is ever returned.
"""

from __future__ import annotations

import bisect
import hashlib
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np

from extractor.core.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedFileError,
    IngestError,
    UnsupportedFileError,
)
from extractor.core.settings import OcrSettings
from extractor.core.types import NormalizedText, PageText, Table
from extractor.images import IMAGE_TYPES, load_pages, page_folder
from extractor.ocr import OCR_JOIN, OcrEngine, OcrPage, TextBox, shared_engine
from extractor.tables.layout import compose_page
from extractor.tables.scan import read_scanned_tables
from extractor.tables.structure import merge_continuations
from extractor.text_layer import TextLayer


def _mupdf() -> Any:
    """PyMuPDF, imported on first use: importing it costs 1-2 s (pymupdf 2 loads its layout
    models), which text files and ``extractor --help`` should not pay. Typed ``Any``:
    its methods carry no annotations, so ``mypy --strict`` would flag every call."""
    import pymupdf

    module: Any = pymupdf
    if hasattr(module, "no_recommend_layout"):
        # the layout models are left out on purpose (see extractor/__init__.py): no advice
        # to install them printed into the output of find_tables' callers
        module.no_recommend_layout()
    return module

PdfDocument: TypeAlias = Any  # pymupdf.Document
PdfPage: TypeAlias = Any  # pymupdf.Page

MEDIA_TYPES: dict[str, str] = {
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".md": "text/markdown",
    **IMAGE_TYPES,
}
"""Readable suffixes (matched case-insensitively) and the media type each is stored as."""

MAX_OCR_PIXELS = 40_000_000
"""Render budget for one page (A4 at 300 dpi is 8.7 Mpx): oversized pages get a lower dpi
instead of a multi-gigabyte pixmap."""

Progress = Callable[[int, int], None]
"""Called after each page as ``progress(pages_done, page_count)``."""


# --------------------------------------------------------------------------- files


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of the file's bytes (read in blocks: PDFs can be large)."""
    if path.is_dir():  # a folder of page images: the pages' digests in page order
        pages = page_folder(path) or []
        return hashlib.sha256("\n".join(sha256_of(p) for p in pages).encode()).hexdigest()
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise IngestError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def iter_input_files(paths: list[Path]) -> list[Path]:
    """The files to ingest, in order, each once.

    Directories are searched recursively for readable suffixes (sorted; hidden files and
    folders skipped); other files in them are ignored. A folder of numbered page images
    (:func:`extractor.images.page_folder`) is one input, given or found. A file named explicitly must be
    readable: an unsupported suffix raises rather than being dropped without a word. An
    empty result is not an error here; the caller decides what "nothing to do" means.
    """
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir() and page_folder(path):
            found.setdefault(path, None)
        elif path.is_dir():
            for item in sorted(_walk(path)):
                found.setdefault(item, None)
        elif path.is_file():
            _media_type(path)
            found.setdefault(path, None)
        else:
            raise IngestError(str(path), "no such file or directory")
    return list(found)


def _walk(folder: Path) -> Iterator[Path]:
    for item in folder.iterdir():
        if item.name.startswith("."):
            continue
        if item.is_dir():
            if page_folder(item):
                yield item
            else:
                yield from _walk(item)
        elif item.is_file() and item.suffix.lower() in MEDIA_TYPES:
            yield item


def _media_type(path: Path) -> str:
    if path.is_dir():
        pages = page_folder(path)
        if pages:
            return MEDIA_TYPES[pages[0].suffix.lower()]
        raise UnsupportedFileError(str(path), "a folder, not a folder of numbered page images")
    media_type = MEDIA_TYPES.get(path.suffix.lower())
    if media_type is None:
        known = ", ".join(MEDIA_TYPES)
        raise UnsupportedFileError(
            str(path), f"unsupported file type {path.suffix or '(no suffix)'!r}; readable: {known}")
    return media_type


@dataclass
class ReadResult:
    """One file as read: its pages, media type and tables.

    Until :func:`place_tables` has run, a table's ``start`` is a raw offset in the text of
    its first page and ``end`` one in the text of its last page (``pages[-1]``); a cell's
    offsets are raw offsets in the text of its own page.
    """

    pages: list[PageText]
    media_type: str
    tables: list[Table] = field(default_factory=list)


def read_pages(path: Path, settings: OcrSettings, ocr: OcrEngine | None = None, *,
               progress: Progress | None = None) -> tuple[list[PageText], str]:
    """All pages of one file and its media type (see :func:`read_document`)."""
    result = read_document(path, settings, ocr, progress=progress)
    return result.pages, result.media_type


def read_document(path: Path, settings: OcrSettings, ocr: OcrEngine | None = None, *,
                  progress: Progress | None = None) -> ReadResult:
    """All pages of one file, its media type and the tables on its pages.

    ``ocr`` is used for PDF pages without a usable text layer; when it is ``None`` the
    process-wide engine for ``settings.engine`` is used, loaded only if some page needs
    it (``engine="none"`` keeps such pages' sparse text-layer text as it is).
    """
    if not path.exists():
        raise IngestError(str(path), "no such file")
    if path.is_dir() and page_folder(path):
        pages, tables = _read_images(path, settings, ocr, progress)
        return ReadResult(pages, _media_type(path), merge_continuations(tables, pages))
    if not path.is_file():
        raise IngestError(str(path), "not a regular file")
    media_type = _media_type(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IngestError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    if size == 0:
        raise EmptyFileError(str(path), "file is empty (0 bytes)")
    if media_type == "application/pdf":
        pages, tables = _read_pdf(path, settings, ocr, progress)
        return ReadResult(pages, media_type, merge_continuations(tables, pages))
    if media_type.startswith("image/"):
        pages, tables = _read_images(path, settings, ocr, progress)
        return ReadResult(pages, media_type, merge_continuations(tables, pages))
    pages = _read_text(path)
    if progress is not None:
        progress(len(pages), len(pages))
    return ReadResult(pages, media_type)


def place_tables(tables: list[Table], normalized: NormalizedText, page_starts: list[int]) -> None:
    """Turn the raw page offsets of tables and cells (see :class:`ReadResult`) into
    offsets in the document's normalized text, in place."""
    ends = [*page_starts[1:], len(normalized.text) + 1]

    def place(page: int, raw: int) -> int:
        return _normalized_offset(normalized, page_starts, ends, page, raw)

    for table in tables:
        if table.start is not None and table.end is not None:
            table.start = place(table.page, table.start)
            table.end = place(table.pages[-1] if table.pages else table.page, table.end)
        for cell in table.cells:
            if cell.start is not None and cell.end is not None:
                page = cell.page or table.page
                cell.start, cell.end = place(page, cell.start), place(page, cell.end)


def _normalized_offset(normalized: NormalizedText, starts: list[int], ends: list[int],
                       page: int, raw: int) -> int:
    lo, hi = starts[page - 1], max(starts[page - 1], ends[page - 1] - 1)
    return bisect.bisect_left(normalized.offsets, raw, lo, hi)


# --------------------------------------------------------------------------- text files


def _read_text(path: Path) -> list[PageText]:
    data = _read_bytes(path)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data:
        raise UnsupportedFileError(
            str(path), "not UTF-8 text (NUL bytes: UTF-16 or binary); save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, data, exc) from exc
    chunks = text.split("\f")
    if len(chunks) > 1 and not chunks[-1].strip():
        chunks.pop()  # a form feed that ends the last page does not start another
    if not any(usable_chars(chunk) for chunk in chunks):
        raise EmptyFileError(str(path), "no text (only whitespace or control characters)")
    return [PageText(number=i + 1, raw=chunk, source="file") for i, chunk in enumerate(chunks)]


def _not_utf8(path: Path, data: bytes, exc: UnicodeDecodeError) -> IngestError:
    where = f"invalid byte 0x{data[exc.start]:02x} at offset {exc.start}"
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        return CorruptFileError(str(path), f"not UTF-8 text ({where})")
    return UnsupportedFileError(
        str(path), f"not UTF-8 ({where}); it decodes as GB18030: convert it first, "
                   "e.g. iconv -f GB18030 -t UTF-8")


def _read_bytes(path: Path, limit: int = -1) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(limit)
    except OSError as exc:
        raise IngestError(str(path), f"cannot read: {exc.strerror or exc}") from exc


def usable_chars(text: str) -> int:
    """Characters that carry content: not whitespace, control, private-use or U+FFFD
    (what a text layer with unmapped glyphs is made of)."""
    return sum(1 for ch in text if not ch.isspace() and ch != "\ufffd"
               and unicodedata.category(ch) not in {"Cc", "Cf", "Co", "Cs", "Cn"})


# --------------------------------------------------------------------------- images


def _read_images(path: Path, settings: OcrSettings, ocr: OcrEngine | None,
                 progress: Progress | None) -> tuple[list[PageText], list[Table]]:
    """Scanned pages from an image file or a page folder, every page read by OCR and its
    tables by :func:`read_scanned_tables`, as for a scanned PDF page."""
    engine = ocr if ocr is not None else shared_engine(settings)
    if engine is None:
        raise UnsupportedFileError(str(path), "an image needs OCR and OCR is off (ocr.engine=none)")
    images = load_pages(path)
    pages, tables = [], []
    for image in images:
        page, page_tables = scanned_page(image.pixels, engine.recognize(image.pixels),
                                         image.number, image.scale, engine.name)
        pages.append(page)
        tables.extend(page_tables)
        if progress is not None:
            progress(image.number, len(images))
    check_images_read(path, pages)
    return pages, tables


def check_images_read(path: Path, pages: list[PageText]) -> None:
    """A scanned image document must have some text once every page is read."""
    if not any(usable_chars(p.raw) for p in pages):
        raise EmptyFileError(str(path), f"OCR found no text on any of its {len(pages)} pages")


# --------------------------------------------------------------------------- PDF


def _read_pdf(path: Path, settings: OcrSettings, ocr: OcrEngine | None,
              progress: Progress | None) -> tuple[list[PageText], list[Table]]:
    with open_pdf(path) as doc:
        count = doc.page_count
        if count == 0:
            raise EmptyFileError(str(path), "PDF has no pages")
        reader = PageReader(path, settings, ocr)
        pages = []
        tables: list[Table] = []
        for index in range(count):
            page, page_tables = reader.read(doc, index)
            pages.append(page)
            tables.extend(page_tables)
            if progress is not None:
                progress(index + 1, count)
    check_pdf_read(path, pages, reader.ocr_off)
    return pages, tables


def check_pdf_read(path: Path, pages: list[PageText], ocr_off: bool) -> None:
    """A PDF must have some text once every page is read (``ocr_off``: some page needed
    OCR and there was no engine, which the reason then says)."""
    if not any(usable_chars(p.raw) for p in pages):
        hint = " and OCR is off (ocr.engine=none)" if ocr_off else ""
        raise EmptyFileError(str(path), f"no text on any of its {len(pages)} pages{hint}")


def open_pdf(path: Path) -> PdfDocument:
    if b"%PDF-" not in _read_bytes(path, limit=1024):
        raise CorruptFileError(str(path), "not a PDF (no '%PDF-' header)")
    try:
        doc = _mupdf().open(path, filetype="pdf")
    except RuntimeError as exc:  # pymupdf.FileDataError and MuPDF's own errors
        raise CorruptFileError(str(path), f"damaged PDF, cannot be opened ({exc})") from exc
    if doc.needs_pass:
        doc.close()
        raise EncryptedFileError(str(path), "PDF is encrypted and needs a password")
    if doc.is_repaired and _truncated(_read_bytes(path)):
        doc.close()
        raise CorruptFileError(
            str(path), "truncated PDF (objects after the last end-of-file marker); "
                       "pages would be missing or incomplete")
    return doc


def _truncated(data: bytes) -> bool:
    """A complete PDF ends with ``%%EOF`` after its last object; a cut-off download does
    not. Only asked when MuPDF had to rebuild the cross-reference table, which it does
    silently for truncated files, returning blank or partial pages."""
    last_object = max(data.rfind(b"endobj"), data.rfind(b"endstream"))
    return data.rfind(b"%%EOF") < last_object


class PageReader:
    """Reads pages, loading the OCR engine only when the first page needs it."""

    def __init__(self, path: Path, settings: OcrSettings, ocr: OcrEngine | None) -> None:
        self.path = path
        self.settings = settings
        self._ocr = ocr
        self._resolved = ocr is not None

    @property
    def ocr_off(self) -> bool:
        """Some page needed OCR and there was no engine to do it."""
        return self._resolved and self._ocr is None

    @property
    def engine(self) -> OcrEngine | None:
        if not self._resolved:
            self._ocr = shared_engine(self.settings)
            self._resolved = True
        return self._ocr

    def _keep_layer(self, layer: TextLayer, page: PdfPage,
                    number: int) -> tuple[PageText, list[Table]]:
        """A sparse text layer kept as it is (no OCR, or OCR found nothing), its tables
        read too: a page may hold only the last row of a table from the page before."""
        try:
            composed = layer.compose(page, number)
        except RuntimeError as exc:
            raise CorruptFileError(str(self.path), f"page {number} cannot be read ({exc})") from exc
        return PageText(number=number, raw=composed.text, source="text-layer"), composed.tables

    def read(self, doc: PdfDocument, index: int) -> tuple[PageText, list[Table]]:
        number = index + 1
        try:
            page = doc.load_page(index)
            layer = TextLayer.of(page)
            if usable_chars(layer.plain) >= self.settings.min_text_chars:
                composed = layer.compose(page, number)
                return PageText(number=number, raw=composed.text,
                                source="text-layer"), composed.tables
        except RuntimeError as exc:
            raise CorruptFileError(str(self.path), f"page {number} cannot be read ({exc})") from exc
        kept = self._keep_layer(layer, page, number)
        if kept[1] and any(c.text for t in kept[1] for c in t.cells):
            return kept  # little text, but in ruled cells: born-digital (a table's last rows)
        engine = self.engine
        if engine is None:
            return kept
        try:
            image = render(page, self.settings.dpi)
        except RuntimeError as exc:
            raise CorruptFileError(str(self.path), f"page {number} cannot be rendered ({exc})") from exc
        result = engine.recognize(image)
        if not result.text.strip() and layer.plain.strip():
            return kept
        scale = image.shape[1] / max(float(page.rect.width), 1e-6)
        return scanned_page(image, result, number, scale, engine.name)


def scanned_page(image: np.ndarray[Any, np.dtype[np.uint8]], result: OcrPage, number: int,
                 scale: float, engine: str) -> tuple[PageText, list[Table]]:
    """A page read by OCR: its tables from the scanned-page reader and its text with the
    tables in place (the OCR line layout when it has none). ``scale`` is pixels per PDF
    point (dpi / 72), so tables and cells come back in points like text-layer ones."""
    source = f"ocr:{engine}"
    tables = read_scanned_tables(image, result.boxes, number, scale)
    if not tables:
        return PageText(number=number, raw=result.text, source=source,
                        confidence=result.confidence), []
    for table in tables:
        table.source = "ocr"
    points = [_scaled(box, scale) for box in result.boxes]
    composed = compose_page(points, tables, OCR_JOIN)
    return PageText(number=number, raw=composed.text, source=source,
                    confidence=result.confidence), composed.tables


def _scaled(box: TextBox, scale: float) -> TextBox:
    """A pixel box in PDF points (the tables' coordinates)."""
    quad = tuple((x / scale, y / scale) for x, y in box.quad)
    return TextBox(box.text, quad, box.score)  # type: ignore[arg-type]


MIN_SCAN_DPI = 200
"""Scans below this resolution are still rendered at it: small print needs the pixels."""


def scan_dpi(page: PdfPage) -> float | None:
    """The resolution of the scan a page carries, when one image covers the page.

    Rendering above it adds pixels but no information, and OCR time grows with pixels: a
    200-dpi scan rendered at 300 dpi costs 2.25 times the OCR for the same text."""
    area = max(page.rect.width * page.rect.height, 1e-6)
    best: float | None = None
    for info in page.get_images(full=True):
        xref, width_px = info[0], info[2]
        for rect in page.get_image_rects(xref):
            if rect.width > 0 and rect.width * rect.height >= 0.5 * area:
                dpi = width_px / (rect.width / 72)
                best = dpi if best is None else max(best, dpi)
    return best


def render(page: PdfPage, dpi: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """The page as a BGR image (the channel order OpenCV-based engines expect), at ``dpi``
    or at the page's own scan resolution when that is lower (not under MIN_SCAN_DPI)."""
    width_in, height_in = page.rect.width / 72, page.rect.height / 72
    budget_dpi = (MAX_OCR_PIXELS / max(width_in * height_in, 1e-6)) ** 0.5
    native = scan_dpi(page)
    if native is not None:
        dpi = min(dpi, max(round(native), MIN_SCAN_DPI))
    pix = page.get_pixmap(dpi=int(min(dpi, budget_dpi)), colorspace=_mupdf().csRGB, alpha=False)
    rgb = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, 3)
    return np.ascontiguousarray(rgb[:, :, ::-1])
