"""Is the evidence right? Check that the place a predicted value cites really holds it.

A value can match gold and still cite the wrong place (another table's row, offsets that
drifted after a re-normalization, a cell box one column off). The review page shows the
cited place to a person, so a wrong citation is a defect even when the value is right.
For every predicted value that carries evidence this module checks, against the stored
document (normalized text, page starts and the original file):

1. the quote stands at the cited offsets (``start``/``end`` index the normalized text),
   and those offsets lie on the cited page; without offsets, the quote occurs on the
   cited page;
2. the quote reads as the value: a figure in it equals the value (amounts in the unit
   printed after it — 元 / 万元 / 亿元 — or, for a bare table figure, in 万元 or 元),
   a name occurs in it, a stated zero is worded as none ("无此项");
3. a cited cell box holds the printed figure: the words of the PDF page inside the box
   (PyMuPDF, from the stored document path) read as the value; a zero may cite a blank
   cell (its box is then the evidence, whatever row text the quote holds). When the
   file is gone or the page has no text layer the box check is skipped and counted.

The verdict is ``ok``, ``wrong`` (with the reason) or ``unverifiable`` (no stored text
for the document). Evidence precision = ok / (ok + wrong).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, computed_field

from extractor.core.records import Evidence, field_kind, normalize_name
from extractor.numbers import NUMBER_RE

Verdict = Literal["ok", "wrong", "unverifiable"]
BoxVerdict = Literal["ok", "wrong", "skipped"]

TOLERANCE = 0.005
"""Same as the scorer's: a quote reads as an amount within half a printed cent (万元)."""
ZERO_PHRASES = ("无此项", "未发生", "无此类", "没有发生", "不存在此项")
"""Wording that states a zero without printing one ("本年度无此项支出"); a quote that
begins with 无 / 没有 ("无政府性基金预算财政拨款支出") states one too."""
_FACTORS = {"亿元": 10000.0, "万元": 1.0, "元": 0.0001}
_COUNT_WORDS = ("台（套）", "台(套)", "人次", "批次", "辆", "个", "台", "套", "人", "次", "批", "项")
_WORDS_AFTER = ("亿元", "万元", "元", "%", "％", *_COUNT_WORDS, "年", "月", "日", "分", "家")
"""What may follow a printed figure and says what kind of figure it is."""
_NOT_AMOUNT = frozenset(_WORDS_AFTER) - {"亿元", "万元", "元"}
_NOT_COUNT = frozenset({"亿元", "万元", "元", "%", "％", "年", "月", "日", "分"})
_CONTEXT = 24
_UNIT_AFTER = re.compile(r"\s*(" + "|".join(re.escape(w) for w in _WORDS_AFTER) + ")")


@dataclass(frozen=True)
class DocumentText:
    """What the checks need of a stored document: its normalized text as the extractor
    indexed it, where each page starts in it, and the original file (for cell boxes)."""

    doc_id: str
    text: str
    page_starts: list[int]
    path: str | None = None
    media_type: str | None = None

    def page_span(self, page: int) -> tuple[int, int] | None:
        """``[start, end)`` of 1-based ``page`` in the normalized text."""
        if not 1 <= page <= len(self.page_starts):
            return None
        end = self.page_starts[page] if page < len(self.page_starts) else len(self.text)
        return self.page_starts[page - 1], end

    def page_at(self, offset: int) -> int:
        page = 1
        for i, begin in enumerate(self.page_starts):
            if offset >= begin:
                page = i + 1
        return page


class EvidenceCheck(BaseModel):
    """The verdict on one predicted value's evidence."""

    verdict: Verdict
    reason: str | None = None
    box: BoxVerdict | None = None
    """The cell-box check: ``None`` when no box is cited."""
    unit: str | None = None
    """The unit printed after the figure in the quote (元, 万元, %, 辆 …), if any."""
    found: str | None = None
    """What the stored text holds at the cited offsets, when that is not the quote."""


class EvidenceCounts(BaseModel):
    """Evidence verdicts of a group of predicted values."""

    ok: int = 0
    wrong: int = 0
    unverifiable: int = 0
    boxes_checked: int = 0
    boxes_skipped: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def precision(self) -> float | None:
        """ok / (ok + wrong): the share of checkable citations that hold their value."""
        den = self.ok + self.wrong
        return self.ok / den if den else None

    def add(self, check: EvidenceCheck) -> None:
        if check.verdict == "ok":
            self.ok += 1
        elif check.verdict == "wrong":
            self.wrong += 1
        else:
            self.unverifiable += 1
        if check.box == "skipped":
            self.boxes_skipped += 1
        elif check.box is not None:
            self.boxes_checked += 1


def _mupdf() -> Any:
    """PyMuPDF, imported on first use: importing it costs 1-2 s, which scoring without
    cited cell boxes should not pay. Typed ``Any``: its methods carry no annotations."""
    import pymupdf

    return pymupdf


def _fold(text: str) -> str:
    """NFKC, no whitespace: how a quote and the stored text are compared."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def _unit_after(text: str, end: int) -> str | None:
    match = _UNIT_AFTER.match(text, end)
    return match.group(1) if match else None


def _figure_reads(kind: str, number: float, unit: str | None, value: Any) -> bool:
    """Whether one printed figure (with the word after it) states ``value``."""
    if kind == "year":
        return unit in (None, "年") and number == value
    if kind == "count":
        return unit not in _NOT_COUNT and number == value
    if kind == "score":
        return unit not in _FACTORS and unit not in ("%", "％") \
            and abs(number - float(value)) <= TOLERANCE + 1e-9
    if unit in _NOT_AMOUNT:
        return False
    factors = [_FACTORS[unit]] if unit in _FACTORS else [1.0, 0.0001]
    return any(abs(number * f - float(value)) <= TOLERANCE + 1e-9 for f in factors)


def reads_as(field_path: str, value: Any, quote: str) -> tuple[bool, str | None]:
    """Whether ``quote`` states ``value`` for slot ``field_path``, and the unit printed
    after the figure that does. A bare amount (a table cell) may be in 万元 or 元: the
    table's unit line is not part of the quote."""
    kind = field_kind(field_path)
    leaf = field_path.rsplit(".", 1)[-1]
    text = unicodedata.normalize("NFKC", quote)
    if kind == "name" or leaf in {"name", "class", "section", "item", "code"}:
        return _fold(normalize_name(str(value))) in _fold(normalize_name(text)), None
    for match in NUMBER_RE.finditer(text):
        number = float(match.group(0).replace(",", "").replace("−", "-"))
        unit = _unit_after(text, match.end())
        if _figure_reads(kind, number, unit, value):
            return True, unit
    if value == 0 and (text.lstrip().startswith(("无", "没有"))
                       or any(p in text for p in ZERO_PHRASES)):
        return True, None
    return False, None


@dataclass
class _Pdf:
    doc: Any
    words: dict[int, list[tuple[float, float, float, float, str]]] = field(default_factory=dict)


class EvidenceChecker:
    """Checks citations against stored documents, opening each PDF once."""

    def __init__(self, documents: Mapping[str, DocumentText]) -> None:
        self.documents = documents
        self._pdfs: dict[str, _Pdf | None] = {}

    def close(self) -> None:
        for pdf in self._pdfs.values():
            if pdf is not None:
                pdf.doc.close()
        self._pdfs.clear()

    def check(self, doc_id: str, field_path: str, value: Any, ev: Evidence) -> EvidenceCheck:
        doc = self.documents.get(doc_id)
        if doc is None:
            return EvidenceCheck(verdict="unverifiable", reason="document text not stored")
        problem, found = self._place(doc, ev)
        box: BoxVerdict | None = None
        box_problem = None
        blank = False
        if ev.bbox is not None:
            box, box_problem, blank = self._box(doc, field_path, value, ev)
        ok, unit = reads_as(field_path, value, ev.quote)
        if problem is None and not ok and not blank:
            problem = f"quote {ev.quote!r} does not read as {value!r}"
            if not NUMBER_RE.search(ev.quote):
                problem += " (it holds no figure: a blank cell cited by its row label?)"
        problem = problem or box_problem
        return EvidenceCheck(verdict="wrong" if problem else "ok", reason=problem, box=box,
                             unit=unit, found=found)

    @staticmethod
    def _place(doc: DocumentText, ev: Evidence) -> tuple[str | None, str | None]:
        """Why the quote is not where it is said to be (``None``: it is), and what stands
        at the cited offsets when that differs from the quote."""
        quote = _fold(ev.quote)
        if not quote:
            return "empty quote", None
        if ev.start is not None and ev.end is not None:
            if not 0 <= ev.start <= ev.end <= len(doc.text):
                return f"offsets {ev.start}–{ev.end} outside the text ({len(doc.text)} chars)", None
            held = doc.text[ev.start:ev.end]
            if held != ev.quote and _fold(held) != quote:
                lo, hi = max(0, ev.start - _CONTEXT), min(len(doc.text), ev.end + _CONTEXT)
                return (f"text at {ev.start}–{ev.end} is {held!r}, not the quote",
                        doc.text[lo:hi])
            if ev.page is not None and doc.page_at(ev.start) != ev.page:
                return (f"offsets {ev.start}–{ev.end} lie on page {doc.page_at(ev.start)}, "
                        f"evidence cites page {ev.page}"), None
            return None, None
        if ev.page is None:
            return "evidence cites neither offsets nor a page", None
        span = doc.page_span(ev.page)
        if span is None:
            return f"page {ev.page} not in the document ({len(doc.page_starts)} pages)", None
        if quote not in _fold(doc.text[span[0]:span[1]]):
            return f"quote not on page {ev.page}", None
        return None, None

    def _box(self, doc: DocumentText, field_path: str, value: Any,
             ev: Evidence) -> tuple[BoxVerdict, str | None, bool]:
        """(box verdict, problem, whether the box is a blank cell standing for a zero).

        A blank cell of a statistical table states a zero; its box is then the whole
        evidence, and the quote (its row's label or text) need not print the 0."""
        if ev.page is None or ev.bbox is None:
            return "wrong", "cell box cited without a page", False
        words = self._words(doc, ev.page)
        if words is None:
            return "skipped", None, False
        x0, y0, x1, y1 = ev.bbox
        inside = [w[4] for w in words
                  if x0 - 1 <= (w[0] + w[2]) / 2 <= x1 + 1 and y0 - 1 <= (w[1] + w[3]) / 2 <= y1 + 1]
        text = "".join(inside)
        if not text.strip() and value == 0:
            return "ok", None, True
        if reads_as(field_path, value, text)[0]:
            return "ok", None, False
        shown = text if len(text) <= 40 else text[:37] + "..."
        return "wrong", f"cell box on page {ev.page} holds {shown!r}, not {value!r}", False

    def _words(self, doc: DocumentText, page: int
               ) -> list[tuple[float, float, float, float, str]] | None:
        """The page's text-layer words; ``None`` when they cannot be had (file gone, not a
        PDF, page out of range, no text layer: a scanned page is judged by its text only)."""
        pdf = self._open(doc)
        if pdf is None or not 1 <= page <= pdf.doc.page_count:
            return None
        if page not in pdf.words:
            pdf.words[page] = [(w[0], w[1], w[2], w[3], str(w[4]))
                               for w in pdf.doc[page - 1].get_text("words")]
        return pdf.words[page] or None

    def _open(self, doc: DocumentText) -> _Pdf | None:
        if doc.doc_id in self._pdfs:
            return self._pdfs[doc.doc_id]
        pdf: _Pdf | None = None
        is_pdf = doc.media_type == "application/pdf" or (doc.path or "").lower().endswith(".pdf")
        if doc.path and is_pdf and Path(doc.path).is_file():
            try:
                pdf = _Pdf(_mupdf().open(doc.path))
            except (RuntimeError, ValueError):
                pdf = None
        self._pdfs[doc.doc_id] = pdf
        return pdf

