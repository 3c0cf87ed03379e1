"""Page images and where each value stands on them.

A page is rendered from the stored original: the uploaded bytes in the blob store, or
for a document ingested by ``extractor run`` the file it was read from, if it is still
there with the same bytes. A text document (or one whose original is gone) is rendered
from its stored page text. Boxes are in PDF points, origin top-left, on the page as
displayed (rotation applied): a table cell's box from the evidence when the table layer
gave one, else the printed value found on the page next to the words of its quote.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pymupdf

from extractor.core.errors import NotFoundError
from extractor.core.records import Fact
from extractor.core.settings import OcrSettings
from extractor.ingest import render, sha256_of
from extractor.ocr import shared_engine
from extractor.store import Document

_pymupdf: Any = pymupdf
Box = tuple[float, float, float, float]

TEXT_PAGE = (595.0, 842.0)
"""A4 in points: the sheet a text page is typeset on."""


@dataclass(frozen=True)
class Located:
    boxes: list[Box]
    method: str
    """``cell`` (table evidence), ``value`` (the printed figure by its quote), ``quote`` (the
    quote's words), ``value-only`` (the figure alone, unambiguous on the page)."""


@lru_cache(maxsize=256)
def _verified(path: str, size: int, mtime: float, sha256: str) -> bool:
    return sha256_of(Path(path)) == sha256


def original_path(doc: Document, blobs: Path) -> Path | None:
    """The stored original of a document, or ``None`` when none is available any more."""
    folder = blobs / doc.sha256
    if folder.is_dir():
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        if files:
            return files[0]
    path = Path(doc.path)
    try:
        stat = path.stat()
    except OSError:
        return None
    if path.is_file() and _verified(str(path), stat.st_size, stat.st_mtime, doc.sha256):
        return path
    return None


def is_visual(doc: Document, original: Path | None) -> bool:
    """Whether pages are shown as images of the original (PDF, image) rather than as text."""
    return original is not None and not doc.media_type.startswith("text/")


def open_original(path: Path) -> Any:
    try:
        return _pymupdf.open(path)
    except RuntimeError as exc:
        raise NotFoundError(f"the original of this document cannot be opened: {exc}") from exc


def page_sizes(path: Path) -> list[tuple[float, float]]:
    with open_original(path) as pdf:
        return [(float(p.rect.width), float(p.rect.height)) for p in pdf]


def render_png(doc: Document, original: Path | None, number: int, page_text: str | None,
               dpi: int) -> bytes:
    """PNG of page ``number`` (1-based)."""
    if number < 1 or number > doc.pages:
        raise NotFoundError(f"document {doc.doc_id} has pages 1-{doc.pages}, not {number}")
    if original is not None and is_visual(doc, original):
        with open_original(original) as pdf:
            if number > pdf.page_count:
                raise NotFoundError(f"the original has {pdf.page_count} pages, not {number}")
            png: bytes = pdf[number - 1].get_pixmap(dpi=dpi, alpha=False).tobytes("png")
            return png
    return text_png(page_text or "", dpi)


def text_png(text: str, dpi: int) -> bytes:
    """A page of text typeset on A4 (shrunk to fit), for documents that are only text."""
    with _pymupdf.open() as pdf:
        page = pdf.new_page(width=TEXT_PAGE[0], height=TEXT_PAGE[1])
        body = html.escape(text)
        page.insert_htmlbox(_pymupdf.Rect(36, 36, TEXT_PAGE[0] - 36, TEXT_PAGE[1] - 36),
                            f'<pre style="font-size:9pt;white-space:pre-wrap">{body}</pre>')
        png: bytes = page.get_pixmap(dpi=dpi, alpha=False).tobytes("png")
        return png


# --------------------------------------------------------------------------- locating


def _rects(page: Any, needle: str) -> list[Any]:
    if not needle.strip():
        return []
    found: list[Any] = page.search_for(needle.strip())
    return found


def _union(rects: list[Any]) -> Any:
    box = _pymupdf.Rect(rects[0])
    for r in rects[1:]:
        box |= r
    return box


def _displayed(page: Any, rect: Any) -> Box:
    r = _pymupdf.Rect(rect) * page.rotation_matrix
    r.normalize()
    return (round(r.x0, 2), round(r.y0, 2), round(r.x1, 2), round(r.y1, 2))


_UNITS = "万元亿%％辆个人次批台套项分"
_LABEL = re.compile(r"[^\s\d.,，。:：;；、()（）\"“”'‘’]+")


def _grouped(digits: str) -> str:
    """``55923963.72`` as reports print it, ``55,923,963.72`` (normalize drops the commas)."""
    whole, dot, frac = digits.partition(".")
    if not whole.isdigit() or len(whole) <= 3:
        return digits
    return f"{int(whole):,}{dot}{frac}"


def value_texts(fact: Fact) -> list[str]:
    """How the figure may be printed: as read (``795.75万元``), with thousands separators,
    its digits alone."""
    out: list[str] = []
    if fact.raw:
        raw = fact.raw.strip()
        digits = raw.rstrip(_UNITS).strip()
        unit = raw[len(digits):].strip() if raw.startswith(digits) else ""
        for text in (raw, _grouped(digits) + unit, digits, _grouped(digits)):
            if text and text not in out:
                out.append(text)
    if isinstance(fact.value, str) and fact.value not in out:
        out.append(fact.value)
    return out


def _quote_hits(page: Any, quote: str, fact: Fact) -> list[Any]:
    """Where the quote stands: as normalized, with the figure's commas back, without the
    spaces OCR-like text puts round figures; failing those, its longest label (the words
    naming the figure, which the value is printed next to)."""
    spaced = " ".join(quote.split())
    digits = (fact.raw or "").strip().rstrip(_UNITS).strip()
    grouped = spaced.replace(digits, _grouped(digits)) if digits else spaced
    variants = [spaced, grouped, "".join(quote.split())]
    for variant in dict.fromkeys(variants):
        hits = _rects(page, variant)
        if hits:
            return hits
    labels = sorted((w for w in _LABEL.findall(quote) if len(w) >= 2), key=len, reverse=True)
    for label in labels[:3]:
        hits = _rects(page, label)
        if hits:
            return hits
    return []


def locate(page: Any, fact: Fact) -> Located | None:
    """Where ``fact``'s value is printed on ``page``, or ``None`` when it cannot be found."""
    ev = fact.evidence
    if ev is not None and ev.bbox is not None:
        return Located([tuple(round(v, 2) for v in ev.bbox)], "cell")  # type: ignore[list-item]
    quote_hits = _quote_hits(page, ev.quote, fact) if ev is not None else []
    for text in value_texts(fact):
        hits = _rects(page, text)
        if not hits:
            continue
        if quote_hits:
            inside = [h for h in hits if any(_pymupdf.Rect(q).intersects(h) for q in quote_hits)]
            if inside:
                return Located([_displayed(page, inside[0])], "value")
            centre = _union(quote_hits)
            nearest = min(hits, key=lambda h: abs(h.y0 - centre.y0) * 4 + abs(h.x0 - centre.x1))
            return Located([_displayed(page, nearest)], "value")
        if len(hits) == 1:
            return Located([_displayed(page, hits[0])], "value-only")
    if quote_hits:
        return Located([_displayed(page, h) for h in quote_hits[:3]], "quote")
    return None


def _overlap(a: Box, b: Box) -> float:
    return min(a[3], b[3]) - max(a[1], b[1])


def _em(ch: str) -> float:
    return 1.0 if ch >= "\u2e80" else 0.55


def locate_in_words(words: list[tuple[str, Box]], fact: Fact) -> Located | None:
    """Where ``fact``'s value stands among a scanned page's OCR words: the word holding the
    figure on the line that shares most characters with the quote, narrowed to the figure."""
    quote = set(fact.evidence.quote) if fact.evidence is not None else set()
    for text in value_texts(fact):
        hits = [(t, b) for t, b in words if text in t]
        if not hits:
            continue

        def line_score(hit: tuple[str, Box]) -> int:
            _, box = hit
            line = "".join(t for t, b in words if _overlap(box, b) > 0.5 * (box[3] - box[1]))
            return len(quote & set(line))

        word, box = max(hits, key=line_score)
        at, width = word.find(text), box[2] - box[0]
        ems = [_em(ch) for ch in word]  # CJK characters are about twice as wide as digits
        x0 = box[0] + width * sum(ems[:at]) / sum(ems)
        x1 = box[0] + width * sum(ems[:at + len(text)]) / sum(ems)
        return Located([(round(x0, 2), box[1], round(x1, 2), box[3])], "ocr")
    return None


def ocr_words(original: Path, number: int, cache: Path, ocr: OcrSettings) -> list[tuple[str, Box]]:
    """The OCR words of a scanned page with their boxes in points (cached beside the blob:
    OCR costs seconds a page, and ingest keeps only the text)."""
    if cache.is_file():
        return [(t, (b[0], b[1], b[2], b[3])) for t, b in json.loads(cache.read_text(encoding="utf-8"))]
    engine = shared_engine(ocr)
    if engine is None:
        return []
    with open_original(original) as pdf:
        page = pdf[number - 1]
        image = render(page, ocr.dpi)
        scale = image.shape[1] / page.rect.width
    words: list[tuple[str, Box]] = []
    for box in engine.recognize(image).boxes:
        xs, ys = [p[0] / scale for p in box.quad], [p[1] / scale for p in box.quad]
        words.append((box.text, (round(min(xs), 2), round(min(ys), 2), round(max(xs), 2), round(max(ys), 2))))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")
    return words


def locate_quote(page: Any, quote: str) -> list[Box]:
    """Boxes of a quote's lines (document findings cite statements by quote)."""
    return [_displayed(page, h) for h in _rects(page, " ".join(quote.split()))[:4]]
