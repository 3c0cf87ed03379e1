"""Where a figure was printed, so that reading one printed number twice is not mistaken
for two statements of it.

A check confirms a value only when its figures come from different printed numbers: a
quote cited for two fields (a planted ``收入决算总计 99999.99 万元`` taken for both grand
totals) or one table cell read by two readers of the same extractor says nothing about
either. The location is that of the number itself, not of the quote around it: one
sentence often prints a budget and an actual figure, and those are two statements.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from extractor.core.records import Fact
from extractor.normalize import normalize
from extractor.numbers import NUMBER_RE

Source = tuple[object, ...]
"""A hashable place: ``("cell", page, bbox)``, ``("text", offset)`` or ``("quote", chunk, quote, offset)``."""


_AFTER = 3
"""Characters after a number that hold its measure word (0批次, 0人次, 3辆)."""
_BEFORE = 12


Hints = tuple[Sequence[str], Sequence[str]]
"""Words expected right after the number (its measure word: 批次, 人次) and right before it
(决算 for an actual figure, 预算 for a budget)."""


def number_offset(quote: str, raw: str | None, hints: Hints = ((), ())) -> int:
    """Offset in ``quote`` of the number ``raw`` was read from (0 when it cannot be told).

    A quote may print the same digits twice (``接待0批次，0人次``, ``预算6.04万元，决算6.04万元``):
    the occurrence that the field's ``hints`` fit best is taken; otherwise the last one,
    which is where extractors end their quotes."""
    after_words, before_words = hints
    if not raw:
        return 0
    clean = normalize(raw).text.strip()
    match = NUMBER_RE.search(clean)
    token = match.group(0) if match else clean
    spots = [m.start() for m in re.finditer(re.escape(token), quote)] if token else []
    spots = [p for p in spots if not (p and quote[p - 1].isdigit())
             and not quote[p + len(token): p + len(token) + 1].isdigit()] or spots
    if not spots:
        return max(quote.rfind(clean), 0)

    def score(pos: int) -> int:
        after = quote[pos + len(token): pos + len(token) + _AFTER]
        before = quote[max(0, pos - _BEFORE): pos]
        near = re.split(r"\d", before)[-1]  # since the previous number
        return 2 * any(w in after for w in after_words) + any(w in near for w in before_words)

    best = max(score(p) for p in spots)
    return spots[-1] if best == 0 else next(p for p in spots if score(p) == best)


def source_of(fact: Fact, hints: Hints = ((), ())) -> Source | None:
    """The printed number behind a fact; ``None`` when the fact carries no evidence (a
    contract file), which is then taken as a statement of its own. ``hints``: see
    :func:`number_offset`."""
    ev = fact.evidence
    if ev is None:
        return None
    if ev.bbox is not None and ev.page is not None:
        return ("cell", ev.page, tuple(round(v, 1) for v in ev.bbox))
    if not prints_number(fact):  # a blank cell or a zero in words: its own statement
        return ("words", ev.start, ev.chunk_index, ev.quote, fact.field)
    offset = number_offset(ev.quote, fact.raw, hints)
    if ev.start is not None:
        return ("text", ev.start + offset)
    return ("quote", ev.chunk_index, ev.quote, offset)


def prints_number(fact: Fact) -> bool:
    """Whether the quote prints the figure's digits (a blank cell's row, 无此项支出 or
    本表无数据 state a zero without printing one)."""
    raw = fact.raw or ""
    quote = fact.evidence.quote if fact.evidence else raw
    bare = quote.replace(",", "")
    tokens = [m.group(0) for m in NUMBER_RE.finditer(raw) if m.group(0).replace(",", "") in bare]
    if not tokens:
        return False
    if fact.value == 0:
        plain = [t.replace(",", "") for t in tokens]
        return any(float(t) == 0 for t in plain if t.replace(".", "").isdigit())
    return True


def shared(sources: list[Source | None]) -> bool:
    """Whether two of these figures were read from one printed number."""
    known = [s for s in sources if s is not None]
    return len(known) != len(set(known))
