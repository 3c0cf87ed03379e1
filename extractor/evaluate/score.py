"""Slot-level scoring of predictions against gold, exactly as ``gold-format.md`` defines it.

Every scalar of the contract is a slot. A gold value with an equal prediction is a true
positive; a different prediction is one false positive *and* one false negative; a null
prediction is a false negative; a prediction where gold is null is a false positive; both
null is a correct abstention, counted but kept out of precision and recall.

List items (classes, items, performance projects) are first matched one-to-one to gold
items by key (see :func:`match_items`) and then scored slot by slot on their value
fields; unmatched items count their non-null slots as false positives (predicted) or
false negatives (gold). Every slot's outcome is kept in :attr:`ScoreReport.slots`, so a
report can show each wrong value beside its gold value, and comparisons can re-aggregate
over any subset of documents.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from extractor.core.records import (
    LIST_KEYS,
    CheckStatus,
    FinalAccounts,
    field_kind,
    iter_scalar_slots,
    list_items,
    normalize_name,
    section_of,
    slot_path,
    value_fields,
)

TOLERANCE = 0.005
"""Absolute tolerance for amounts (万元) and percentages: half a unit of the printed 0.01."""
EPS = 1e-9
"""Float slack so that a difference of exactly 0.005 (e.g. 885.905 vs 885.90) is inside."""

Outcome = Literal["correct", "wrong", "missing", "spurious", "abstain"]
"""``correct`` TP; ``wrong`` FP+FN; ``missing`` FN; ``spurious`` FP; ``abstain`` both null."""
MatchKind = Literal["code", "exact", "containment"]
Value = float | int | str | None
ERROR_OUTCOMES: tuple[Outcome, ...] = ("missing", "wrong", "spurious")


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


class Counts(BaseModel):
    """Micro counts; rates are ``None`` where their denominator is zero (undefined)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    abstain: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def precision(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fp)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def recall(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fn)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def f1(self) -> float | None:
        """2TP / (2TP + FP + FN): the harmonic mean of P and R, defined even when P is not."""
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    def add(self, outcome: Outcome) -> None:
        if outcome == "correct":
            self.tp += 1
        elif outcome == "wrong":
            self.fp += 1
            self.fn += 1
        elif outcome == "missing":
            self.fn += 1
        elif outcome == "spurious":
            self.fp += 1
        else:
            self.abstain += 1


class SlotResult(BaseModel):
    """One scored slot. ``gold_path``/``pred_path`` index the respective record's lists
    (they differ when matched items sit at different positions; one is ``None`` for an
    unmatched item). ``status`` is the prediction's ``check_status`` for ``pred_path``."""

    doc_id: str
    field: str
    gold_path: str | None
    pred_path: str | None
    item: str | None = None
    gold: Value = None
    pred: Value = None
    outcome: Outcome
    status: CheckStatus | None = None

    @property
    def path(self) -> str:
        """The path to show: gold side when there is one."""
        return self.gold_path or self.pred_path or self.field


class ItemMatch(BaseModel):
    doc_id: str
    list_path: str
    gold_index: int
    pred_index: int
    how: MatchKind


class SilentErrors(BaseModel):
    """How often wrong predicted values escaped the extractor's own cross-checks.

    A *wrong predicted value* is a predicted non-null value that is a false positive: a
    mismatch (``wrong``) or a value where gold has none (``spurious``). Only values that
    carry a ``check_status`` can be judged flagged or not; ``unchecked`` counts as not
    flagged (the checks did not object). Values without a status are counted in
    ``wrong_without_status`` and kept out of both rates.
    """

    with_status: int = 0
    """Predicted non-null values that carry a status."""
    wrong: int = 0
    """All wrong predicted values, with or without a status."""
    wrong_with_status: int = 0
    wrong_without_status: int = 0
    wrong_unflagged: int = 0
    """Wrong, carrying a status, and that status is not ``flagged``."""
    flagged: int = 0
    flagged_wrong: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def silent_error_rate(self) -> float | None:
        """wrong_unflagged / with_status: of all statused predictions, the share that is
        wrong and not flagged (what a user trusting the flags would get burnt by)."""
        return _ratio(self.wrong_unflagged, self.with_status)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unflagged_error_share(self) -> float | None:
        """wrong_unflagged / wrong_with_status: the contract's silent-error rate, i.e. the
        share of wrong predicted values that the cross-checks did not flag."""
        return _ratio(self.wrong_unflagged, self.wrong_with_status)


class ScoreReport(BaseModel):
    """Everything ``eval score`` reports; JSON-serialisable with ``model_dump_json``."""

    tolerance: float = TOLERANCE
    documents: list[str] = Field(default_factory=list)
    missing_in_pred: list[str] = Field(default_factory=list)
    missing_in_gold: list[str] = Field(default_factory=list)
    overall: Counts = Field(default_factory=Counts)
    by_section: dict[str, Counts] = Field(default_factory=dict)
    by_field: dict[str, Counts] = Field(default_factory=dict)
    by_document: dict[str, Counts] = Field(default_factory=dict)
    silent: SilentErrors = Field(default_factory=SilentErrors)
    slots: list[SlotResult] = Field(default_factory=list)
    matches: list[ItemMatch] = Field(default_factory=list)

    def errors(self) -> list[SlotResult]:
        """Every slot that cost a point (missing, wrong or spurious)."""
        return [s for s in self.slots if s.outcome in ERROR_OUTCOMES]


# --------------------------------------------------------------------------- equality


def values_equal(field: str, gold: Any, pred: Any) -> bool:
    """Contract equality for two non-null values of slot ``field``."""
    kind = field_kind(field)
    if kind == "name":
        return normalize_name(str(gold)) == normalize_name(str(pred))
    if kind in ("count", "year"):
        return bool(gold == pred)
    return abs(float(gold) - float(pred)) <= TOLERANCE + EPS


def outcome_of(field: str, gold: Any, pred: Any) -> Outcome:
    if gold is None:
        return "abstain" if pred is None else "spurious"
    if pred is None:
        return "missing"
    return "correct" if values_equal(field, gold, pred) else "wrong"


# --------------------------------------------------------------------------- matching

Key = tuple[str, ...]


def _code(value: Any) -> str:
    if value is None:
        return ""
    return "".join(unicodedata.normalize("NFKC", str(value)).split())


def item_key(list_path: str, item: Mapping[str, Any]) -> Key:
    """Normalised name key: ``(section, item)`` for budget items, ``(name,)`` otherwise."""
    names = ("section", "item") if list_path == "general_budget.items" else ("name",)
    return tuple(normalize_name(item.get(n), drop_project_suffix=True) for n in names)


def item_label(list_path: str, item: Mapping[str, Any]) -> str:
    """How a list item is shown to people (printed names, code in brackets)."""
    if list_path != "general_budget.items":
        return str(item.get("name"))
    label = " / ".join(str(item.get(k)) for k in ("class", "section", "item") if item.get(k))
    return f"{label} [{item['code']}]" if item.get("code") else label


def _contains(a: Key, b: Key) -> bool:
    """Component-wise: each name equals, or one contains the other (an empty name — not
    printed — is contained in anything); keys with no name at all never match."""
    if not any(a) or not any(b):
        return False
    return all(x in y or y in x for x, y in zip(a, b, strict=True))


def match_items(list_path: str, gold: list[dict[str, Any]],
                pred: list[dict[str, Any]]) -> list[tuple[int, int, MatchKind]]:
    """One-to-one matching of predicted to gold list items.

    Order matters for one-to-one-ness: codes first (budget items, when both sides have
    one), then names equal after normalisation, then containment among what is left,
    accepted only when it is unique in both directions, so a tie never matches. Two
    items that both carry a code are never matched by name: differing codes mean
    different items.
    """
    codes_g = [_code(g.get("code")) for g in gold]
    codes_p = [_code(p.get("code")) for p in pred]
    keys_g = [item_key(list_path, g) for g in gold]
    keys_p = [item_key(list_path, p) for p in pred]
    pairs: list[tuple[int, int, MatchKind]] = []
    used_g: set[int] = set()
    used_p: set[int] = set()

    def take(gi: int, pi: int, how: MatchKind) -> None:
        pairs.append((gi, pi, how))
        used_g.add(gi)
        used_p.add(pi)

    for gi, code in enumerate(codes_g):
        pi = next((j for j, c in enumerate(codes_p) if code and c == code and j not in used_p),
                  None)
        if pi is not None:
            take(gi, pi, "code")

    def allowed(gi: int, pi: int) -> bool:
        return gi not in used_g and pi not in used_p and not (codes_g[gi] and codes_p[pi])

    for gi in range(len(gold)):
        pi = next((j for j in range(len(pred))
                   if allowed(gi, j) and any(keys_g[gi]) and keys_p[j] == keys_g[gi]), None)
        if pi is not None:
            take(gi, pi, "exact")

    cand_g = {gi: {pi for pi in range(len(pred))
                   if allowed(gi, pi) and _contains(keys_g[gi], keys_p[pi])}
              for gi in range(len(gold)) if gi not in used_g}
    cand_p: dict[int, set[int]] = {}
    for gi, cands in cand_g.items():
        for pi in cands:
            cand_p.setdefault(pi, set()).add(gi)
    for gi, cands in cand_g.items():
        if len(cands) == 1:
            (pi,) = cands
            if cand_p[pi] == {gi}:
                pairs.append((gi, pi, "containment"))
    return sorted(pairs)


# --------------------------------------------------------------------------- scoring


def score_document(gold: FinalAccounts, pred: FinalAccounts
                   ) -> tuple[list[SlotResult], list[ItemMatch]]:
    """Score one prediction against its gold record."""
    doc = gold.doc_id
    statuses = pred.check_status or {}
    slots: list[SlotResult] = []

    def add(field: str, gpath: str | None, ppath: str | None, g: Any, p: Any, *,
            item: str | None = None) -> None:
        status = statuses.get(ppath) if ppath is not None and p is not None else None
        slots.append(SlotResult(doc_id=doc, field=field, gold_path=gpath, pred_path=ppath,
                                item=item, gold=g, pred=p, outcome=outcome_of(field, g, p),
                                status=status))

    pred_scalars = {s.field: s.value for s in iter_scalar_slots(pred)}
    for slot in iter_scalar_slots(gold):
        add(slot.field, slot.path, slot.path, slot.value, pred_scalars.get(slot.field))

    matches: list[ItemMatch] = []
    for lp in LIST_KEYS:
        g_items, p_items = list_items(gold, lp), list_items(pred, lp)
        pairs = match_items(lp, g_items, p_items)
        matched_g = {gi for gi, _, _ in pairs}
        matched_p = {pi for _, pi, _ in pairs}
        for gi, pi, how in pairs:
            matches.append(ItemMatch(doc_id=doc, list_path=lp, gold_index=gi, pred_index=pi,
                                     how=how))
            for leaf in value_fields(lp):
                field = f"{lp}.{leaf}"
                add(field, slot_path(field, gi), slot_path(field, pi), g_items[gi].get(leaf),
                    p_items[pi].get(leaf), item=item_label(lp, g_items[gi]))
        for gi, g_item in enumerate(g_items):
            if gi in matched_g:
                continue
            for leaf in value_fields(lp):
                field = f"{lp}.{leaf}"
                if g_item.get(leaf) is not None:
                    add(field, slot_path(field, gi), None, g_item[leaf], None,
                        item=item_label(lp, g_item))
        for pi, p_item in enumerate(p_items):
            if pi in matched_p:
                continue
            for leaf in value_fields(lp):
                field = f"{lp}.{leaf}"
                if p_item.get(leaf) is not None:
                    add(field, None, slot_path(field, pi), None, p_item[leaf],
                        item=item_label(lp, p_item))
    return slots, matches


def silent_errors(slots: Iterable[SlotResult]) -> SilentErrors:
    out = SilentErrors()
    for s in slots:
        if s.pred is None:
            continue
        is_wrong = s.outcome in ("wrong", "spurious")
        out.wrong += is_wrong
        if s.status is None:
            out.wrong_without_status += is_wrong
            continue
        out.with_status += 1
        flagged = s.status == CheckStatus.FLAGGED
        out.flagged += flagged
        out.flagged_wrong += flagged and is_wrong
        out.wrong_with_status += is_wrong
        out.wrong_unflagged += is_wrong and not flagged
    return out


def aggregate(slots: list[SlotResult], matches: list[ItemMatch] | None = None,
              documents: list[str] | None = None) -> ScoreReport:
    """Build the report's tallies from slot results (also used on document subsets)."""
    report = ScoreReport(slots=slots, matches=matches or [])
    report.documents = documents if documents is not None else sorted({s.doc_id for s in slots})
    for doc in report.documents:
        report.by_document[doc] = Counts()
    for s in slots:
        report.overall.add(s.outcome)
        report.by_section.setdefault(section_of(s.field), Counts()).add(s.outcome)
        report.by_field.setdefault(s.field, Counts()).add(s.outcome)
        report.by_document.setdefault(s.doc_id, Counts()).add(s.outcome)
    report.silent = silent_errors(slots)
    return report


def score_dirs(gold: Mapping[str, FinalAccounts],
               pred: Mapping[str, FinalAccounts]) -> ScoreReport:
    """Score every document present on both sides; list the others, unscored."""
    common = sorted(set(gold) & set(pred))
    slots: list[SlotResult] = []
    matches: list[ItemMatch] = []
    for doc in common:
        doc_slots, doc_matches = score_document(gold[doc], pred[doc])
        slots += doc_slots
        matches += doc_matches
    report = aggregate(slots, matches, common)
    report.missing_in_pred = sorted(set(gold) - set(pred))
    report.missing_in_gold = sorted(set(pred) - set(gold))
    return report


# --------------------------------------------------------------------------- table


def fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _row(label: str, c: Counts, width: int) -> str:
    return (f"{label:<{width}} {c.tp:>5} {c.fp:>5} {c.fn:>5} {c.abstain:>5}  "
            f"{fmt_rate(c.precision):>6} {fmt_rate(c.recall):>6} {fmt_rate(c.f1):>6}")


def _block(title: str, rows: Mapping[str, Counts]) -> list[str]:
    width = max([len(title), 24, *(len(k) for k in rows)])
    head = f"{title:<{width}} {'TP':>5} {'FP':>5} {'FN':>5} {'abst':>5}  " \
           f"{'P':>6} {'R':>6} {'F1':>6}"
    return [head, "-" * len(head), *(_row(k, c, width) for k, c in rows.items()), ""]


def format_table(report: ScoreReport) -> str:
    """The terminal summary: overall, per section, per document, fields with errors,
    silent errors and the documents that were not scored."""
    lines = [f"Scored {len(report.documents)} document(s); tolerance ±{report.tolerance} "
             "for amounts and percentages.", ""]
    lines += _block("overall", {"all slots": report.overall})
    lines += _block("section", report.by_section)
    lines += _block("document", report.by_document)
    bad = {k: c for k, c in report.by_field.items() if c.fp or c.fn}
    if bad:
        lines += _block("fields with errors", dict(sorted(bad.items(),
                                                          key=lambda kv: -(kv[1].fp + kv[1].fn))))
    s = report.silent
    lines.append(f"correct abstentions (both null): {report.overall.abstain}")
    lines.append(f"silent errors: {s.wrong_unflagged} wrong & unflagged of {s.with_status} "
                 f"statused predictions (silent_error_rate {fmt_rate(s.silent_error_rate)}); "
                 f"of {s.wrong_with_status} wrong statused values "
                 f"(unflagged_error_share {fmt_rate(s.unflagged_error_share)}); "
                 f"{s.wrong_without_status} wrong values carry no status")
    lines.append("missing in pred (not scored): " + (", ".join(report.missing_in_pred) or "none"))
    lines.append("missing in gold (not scored): " + (", ".join(report.missing_in_gold) or "none"))
    return "\n".join(lines) + "\n"
