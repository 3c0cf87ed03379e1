"""Numeric reconciliation: check every figure against the document's own arithmetic,
repair what the checks prove, flag what they cannot.

A final-accounts report states most figures twice and their sums many times; the
catalog (:class:`~extractor.reconcile.catalog.Catalog`, data per document type) lists
those redundancies. :func:`reconcile`
evaluates them over one document's facts, then repairs conservatively: a value changes
only to a candidate from :mod:`extractor.reconcile.repair` (another copy, another extractor, an OCR
slip, a unit slip) that makes every check touching it pass, and only when no other
candidate explains the failing check as well. Everything else involved in a failing
check is flagged, so a value that is not flagged can be trusted.

Pure functions over :class:`Fact`; the caller stores the results (all pydantic models).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from extractor.core.records import LIST_KEYS, CheckStatus, Fact, FinalAccounts, facts_from_record
from extractor.doctypes import FINAL_ACCOUNTS
from extractor.reconcile.book import Book, slot_label
from extractor.reconcile.catalog import (
    SAME_RULE,
    Catalog,
    CheckSpec,
    RuleKind,
    SlotId,
    SlotIndex,
    condition_holds,
    instantiate,
)
from extractor.reconcile.evaluation import Evaluation, Figure, decimals_of, evaluate, half_unit
from extractor.reconcile.models import (
    CheckResult,
    ReconcileOptions,
    ReconcileResult,
    Repair,
    fmt_number,
)
from extractor.reconcile.repair import Candidate, dedupe, ocr_candidates

PINNING = (RuleKind.SUM, RuleKind.SAME, RuleKind.RATIO)
"""Kinds whose passing proves a value (bounds and zero tests only catch gross damage)."""


# --------------------------------------------------------------------------- the engine


@dataclass(frozen=True)
class _Hypothesis:
    slot: SlotId
    candidate: Candidate
    fixes: frozenset[int]


class _Engine:
    def __init__(self, book: Book, specs: list[CheckSpec], options: ReconcileOptions) -> None:
        self.book, self.specs, self.options = book, specs, options
        self.touch: dict[SlotId, list[int]] = {}
        for i, spec in enumerate(specs):
            for sid in dict.fromkeys((*spec.participants, *spec.condition_slots)):
                self.touch.setdefault(sid, []).append(i)
        self.repairs: list[Repair] = []

    def run(self, i: int) -> Evaluation:
        return evaluate(self.specs[i], self.book.look)

    def run_all(self) -> list[Evaluation]:
        return [self.run(i) for i in range(len(self.specs))]

    @contextmanager
    def trying(self, sid: SlotId, cand: Candidate) -> Iterator[None]:
        saved = self.book.figures[sid]
        self.book.figures[sid] = Figure(cand.value, cand.decimals, saved.kind)
        try:
            yield
        finally:
            self.book.figures[sid] = saved

    def candidates(self, sid: SlotId) -> list[Candidate]:
        fact, fig = self.book.primary[sid], self.book.figures[sid]
        own = [Candidate(self.book.figures[w.slot].value, self.book.figures[w.slot].decimals, w.role,
                         f"stated again as {w.fact.raw or w.fact.value} ({w.fact.extractor})",
                         w.fact.evidence)
               for w in self.book.witnesses.get(sid, [])]
        raw = fact.raw if fig.value == self.book.original[sid].value else None
        places = decimals_of(fig)
        ocr = [replace(c, decimals=max(c.decimals or 0, places))  # never looser than what was read
               for c in ocr_candidates(fig.value, decimals=places, raw=raw, integer=fig.kind == "count")]
        return dedupe([*own, *ocr], exclude=fig.value)

    def hypotheses(self, failing: set[int], arithmetic: set[int]) -> list[_Hypothesis]:
        suspects = dict.fromkeys(s for i in sorted(arithmetic) for s in self.specs[i].participants
                                 if s in self.book.primary)
        found: list[_Hypothesis] = []
        for sid in suspects:
            for cand in self.candidates(sid):
                fixes: set[int] = set()
                with self.trying(sid, cand):
                    for j in self.touch[sid]:
                        ev = self.run(j)
                        if ev.applicable and not ev.passed:
                            break
                        if ev.applicable and j in failing:
                            fixes.add(j)
                    else:
                        if fixes & arithmetic:
                            found.append(_Hypothesis(sid, cand, frozenset(fixes)))
        return found

    def repair_round(self) -> bool:
        evals = self.run_all()
        failing = {i for i, ev in enumerate(evals) if ev.applicable and not ev.passed}
        arithmetic = {i for i in failing if self.specs[i].rule.kind is not RuleKind.SAME}
        if not arithmetic:
            return False
        hyps = _merge_alike(self.hypotheses(failing, arithmetic), self.book.figures)
        for k in sorted(arithmetic):
            mine = [h for h in hyps if k in h.fixes]
            best = [h for h in mine if not any(h.fixes < o.fixes for o in mine)]
            if len(best) == 1 and self.determined(best[0]) and self.closes(best[0]):
                self.apply(best[0])
                return True
        return False

    def determined(self, hyp: _Hypothesis) -> bool:
        """Two checks (or a check and another copy of the figure) agree on the new value,
        or the one check it fixes has no other figure left unproven.

        A figure in a single sum is that sum's free variable: if the sum holds a second
        damaged figure that no other check sees, a candidate for the first can absorb
        both. Another proven figure cannot, so a lone equation decides only when every
        other figure in it is pinned by a passing check elsewhere.
        """
        fixed = [i for i in hyp.fixes if self.specs[i].rule.kind in PINNING]
        if len(fixed) != 1 or self.specs[fixed[0]].rule.kind is RuleKind.SAME:
            return bool(fixed)  # two equations, or an arithmetic check and another copy
        k = fixed[0]
        with self.trying(hyp.slot, hyp.candidate):
            return all(self.pinned_elsewhere(p, k) for p in self.specs[k].participants if p != hyp.slot)

    def pinned_elsewhere(self, sid: SlotId, k: int) -> bool:
        for j in self.touch.get(sid, []):
            if j == k or self.specs[j].rule.kind not in PINNING or sid not in self.specs[j].participants:
                continue
            ev = self.run(j)
            if ev.applicable and ev.passed and ev.resolution(sid) <= self.options.verify_limit:
                return True
        return False

    def closes(self, hyp: _Hypothesis) -> bool:
        """After the repair, every check sharing a figure with a check it fixed passes.

        The one explanation that accounts for the most failures is the repair only if it
        accounts for all of them nearby: when a neighbouring check still fails, a second
        error is present, and it may be the one that blocked the true repair (a total
        with a single check "repaired" to absorb damage in one of its parts).
        """
        near = {j for i in hyp.fixes for s in self.specs[i].participants for j in self.touch[s]}
        with self.trying(hyp.slot, hyp.candidate):
            return all(ev.passed for ev in (self.run(j) for j in near))

    def apply(self, hyp: _Hypothesis) -> None:
        sid, cand = hyp.slot, hyp.candidate
        before = self.book.figures[sid]
        self.book.figures[sid] = Figure(cand.value, cand.decimals, before.kind)
        evidence: dict[str, Any] = {"source": cand.source, "detail": cand.detail,
                                    "checks": [self.specs[i].rule.id for i in sorted(hyp.fixes)]}
        if cand.evidence is not None:
            evidence |= cand.evidence.model_dump(exclude_none=True)
        fact = self.book.primary[sid]
        self.repairs.append(Repair(slot=slot_label(sid), field=sid[0], key=fact.key, before=before.value,
                                   after=cand.value, rule=", ".join(evidence["checks"]), evidence=evidence))


def _merge_alike(hyps: list[_Hypothesis], figures: dict[SlotId, Figure]) -> list[_Hypothesis]:
    """Keep one of several candidates for a slot that agree to within the coarser one's
    printing precision (8 read for 0.00 → 0 or, as a 元/万元 slip, 0.0008): the document
    cannot tell them apart and they are the same figure as printed."""
    kept: list[_Hypothesis] = []
    for hyp in hyps:
        kind = figures[hyp.slot].kind
        mine = Figure(hyp.candidate.value, hyp.candidate.decimals, kind)
        if not any(k.slot == hyp.slot and k.fixes == hyp.fixes and abs(k.candidate.value - mine.value)
                   <= max(half_unit(mine), half_unit(Figure(k.candidate.value, k.candidate.decimals, kind)))
                   for k in kept):
            kept.append(hyp)
    return kept


# --------------------------------------------------------------------------- verdicts


Verdicts = tuple[set[SlotId], set[SlotId], dict[int, list[SlotId]]]


def _verdicts(engine: _Engine, evals: list[Evaluation]) -> Verdicts:
    """(verified, flagged, blamed per failing check).

    A failing check blames its figures except those another passing check pins closer
    than the failing check's gap (a stated share that disagrees with two figures both
    closing their sums exonerates them and blames the share). Another extractor's
    agreement verifies but never exonerates: both may have read the same damaged digits.
    A check over figures read from one printed number (one quote cited for two fields,
    one cell read twice) confirms nothing: it neither verifies nor exonerates.
    """
    book, specs, limit = engine.book, engine.specs, engine.options.verify_limit
    pins: dict[SlotId, list[tuple[int, float]]] = {}
    verified: set[SlotId] = set()
    for i, ev in enumerate(evals):
        if not (ev.applicable and ev.passed and specs[i].rule.kind in PINNING):
            continue
        if not book.independent(specs[i].participants):
            continue
        for sid in specs[i].participants:
            res = ev.resolution(sid)
            if res <= limit:
                verified.add(sid)
            if not _from_alternate(book, specs[i]):
                pins.setdefault(sid, []).append((i, res))
    flagged: set[SlotId] = set()
    blamed: dict[int, list[SlotId]] = {}
    for i, ev in enumerate(evals):
        if ev.applicable and not ev.passed:
            blamed[i] = _blame(specs[i], ev, pins)
            flagged.update(blamed[i])
    for i, ev in enumerate(evals):  # a precondition resting on a flagged figure is not known false
        if ev.applicable or not flagged.intersection(specs[i].condition_slots):
            continue
        assumed = evaluate(specs[i], book.look, assume_condition=True)
        if assumed.applicable and not assumed.passed:
            evals[i] = assumed
            blamed[i] = _blame(specs[i], assumed, pins)
            flagged.update(blamed[i])
    return verified - flagged, flagged, blamed


def _blame(spec: CheckSpec, ev: Evaluation, pins: dict[SlotId, list[tuple[int, float]]]) -> list[SlotId]:
    """The figures a failing check casts doubt on.

    A figure is cleared only when a passing check pins it at least as tightly as this
    check can measure it (its tolerance, in the figure's own units): then nothing this
    check sees can be that figure's error. Comparing the pin with the whole gap instead
    would clear a damaged figure whenever a second damaged figure shares the gap.
    """
    parts = list(spec.participants)
    if spec.rule.kind is RuleKind.SAME and _units_apart(ev):
        return parts  # a table read in the wrong unit closes every sum: no pin can clear it

    def cleared(slot: SlotId) -> bool:
        slope = ev.slopes.get(slot, 0.0)
        if slope <= 0:
            return False
        limit = ev.tolerance / slope
        return any(res <= limit for _, res in pins.get(slot, []))

    suspects = [s for s in parts if not cleared(s)]
    return suspects or parts


_UNIT_RATIOS = (1e4, 1e8)
"""元 / 万元 and 万元 / 亿元: two readings this far apart are one figure in two units."""


def _units_apart(ev: Evaluation) -> bool:
    """Whether a failing same-figure check's two readings differ by a unit's factor. Sums,
    shares and rates are blind to a common factor, so they cannot vouch for either reading."""
    small, large = sorted((abs(ev.actual), abs(ev.expected)))
    return small > 0 and any(abs(large / small / ratio - 1) < 0.01 for ratio in _UNIT_RATIOS)


def _from_alternate(book: Book, spec: CheckSpec) -> bool:
    if spec.rule.kind is not RuleKind.SAME:
        return False
    w = book.witness(spec.rhs[0])
    return w is not None and w.role == "alternate"


@cache
def default_catalog() -> Catalog:
    """The ``final_accounts/v1`` catalog (``extractor/doctypes/final_accounts/rules.yaml``)."""
    return Catalog.load(FINAL_ACCOUNTS / "rules.yaml")


def reconcile(facts: list[Fact], *, alternates: list[Fact] | None = None,
              options: ReconcileOptions | None = None, catalog: Catalog | None = None) -> ReconcileResult:
    """Check, repair and classify one document's facts (several per slot allowed: the
    highest priority is the finding, the rest are mentions). ``alternates`` are another
    extractor's facts for the same document: second sources and repair candidates.
    Returns copies of ``facts`` with status set and repaired values changed."""
    opts = options or ReconcileOptions()
    work = [f.model_copy(deep=True) for f in facts]
    book = Book(work, [f.model_copy(deep=True) for f in alternates or []])
    index = SlotIndex(s for s in book.figures if not s[0].startswith("@"))
    specs = instantiate(catalog or default_catalog(), index)
    specs += [CheckSpec(SAME_RULE, target, (w.slot,)) for target, ws in book.witnesses.items() for w in ws]
    engine = _Engine(book, specs, opts)
    rounds = 0
    while opts.repair and rounds < opts.max_rounds and engine.repair_round():
        rounds += 1
    evals = engine.run_all()
    verified, flagged, blamed = _verdicts(engine, evals)
    checks = [_result(engine, i, ev, blamed.get(i, [])) for i, ev in enumerate(evals) if ev.applicable]
    _set_statuses(book, engine.repairs, verified, flagged)
    return ReconcileResult(facts=work, checks=checks, repairs=engine.repairs)


def _set_statuses(book: Book, repairs: list[Repair], verified: set[SlotId], flagged: set[SlotId]) -> None:
    for sid, fact in book.primary.items():
        fig, orig = book.figures[sid], book.original[sid]
        if fig.value != orig.value:
            fact.value = round(fig.value) if fig.kind == "count" else fig.value
            fact.decimals = fig.decimals
            how = next(r for r in reversed(repairs) if r.slot == slot_label(sid))
            fact.note = (f"repaired {orig.value:g} → {fig.value:g} ({how.evidence['source']}: "
                         f"{how.evidence['detail']}; checks {how.rule})")
            fact.status = CheckStatus.REPAIRED
        elif sid in flagged:
            fact.status = CheckStatus.FLAGGED
        elif sid in verified:
            fact.status = CheckStatus.VERIFIED
        else:
            fact.status = CheckStatus.UNCHECKED
        for w in book.witnesses.get(sid, []):
            if w.role == "mention":
                w.fact.status = (CheckStatus.FLAGGED if w.slot in flagged else
                                 CheckStatus.VERIFIED if w.slot in verified else CheckStatus.UNCHECKED)


def _value_of(book: Book, sid: SlotId) -> float | None:
    fig = book.look(sid)
    return None if fig is None else fig.value


def _result(engine: _Engine, i: int, ev: Evaluation, blamed: list[SlotId]) -> CheckResult:
    spec, book = engine.specs[i], engine.book
    figures = [book.ref(s) for s in spec.participants]
    kind = spec.rule.kind
    if kind in (RuleKind.SUM, RuleKind.SAME):
        parts = " + ".join(fmt_number(f.value) for f in figures[1:]) or "0"
        text = f"{fmt_number(ev.actual)} vs {parts} = {fmt_number(ev.expected)}"
    elif kind is RuleKind.RATIO:
        part, total = (fmt_number(f.value) for f in figures[1:3])
        text = f"stated {fmt_number(ev.actual)}% vs 100 × {part} / {total} = {ev.expected:.4f}%"
    elif kind is RuleKind.LE:
        text = f"{fmt_number(ev.actual)} ≤ {fmt_number(ev.expected)}"
    else:
        text = "zero together: " + ", ".join(f"{f.slot}={fmt_number(f.value)}" for f in figures)
    gap = f"; off by {fmt_number(abs(ev.difference))}, tolerance {fmt_number(ev.tolerance)}" \
        if kind in PINNING else ""
    if spec.condition_slots and not condition_holds(spec, lambda sid: _value_of(book, sid)):
        gap += "; precondition assumed (it rests on a flagged figure)"
    return CheckResult(rule=spec.rule.id, name=spec.rule.name_zh, kind=kind.value, passed=ev.passed,
                       figures=figures, expected=ev.expected, actual=ev.actual, difference=ev.difference,
                       tolerance=ev.tolerance, blamed=[book.label(s) for s in blamed], summary=text + gap,
                       independent=book.independent(spec.participants))


# --------------------------------------------------------------------------- conveniences


def reconcile_record(record: FinalAccounts, *, alternates: FinalAccounts | None = None,
                     options: ReconcileOptions | None = None, catalog: Catalog | None = None
                     ) -> ReconcileResult:
    """Reconcile a contract file (gold or prediction): ``extractor checks`` on a JSON file."""
    alt = facts_from_record(alternates, "alternate") if alternates is not None else None
    return reconcile(facts_from_record(record), alternates=alt, options=options, catalog=catalog)


def implied_aux_facts(facts: Iterable[Fact], *, decimals: int = 2,
                      catalog: Catalog | None = None) -> list[Fact]:
    """The shares and completion rates a report would print for these figures (rounded to
    ``decimals``): what a stated percentage should read, and test input for the ratio rules."""
    fact_list = list(facts)
    book = Book(fact_list, [])
    index = SlotIndex(book.figures)
    keys = {f.slot_id(): f.key for f in fact_list}
    out: list[Fact] = []
    for rule in (catalog or default_catalog()).rules:
        if rule.kind is not RuleKind.RATIO:
            continue
        lhs_field = rule.lhs.replace("[.]", "")
        anchors = index.items.get(_list_path(lhs_field), []) or [()]
        for anchor in anchors:
            part, total = (_resolved(r, anchor) for r in rule.rhs)
            p, t = book.look(part), book.look(total)
            if p is None or t is None or t.value == 0:
                continue
            share = round(100 * p.value / t.value, decimals)
            out.append(Fact(field=lhs_field, key=keys.get(part), value=share, decimals=decimals,
                            extractor="implied"))
    return out


def _list_path(fld: str) -> str:
    base = fld.split(".", 2)[-1]
    head = base.rsplit(".", 1)[0]
    return head if head in LIST_KEYS else ""


def _resolved(ref: str, anchor: tuple[str, ...]) -> SlotId:
    return (ref.replace("[.]", ""), anchor if "[.]" in ref else ())


__all__ = ["default_catalog", "implied_aux_facts", "reconcile", "reconcile_record"]
