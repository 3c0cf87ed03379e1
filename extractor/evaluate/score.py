"""Slot-level scoring of predictions against gold, exactly as ``gold-format.md`` defines it.

Every scalar of the contract is a slot. A gold value with an equal prediction is a true
positive; a different prediction is one false positive *and* one false negative; a null
prediction is a false negative; a prediction where gold is null is a false positive; both
null is a correct abstention, counted but kept out of precision and recall.

List items (classes, items, performance projects) are first matched one-to-one to gold
items by key (:func:`~extractor.evaluate.match.match_items`); once matched, *every* field
of the pair is a slot — the names (``name``, ``class``, ``section``, ``item``, compared
by the name rule), ``code`` (exactly) and the figures — because the match only decides
which items are compared, not that their names are right. Unmatched items count all
their non-null fields as false positives (predicted) or false negatives (gold). Every
slot's outcome is kept in :attr:`ScoreReport.slots`, so a report can show each wrong
value beside its gold value and comparisons can re-aggregate over any document subset.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from extractor.core.records import (
    LIST_KEYS,
    CheckStatus,
    FinalAccounts,
    field_kind,
    iter_scalar_slots,
    list_items,
    section_of,
    slot_path,
    value_fields,
)
from extractor.evaluate.evidence import DocumentText, EvidenceChecker, EvidenceCounts
from extractor.evaluate.match import item_key, item_label, match_items, name_key
from extractor.evaluate.results import (
    ERROR_OUTCOMES,
    TOLERANCE,
    Counts,
    DocContext,
    ErrorSplit,
    InvalidFile,
    ItemMatch,
    Outcome,
    ScoreReport,
    SilentErrors,
    SlotResult,
    fmt_rate,
)
from extractor.evaluate.text import format_table

__all__ = [
    "EPS",
    "ERROR_OUTCOMES",
    "TOLERANCE",
    "Counts",
    "DocContext",
    "ErrorSplit",
    "InvalidFile",
    "ItemMatch",
    "Outcome",
    "ScoreReport",
    "SilentErrors",
    "SlotResult",
    "aggregate",
    "fmt_rate",
    "format_table",
    "item_fields",
    "item_key",
    "item_label",
    "match_items",
    "outcome_of",
    "score_dirs",
    "score_document",
    "silent_errors",
    "values_equal",
]

EPS = 1e-9
"""Float slack so that a difference of exactly 0.005 (e.g. 885.905 vs 885.90) is inside."""
NAME_LEAVES = frozenset({"name", "class", "section", "item"})


def item_fields(list_path: str) -> tuple[str, ...]:
    """Every field of a list item, key fields first: all of them are slots once matched."""
    return (*LIST_KEYS[list_path], *value_fields(list_path))


# --------------------------------------------------------------------------- equality


@lru_cache(maxsize=1024)
def compare_kind(field: str) -> str:
    """How two values of slot ``field`` are compared: ``name``, ``code``, ``exact``
    (counts, years) or ``amount`` (amounts and percentages, within the tolerance)."""
    leaf = field.rsplit(".", 1)[-1]
    if leaf in NAME_LEAVES or field_kind(field) == "name":
        return "name"
    if leaf == "code":
        return "code"
    return "exact" if field_kind(field) in ("count", "year") else "amount"


def values_equal(field: str, gold: Any, pred: Any) -> bool:
    """Contract equality for two non-null values of slot ``field``."""
    kind = compare_kind(field)
    if kind == "name":
        return name_key(str(gold)) == name_key(str(pred))
    if kind == "code":
        return str(gold) == str(pred)
    if kind == "exact":
        return bool(gold == pred)
    return abs(float(gold) - float(pred)) <= TOLERANCE + EPS


def outcome_of(field: str, gold: Any, pred: Any) -> Outcome:
    if gold is None:
        return "abstain" if pred is None else "spurious"
    if pred is None:
        return "missing"
    return "correct" if values_equal(field, gold, pred) else "wrong"


# --------------------------------------------------------------------------- scoring


class _DocScorer:
    """Collects one document's slot results, with status and checked evidence."""

    def __init__(self, pred: FinalAccounts, doc_id: str, checker: EvidenceChecker) -> None:
        self.doc = doc_id
        self.statuses = pred.check_status or {}
        self.cited = pred.evidence or {}
        self.checker = checker
        self.slots: list[SlotResult] = []

    def add(self, field: str, paths: tuple[str | None, str | None], values: tuple[Any, Any],
            item: str | None = None) -> None:
        """One slot: ``paths`` and ``values`` are (gold, prediction)."""
        (gpath, ppath), (g, p) = paths, values
        status = cited = check = None
        if ppath is not None and p is not None:
            status = self.statuses.get(ppath)
            cited = self.cited.get(ppath)
            if cited is not None:
                check = self.checker.check(self.doc, field, p, cited)
        self.slots.append(SlotResult.model_construct(
            doc_id=self.doc, field=field, gold_path=gpath, pred_path=ppath, item=item, gold=g,
            pred=p, outcome=outcome_of(field, g, p), status=status, cited=cited, evidence=check))

    def unmatched(self, lp: str, index: int, item: Mapping[str, Any], *, gold: bool) -> None:
        label = item_label(lp, item)
        for leaf in item_fields(lp):
            if item.get(leaf) is None:
                continue
            field = f"{lp}.{leaf}"
            path = slot_path(field, index)
            if gold:
                self.add(field, (path, None), (item[leaf], None), label)
            else:
                self.add(field, (None, path), (None, item[leaf]), label)


def score_document(gold: FinalAccounts, pred: FinalAccounts,
                   checker: EvidenceChecker | None = None
                   ) -> tuple[list[SlotResult], list[ItemMatch]]:
    """Score one prediction against its gold record (evidence checked by ``checker``;
    without one, cited evidence is kept and judged unverifiable)."""
    doc = gold.doc_id
    scorer = _DocScorer(pred, doc, checker or EvidenceChecker({}))
    pred_scalars = {s.field: s.value for s in iter_scalar_slots(pred)}
    for slot in iter_scalar_slots(gold):
        scorer.add(slot.field, (slot.path, slot.path), (slot.value, pred_scalars.get(slot.field)))

    matches: list[ItemMatch] = []
    for lp in LIST_KEYS:
        g_items, p_items = list_items(gold, lp), list_items(pred, lp)
        pairs = match_items(lp, g_items, p_items)
        for gi, pi, how in pairs:
            matches.append(ItemMatch(doc_id=doc, list_path=lp, gold_index=gi, pred_index=pi,
                                     how=how))
            label = item_label(lp, g_items[gi])
            for leaf in item_fields(lp):
                field = f"{lp}.{leaf}"
                scorer.add(field, (slot_path(field, gi), slot_path(field, pi)),
                           (g_items[gi].get(leaf), p_items[pi].get(leaf)), label)
        matched_g = {gi for gi, _, _ in pairs}
        matched_p = {pi for _, pi, _ in pairs}
        for gi, g_item in enumerate(g_items):
            if gi not in matched_g:
                scorer.unmatched(lp, gi, g_item, gold=True)
        for pi, p_item in enumerate(p_items):
            if pi not in matched_p:
                scorer.unmatched(lp, pi, p_item, gold=False)
    return scorer.slots, matches


def silent_errors(slots: Iterable[SlotResult]) -> SilentErrors:
    out = SilentErrors()
    for s in slots:
        out.add(s)
    return out


_Key = tuple[str, bool, str, str | None, str | None]
"""(outcome, has a prediction, status: none/flagged/other, evidence verdict, box verdict)."""


def _slot_key(s: SlotResult) -> _Key:
    status = "none" if s.status is None else ("flagged" if s.status == CheckStatus.FLAGGED
                                              else "other")
    ev = s.evidence
    return (s.outcome, s.pred is not None, status, ev.verdict if ev else None,
            ev.box if ev else None)


_COLUMNS = ("tp", "fp", "fn", "abstain", "missing", "wrong", "spurious", "with_status",
            "wrong_all", "wrong_with_status", "wrong_without_status", "wrong_unflagged",
            "flagged", "flagged_wrong", "ev_ok", "ev_wrong", "ev_unverifiable", "box_checked",
            "box_skipped")
_COL = {name: i for i, name in enumerate(_COLUMNS)}


def _vector(key: _Key) -> list[int]:
    """What one slot of this kind adds to each tally column."""
    outcome, has_pred, status, verdict, box = key
    v = [0] * len(_COLUMNS)
    counts = {"correct": ("tp",), "wrong": ("fp", "fn", "wrong"), "missing": ("fn", "missing"),
              "spurious": ("fp", "spurious"), "abstain": ("abstain",)}[outcome]
    for name in counts:
        v[_COL[name]] = 1
    if has_pred:
        is_wrong = int(outcome in ("wrong", "spurious"))
        v[_COL["wrong_all"]] = is_wrong
        if status == "none":
            v[_COL["wrong_without_status"]] = is_wrong
        else:
            v[_COL["with_status"]] = 1
            v[_COL["wrong_with_status"]] = is_wrong
            flagged = int(status == "flagged")
            v[_COL["flagged"]] = flagged
            v[_COL["flagged_wrong"]] = flagged * is_wrong
            v[_COL["wrong_unflagged"]] = is_wrong * (1 - flagged)
    if verdict is not None:
        v[_COL[f"ev_{verdict}"]] = 1
    if box is not None:
        v[_COL["box_skipped" if box == "skipped" else "box_checked"]] = 1
    return v


def _models(t: list[int]) -> tuple[Counts, ErrorSplit, EvidenceCounts]:
    """A group's tally columns as the report's models."""
    c = dict(zip(_COLUMNS, t, strict=True))
    silent = SilentErrors(with_status=c["with_status"], wrong=c["wrong_all"],
                          wrong_with_status=c["wrong_with_status"],
                          wrong_without_status=c["wrong_without_status"],
                          wrong_unflagged=c["wrong_unflagged"], flagged=c["flagged"],
                          flagged_wrong=c["flagged_wrong"])
    return (Counts(tp=c["tp"], fp=c["fp"], fn=c["fn"], abstain=c["abstain"]),
            ErrorSplit(missing=c["missing"], wrong=c["wrong"], spurious=c["spurious"],
                       silent=silent),
            EvidenceCounts(ok=c["ev_ok"], wrong=c["ev_wrong"], unverifiable=c["ev_unverifiable"],
                           boxes_checked=c["box_checked"], boxes_skipped=c["box_skipped"]))


def aggregate(slots: list[SlotResult], matches: list[ItemMatch] | None = None,
              documents: list[str] | None = None) -> ScoreReport:
    """Build the report's tallies from slot results (also used on document subsets).

    Slots are counted by (field, document, outcome/status/evidence kind) in a plain
    counter, each distinct combination is added to its groups as a column vector, and
    the report's models are built once per group at the end: a thousand documents are
    tallied in a fraction of a second."""
    report = ScoreReport(slots=slots, matches=matches or [])
    report.documents = documents if documents is not None else sorted({s.doc_id for s in slots})
    width = len(_COLUMNS)
    overall = [0] * width
    groups: dict[str, dict[str, list[int]]] = {"section": {}, "field": {},
                                               "document": {d: [0] * width
                                                            for d in report.documents}}
    vectors: dict[_Key, list[int]] = {}
    for (field, doc, key), n in Counter((s.field, s.doc_id, _slot_key(s)) for s in slots).items():
        vec = vectors.get(key)
        if vec is None:
            vec = vectors[key] = _vector(key)
        for tally in (overall, groups["section"].setdefault(section_of(field), [0] * width),
                      groups["field"].setdefault(field, [0] * width),
                      groups["document"].setdefault(doc, [0] * width)):
            for i, x in enumerate(vec):
                if x:
                    tally[i] += x * n
    report.overall, split, report.evidence = _models(overall)
    report.silent = split.silent
    for name, tally in groups["section"].items():
        counts, _, evidence = _models(tally)
        report.by_section[name] = counts
        if evidence.ok + evidence.wrong + evidence.unverifiable:
            report.evidence_by_section[name] = evidence
    for name, tally in groups["field"].items():
        report.by_field[name], report.errors_by_field[name], _ = _models(tally)
    for name, tally in groups["document"].items():
        report.by_document[name], report.errors_by_document[name], _ = _models(tally)
    return report


def score_dirs(gold: Mapping[str, FinalAccounts], pred: Mapping[str, FinalAccounts], *,
               documents: Mapping[str, DocumentText] | None = None,
               invalid: Iterable[InvalidFile] = (),
               context: Mapping[str, DocContext] | None = None) -> ScoreReport:
    """Score every document present on both sides; list the others, unscored.

    ``documents`` (doc_id → stored text) lets cited evidence be checked; ``invalid``
    lists files that could not be read, reported beside the score; ``context`` carries
    what the run knew about each document (failing checks, repairs, findings).
    """
    common = sorted(set(gold) & set(pred))
    slots: list[SlotResult] = []
    matches: list[ItemMatch] = []
    checker = EvidenceChecker(documents or {})
    try:
        for doc in common:
            doc_slots, doc_matches = score_document(gold[doc], pred[doc], checker)
            slots += doc_slots
            matches += doc_matches
    finally:
        checker.close()
    report = aggregate(slots, matches, common)
    report.missing_in_pred = sorted(set(gold) - set(pred))
    report.missing_in_gold = sorted(set(pred) - set(gold))
    report.invalid = list(invalid)
    report.context = {doc: ctx for doc, ctx in (context or {}).items() if doc in set(common)}
    return report
