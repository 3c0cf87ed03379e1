"""Ingest: turn one input file into pages of raw text, or fail with one clear reason.

PDF pages are read from their text layer; a page whose layer has fewer than
``OcrSettings.min_text_chars`` usable characters (scans, or a layer of broken glyphs) is
rendered and read by OCR instead. The text layer is laid out the same way as OCR output
(:mod:`extractor.ocr`): characters are cut into runs at spaces and gaps, runs are grouped
into visual lines and joined left to right, cells with a tab. ``get_text(sort=True)``
would put each table cell on a line of its own, so a row label ends up pages away from
its figures in the text the extractors see; here a table row is one line.

Text files (``.txt``, ``.md``) must be UTF-8 (a BOM is accepted); a form feed starts a new
page. Other encodings are refused rather than guessed: a wrong guess silently garbles
names and figures, while a refusal names the file and, when it decodes as GB18030 (the
usual alternative for Chinese government text), says so and how to convert it.

Every failure is an :class:`~extractor.core.errors.IngestError` subclass naming the file,
and a file is read completely or not at all: no partial page list is ever returned.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Iterator
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
from extractor.core.types import PageText
from extractor.ocr import TEXT_LAYER_JOIN, OcrEngine, TextBox, boxes_to_text, shared_engine


def _mupdf() -> Any:
    """PyMuPDF, imported on first use: importing it costs 1-2 s (pymupdf 2 loads its layout
    models), which text files and ``extractor --help`` should not pay. Typed ``Any``:
    its methods carry no annotations, so ``mypy --strict`` would flag every call."""
    import pymupdf

    return pymupdf

PdfDocument: TypeAlias = Any  # pymupdf.Document
PdfPage: TypeAlias = Any  # pymupdf.Page

MEDIA_TYPES: dict[str, str] = {
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".md": "text/markdown",
}
"""Readable suffixes (matched case-insensitively) and the media type each is stored as."""

RUN_GAP_EM = 0.25
"""Inside one PDF text line, a gap wider than this share of the font size starts a new run:
MuPDF merges table cells standing a few points apart into one line, sometimes without a
space between two figures."""

MAX_OCR_PIXELS = 40_000_000
"""Render budget for one page (A4 at 300 dpi is 8.7 Mpx): oversized pages get a lower dpi
instead of a multi-gigabyte pixmap."""

Progress = Callable[[int, int], None]
"""Called after each page as ``progress(pages_done, page_count)``."""


# --------------------------------------------------------------------------- files


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of the file's bytes (read in blocks: PDFs can be large)."""
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
    folders skipped); other files in them are ignored. A file named explicitly must be
    readable: an unsupported suffix raises rather than being dropped without a word. An
    empty result is not an error here; the caller decides what "nothing to do" means.
    """
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            for item in sorted(_walk(path)):
                found.setdefault(item, None)
        elif path.is_file():
            _media_type(path)
            found.setdefault(path, None)
        else:
            raise IngestError(str(path), "no such file or directory")
    return list(found)


def _walk(folder: Path) -> Iterator[Path]:
    for item in folder.rglob("*"):
        hidden = any(part.startswith(".") for part in item.relative_to(folder).parts)
        if not hidden and item.is_file() and item.suffix.lower() in MEDIA_TYPES:
            yield item


def _media_type(path: Path) -> str:
    media_type = MEDIA_TYPES.get(path.suffix.lower())
    if media_type is None:
        known = ", ".join(MEDIA_TYPES)
        raise UnsupportedFileError(
            str(path), f"unsupported file type {path.suffix or '(no suffix)'!r}; readable: {known}")
    return media_type


def read_pages(path: Path, settings: OcrSettings, ocr: OcrEngine | None = None, *,
               progress: Progress | None = None) -> tuple[list[PageText], str]:
    """All pages of one file and its media type.

    ``ocr`` is used for PDF pages without a usable text layer; when it is ``None`` the
    process-wide engine for ``settings.engine`` is used, loaded only if some page needs
    it (``engine="none"`` keeps such pages' sparse text-layer text as it is).
    """
    if not path.exists():
        raise IngestError(str(path), "no such file")
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
        pages = _read_pdf(path, settings, ocr, progress)
    else:
        pages = _read_text(path)
        if progress is not None:
            progress(len(pages), len(pages))
    return pages, media_type


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


# --------------------------------------------------------------------------- PDF


def _read_pdf(path: Path, settings: OcrSettings, ocr: OcrEngine | None,
              progress: Progress | None) -> list[PageText]:
    with _open_pdf(path) as doc:
        count = doc.page_count
        if count == 0:
            raise EmptyFileError(str(path), "PDF has no pages")
        reader = _PageReader(path, settings, ocr)
        pages = []
        for index in range(count):
            pages.append(reader.read(doc, index))
            if progress is not None:
                progress(index + 1, count)
    if not any(usable_chars(p.raw) for p in pages):
        hint = " and OCR is off (ocr.engine=none)" if reader.ocr_off else ""
        raise EmptyFileError(str(path), f"no text on any of its {count} pages{hint}")
    return pages


def _open_pdf(path: Path) -> PdfDocument:
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


class _PageReader:
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

    def read(self, doc: PdfDocument, index: int) -> PageText:
        number = index + 1
        try:
            page = doc.load_page(index)
            text = text_layer(page)
        except RuntimeError as exc:
            raise CorruptFileError(str(self.path), f"page {number} cannot be read ({exc})") from exc
        if usable_chars(text) >= self.settings.min_text_chars:
            return PageText(number=number, raw=text, source="text-layer")
        engine = self.engine
        if engine is None:
            return PageText(number=number, raw=text, source="text-layer")
        try:
            image = render(page, self.settings.dpi)
        except RuntimeError as exc:
            raise CorruptFileError(str(self.path), f"page {number} cannot be rendered ({exc})") from exc
        result = engine.recognize(image)
        if not result.text.strip() and text.strip():
            return PageText(number=number, raw=text, source="text-layer")
        return PageText(number=number, raw=result.text, source=f"ocr:{engine.name}",
                        confidence=result.confidence)


def render(page: PdfPage, dpi: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """The page as a BGR image (the channel order OpenCV-based engines expect)."""
    width_in, height_in = page.rect.width / 72, page.rect.height / 72
    budget_dpi = (MAX_OCR_PIXELS / max(width_in * height_in, 1e-6)) ** 0.5
    pix = page.get_pixmap(dpi=int(min(dpi, budget_dpi)), colorspace=_mupdf().csRGB, alpha=False)
    rgb = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, 3)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def text_layer(page: PdfPage) -> str:
    """The page's text layer in reading order (see the module docstring)."""
    mupdf = _mupdf()
    raw = page.get_text("rawdict", flags=mupdf.TEXT_PRESERVE_WHITESPACE
                        | mupdf.TEXT_PRESERVE_LIGATURES | mupdf.TEXT_MEDIABOX_CLIP)
    lines = [line for block in raw["blocks"] for line in block.get("lines", ())]
    if not lines:
        return ""
    weight: dict[tuple[int, int], int] = {}
    for line in lines:
        key = _direction(line["dir"])
        weight[key] = weight.get(key, 0) + sum(len(s["chars"]) for s in line["spans"])
    main = max(weight, key=lambda k: weight[k])
    boxes: list[TextBox] = []
    other: list[str] = []
    for line in lines:
        if _direction(line["dir"]) == main:
            boxes.extend(_runs(line, main))
        else:
            text = "".join(c["c"] for s in line["spans"] for c in s["chars"]).strip()
            if text:
                other.append(text)
    body = boxes_to_text(boxes, TEXT_LAYER_JOIN)
    return "\n".join([body, *other]) if other else body


def _direction(vector: tuple[float, float]) -> tuple[int, int]:
    """Writing direction rounded to a multiple of 90 degrees."""
    dx, dy = vector
    return (round(dx), 0) if abs(dx) >= abs(dy) else (0, round(dy))


def _runs(line: dict[str, Any], direction: tuple[int, int]) -> Iterator[TextBox]:
    """Runs of characters without spaces or wide gaps, as boxes in a frame where the
    page's main writing direction points right (so rotated pages read normally)."""
    cos, sin = direction
    text: list[str] = []
    x0 = y0 = x1 = y1 = 0.0
    for span in line["spans"]:
        gap_limit = RUN_GAP_EM * span["size"]
        for char in span["chars"]:
            bx0, by0, bx1, by1 = char["bbox"]
            xs = (bx0 * cos + by0 * sin, bx1 * cos + by1 * sin)
            ys = (-bx0 * sin + by0 * cos, -bx1 * sin + by1 * cos)
            cx0, cx1, cy0, cy1 = min(xs), max(xs), min(ys), max(ys)
            if char["c"].isspace() or (text and cx0 - x1 > gap_limit):
                if text:
                    yield TextBox.from_rect("".join(text), (x0, y0, x1, y1))
                    text = []
                if char["c"].isspace():
                    continue
            if not text:
                x0, y0, x1, y1 = cx0, cy0, cx1, cy1
            else:
                x1, y0, y1 = max(x1, cx1), min(y0, cy0), max(y1, cy1)
            text.append(char["c"])
    if text:
        yield TextBox.from_rect("".join(text), (x0, y0, x1, y1))
