"""Proving a model's values against the text they were read from, and turning them into facts.

A model can misread, round, invent or copy a figure from the few-shot examples; what it
cannot do undetected is cite a quote that is not in the chunk, or a quote that does not
hold the value. So every returned value must pass two checks before it becomes a
:class:`~extractor.core.records.Fact`:

1. the quote occurs in one of the chunks sent (after the same normalization the chunks
   went through; whitespace and full/half-width forms are forgiven because models
   re-space tables and swap ``（`` for ``(``, nothing else is);
2. the value can be read from the quote: its number equals a number in the quote (as
   printed, before any unit conversion), its name occurs in it, or, for a zero, the quote
   says there was none ("本年度无此项支出").

Values that fail are dropped and reported as :class:`Dropped`, never stored as findings.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel

from extractor.core.records import Evidence, Fact, field_kind
from extractor.core.types import ChunkData, DocumentData
from extractor.extractors.model.schemas import Cited, CitedSlot, reply_rows, scalar_slots
from extractor.normalize import normalize
from extractor.numbers import NUMBER_RE, UNIT_FACTORS, NumberFormatError, parse_decimal, to_float

EXTRACTOR_NAME = "model"

TABLE_PRIORITY = 20
"""A value read from a statistical table (tables outrank narrative, as in the rules extractor)."""
TEXT_PRIORITY = 10

ZERO_PHRASES = ("无此项", "未发生", "无此类", "没有发生", "不存在此项")
"""Wording that states a zero without printing one ("本年度无此项支出")."""

_MARKERS = re.compile(r"[（(]\s*[类款项]\s*[)）]")
_EDGE_QUOTES = "\"'“”‘’「」『』《》 \t"
_YEAR_RE = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_FOREIGN_UNITS: dict[str, tuple[str, ...]] = {
    "amount": ("%", "％", "年", "月", "日", "辆", "个", "人", "次", "批", "台", "套", "项", "分", "家"),
    "count": ("%", "％", "元", "万元", "亿元", "年", "月", "日", "分"),
    "score": ("%", "％", "元", "万元", "年"),
}
"""A number followed by one of these is not a figure of that kind (2024年 is no amount)."""


@dataclass(frozen=True)
class Dropped:
    """A value the checks rejected, kept for the run's notes and counts."""

    path: str
    value: str
    quote: str
    reason: str


@dataclass(frozen=True)
class Located:
    """Where a quote was found: in a chunk's text or in its heading path (printed too)."""

    chunk: ChunkData
    quote: str
    """The quote as it stands in the text (spacing and width as printed)."""
    in_heading: bool = False


def _fold(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch)
    return folded if len(folded) == 1 else ch


def _folded(text: str) -> tuple[str, list[int]]:
    """Whitespace dropped and each character NFKC-folded, with each kept character's index."""
    chars, index = [], []
    for i, ch in enumerate(text):
        if ch.isspace():
            continue
        chars.append(_fold(ch))
        index.append(i)
    return "".join(chars), index


def _find(needle: str, text: str) -> str | None:
    """The span of ``text`` that holds ``needle``: exactly, else ignoring spacing and width."""
    if needle in text:
        return needle
    folded_needle, _ = _folded(needle)
    hay, index = _folded(text)
    pos = hay.find(folded_needle) if folded_needle else -1
    if pos < 0:
        return None
    return text[index[pos]: index[pos + len(folded_needle) - 1] + 1]


def locate(quote: str, chunks: Sequence[ChunkData]) -> Located | None:
    """Where the quote stands in the chunks sent (their text first, then their headings)."""
    clean = normalize(quote).text.strip()
    if not clean:
        return None
    for chunk in chunks:
        found = _find(clean, chunk.text)
        if found is not None:
            return Located(chunk, found)
    for chunk in chunks:
        for heading in chunk.heading_path:
            found = _find(clean, heading)
            if found is not None:
                return Located(chunk, found, in_heading=True)
    return None


def clean_name(name: str | None) -> str | None:
    """A name as the contract wants it: as printed, minus （类）（款）（项） and edge quotes."""
    if name is None:
        return None
    text = _MARKERS.sub("", normalize(name).text).strip(_EDGE_QUOTES)
    return text or None


def name_in(name: str, text: str) -> bool:
    """Whether a (cleaned) name is printed in ``text``, spacing and width forgiven.

    A trailing 支出 / 项目 may be left out in print (一般公共服务（类） for 一般公共服务支出),
    the same leniency the contract's name equality has.
    """
    needle, _ = _folded(name)
    hay, _ = _folded(_MARKERS.sub("", text))
    if not needle:
        return False
    for suffix in ("", "支出", "项目"):
        stem = needle[: len(needle) - len(suffix)]
        if needle.endswith(suffix) and stem and stem in hay:
            return True
    return False


@dataclass(frozen=True)
class Reading:
    """A value read from a :class:`Cited` in contract terms."""

    value: float | int | str
    raw: str
    decimals: int | None


def read_value(path: str, cited: Cited) -> Reading:
    """The contract value a cited figure stands for (amounts converted to 万元).

    Raises :class:`NumberFormatError` when the figure holds no number.
    """
    raw = normalize(cited.value).text.strip()
    kind = field_kind(path)
    if kind == "name":
        name = clean_name(raw)
        if not name:
            raise NumberFormatError(f"empty name {cited.value!r}")
        return Reading(name, raw, None)
    match = NUMBER_RE.search(raw)
    if match is None:
        raise NumberFormatError(f"no number in {cited.value!r}")
    number, decimals = parse_decimal(match.group(0))
    if kind == "year":
        return Reading(int(number), raw, 0)
    if kind == "count":
        if number != number.to_integral():
            raise NumberFormatError(f"count {cited.value!r} is not a whole number")
        return Reading(int(number), raw, 0)
    if kind == "score":
        return Reading(to_float(number), raw, decimals)
    unit = next((u for u in ("亿元", "万元", "元") if raw[match.end():].lstrip().startswith(u)),
                cited.unit or "万元")
    return Reading(to_float(number * UNIT_FACTORS[unit]), raw, decimals)


def readable(path: str, cited: Cited, quote_text: str) -> str | None:
    """Why the value cannot be read from the quote, or ``None`` when it can."""
    kind = field_kind(path)
    if kind == "name":
        name = clean_name(cited.value) or ""
        return None if name_in(name, quote_text) else "name not in quote"
    figure = NUMBER_RE.search(normalize(cited.value).text)
    if figure is None:
        return "value holds no number"
    wanted, _ = parse_decimal(figure.group(0))
    if kind == "year":
        numbers = [Decimal(y) for y in _YEAR_RE.findall(quote_text)]
    else:
        foreign = _FOREIGN_UNITS.get(kind, ())
        numbers = [parse_decimal(m.group(0))[0] for m in NUMBER_RE.finditer(quote_text)
                   if not quote_text[m.end():].lstrip().startswith(foreign)]
    if any(n == wanted for n in numbers):
        return None
    if wanted == 0 and any(p in quote_text for p in ZERO_PHRASES):
        return None
    return "value not in quote"


@dataclass
class SectionFacts:
    facts: list[Fact]
    dropped: list[Dropped]


def reply_facts(section: str, reply: BaseModel, chunks: Sequence[ChunkData],
                doc: DocumentData) -> SectionFacts:
    """Every value of one reply that survives both checks, as facts with evidence."""
    out = SectionFacts([], [])
    for slot in scalar_slots(section, reply):
        _add(out, slot, chunks, doc)
    batch_text = "\n".join(" > ".join(c.heading_path) + "\n" + c.text for c in chunks)
    for row in reply_rows(section, reply):
        key = {k: (v if k == "code" else clean_name(v)) for k, v in row.key.items()}
        missing = [v for v in key.values() if v and not name_in(v, batch_text)]
        if missing or not any(key.values()):
            reason = f"name {missing[0]!r} not in chunk" if missing else "row has no name"
            out.dropped += [Dropped(s.path, s.cited.value, s.cited.quote, reason) for s in row.values]
            continue
        for slot in row.values:
            _add(out, CitedSlot(slot.path, key, slot.cited), chunks, doc)
    out.facts = dedupe(out.facts)
    return out


def _add(out: SectionFacts, slot: CitedSlot, chunks: Sequence[ChunkData], doc: DocumentData) -> None:
    cited = slot.cited
    found = locate(cited.quote, chunks)
    if found is None:
        out.dropped.append(Dropped(slot.path, cited.value, cited.quote, "quote not in chunk"))
        return
    quote = found.quote
    problem = readable(slot.path, cited, quote)
    if problem is not None:
        out.dropped.append(Dropped(slot.path, cited.value, cited.quote, problem))
        return
    try:
        reading = read_value(slot.path, cited)
    except NumberFormatError as exc:
        out.dropped.append(Dropped(slot.path, cited.value, cited.quote, str(exc)))
        return
    start, end = _doc_span(doc, found)
    evidence = Evidence(quote=quote, chunk_index=found.chunk.index,
                        page=doc.page_at(start) if start is not None else found.chunk.page_start,
                        start=start, end=end)
    out.facts.append(Fact(field=slot.path, key=slot.key, value=reading.value, raw=reading.raw,
                          decimals=reading.decimals, evidence=evidence, extractor=EXTRACTOR_NAME,
                          priority=TABLE_PRIORITY if found.chunk.kind == "table" else TEXT_PRIORITY))


def _doc_span(doc: DocumentData, found: Located) -> tuple[int | None, int | None]:
    """Offsets of the quote in the document's normalized text.

    A chunk's text is not always one slice of the document (blank lines are dropped and a
    split table repeats its header rows), so the quote is looked up in the chunk's range
    of the document rather than computed from ``chunk.start``; a heading stands before it.
    """
    text, chunk, quote = doc.normalized.text, found.chunk, found.quote
    if found.in_heading:
        pos = text.rfind(quote, 0, chunk.start + len(quote))
    else:
        pos = text.find(quote, chunk.start, max(chunk.end, chunk.start + len(quote)))
    if pos < 0:
        pos = text.find(quote)
    if pos < 0:
        return None, None
    return pos, pos + len(quote)


def dedupe(facts: list[Fact]) -> list[Fact]:
    """One fact per (slot, value, place): a value cited twice for the same spot is one record."""
    seen: set[tuple[object, ...]] = set()
    out = []
    for fact in facts:
        ev = fact.evidence
        ident = (fact.slot_id(), fact.value, ev.start if ev else None, ev.chunk_index if ev else None)
        if ident in seen:
            continue
        seen.add(ident)
        out.append(fact)
    return out
