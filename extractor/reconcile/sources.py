"""Where a figure was printed, so that reading one printed number twice is not mistaken
for two statements of it.

A check confirms a value only when its figures come from different printed numbers: a
quote cited for two fields (a planted ``收入决算总计 99999.99 万元`` taken for both grand
totals) or one table cell read by two readers of the same extractor says nothing about
either. The location is that of the number itself, not of the quote around it: one
sentence often prints a budget and an actual figure, and those are two statements.
"""

from __future__ import annotations

from extractor.core.records import Fact
from extractor.normalize import normalize
from extractor.numbers import NUMBER_RE

Source = tuple[object, ...]
"""A hashable place: ``("cell", page, bbox)``, ``("text", offset)`` or ``("quote", chunk, quote, offset)``."""


def number_offset(quote: str, raw: str | None) -> int:
    """Offset in ``quote`` of the number ``raw`` was read from (0 when it cannot be told)."""
    if not raw:
        return 0
    clean = normalize(raw).text.strip()
    match = NUMBER_RE.search(clean)
    token = match.group(0) if match else clean
    pos = quote.rfind(token) if token else -1
    if pos < 0:
        pos = quote.rfind(clean)
    return max(pos, 0)


def source_of(fact: Fact) -> Source | None:
    """The printed number behind a fact; ``None`` when the fact carries no evidence (a
    contract file), which is then taken as a statement of its own."""
    ev = fact.evidence
    if ev is None:
        return None
    if ev.bbox is not None and ev.page is not None:
        return ("cell", ev.page, tuple(round(v, 1) for v in ev.bbox))
    offset = number_offset(ev.quote, fact.raw)
    if ev.start is not None:
        return ("text", ev.start + offset)
    return ("quote", ev.chunk_index, ev.quote, offset)


def shared(sources: list[Source | None]) -> bool:
    """Whether two of these figures were read from one printed number."""
    known = [s for s in sources if s is not None]
    return len(known) != len(set(known))
