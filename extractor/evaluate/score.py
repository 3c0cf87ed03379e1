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


def values_equal(field: str, gold: Any, pred: Any) -> bool:
    """Contract equality for two non-null values of slot ``field``."""
    leaf = field.rsplit(".", 1)[-1]
    if leaf in NAME_LEAVES or field_kind(field) == "name":
        return name_key(str(gold)) == name_key(str(pred))
    if leaf == "code":
        return str(gold) == str(pred)
    if field_kind(field) in ("count", "year"):
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


def _fill(counts: Counts, split: ErrorSplit, key: _Key, n: int) -> None:
    """Add ``n`` slots sharing ``key`` to a group's counts and error split."""
    outcome, has_pred, status, _, _ = key
    if outcome == "correct":
        counts.tp += n
    elif outcome == "wrong":
        counts.fp += n
        counts.fn += n
        split.wrong += n
    elif outcome == "missing":
        counts.fn += n
        split.missing += n
    elif outcome == "spurious":
        counts.fp += n
        split.spurious += n
    else:
        counts.abstain += n
    if not has_pred:
        return
    silent, is_wrong = split.silent, outcome in ("wrong", "spurious")
    silent.wrong += n * is_wrong
    if status == "none":
        silent.wrong_without_status += n * is_wrong
        return
    silent.with_status += n
    silent.wrong_with_status += n * is_wrong
    if status == "flagged":
        silent.flagged += n
        silent.flagged_wrong += n * is_wrong
    else:
        silent.wrong_unflagged += n * is_wrong


def _fill_evidence(counts: EvidenceCounts, key: _Key, n: int) -> None:
    _, _, _, verdict, box = key
    if verdict == "ok":
        counts.ok += n
    elif verdict == "wrong":
        counts.wrong += n
    elif verdict == "unverifiable":
        counts.unverifiable += n
    if box == "skipped":
        counts.boxes_skipped += n
    elif box is not None:
        counts.boxes_checked += n


def aggregate(slots: list[SlotResult], matches: list[ItemMatch] | None = None,
              documents: list[str] | None = None) -> ScoreReport:
    """Build the report's tallies from slot results (also used on document subsets).

    Slots are first counted by (field, document, outcome/status/evidence kind) in a
    plain counter, then each distinct combination is added to its groups once: a
    thousand documents are tallied in well under a second."""
    report = ScoreReport(slots=slots, matches=matches or [])
    report.documents = documents if documents is not None else sorted({s.doc_id for s in slots})
    for doc in report.documents:
        report.by_document[doc] = Counts()
        report.errors_by_document[doc] = ErrorSplit()
    tally = Counter((s.field, s.doc_id, _slot_key(s)) for s in slots)
    overall_split = ErrorSplit()
    sections: dict[str, ErrorSplit] = {}

    def group(counts: dict[str, Counts], splits: dict[str, ErrorSplit],
              name: str) -> tuple[Counts, ErrorSplit]:
        if name not in counts:
            counts[name] = Counts()
        if name not in splits:
            splits[name] = ErrorSplit()
        return counts[name], splits[name]

    for (field, doc, key), n in tally.items():
        section = section_of(field)
        for counts, split in ((report.overall, overall_split),
                              group(report.by_section, sections, section),
                              group(report.by_field, report.errors_by_field, field),
                              group(report.by_document, report.errors_by_document, doc)):
            _fill(counts, split, key, n)
        if key[3] is not None:
            if section not in report.evidence_by_section:
                report.evidence_by_section[section] = EvidenceCounts()
            _fill_evidence(report.evidence, key, n)
            _fill_evidence(report.evidence_by_section[section], key, n)
    report.silent = overall_split.silent
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
