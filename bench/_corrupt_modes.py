"""Slips and the ``extracted`` mode of ``bench/corrupt.py``.

The gold-based modes damage a contract file, which holds one value per figure and nothing
else, and add back by assumption what a report would also state (a mention, the shares).
The ``extracted`` mode takes everything from the document instead: the rules extractor
reads every statement of every figure and every printed share and rate from a sample's
text, its findings equal the gold values, and the damage goes into the one statement that
became the finding, on the digits as printed (元 tables in 元), while the document's other
statements stay as printed. That is what OCR does to a real scanned report, so it is the
benchmark's headline.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from extractor.chunk import chunk_document
from extractor.core.records import AUX_PREFIX, Fact, FinalAccounts, assemble
from extractor.core.types import DocumentData, PageText
from extractor.evaluate.score import ERROR_OUTCOMES, score_document
from extractor.extractors.rules import RulesExtractor
from extractor.normalize import normalize_pages
from extractor.numbers import NUMBER_RE, UNIT_FACTORS, parse_decimal, to_float
from extractor.reconcile import slot_label
from extractor.reconcile.evaluation import figure_kind
from extractor.reconcile.repair import DIGIT_CONFUSIONS, UNIT_FACTOR

SCORE_TOLERANCE = 0.005
KINDS = ("digit", "swap", "lost_digit", "drop_point", "shift_point", "unit")
KIND_WEIGHTS = (6, 2, 1, 1, 1, 1)


@dataclass(frozen=True)
class Damage:
    index: int
    before: float
    after: float
    kind: str
    changes: dict[str, Any] = field(default_factory=dict)
    """Other fields of the fact that the slip changes (``raw``, ``decimals`` as read)."""


def checked(fact: Fact) -> bool:
    return isinstance(fact.value, int | float) and figure_kind(fact.field) in {"amount", "count", "score"}


def slip_text(text: str, kind: str, how: str, rng: random.Random) -> str | None:
    """One OCR-style slip of the printed digits ``text`` (any kind but a unit slip), or
    None when ``how`` does not apply to them."""
    digits = [i for i, ch in enumerate(text) if ch.isdigit()]
    if how == "digit":
        i = rng.choice(digits)
        out = text[:i] + rng.choice(DIGIT_CONFUSIONS[text[i]]) + text[i + 1:]
    elif how == "swap":
        pairs = [i for i in digits if i + 1 in digits and text[i] != text[i + 1]]
        if not pairs:
            return None
        i = rng.choice(pairs)
        out = text[:i] + text[i + 1] + text[i] + text[i + 2:]
    elif how == "lost_digit":  # "1 723.66" read as 723.66: a digit of the integer part is lost
        whole = [i for i in digits if "." not in text or i < text.index(".")]
        if len(whole) < 2:
            return None
        i = rng.choice(whole)
        out = text[:i] + text[i + 1:]
    else:  # drop_point / shift_point
        if "." not in text or kind == "count":
            return None
        bare = text.replace(".", "")
        if how == "drop_point":
            out = bare
        else:
            spots = [j for j in range(1, len(bare)) if j != text.index(".")]
            if not spots:  # "9.5": the point has nowhere else to go
                return None
            j = rng.choice(spots)
            out = bare[:j] + "." + bare[j:]
    if out in ("", ".") or out.startswith("."):
        return None
    return out


# --------------------------------------------------------------------------- the document


def read_sample(path: Path) -> list[Fact]:
    """Every fact the rules extractor reads from a sample, prepared as the pipeline does."""
    pages = [PageText(1, path.read_text(encoding="utf-8"), "file")]
    norm, starts = normalize_pages(pages)
    doc = DocumentData(path.stem, str(path), path.stem, "text/plain", pages, norm, starts)
    doc.chunks = chunk_document(doc, 1200)
    return RulesExtractor().extract(doc).facts


def findings(facts: list[Fact]) -> list[int]:
    """Index of each contract figure's finding: the first fact of the highest priority,
    the one the reconciler (and the exported record) takes as the slot's value."""
    best: dict[tuple[str, tuple[str, ...]], int] = {}
    for i, fact in enumerate(facts):
        sid = fact.slot_id()
        if sid not in best or fact.priority > facts[best[sid]].priority:
            best[sid] = i
    return sorted(i for i in best.values() if not facts[i].field.startswith(AUX_PREFIX) and checked(facts[i]))


def statements(facts: list[Fact]) -> Counter[str]:
    """How often the document states each figure (slot label → facts read for it)."""
    return Counter(slot_label(f.slot_id()) for f in facts if checked(f))


def gold_disagreements(doc_id: str, facts: list[Fact], gold: FinalAccounts) -> list[str]:
    """Slots the project's scorer counts as errors when the findings are scored against the
    gold file (the mode rests on there being none: the findings are the gold values)."""
    slots, _ = score_document(gold, assemble(doc_id, facts, with_status=False))
    return [s.path for s in slots if s.outcome in ERROR_OUTCOMES]


# --------------------------------------------------------------------------- damage as printed


@dataclass(frozen=True)
class Printed:
    """Where and how a finding's value is printed in its ``raw``."""

    text: str
    """The digits as printed (no sign, no thousands separators)."""
    scale: Decimal
    """Printed unit → 万元 (1 for counts, scores and 万元 figures)."""
    span: tuple[int, int]
    negative: bool


def printed(fact: Fact) -> Printed | None:
    """The number in ``raw`` that the value was read from, or None when the value was read
    from words or a blank cell (a stated zero): no digit was printed for OCR to damage."""
    value = Decimal(str(fact.value))
    raw = fact.raw or ""
    for match in NUMBER_RE.finditer(raw):
        number, _ = parse_decimal(match.group(0))
        unit = next((u for u in ("亿元", "万元", "元") if raw[match.end():].lstrip().startswith(u)), None)
        scales = [UNIT_FACTORS[unit]] if unit else [Decimal(1), UNIT_FACTORS["元"], UNIT_FACTORS["亿元"]]
        for scale in scales:
            if number * scale == value:
                text = match.group(0).replace(",", "").lstrip("-−")
                return Printed(text, scale, match.span(), number < 0)
    return None


def slip_printed(fact: Fact, how: str, rng: random.Random) -> tuple[float, dict[str, Any]] | None:
    """The value OCR makes of the finding's printed figure, and its raw and decimals as
    the extractor would then record them; None when ``how`` does not apply.

    A unit slip leaves the digits as printed (the unit was applied wrongly), so ``raw``
    and ``decimals`` stay; every other slip changes the digits in ``raw``.
    """
    where = printed(fact)
    kind = figure_kind(fact.field)
    value = float(fact.value)  # type: ignore[arg-type]
    if where is None:
        return None
    if how == "unit":
        if kind == "count" or value == 0:
            return None
        return (value * UNIT_FACTOR if rng.random() < 0.5 else value / UNIT_FACTOR), {}
    out = slip_text(where.text, kind, how, rng)
    if out is None:
        return None
    sign = "-" if where.negative else ""
    after = to_float(Decimal(sign + out) * where.scale)
    raw = fact.raw or ""
    start, end = where.span
    decimals = len(out.split(".", 1)[1]) if "." in out else 0
    return after, {"raw": raw[:start] + sign + out + raw[end:], "decimals": decimals}


def damage_printed(facts: list[Fact], eligible: list[int], k: int, rng: random.Random) -> list[Damage]:
    """``k`` distinct findings, each given one slip of its printed digits that changes it by
    more than the scoring tolerance (redrawn until it does, as in the gold-based modes)."""
    chosen: list[Damage] = []
    for i in rng.sample(eligible, min(k, len(eligible))):
        before = float(facts[i].value)  # type: ignore[arg-type]
        for _ in range(50):
            how = rng.choices(KINDS, KIND_WEIGHTS)[0]
            slipped = slip_printed(facts[i], how, rng)
            if slipped is not None and abs(slipped[0] - before) > SCORE_TOLERANCE + 1e-9:
                chosen.append(Damage(i, before, slipped[0], how, slipped[1]))
                break
    return chosen
