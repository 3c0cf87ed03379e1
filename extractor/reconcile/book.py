"""The reconciler's book: the current value of every figure, its other statements
(witnesses), and where each was printed, so a check can tell an independent
confirmation from the same printed number read twice."""

from __future__ import annotations

from dataclasses import dataclass

from extractor.core.records import Fact
from extractor.reconcile.catalog import SlotId
from extractor.reconcile.evaluation import Figure, figure_kind, value_places
from extractor.reconcile.labels import default_labels, hints
from extractor.reconcile.models import CHECKED_KINDS, FigureRef, is_number
from extractor.reconcile.sources import Source, shared, source_of

# --------------------------------------------------------------------------- the book


@dataclass
class Witness:
    slot: SlotId
    target: SlotId
    fact: Fact
    role: str


class Book:
    """Current values of every figure: findings per slot and their witnesses."""

    def __init__(self, facts: list[Fact], alternates: list[Fact]) -> None:
        self.primary: dict[SlotId, Fact] = {}
        self.figures: dict[SlotId, Figure] = {}
        self.witnesses: dict[SlotId, list[Witness]] = {}
        groups: dict[SlotId, list[Fact]] = {}
        for fact in facts:
            groups.setdefault(fact.slot_id(), []).append(fact)
        for sid, group in groups.items():
            best = group[0]
            for fact in group[1:]:
                if fact.priority > best.priority:
                    best = fact
            if not is_number(best.value) or figure_kind(sid[0]) not in CHECKED_KINDS:
                continue
            self.primary[sid] = best
            self.figures[sid] = _figure(best, sid)
            for fact in group:
                if fact is not best and is_number(fact.value):
                    self._add_witness(sid, fact, "mention")
        for fact in alternates:
            sid = fact.slot_id()
            if sid in self.primary and is_number(fact.value):
                self._add_witness(sid, fact, "alternate")
        self.original = dict(self.figures)

    def _add_witness(self, target: SlotId, fact: Fact, role: str) -> None:
        ws = self.witnesses.setdefault(target, [])
        sid: SlotId = (f"@{role}", (*target[1], target[0], str(len(ws))))
        ws.append(Witness(sid, target, fact, role))
        self.figures[sid] = _figure(fact, target)

    def witness(self, sid: SlotId) -> Witness | None:
        if not sid[0].startswith("@"):
            return None
        target: SlotId = (sid[1][-2], sid[1][:-2])
        return self.witnesses[target][int(sid[1][-1])]

    def fact(self, sid: SlotId) -> Fact:
        w = self.witness(sid)
        return w.fact if w else self.primary[sid]

    def source(self, sid: SlotId) -> Source | None:
        fact = self.fact(sid)
        return source_of(fact, hints(fact.field, default_labels()))

    def independent(self, slots: tuple[SlotId, ...]) -> bool:
        """No two of these figures are one printed number read twice."""
        return not shared([self.source(s) for s in slots])

    def look(self, sid: SlotId) -> Figure | None:
        return self.figures.get(sid)

    def label(self, sid: SlotId) -> str:
        w = self.witness(sid)
        if w is not None:
            return f"{self.label(w.target)} ({w.role}: {w.fact.extractor})"
        return slot_label(sid)

    def ref(self, sid: SlotId) -> FigureRef:
        fig = self.figures[sid]
        w = self.witness(sid)
        fact = w.fact if w else self.primary[sid]
        target = w.target if w else sid
        return FigureRef(slot=self.label(sid), field=target[0], key=fact.key, value=fig.value,
                         decimals=fig.decimals, role=w.role if w else "finding", extractor=fact.extractor,
                         quote=fact.evidence.quote if fact.evidence else None,
                         page=fact.evidence.page if fact.evidence else None, raw=fact.raw,
                         chunk=fact.evidence.chunk_index if fact.evidence else None,
                         priority=fact.priority)


def _figure(fact: Fact, sid: SlotId) -> Figure:
    assert isinstance(fact.value, int | float)
    kind = figure_kind(sid[0])
    return Figure(float(fact.value), printed_decimals(fact, kind), kind)


def printed_decimals(fact: Fact, kind: str) -> int | None:
    """Decimals of the value in its own unit (万元 for amounts).

    Extractors record the decimals as printed, in the printed unit: 55923963.72元 has 2,
    which are 6 in 万元. The unit is read from ``raw`` when it names one; otherwise the
    value's own decimals are a floor, which a converted 元 figure shows (a round one,
    60000.00元 = 6 万元, keeps the looser 2 — safe, never a false flag).
    """
    if fact.decimals is None or kind != "amount" or not isinstance(fact.value, int | float):
        return fact.decimals
    raw = fact.raw or ""
    if "亿元" in raw:
        return fact.decimals - 4
    if "元" in raw.replace("万元", ""):
        return fact.decimals + 4
    return max(fact.decimals, value_places(float(fact.value)))


def slot_label(sid: SlotId) -> str:
    """``general_budget.items[卫生健康/行政事业单位医疗/行政单位医疗].actual`` for a list slot."""
    fld, key = sid
    if not key:
        return fld
    head, leaf = fld.rsplit(".", 1)
    name = "/".join(k for k in key if k)
    return f"{head}[{name}].{leaf}"
